/* gst-sora engine ops: activations, broadcast arithmetic, AdaLN modulation,
 * linear combinations
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_OP_ELEMENTWISE_H__
#define __SORA_OP_ELEMENTWISE_H__

#include "sora-tensor.h"

G_BEGIN_DECLS

typedef enum {
  SORA_ACT_SILU, /* x · sigmoid (x) */
  SORA_ACT_GELU_TANH, /* 0.5x (1 + tanh (√(2/π) (x + 0.044715x³))) */
  SORA_ACT_CLAMP_UNIT, /* clamp (x, -1, 1) */
} SoraActivation;

/* y = act (x), f32, same element count; @y may be @x. */
gboolean sora_op_activate (
    SoraTensor *x, SoraActivation act, SoraTensor *y, GError **error);

/* y = a + b and y = a · b, where @b's shape broadcasts to @a's as in NumPy
 * (aligned on the last dim; each of b's dims equals a's or is 1; missing
 * leading dims count as 1).  @a and @y are f32 with @a's shape; @b may be
 * stored as f32, f16 or bf16.  @y may be @a. */
gboolean sora_op_add (
    SoraTensor *a, SoraTensor *b, SoraTensor *y, GError **error);
gboolean sora_op_mul (
    SoraTensor *a, SoraTensor *b, SoraTensor *y, GError **error);

/* AdaLN modulation, y = x · (1 + mod[:, scale_row]) + mod[:, shift_row],
 * for x [B, L, C] and a modulation tensor mod [B, R, C] (or [1, R, C] or
 * [R, C], shared by every batch) whose rows are taken in place: the DiT's
 * (shift, scale, gate, ...) rows of [B, 6, C] need no copies.  All f32;
 * @y has @x's shape and may be @x. */
gboolean sora_op_modulate (SoraTensor *x, SoraTensor *mod, guint scale_row,
    guint shift_row, SoraTensor *y, GError **error);

/* The gated residual x += y · mod[:, gate_row], with the shapes of
 * sora_op_modulate (@y like @x). */
gboolean sora_op_add_gated (SoraTensor *x, SoraTensor *y, SoraTensor *mod,
    guint gate_row, GError **error);

/* The most terms sora_op_lincomb takes: a second-order UniPC corrector
 * combines four tensors. */
#define SORA_LINCOMB_MAX 4

/* y = Σ coefs[i] · xs[i] for 1 ≤ @n ≤ SORA_LINCOMB_MAX f32 tensors of one
 * element count, accumulated in f32 in the order given.  @y may be any of
 * @xs. */
gboolean sora_op_lincomb (SoraTensor *y, guint n, SoraTensor *const *xs,
    const float *coefs, GError **error);

/* frame[c, t, y0 + y, x0 + x] += w(y) · w(x) · tile[c, t, y, x] for @tile
 * [C, T, th, tw] inside @frame [C, T, H, W], f32: the weights ramp
 * linearly up over the first @ramps[0] rows and down over the last
 * @ramps[1], and likewise over the first @ramps[2] and last @ramps[3]
 * columns (0: no ramp), so that overlapping tiles' weights sum to 1 (the
 * VAE's tiled decode, as diffusers' blend_v and blend_h). */
gboolean sora_op_blend_tile (SoraTensor *tile, SoraTensor *frame, gsize y0,
    gsize x0, const guint ramps[4], GError **error);

G_END_DECLS

#endif /* __SORA_OP_ELEMENTWISE_H__ */
