/** The serving engine: paged KV cache, scheduler, sampling, model runner and the OpenAI-compatible server. */
package ai.fulgur.inference;
