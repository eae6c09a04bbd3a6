/* gst-sora engine op: 3-D convolution (causal video convs, per-frame 2-D)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_OP_CONV_H__
#define __SORA_OP_CONV_H__

#include "sora-tensor.h"

G_BEGIN_DECLS

typedef struct
{
  guint stride_t, stride_h, stride_w; /* each >= 1 */
  /* Zero frames before cache + x: 2·pt − Tc for a causal conv. */
  guint pad_t_front;
  /* Zero rows and columns; (0, 1, 0, 1) for the VAE downsample. */
  guint pad_top, pad_bottom, pad_left, pad_right;
} SoraConv3dParams;

/* y = conv3d (zeros ++ cache ++ x) + bias, all channel-first:
 * x [Cin, T, H, W] f32; @cache NULL or [Cin, Tc, H, W] f32, frames that come
 * before x in time (the causal conv's feature cache); weight
 * [Cout, Cin, kt, kh, kw] f32/f16/bf16; @bias NULL or [Cout] f32;
 * y [Cout, T', H', W'] f32 with T' = (pad_t_front + Tc + T − kt) / stride_t
 * + 1, H' = (pad_top + H + pad_bottom − kh) / stride_h + 1, W' likewise.
 * A 2-D conv per frame is kt = 1.  y must not overlap x or the cache. */
gboolean sora_op_conv3d (SoraTensor *x, SoraTensor *cache, SoraTensor *weight,
    SoraTensor *bias, const SoraConv3dParams *p, SoraTensor *y, GError **error);

/* A convolution's weight laid out once for fast convolutions: panels of
 * output channels (the weight's own rows for the GPU form, where the
 * device gets it), in the stored dtype or widened to f32.  Layers that run
 * more than once keep one of these instead of the weight tensor. */
typedef struct _SoraConvWeight SoraConvWeight;

/* Packs @weight [Cout, Cin, kt, kh, kw] f32/f16/bf16 (which can be freed
 * afterwards).  @widen stores f16/bf16 as f32: twice the memory, faster
 * where converting halves is slow. */
SoraConvWeight *sora_conv_weight_new (
    SoraTensor *weight, gboolean widen, GError **error);
void sora_conv_weight_free (SoraConvWeight *weight);

/* sora_op_conv3d() with a packed weight. */
gboolean sora_op_conv3d_packed (SoraTensor *x, SoraTensor *cache,
    SoraConvWeight *weight, SoraTensor *bias, const SoraConv3dParams *p,
    SoraTensor *y, GError **error);

/* The convolution's output tile for weights packed in @dtype on @dev,
 * "MxNxVW" (M pixels of a row x N output channels, in vectors of VW):
 * $SORA_CONV_TILE=MxN[xVW] when set, else the one stored for this device
 * and driver, else the fastest of a fixed set timed on first use (a 3x3x3
 * conv of 128 channels) and stored (sora-tune.h).  A string to g_free. */
char *sora_conv_tile_name (SoraDevice *dev, SoraDType dtype);

/* The GPU form's tile (conv3d_gpu, taken where sora_tune_gpu_kernels()
 * says so), "WMxWNxWKxRMxRN" as the GPU GEMM's (a work-group's WM output
 * pixels x WN channels over WK-deep slices of Cin·taps, each work-item's
 * RM x RN of it; WM dividing the work-group): $SORA_CONV_GPU_TILE when
 * set, else stored or timed as above among
 * sora_tune_gpu_tile_candidates().  A string to g_free. */
char *sora_conv_gpu_tile_name (SoraDevice *dev, SoraDType dtype);

/* The build options of every GPU variant (program "gemm-gpu") for the
 * kernel shapes of Wan's VAE, for offline resource checks; to
 * g_strfreev. */
char **sora_conv_gpu_variants (void);

G_END_DECLS

#endif /* __SORA_OP_CONV_H__ */
