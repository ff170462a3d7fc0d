/**
 * The model runner of the serving engine: a no-grad GPT-2 forward over one step's ragged batch of scheduled chunks
 * (prefill chunks and decode tokens flattened into one row of tokens), each layer storing its new keys and values in
 * the paged KV pool ({@link ai.fulgur.ops.kvcache.PagedKv#reshapeAndCache}) and attending through the sequences'
 * block tables ({@link ai.fulgur.ops.kvcache.PagedKv#pagedAttention}); swaps and copy-on-write copies of the step run
 * first. Sampling and the request life cycle are the engine's ({@link ai.fulgur.inference.engine}).
 */
package ai.fulgur.inference.runner;
