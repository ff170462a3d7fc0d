/**
 * Iteration-level (continuous) batching: the {@link ai.fulgur.inference.scheduler.Scheduler} picks, every step, which
 * requests compute which tokens under a token and sequence budget, first come first served, and preempts the latest
 * arrival (by swapping to CPU or by recomputation) when KV blocks run out. It talks only to the
 * {@link ai.fulgur.inference.kvcache.BlockManager}; the model runner executes its
 * {@link ai.fulgur.inference.scheduler.SchedulerOutput}.
 */
package ai.fulgur.inference.scheduler;
