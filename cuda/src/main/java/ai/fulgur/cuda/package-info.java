/**
 * The CUDA backend of Fulgur's kernel SPI. Kernels are CUDA C++ under {@code src/main/cuda/}, compiled ahead of time
 * by nvcc into fatbins that ship in the jar (sm_80 and sm_90a machine code plus PTX) and are loaded with
 * {@code cuModuleLoadData}. The driver API (contexts, streams, memory, launches) goes through JCuda; cuBLASLt through
 * {@code java.lang.foreign}, because JCuda's cuBLAS natives need {@code libcublas.so.12}, which CUDA 13 lacks.
 *
 * <p>{@link ai.fulgur.cuda.CudaBackend} is found by {@link ai.fulgur.ops.Backends} through ServiceLoader; when no
 * driver, device or kernel is available it says why instead of failing at class load.
 */
package ai.fulgur.cuda;
