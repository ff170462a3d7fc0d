// Hopper (sm_90a) asynchronous-pipeline primitives for warp-specialised kernels: TMA bulk tensor copies
// (cp.async.bulk.tensor, global -> shared through a CUtensorMap, completing on an mbarrier), the mbarrier operations
// that pace a producer and its consumers (init, arrive, arrive with an expected transaction count, wait on a phase
// parity), named barriers (bar.sync / bar.arrive with a thread count) and register reallocation between warpgroups
// (setmaxnreg). Leaves out: multicast across a cluster, TMA stores, and everything about what is copied (the kernels
// choose tiles and stages). Every body exists only in the sm_90a pass (HOPPER_WGMMA); other passes compile it empty.
#pragma once
#include <cuda.h> // CUtensorMap
#include "flash_attention_hopper.cuh"

namespace hopper {

// mbarrier at shared address bar, expecting `count` arrivals per phase
__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
#ifdef HOPPER_WGMMA
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
#endif
}

// makes initialised mbarriers visible to the async proxy (the copy engine) before any copy completes on them
__device__ __forceinline__ void mbar_init_fence() {
#ifdef HOPPER_WGMMA
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
#endif
}

// one arrival (a consumer releasing a stage)
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
#ifdef HOPPER_WGMMA
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
#endif
}

// one arrival that also tells the barrier `bytes` more are to come from copies (the producer, before its copies)
__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, uint32_t bytes) {
#ifdef HOPPER_WGMMA
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
#endif
}

// waits until the phase of parity `parity` has completed (phase k of a barrier has parity k & 1)
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
#ifdef HOPPER_WGMMA
    asm volatile("{\n"
                 ".reg .pred ready;\n"
                 "WAIT:\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 ready, [%0], %1;\n"
                 "@!ready bra WAIT;\n"
                 "}\n" ::"r"(bar),
                 "r"(parity)
                 : "memory");
#endif
}

// brings a tensor map (a __grid_constant__ kernel parameter) into the copy engine's descriptor cache
__device__ __forceinline__ void tma_prefetch(const CUtensorMap* map) {
#ifdef HOPPER_WGMMA
    asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(map)) : "memory");
#endif
}

// copies the box of `map` at coordinates (c0 innermost, c1, c2, c3) to shared address dst; the bytes complete on bar.
// Boxes reaching past the tensor's extent are zero-filled (and still count their full size).
__device__ __forceinline__ void tma_load_4d(uint32_t dst, const CUtensorMap* map, uint32_t bar, int c0, int c1, int c2,
                                            int c3) {
#ifdef HOPPER_WGMMA
    asm volatile("cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5, "
                 "%6}], [%2];\n" ::"r"(dst),
                 "l"(reinterpret_cast<uint64_t>(map)), "r"(bar), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
                 : "memory");
#endif
}

// named barrier ID (1 … 15; 0 is __syncthreads) completing once THREADS threads have reached it: bar_sync waits,
// bar_arrive only counts (a warpgroup handing its turn to another). Compile-time ids, so ptxas reserves only the
// barriers used (a run-time id makes it reserve all 16).
template <int ID, int THREADS>
__device__ __forceinline__ void bar_sync() {
    asm volatile("bar.sync %0, %1;\n" ::"n"(ID), "n"(THREADS) : "memory");
}
template <int ID, int THREADS>
__device__ __forceinline__ void bar_arrive() {
    asm volatile("bar.arrive %0, %1;\n" ::"n"(ID), "n"(THREADS) : "memory");
}

// register reallocation of a warpgroup (all its threads execute it): give registers back, or take them
template <int N>
__device__ __forceinline__ void regs_release() {
#ifdef HOPPER_WGMMA
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
#endif
}
template <int N>
__device__ __forceinline__ void regs_claim() {
#ifdef HOPPER_WGMMA
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
#endif
}

} // namespace hopper
