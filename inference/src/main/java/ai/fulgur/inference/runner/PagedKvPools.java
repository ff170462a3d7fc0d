package ai.fulgur.inference.runner;

import ai.fulgur.inference.kvcache.BlockCopy;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.kvcache.PagedKv;
import java.util.ArrayList;
import java.util.List;

/**
 * The memory behind the block manager's two pools: for every layer a key cache and a value cache of shape
 * (numBlocks, blockSize, Hkv, D) on the model's device (block i of the {@code device} pool is row i), and the same
 * on the CPU for swapped-out blocks. It carries out the block moves the scheduler decides: swap out, swap in and
 * copy-on-write, always for every layer's keys and values together. The ids are the block manager's; this class
 * keeps no bookkeeping of its own.
 */
public final class PagedKvPools implements AutoCloseable {
    private final Tensor[] deviceKeys;
    private final Tensor[] deviceValues;
    private final Tensor[] cpuKeys;
    private final Tensor[] cpuValues;
    private final int blockSize;

    /**
     * Zeroed pools.
     *
     * @param layers          transformer layers L
     * @param numDeviceBlocks blocks of the device pool (the block manager's device capacity)
     * @param numCpuBlocks    blocks of the CPU swap pool (0: no swapping)
     * @param blockSize       tokens per block
     * @param kvHeads         key/value heads Hkv
     * @param headDim         head size D
     * @param dtype           the model's activation type
     * @param device          the model's device
     */
    public PagedKvPools(int layers, int numDeviceBlocks, int numCpuBlocks, int blockSize, int kvHeads, int headDim,
            DType dtype, Device device) {
        if (layers < 1 || numDeviceBlocks < 1 || numCpuBlocks < 0 || blockSize < 1 || kvHeads < 1 || headDim < 1) {
            throw new IllegalArgumentException("KV pool sizes must be positive (CPU blocks >= 0), got layers " + layers
                    + ", device blocks " + numDeviceBlocks + ", CPU blocks " + numCpuBlocks + ", blockSize "
                    + blockSize + ", kvHeads " + kvHeads + ", headDim " + headDim);
        }
        this.blockSize = blockSize;
        deviceKeys = new Tensor[layers];
        deviceValues = new Tensor[layers];
        cpuKeys = new Tensor[layers];
        cpuValues = new Tensor[layers];
        Shape onDevice = Shape.of(numDeviceBlocks, blockSize, kvHeads, headDim);
        Shape onCpu = Shape.of(numCpuBlocks, blockSize, kvHeads, headDim);
        for (int l = 0; l < layers; l++) {
            deviceKeys[l] = Tensor.zeros(onDevice, dtype, device);
            deviceValues[l] = Tensor.zeros(onDevice, dtype, device);
            cpuKeys[l] = Tensor.zeros(onCpu, dtype, Device.CPU);
            cpuValues[l] = Tensor.zeros(onCpu, dtype, Device.CPU);
        }
    }

    /** Layer {@code layer}'s device key cache (numBlocks, blockSize, Hkv, D). */
    public Tensor keys(int layer) {
        return deviceKeys[layer];
    }

    /** Layer {@code layer}'s device value cache (numBlocks, blockSize, Hkv, D). */
    public Tensor values(int layer) {
        return deviceValues[layer];
    }

    /** Layers L. */
    public int layers() {
        return deviceKeys.length;
    }

    /** Tokens per block. */
    public int blockSize() {
        return blockSize;
    }

    /** Device blocks → CPU blocks. */
    public void swapOut(List<BlockCopy> moves) {
        swap(moves, deviceKeys, deviceValues, cpuKeys, cpuValues);
    }

    /** CPU blocks → device blocks. */
    public void swapIn(List<BlockCopy> moves) {
        swap(moves, cpuKeys, cpuValues, deviceKeys, deviceValues);
    }

    /** Copy-on-write within the device pool, every layer at once. */
    public void copy(List<BlockCopy> copies) {
        if (copies.isEmpty()) {
            return;
        }
        List<Tensor> caches = new ArrayList<>();
        for (int l = 0; l < deviceKeys.length; l++) {
            caches.add(deviceKeys[l]);
            caches.add(deviceValues[l]);
        }
        PagedKv.copyBlocks(caches, sources(copies), destinations(copies));
    }

    private static void swap(List<BlockCopy> moves, Tensor[] fromKeys, Tensor[] fromValues, Tensor[] toKeys,
            Tensor[] toValues) {
        if (moves.isEmpty()) {
            return;
        }
        int[] src = sources(moves);
        int[] dst = destinations(moves);
        for (int l = 0; l < fromKeys.length; l++) {
            PagedKv.swapBlocks(fromKeys[l], toKeys[l], src, dst);
            PagedKv.swapBlocks(fromValues[l], toValues[l], src, dst);
        }
    }

    private static int[] sources(List<BlockCopy> copies) {
        return copies.stream().mapToInt(BlockCopy::source).toArray();
    }

    private static int[] destinations(List<BlockCopy> copies) {
        return copies.stream().mapToInt(BlockCopy::destination).toArray();
    }

    /** Returns the device memory now rather than at garbage collection. */
    @Override
    public void close() {
        for (Tensor[] pool : List.of(deviceKeys, deviceValues, cpuKeys, cpuValues)) {
            for (Tensor t : pool) {
                t.storage().close();
            }
        }
    }
}
