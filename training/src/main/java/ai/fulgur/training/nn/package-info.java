/**
 * DJL blocks for transformers that run on any DJL engine and take Fulgur's fused kernels on the Fulgur engine:
 * {@link ai.fulgur.training.nn.FlashMultiHeadAttention} (FlashAttention, grouped-query, causal, sliding window, key
 * padding), {@link ai.fulgur.training.nn.BlockSparseMultiHeadAttention} (block-sparse layouts), the pre-LN
 * {@link ai.fulgur.training.nn.TransformerBlock}, the GPT-style {@link ai.fulgur.training.nn.CausalTransformer} (GPT-2
 * is one configuration of it) with its {@link ai.fulgur.training.nn.KvCache} for decoding, and
 * {@link ai.fulgur.training.nn.Gelu} in the erf or tanh form. On another engine (PyTorch) the attention blocks compose
 * the same function from standard NDArray ops, so a model and its saved parameters are portable.
 */
package ai.fulgur.training.nn;
