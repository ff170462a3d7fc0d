/**
 * The serving engine: the {@link ai.fulgur.inference.engine.LlmEngine} API (requests in, per-step outputs out) and
 * {@link ai.fulgur.inference.engine.PagedEngine}, its implementation over the paged KV cache, the scheduler and the
 * model runner. Per request it keeps the completions' samplers, tokens, log-probabilities and text
 * ({@code RequestState}, {@code CompletionState}, {@code IncrementalDetokenizer}); beam search lives in
 * {@code BeamSearch}.
 */
package ai.fulgur.inference.engine;
