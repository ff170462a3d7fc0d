package ai.fulgur.ops;

/**
 * A flat run of elements of one dtype on one device; tensors are views (shape, strides, offset) onto a storage.
 *
 * <p>Host storages are Java arrays reclaimed by the garbage collector. Device storages hold memory that a caching
 * allocator hands out; they return it on {@link #close()} or, failing that, when they become unreachable.
 */
public interface Storage extends AutoCloseable {

    Device device();

    DType dtype();

    /** Number of elements. */
    long length();

    /** Size in bytes. */
    default long byteSize() {
        return length() * dtype().byteSize();
    }

    /** Releases device memory now rather than at garbage collection; host storages ignore it. */
    @Override
    default void close() {}
}
