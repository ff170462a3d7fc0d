/**
 * DJL blocks for transformers that run on any DJL engine and take Fulgur's fused kernels on the Fulgur engine:
 * {@link ai.fulgur.training.nn.FlashMultiHeadAttention} (FlashAttention, grouped-query, causal, sliding window, key
 * padding), {@link ai.fulgur.training.nn.BlockSparseMultiHeadAttention} (block-sparse layouts), the pre-LN
 * {@link ai.fulgur.training.nn.TransformerBlock} and a small GPT-style
 * {@link ai.fulgur.training.nn.CausalTransformer}. On another engine (PyTorch) the attention blocks compose the same
 * function from standard NDArray ops, so a model and its saved parameters are portable.
 */
package ai.fulgur.training.nn;
