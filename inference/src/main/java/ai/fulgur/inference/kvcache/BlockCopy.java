package ai.fulgur.inference.kvcache;

/**
 * One block's keys and values to copy, for the model runner: within the device pool (copy-on-write of a shared
 * block), device → CPU (swap out) or CPU → device (swap in).
 *
 * @param source      the block id read, in the source pool
 * @param destination the block id written, in the destination pool
 */
public record BlockCopy(int source, int destination) {
}
