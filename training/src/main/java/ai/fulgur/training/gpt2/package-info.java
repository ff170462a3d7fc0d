/**
 * GPT-2 on Fulgur: {@link ai.fulgur.training.gpt2.Gpt2Config} (Hugging Face's config.json, presets tiny, small, 124m,
 * 355m), {@link ai.fulgur.training.gpt2.Gpt2} (the block: a {@link ai.fulgur.training.nn.CausalTransformer} with a
 * tied head, tanh GELU and causal FlashAttention), {@link ai.fulgur.training.gpt2.Gpt2Model} (a DJL model with the
 * inference entry points {@code forward}, {@code prefill} and {@code decode} over a
 * {@link ai.fulgur.training.nn.KvCache}) and {@link ai.fulgur.training.gpt2.Gpt2Checkpoint} (save and load as a
 * transformers {@code GPT2LMHeadModel} directory).
 */
package ai.fulgur.training.gpt2;
