/* gst-sora engine op: what the matrix product files share (sora-op-gemm.c,
 * -gemm-tiled.c, -gemm-gpu.c, -gemm-tune.c), for them only
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_OP_GEMM_PRIVATE_H__
#define __SORA_OP_GEMM_PRIVATE_H__

#include "sora-op-gemm.h"
#include "sora-tune.h"

G_BEGIN_DECLS

/* The tile one work-item computes in gemm.cl, in vectors of vw floats. */
typedef SoraTile GemmTile;

/* gemm-gpu.cl's tile (sora-tune.h). */
typedef SoraGpuTile GpuTile;

struct _SoraLinear
{
  SoraDevice *dev;
  char *op; /* "linear NAME", for errors */
  gsize out, in;
  SoraGemmBackend backend;
  GemmTile tile; /* tile.n: packed panel width */
  gsize block_k; /* SORA_GEMM_TILED's K slice */
  GpuTile gpu; /* SORA_GEMM_GPU's tile */
  SoraMmaTile mma; /* SORA_GEMM_MMA's tile */
  SoraMmaForm form; /* and how it is issued */
  cl_mem weight;
  gsize weight_bytes;
  cl_mem bias;
  gsize bias_bytes;
  char *options;
  char *wide_options; /* f16/bf16 weights in the tiled kernel: its f32 build */
};

/* How gemm-gpu.cl's gemm_gpu or gemm_mma runs: a work-group of @threads
 * per @wm x @wn block of Y. */
typedef struct
{
  const char *options, *kernel;
  gsize threads, wm, wn;
} GpuKernel;

/* How sora_gemm_run_tiled runs: gemm.cl built with @options for W's dtype and
 * layout; for packed f16/bf16 weights @wide_options, the f32 build, runs on
 * each block of W widened to f32 by the former's gemm_widen. */
typedef struct
{
  const char *options, *wide_options;
  GemmTile tile;
  gsize block_k;
} TiledKernel;

/* sora-op-gemm.c */
SoraGemmBackend sora_gemm_backend_from_string (const char *s);
/* As sora_linear_new_full, with the tiled or GPU kernel's tile given
 * (valid), or the device's for @dtype when @tile is NULL, and likewise the
 * tiled kernel's K slice when @block_k is 0; SORA_GEMM_MMA's operands
 * @op_dtype, or $SORA_PRECISION's f16, else bf16, when it is f32. */
SoraLinear *sora_gemm_linear_new (SoraDevice *dev, const char *name,
    SoraDType dtype, gsize out, gsize in, const void *weight, const float *bias,
    SoraGemmBackend backend, SoraDType op_dtype, const char *tile,
    gsize block_k, GError **error);

/* sora-op-gemm-tiled.c */
char *sora_gemm_tiled_options (
    SoraDType dtype, gboolean strided, GemmTile tile);
gboolean sora_gemm_run_tiled (SoraDevice *dev, const TiledKernel *t,
    gsize batch, gsize m, gsize n, gsize k, cl_mem x, gsize x_bs, gsize ldx,
    cl_mem w, gsize w_bs, gsize ldw, cl_mem bias, cl_mem y, gsize y_bs,
    gsize ldy, GError **error);
void *sora_gemm_pack_panels (const void *weight, gsize esize, gsize out,
    gsize in, gsize tile_n, gsize *bytes);

/* sora-op-gemm-gpu.c */
char *sora_gemm_gpu_options (SoraDType dtype, GpuTile t);
char *sora_gemm_mma_options (
    SoraDType dtype, SoraDType op_dtype, SoraMmaTile t, SoraMmaForm form);
GpuKernel sora_gemm_gpu_kernel (const char *options, GpuTile t);
GpuKernel sora_gemm_mma_kernel (
    const char *options, SoraMmaTile t, SoraMmaForm form);
gboolean sora_gemm_run_gpu (SoraDevice *dev, const GpuKernel *g, gsize batch,
    gsize m, gsize n, gsize k, cl_mem x, gsize x_bs, gsize ldx, cl_mem w,
    gsize w_bs, gsize ldw, cl_mem bias, cl_mem y, gsize y_bs, gsize ldy,
    GError **error);

/* sora-op-gemm-tune.c: the device's choices, tuned on first use */
GemmTile sora_gemm_device_tile (SoraDevice *dev, SoraDType dtype);
gsize sora_gemm_device_block_k (SoraDevice *dev);
GpuTile sora_gemm_device_gpu_tile (SoraDevice *dev, SoraDType dtype);
SoraMmaTile sora_gemm_device_mma_tile (SoraDevice *dev, SoraDType op_dtype);
/* The Linears' operands when $SORA_PRECISION is "auto" (sora_tune_precision,
 * timed on the tuning probe). */
SoraDType sora_gemm_precision (SoraDevice *dev);

G_END_DECLS

#endif /* __SORA_OP_GEMM_PRIVATE_H__ */
