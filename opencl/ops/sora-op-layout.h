/* gst-sora engine op: layout (permute, patchify, upsample, concat, slice)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_OP_LAYOUT_H__
#define __SORA_OP_LAYOUT_H__

#include "sora-tensor.h"

G_BEGIN_DECLS

/* y = x viewed as @shape (@ndim <= 5 dims, same element count), permuted
 * so that y's axis k is the view's axis perm[k], made contiguous, as
 * torch's x.view (shape).permute (perm).contiguous ().  y must have x's
 * dtype and element count; its own shape is not looked at.  Any dtype. */
gboolean sora_op_permute (SoraTensor *x, guint ndim, const gsize *shape,
    const guint *perm, SoraTensor *y, GError **error);

/* x [C, T, H, W] -> y [C, T, 2H, 2W], each pixel becoming a 2x2 block. */
gboolean sora_op_upsample_nearest2x (
    SoraTensor *x, SoraTensor *y, GError **error);

/* The DiT patch embedding's input side: x [C, F, H, W] ->
 * y [F·(H/ph)·(W/pw), C·pt·ph·pw] with token n = f·(H/ph)(W/pw) + y·(W/pw) + z
 * and column (c·ph + a)·pw + β (the Conv3d weight's flattening), so the
 * embedding is a linear layer with weight [d, C·ph·pw].  Only pt = 1 (Wan). */
gboolean sora_op_patchify (
    SoraTensor *x, guint pt, guint ph, guint pw, SoraTensor *y, GError **error);

/* The DiT output head's inverse: P [F·h·w, pt·ph·pw·C] ->
 * y [C, F, h·ph, w·pw] with y[c, f, y·ph + a, z·pw + β] = P[n, q],
 * n = f·h·w + y·w + z and q = (a·pw + β)·C + c (channel fastest, unlike
 * patchify).  Only pt = 1 (Wan). */
gboolean sora_op_unpatchify (SoraTensor *p, guint f, guint h, guint w, guint pt,
    guint ph, guint pw, SoraTensor *y, GError **error);

/* The VAE upsample3d's time split: x [2C, T, H, W] -> y [C, 2T, H, W],
 * frame 2t taking channels [0, C) of frame t and frame 2t + 1 channels
 * [C, 2C). */
gboolean sora_op_time_split (SoraTensor *x, SoraTensor *y, GError **error);

/* Raw copy of @count items of the middle axis of src viewed as
 * [outer, src_axis_len, inner] from @src_start into dst viewed as
 * [outer, dst_axis_len, inner] at @dst_start.  Same dtype, any dtype. */
gboolean sora_op_copy_slab (SoraTensor *src, SoraTensor *dst, gsize outer,
    gsize inner, gsize src_axis_len, gsize src_start, gsize dst_axis_len,
    gsize dst_start, gsize count, GError **error);

/* y = cat (a, b) along @axis; the other axes must agree. */
gboolean sora_op_concat (
    SoraTensor *a, SoraTensor *b, guint axis, SoraTensor *y, GError **error);

/* y = x[..., start : start + len, ...] along @axis. */
gboolean sora_op_slice (SoraTensor *x, guint axis, gsize start, gsize len,
    SoraTensor *y, GError **error);

G_END_DECLS

#endif /* __SORA_OP_LAYOUT_H__ */
