package ai.fulgur.cuda;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemHostAlloc;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;

import java.lang.foreign.MemorySegment;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;

/**
 * Host↔device copies of Java arrays staged through a small pool of page-locked host buffers, reused for every copy:
 * the DMA engine reads and writes pinned memory at full speed, where a pageable array is first copied by the driver
 * into its own bounce buffer, and the copies run asynchronously on the device's stream, so they are ordered with the
 * kernels without synchronising the device.
 *
 * <p>A copy goes in chunks of at most {@link #bufferBytes()}, alternating between {@value #BUFFERS} buffers: while the
 * DMA engine moves one chunk, the host fills (upload) or drains (download) the other. Each buffer has an event
 * recorded after its last copy; the host waits for that event before touching the buffer again. An upload returns
 * once its last chunk is queued (the Java array may change afterwards: its data already sits in pinned memory); a
 * download returns when the data is in the array.
 *
 * <p>The buffers are allocated on first use and kept; {@link #pinnedBytes()} reports their total.
 */
final class PinnedStaging implements AutoCloseable {
    /** Default size of one staging buffer: large enough that per-chunk costs vanish, small enough to pin freely. */
    static final long DEFAULT_BUFFER_BYTES = 8L << 20;
    static final int BUFFERS = 2;

    private final CudaDevice device;
    private final long bufferBytes;
    private final Pointer[] host = new Pointer[BUFFERS];
    private final MemorySegment[] views = new MemorySegment[BUFFERS];
    private final CUevent[] free = new CUevent[BUFFERS];
    private final boolean[] pending = new boolean[BUFFERS];
    private long pinned;
    private long stagedCopies;

    PinnedStaging(CudaDevice device, long bufferBytes) {
        if (bufferBytes < 1) {
            throw new IllegalArgumentException("staging buffer size must be at least 1 byte, got " + bufferBytes);
        }
        this.device = device;
        this.bufferBytes = bufferBytes;
    }

    /** Bytes of one staging buffer (the chunk size). */
    long bufferBytes() {
        return bufferBytes;
    }

    /** Page-locked host bytes held by this pool. */
    synchronized long pinnedBytes() {
        return pinned;
    }

    /** Copies done through the pool (uploads plus downloads). */
    synchronized long stagedCopies() {
        return stagedCopies;
    }

    /** Device bytes [dst, dst + bytes) = the first {@code bytes} bytes of the primitive array {@code src}. */
    synchronized void upload(CUdeviceptr dst, Object src, long bytes) {
        upload(dst, src, 0, bytes);
    }

    /** Device bytes [dst, dst + bytes) = bytes [srcOffset, srcOffset + bytes) of the primitive array {@code src}. */
    synchronized void upload(CUdeviceptr dst, Object src, long srcOffset, long bytes) {
        if (bytes <= 0) {
            return;
        }
        device.enter();
        allocate();
        MemorySegment array = heap(src, srcOffset + bytes).asSlice(srcOffset);
        int slot = 0;
        for (long done = 0; done < bytes; done += bufferBytes, slot = (slot + 1) % BUFFERS) {
            long n = Math.min(bufferBytes, bytes - done);
            awaitFree(slot);
            MemorySegment.copy(array, done, views[slot], 0, n);
            cuMemcpyHtoDAsync(dst.withByteOffset(done), host[slot], n, device.stream());
            cuEventRecord(free[slot], device.stream());
            pending[slot] = true;
        }
        stagedCopies++;
    }

    /** The first {@code bytes} bytes of the primitive array {@code dst} = device bytes [src, src + bytes). */
    synchronized void download(Object dst, CUdeviceptr src, long bytes) {
        download(dst, 0, src, bytes);
    }

    /** Bytes [dstOffset, dstOffset + bytes) of the primitive array {@code dst} = device bytes [src, src + bytes). */
    synchronized void download(Object dst, long dstOffset, CUdeviceptr src, long bytes) {
        if (bytes <= 0) {
            return;
        }
        device.enter();
        allocate();
        MemorySegment array = heap(dst, dstOffset + bytes).asSlice(dstOffset);
        long chunks = Math.ceilDiv(bytes, bufferBytes);
        // queue the first BUFFERS chunks, then: wait for chunk c, drain it, queue chunk c + BUFFERS into its buffer
        for (long c = 0; c < Math.min(BUFFERS, chunks); c++) {
            queueDownload((int) c, src, c, bytes);
        }
        for (long c = 0; c < chunks; c++) {
            int slot = (int) (c % BUFFERS);
            awaitFree(slot);
            long offset = c * bufferBytes;
            MemorySegment.copy(views[slot], 0, array, offset, Math.min(bufferBytes, bytes - offset));
            if (c + BUFFERS < chunks) {
                queueDownload(slot, src, c + BUFFERS, bytes);
            }
        }
        stagedCopies++;
    }

    private void queueDownload(int slot, CUdeviceptr src, long chunk, long bytes) {
        long offset = chunk * bufferBytes;
        cuMemcpyDtoHAsync(host[slot], src.withByteOffset(offset), Math.min(bufferBytes, bytes - offset),
                device.stream());
        cuEventRecord(free[slot], device.stream());
        pending[slot] = true;
    }

    /** Waits until the DMA engine is done with buffer {@code slot}. */
    private void awaitFree(int slot) {
        if (pending[slot]) {
            cuEventSynchronize(free[slot]);
            pending[slot] = false;
        }
    }

    private void allocate() {
        if (host[0] != null) {
            return;
        }
        for (int i = 0; i < BUFFERS; i++) {
            host[i] = new Pointer();
            cuMemHostAlloc(host[i], bufferBytes, 0);
            views[i] = MemorySegment.ofBuffer(host[i].getByteBuffer(0, bufferBytes));
            free[i] = new CUevent();
            cuEventCreate(free[i], CUevent_flags.CU_EVENT_DISABLE_TIMING);
            pinned += bufferBytes;
        }
    }

    /** The Java array as a segment, checked to hold {@code bytes}. */
    static MemorySegment heap(Object array, long bytes) {
        MemorySegment s = switch (array) {
            case float[] a -> MemorySegment.ofArray(a);
            case double[] a -> MemorySegment.ofArray(a);
            case long[] a -> MemorySegment.ofArray(a);
            case int[] a -> MemorySegment.ofArray(a);
            case short[] a -> MemorySegment.ofArray(a);
            case byte[] a -> MemorySegment.ofArray(a);
            case char[] a -> MemorySegment.ofArray(a);
            default -> throw new IllegalArgumentException("not a primitive array: " + array.getClass());
        };
        if (s.byteSize() < bytes) {
            throw new IllegalArgumentException("a copy of " + bytes + " bytes does not fit a host array of "
                    + s.byteSize() + " bytes");
        }
        return s;
    }

    /** Waits for queued copies and returns the pinned memory to the driver. */
    @Override
    public synchronized void close() {
        if (host[0] == null) {
            return;
        }
        device.enter();
        for (int i = 0; i < BUFFERS; i++) {
            awaitFree(i);
            cuEventDestroy(free[i]);
            cuMemFreeHost(host[i]);
            host[i] = null;
            views[i] = null;
            pinned -= bufferBytes;
        }
    }
}
