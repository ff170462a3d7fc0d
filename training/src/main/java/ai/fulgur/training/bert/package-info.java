/**
 * BERT as DJL blocks, with Hugging Face-compatible checkpoints.
 *
 * <ul>
 *   <li>{@link ai.fulgur.training.bert.BertConfig}: hyper-parameters, presets ({@code tiny}, {@code mini},
 *       {@code base}) and transformers' {@code config.json};</li>
 *   <li>{@link ai.fulgur.training.bert.BertEmbeddings}, {@link ai.fulgur.training.bert.BertLayer} (post-LN, on
 *       {@link ai.fulgur.training.nn.FlashMultiHeadAttention} with the padding mask as key mask),
 *       {@link ai.fulgur.training.bert.BertEncoder}, {@link ai.fulgur.training.bert.BertModel};</li>
 *   <li>the task models {@link ai.fulgur.training.bert.BertForMaskedLM} (tied decoder) and
 *       {@link ai.fulgur.training.bert.BertForSequenceClassification} (pooler, classifier), trained with
 *       {@link ai.fulgur.training.loss.TokenCrossEntropyLoss} (labels -100 ignored);</li>
 *   <li>{@link ai.fulgur.training.bert.BertCheckpoint}: {@code model.safetensors} + {@code config.json} directories
 *       with transformers' tensor names, including starting a classifier from a masked-LM checkpoint.</li>
 * </ul>
 *
 * <p>Every model takes NDList(input_ids (B, T), optional token_type_ids (B, T), optional attention_mask (B, T)),
 * INT32 or INT64, the mask 1 for tokens and 0 for right padding, as {@code ai.fulgur.datasets.tokenizer.BertEncoding}
 * lays a row out. The blocks run on any DJL engine: on Fulgur the attention is the FlashAttention kernel with
 * per-sequence key lengths, elsewhere it is composed from standard ops.
 *
 * <pre>{@code
 * BertForMaskedLM mlm = BertCheckpoint.loadMaskedLM(Path.of("bert-dir"), manager);
 * NDArray logits = mlm.forward(new ParameterStore(manager, false),
 *         new NDList(inputIds, tokenTypeIds, attentionMask), false).head();      // (B, T, V)
 *
 * BertForSequenceClassification cls = new BertForSequenceClassification(BertConfig.read(dir).withNumLabels(3));
 * BertCheckpoint.initialize(cls, manager, DataType.FLOAT32);
 * BertCheckpoint.LoadReport report = BertCheckpoint.load(dir, cls, BertCheckpoint.Option.INITIALIZE_NEW_HEAD);
 * }</pre>
 */
package ai.fulgur.training.bert;
