// Layer norm for autocast (layernorm_mixed.cu): F32 rows in and the normalised rows out in BF16/F16 for the GEMM that
// reads them (forward), the half gradient of that output in and an F32 dx out (backward). mean, rstd, gamma, beta,
// dgamma and dbeta are F32. The same arithmetic as layernorm.cu's F32 kernels followed by a cast of y (forward) or
// preceded by a widening of dy (backward), without the two extra passes over (rows, C) those casts cost. What it
// leaves out: rows longer than 4·32·NP = 1024 columns, C not a multiple of 4, unaligned rows (CudaNorm takes the
// F32 kernels and casts there).
//
// One warp per row; lane l holds the float4 packs l, l + 32, ... of the row (16-byte loads of x, 8-byte accesses of
// the half row). The backward warps also add dy·xhat and dy per column in registers over their rows; the block sums its
// warps in order in shared memory and writes one partial row, which layernorm.cu's layernorm_param_grad_finish_f32
// adds in order: no atomics, the same bits on every run of one device.
#include "fulgur.cuh"

extern __shared__ __align__(16) unsigned char layernorm_mixed_smem[];

// y (rows, C) half, mean (rows), rstd (rows), x (rows, C), gamma (C) or null, beta (C) or null; C % 4 == 0,
// C <= 128·NP, a warp per row.
template <typename H, int NP>
__device__ void layernorm_forward_half_out_kernel(int64_t rows, int C, double eps, H* __restrict__ y,
                                                  float* __restrict__ mean, float* __restrict__ rstd,
                                                  const float* __restrict__ x, const float* __restrict__ gamma,
                                                  const float* __restrict__ beta) {
    const int lane = threadIdx.x & 31;
    const int64_t row = (int64_t) blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    const int packs = C / 4;
    const float4* xr = reinterpret_cast<const float4*>(x + row * C);
    float4 v[NP];
    float sum = 0;
#pragma unroll
    for (int p = 0; p < NP; p++) {
        const int i = p * 32 + lane;
        if (i < packs) {
            v[p] = xr[i];
            sum += (v[p].x + v[p].y) + (v[p].z + v[p].w);
        }
    }
    const float m = warp_reduce(sum, SumOp()) / (float) C;
    float sq = 0;
#pragma unroll
    for (int p = 0; p < NP; p++) {
        if (p * 32 + lane < packs) {
            const float a = v[p].x - m, b = v[p].y - m, c = v[p].z - m, d = v[p].w - m;
            sq += (a * a + b * b) + (c * c + d * d);
        }
    }
    const float s = 1.f / sqrtf(warp_reduce(sq, SumOp()) / (float) C + (float) eps);
    H* yr = y + row * C;
#pragma unroll
    for (int p = 0; p < NP; p++) {
        const int i = p * 32 + lane;
        if (i < packs) {
            float o[4] = {(v[p].x - m) * s, (v[p].y - m) * s, (v[p].z - m) * s, (v[p].w - m) * s};
            if (gamma != nullptr) {
                const float4 g = reinterpret_cast<const float4*>(gamma)[i];
                o[0] *= g.x; o[1] *= g.y; o[2] *= g.z; o[3] *= g.w;
            }
            if (beta != nullptr) {
                const float4 b = reinterpret_cast<const float4*>(beta)[i];
                o[0] += b.x; o[1] += b.y; o[2] += b.z; o[3] += b.w;
            }
            Vec<H, 4> q;
#pragma unroll
            for (int k = 0; k < 4; k++) q.v[k] = narrow<H>(o[k]);
            *reinterpret_cast<Vec<H, 4>*>(yr + 4 * i) = q;
        }
    }
    if (lane == 0) {
        mean[row] = m;
        rstd[row] = s;
    }
}

// dx (rows, C) F32 = rstd · (g − mean(g) − xhat · mean(g · xhat)), g = dy · gamma, xhat = (x − mean) · rstd, from dy
// (rows, C) half; and, when dgammaPart is not null, the block's partial rows dgammaPart[blockIdx.x, :] = Σ dy·xhat and
// dbetaPart[blockIdx.x, :] = Σ dy over its rows. Warp w of block b takes rows b·warps + w, then every
// gridDim.x·warps-th. Dynamic shared memory when dgammaPart is not null: 2·warps·C floats.
template <typename H, int NP>
__device__ void layernorm_backward_half_dy_kernel(int64_t rows, int C, float* __restrict__ dx,
                                                  float* __restrict__ dgammaPart, float* __restrict__ dbetaPart,
                                                  const H* __restrict__ dy, const float* __restrict__ x,
                                                  const float* __restrict__ mean, const float* __restrict__ rstd,
                                                  const float* __restrict__ gamma) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
    const int packs = C / 4;
    float4 accG[NP], accB[NP];
#pragma unroll
    for (int p = 0; p < NP; p++) accG[p] = accB[p] = make_float4(0.f, 0.f, 0.f, 0.f);
    // gamma is re-read (from L1) where used: in registers it would take 4·NP more a lane, and the column sums already
    // hold 8·NP
    const float4* g4 = reinterpret_cast<const float4*>(gamma);
    for (int64_t row = (int64_t) blockIdx.x * warps + warp; row < rows; row += (int64_t) gridDim.x * warps) {
        const float4* xr = reinterpret_cast<const float4*>(x + row * C);
        const Vec<H, 4>* dr = reinterpret_cast<const Vec<H, 4>*>(dy + row * C);
        float4 xv[NP], dv[NP];
#pragma unroll
        for (int p = 0; p < NP; p++) {
            const int i = p * 32 + lane;
            if (i < packs) {
                xv[p] = xr[i];
                const Vec<H, 4> d = dr[i];
                dv[p] = make_float4(widen(d.v[0]), widen(d.v[1]), widen(d.v[2]), widen(d.v[3]));
            } else {
                xv[p] = dv[p] = make_float4(0.f, 0.f, 0.f, 0.f);
            }
        }
        const float m = mean[row];
        const float s = rstd[row];
        float sumG = 0, sumGx = 0;
#pragma unroll
        for (int p = 0; p < NP; p++) {
            if (p * 32 + lane < packs) {
                const float4 gm = gamma != nullptr ? g4[p * 32 + lane] : make_float4(1.f, 1.f, 1.f, 1.f);
                const float hx = (xv[p].x - m) * s, hy = (xv[p].y - m) * s, hz = (xv[p].z - m) * s,
                            hw = (xv[p].w - m) * s;
                const float gx = dv[p].x * gm.x, gy = dv[p].y * gm.y, gz = dv[p].z * gm.z,
                            gw = dv[p].w * gm.w;
                sumG += (gx + gy) + (gz + gw);
                sumGx += (gx * hx + gy * hy) + (gz * hz + gw * hw);
                accG[p].x += dv[p].x * hx; accG[p].y += dv[p].y * hy;
                accG[p].z += dv[p].z * hz; accG[p].w += dv[p].w * hw;
                accB[p].x += dv[p].x; accB[p].y += dv[p].y; accB[p].z += dv[p].z; accB[p].w += dv[p].w;
            }
        }
        const float meanG = warp_reduce(sumG, SumOp()) / (float) C;
        const float meanGx = warp_reduce(sumGx, SumOp()) / (float) C;
        float4* dxr = reinterpret_cast<float4*>(dx + row * C);
#pragma unroll
        for (int p = 0; p < NP; p++) {
            const int i = p * 32 + lane;
            if (i < packs) {
                const float4 gm = gamma != nullptr ? g4[i] : make_float4(1.f, 1.f, 1.f, 1.f);
                const float hx = (xv[p].x - m) * s, hy = (xv[p].y - m) * s, hz = (xv[p].z - m) * s,
                            hw = (xv[p].w - m) * s;
                dxr[i] = make_float4(s * (dv[p].x * gm.x - meanG - hx * meanGx),
                                     s * (dv[p].y * gm.y - meanG - hy * meanGx),
                                     s * (dv[p].z * gm.z - meanG - hz * meanGx),
                                     s * (dv[p].w * gm.w - meanG - hw * meanGx));
            }
        }
    }
    if (dgammaPart == nullptr) return;
    // each warp's column sums into its slice, then the block adds the slices in warp order and writes one partial row
    float* sg = reinterpret_cast<float*>(layernorm_mixed_smem) + (int64_t) warp * 2 * C;
    float* sb = sg + C;
#pragma unroll
    for (int p = 0; p < NP; p++) {
        const int i = p * 32 + lane;
        if (i < packs) {
            reinterpret_cast<float4*>(sg)[i] = accG[p];
            reinterpret_cast<float4*>(sb)[i] = accB[p];
        }
    }
    __syncthreads();
    const float* slices = reinterpret_cast<const float*>(layernorm_mixed_smem);
    for (int j = threadIdx.x; j < C; j += blockDim.x) {
        float g = slices[j];
        float b = slices[C + j];
        for (int w = 1; w < warps; w++) {
            g += slices[(int64_t) w * 2 * C + j];
            b += slices[(int64_t) w * 2 * C + C + j];
        }
        dgammaPart[(int64_t) blockIdx.x * C + j] = g;
        dbetaPart[(int64_t) blockIdx.x * C + j] = b;
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// kernels: layernorm_forward_half_out_{bf16,f16}, layernorm_backward_half_dy_{bf16,f16} (C <= 1024)

#define LAYERNORM_MIXED(SUFFIX, H)                                                                                     \
    extern "C" __global__ void __launch_bounds__(256) layernorm_forward_half_out_##SUFFIX(                              \
            int64_t rows, int C, double eps, H* y, float* mean, float* rstd, const float* x, const float* gamma,      \
            const float* beta) {                                                                                       \
        layernorm_forward_half_out_kernel<H, 8>(rows, C, eps, y, mean, rstd, x, gamma, beta);                          \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(128) layernorm_backward_half_dy_##SUFFIX(                              \
            int64_t rows, int C, float* dx, float* dgammaPart, float* dbetaPart, const H* dy, const float* x,          \
            const float* mean, const float* rstd, const float* gamma) {                                                \
        layernorm_backward_half_dy_kernel<H, 8>(rows, C, dx, dgammaPart, dbetaPart, dy, x, mean, rstd, gamma);        \
    }

LAYERNORM_MIXED(bf16, __nv_bfloat16)
LAYERNORM_MIXED(f16, __half)
