/**
 * The CUDA backend of the kernel SPI: {@code .cu} sources under {@code src/main/cuda/} compiled by nvcc into a fatbin
 * resource, the driver API through JCuda, cuBLASLt and NCCL through {@code java.lang.foreign}. Not built yet: until
 * it is, {@link ai.fulgur.ops.Backends} reports the CUDA device kind as unavailable.
 */
package ai.fulgur.cuda;
