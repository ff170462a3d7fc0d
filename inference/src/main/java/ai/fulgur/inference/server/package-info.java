/**
 * The OpenAI-compatible HTTP server of the serving engine: {@link ai.fulgur.inference.server.EngineLoop} (the one
 * thread that drives an {@link ai.fulgur.inference.engine.LlmEngine}, with bounded admission, cancellation and
 * drain), {@link ai.fulgur.inference.server.OpenAiServer} (routes on the JDK's {@code com.sun.net.httpserver}),
 * {@link ai.fulgur.inference.server.CompletionsHandler} and its parser, JSON and streaming helpers,
 * {@link ai.fulgur.inference.server.ServingMetrics} (Prometheus families over {@code server.metrics}), and the load
 * test with its static-batching baseline ({@link ai.fulgur.inference.server.LoadTest},
 * {@link ai.fulgur.inference.server.StaticBatchingEngine}). Not here: authentication, TLS, chat completions, batched
 * prompts, echo.
 */
package ai.fulgur.inference.server;
