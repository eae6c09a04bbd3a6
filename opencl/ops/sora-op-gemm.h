/* gst-sora engine op: matrix products (Linear layers and batched matmul)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_OP_GEMM_H__
#define __SORA_OP_GEMM_H__

#include "sora-tensor.h"

G_BEGIN_DECLS

/* Where a Linear's product runs.
 *
 * SORA_GEMM_AUTO picks per device (sora-tune.h): $SORA_GEMM ("tiled",
 * "gpu" or "clblast") when set, else the choice stored for this device and
 * driver, else one measured on first use (ours and CLBlast timed on
 * 512x1536x1536) and stored; ours is the GPU kernel where the device gets
 * GPU kernels (sora_tune_gpu_kernels), else the tiled one.  f16 and bf16
 * weights always use ours: CLBlast has only an f32 path that every device
 * can run. */
typedef enum {
  SORA_GEMM_AUTO,
  SORA_GEMM_TILED, /* our register-tiled kernel, gemm.cl */
  SORA_GEMM_CLBLAST, /* CLBlast SGEMM */
  SORA_GEMM_GPU, /* our work-group-tiled kernel for GPUs, gemm-gpu.cl */
  SORA_GEMM_MMA, /* gemm-gpu.cl's matrix-unit kernel, bf16/f16 operands */
} SoraGemmBackend;

/* The operand precision of Linear layers: $SORA_PRECISION = "f32" (or
 * unset: the matrix units are off by default until measured on hardware),
 * "bf16" or "f16" forces it.  bf16 and f16 run every Linear on
 * SORA_GEMM_MMA: X rounded to the type as it is staged, W read in its
 * stored dtype and rounded likewise, fp32 accumulation; a device without
 * matrix units (sora_tune_mma_form) then fails the Linear.  With "auto", a
 * device with them takes bf16 only where its first use measured it correct
 * and faster ("gemm-precision", sora_tune_precision); others stay f32. */

const char *sora_gemm_backend_to_string (SoraGemmBackend backend);

/* The backend f32 Linears get on @dev (see SORA_GEMM_AUTO), measuring it
 * if nothing decided it yet. */
SoraGemmBackend sora_gemm_backend (SoraDevice *dev);
const char *sora_gemm_backend_name (SoraDevice *dev);

/* The tiled kernel's tile for @dtype weights on @dev, "MxNxVW" (M rows x N
 * columns, in vectors of VW): $SORA_GEMM_TILE=MxN[xVW] when set, else the
 * one stored for this device and driver, else the fastest of the register
 * tiles sora_tune_register_tiles() lists, timed on first use on
 * 512x1536x1536 and stored.  A string to g_free. */
char *sora_gemm_tile_name (SoraDevice *dev, SoraDType dtype);

/* The tiled kernel's K slice on @dev, in rows (256, 512 or 1024: its block
 * of W must stay in cache): $SORA_GEMM_BLOCK_K when set, else stored, else
 * timed as the tile is.  A string to g_free. */
char *sora_gemm_block_k_name (SoraDevice *dev);

/* The GPU kernel's tile for @dtype weights on @dev, "WMxWNxWKxRMxRN" (a
 * work-group's WM x WN block of the output over WK-deep slices of K, each
 * work-item's RM x RN of it): $SORA_GEMM_GPU_TILE when set, else the one
 * stored for this device and driver, else the fastest of
 * sora_tune_gpu_tile_candidates(), timed on first use and stored.  A
 * string to g_free. */
char *sora_gemm_gpu_tile_name (SoraDevice *dev, SoraDType dtype);

/* The matrix-unit kernel's tile for @op_dtype (bf16 or f16) operands on
 * @dev, "WMxWNxWKxWARPS_MxWARPS_N": $SORA_GEMM_MMA_TILE when set, else
 * stored, else timed as the GPU tile is.  A string to g_free. */
char *sora_gemm_mma_tile_name (SoraDevice *dev, SoraDType op_dtype);

/* The build options of every GPU GEMM variant (program "gemm-gpu"), for
 * offline resource checks; a NULL-terminated array to g_strfreev. */
char **sora_gemm_gpu_variants (void);

typedef struct _SoraLinear SoraLinear;

/* A Linear layer y = x·Wᵀ + b.  @weight is host [out, in] in @dtype
 * (PyTorch layout), @bias host [out] f32 or NULL.  The weight is uploaded
 * once, in @dtype, laid out for the device's backend.  @name names the
 * layer in errors. */
SoraLinear *sora_linear_new (SoraDevice *dev, const char *name, SoraDType dtype,
    gsize out, gsize in, const void *weight, const float *bias, GError **error);
/* The same on a given backend; SORA_GEMM_CLBLAST needs f32 weights,
 * SORA_GEMM_MMA a device with matrix units (bf16 operands unless
 * $SORA_PRECISION is f16). */
SoraLinear *sora_linear_new_full (SoraDevice *dev, const char *name,
    SoraDType dtype, gsize out, gsize in, const void *weight, const float *bias,
    SoraGemmBackend backend, GError **error);
void sora_linear_free (SoraLinear *l);

SoraGemmBackend sora_linear_get_backend (SoraLinear *l);

/* y [..., out] = x [..., in] · Wᵀ + b, f32; the leading dimensions of x and
 * y must match. */
gboolean sora_op_linear (
    SoraLinear *l, SoraTensor *x, SoraTensor *y, GError **error);

/* For each of @batch products, Y[m, n] = X[m, k] · W[n, k]ᵀ, all f32, each
 * matrix given by its tensor, the element offset between batches and its
 * row stride (leading dimension), all in elements.  The GPU kernel where
 * the device gets GPU kernels, else the tiled one. */
gboolean sora_op_matmul_batched (SoraDevice *dev, gsize batch, gsize m, gsize n,
    gsize k, SoraTensor *x, gsize x_batch_stride, gsize ldx, SoraTensor *w,
    gsize w_batch_stride, gsize ldw, SoraTensor *y, gsize y_batch_stride,
    gsize ldy, GError **error);

G_END_DECLS

#endif /* __SORA_OP_GEMM_H__ */
