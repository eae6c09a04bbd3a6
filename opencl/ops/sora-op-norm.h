/* gst-sora engine ops: normalisations and softmax
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_OP_NORM_H__
#define __SORA_OP_NORM_H__

#include "sora-tensor.h"

G_BEGIN_DECLS

/* LayerNorm over the last dim of @x (any shape, seen as [rows, C]):
 * y = (x - mean) / sqrt (var + eps) · weight + bias, the biased variance as
 * in torch.  @weight and @bias ([C] f32) may each be NULL (no affine).
 * Everything f32; @y has @x's shape and may be @x. */
gboolean sora_op_layer_norm (SoraTensor *x, SoraTensor *weight,
    SoraTensor *bias, float eps, SoraTensor *y, GError **error);

/* RMSNorm (T5LayerNorm, torch.nn.RMSNorm) over the last dim:
 * y = x · rsqrt (mean (x²) + eps) · weight.  @weight [C] f32 or NULL;
 * @y may be @x. */
gboolean sora_op_rms_norm (SoraTensor *x, SoraTensor *weight, float eps,
    SoraTensor *y, GError **error);

/* The Wan VAE's WanRMS_norm, over the channel axis of a channel-first @x:
 * y = x / max (‖x‖₂ over C, 1e-12) · √C · gamma_c (+ bias_c).
 * @x is [C, P] or batched [B, C, P] (reshape [C, T, H, W] to [C, T·H·W]
 * first); C is taken from @gamma, which holds C f32 values in any shape
 * ([C] or the checkpoint's [C, 1, 1, 1]); @bias likewise, or NULL.
 * @y has @x's shape and may be @x. */
gboolean sora_op_rms_norm_channels (SoraTensor *x, SoraTensor *gamma,
    SoraTensor *bias, SoraTensor *y, GError **error);

/* Softmax over the last dim of @x, shifted by each row's maximum (which
 * must be finite: use a large negative value, not -inf, to mask).  @y has
 * @x's shape and may be @x. */
gboolean sora_op_softmax (SoraTensor *x, SoraTensor *y, GError **error);

G_END_DECLS

#endif /* __SORA_OP_NORM_H__ */
