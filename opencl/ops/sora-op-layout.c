/* gst-sora engine op: layout (permute, patchify, upsample, concat, slice)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-op.h"
#include "sora-op-layout.h"

#include <string.h>

static gboolean
layout_fail (
    const char *op, const SoraTensor *t, const char *why, GError **error)
{
  char *d = sora_tensor_describe (t);

  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "%s: tensor "
      "%s %s",
      op, d, why);
  g_free (d);
  return FALSE;
}

/* The element type layout.cl moves: raw bits of the dtype's size. */
static const char *
elem_options (SoraDType dtype)
{
  return sora_dtype_size (dtype) == 4 ? "-DELEM=uint" : "-DELEM=ushort";
}

static gboolean
check_same_dtype (
    const char *op, const SoraTensor *a, const SoraTensor *b, GError **error)
{
  return sora_op_check_dtype (b, op, a->dtype, error);
}

gboolean
sora_op_permute (SoraTensor *x, guint ndim, const gsize *shape,
    const guint *perm, SoraTensor *y, GError **error)
{
  gsize view_stride[SORA_MAX_DIMS], n[5] = { 1, 1, 1, 1, 1 };
  gsize s[5] = { 0, 0, 0, 0, 0 }, numel = 1, global = x->numel;
  guint seen = 0, pad;

  if (ndim < 1 || ndim > SORA_MAX_DIMS)
    return layout_fail (
        "permute", x, "needs a view of 1 to 5 dimensions", error);
  for (guint k = ndim; k-- > 0;) {
    view_stride[k] = numel;
    numel *= shape[k];
  }
  if (numel != x->numel)
    return layout_fail ("permute", x, "does not have the view's size", error);
  for (guint k = 0; k < ndim; k++) {
    if (perm[k] >= ndim || (seen & (1u << perm[k])))
      return layout_fail (
          "permute", x, "is given an invalid permutation", error);
    seen |= 1u << perm[k];
  }
  if (!check_same_dtype ("permute", x, y, error) ||
      !sora_op_check_numel (x, y, "permute", error) ||
      !sora_op_check_int (x->numel, "permute", x, error))
    return FALSE;

  pad = 5 - ndim;
  for (guint k = 0; k < ndim; k++) {
    n[pad + k] = shape[perm[k]];
    s[pad + k] = view_stride[perm[k]];
  }
  return sora_device_run (x->dev, "layout", elem_options (x->dtype), "permute",
      1, &global, NULL, error, SORA_MEM (x->buf), SORA_MEM (y->buf),
      SORA_INT (n[1]), SORA_INT (n[2]), SORA_INT (n[3]), SORA_INT (n[4]),
      SORA_INT (s[0]), SORA_INT (s[1]), SORA_INT (s[2]), SORA_INT (s[3]),
      SORA_INT (s[4]), SORA_INT (x->numel), SORA_END);
}

gboolean
sora_op_upsample_nearest2x (SoraTensor *x, SoraTensor *y, GError **error)
{
  gsize global = x->numel;

  if (x->ndim != 4)
    return layout_fail ("upsample_nearest2x", x, "must be [C, T, H, W]", error);
  if (!sora_tensor_check_shape (y, "upsample_nearest2x", 4,
          (gsize[]){
              x->shape[0], x->shape[1], 2 * x->shape[2], 2 * x->shape[3] },
          error) ||
      !check_same_dtype ("upsample_nearest2x", x, y, error) ||
      !sora_op_check_int (y->numel, "upsample_nearest2x", y, error))
    return FALSE;
  return sora_device_run (x->dev, "layout", elem_options (x->dtype),
      "upsample_nearest2x", 1, &global, NULL, error, SORA_MEM (x->buf),
      SORA_MEM (y->buf), SORA_INT (x->shape[3]), SORA_INT (x->numel), SORA_END);
}

static gboolean
check_patch (const char *op, const SoraTensor *t, guint pt, guint ph, guint pw,
    GError **error)
{
  if (pt != 1)
    return layout_fail (op, t, "needs pt = 1 (the only one Wan uses)", error);
  if (ph == 0 || pw == 0)
    return layout_fail (op, t, "needs patch sizes of at least 1", error);
  return TRUE;
}

gboolean
sora_op_patchify (
    SoraTensor *x, guint pt, guint ph, guint pw, SoraTensor *y, GError **error)
{
  gsize c, f, h, w;

  if (!check_patch ("patchify", x, pt, ph, pw, error))
    return FALSE;
  if (x->ndim != 4 || x->shape[2] % ph || x->shape[3] % pw)
    return layout_fail ("patchify", x,
        "must be [C, F, H, W] with H and W "
        "multiples of the patch",
        error);
  c = x->shape[0];
  f = x->shape[1];
  h = x->shape[2] / ph;
  w = x->shape[3] / pw;
  if (!sora_tensor_check_shape (
          y, "patchify", 2, (gsize[]){ f * h * w, c * ph * pw }, error))
    return FALSE;
  /* x viewed [C, F·h, ph, w, pw] (f and the patch row merge) -> tokens
   * (f·h + y, z) by columns (c, a, β). */
  return sora_op_permute (x, 5, (gsize[]){ c, f * h, ph, w, pw },
      (guint[]){ 1, 3, 0, 2, 4 }, y, error);
}

gboolean
sora_op_unpatchify (SoraTensor *p, guint f, guint h, guint w, guint pt,
    guint ph, guint pw, SoraTensor *y, GError **error)
{
  gsize c;

  if (!check_patch ("unpatchify", p, pt, ph, pw, error))
    return FALSE;
  if (y->ndim != 4)
    return layout_fail ("unpatchify", y, "must be [C, F, H, W]", error);
  c = y->shape[0];
  if (!sora_tensor_check_shape (y, "unpatchify", 4,
          (gsize[]){ c, f, (gsize)h * ph, (gsize)w * pw }, error) ||
      !sora_tensor_check_shape (p, "unpatchify", 2,
          (gsize[]){ (gsize)f * h * w, ph * pw * c }, error))
    return FALSE;
  /* P viewed [F·h, w, ph, pw, C] -> (c, f·h + y, a, z, β), which is
   * y [C, F, h·ph, w·pw] in memory order. */
  return sora_op_permute (p, 5, (gsize[]){ (gsize)f * h, w, ph, pw, c },
      (guint[]){ 4, 0, 2, 1, 3 }, y, error);
}

gboolean
sora_op_time_split (SoraTensor *x, SoraTensor *y, GError **error)
{
  gsize c, t, hw;

  if (x->ndim != 4 || x->shape[0] % 2)
    return layout_fail ("time_split", x, "must be [2C, T, H, W]", error);
  c = x->shape[0] / 2;
  t = x->shape[1];
  hw = x->shape[2] * x->shape[3];
  if (!sora_tensor_check_shape (y, "time_split", 4,
          (gsize[]){ c, 2 * t, x->shape[2], x->shape[3] }, error))
    return FALSE;
  /* [2, C, T, H·W] -> [C, T, 2, H·W]: the half index becomes the frame's
   * parity. */
  return sora_op_permute (
      x, 4, (gsize[]){ 2, c, t, hw }, (guint[]){ 1, 2, 0, 3 }, y, error);
}

gboolean
sora_op_copy_slab (SoraTensor *src, SoraTensor *dst, gsize outer, gsize inner,
    gsize src_axis_len, gsize src_start, gsize dst_axis_len, gsize dst_start,
    gsize count, GError **error)
{
  gsize e = sora_dtype_size (src->dtype);
  size_t src_origin[3] = { src_start * inner * e, 0, 0 };
  size_t dst_origin[3] = { dst_start * inner * e, 0, 0 };
  size_t region[3] = { count * inner * e, outer, 1 };

  if (!check_same_dtype ("copy_slab", src, dst, error))
    return FALSE;
  if (outer * src_axis_len * inner != src->numel ||
      src_start + count > src_axis_len)
    return layout_fail ("copy_slab", src, "does not hold the slab", error);
  if (outer * dst_axis_len * inner != dst->numel ||
      dst_start + count > dst_axis_len)
    return layout_fail ("copy_slab", dst, "does not hold the slab", error);
  if (region[0] == 0 || outer == 0)
    return TRUE;
  /* One row of the rectangle per outer index. */
  return sora_cl_check (
      clEnqueueCopyBufferRect (sora_device_get_queue (src->dev), src->buf,
          dst->buf, src_origin, dst_origin, region, src_axis_len * inner * e, 0,
          dst_axis_len * inner * e, 0, 0, NULL, NULL),
      "clEnqueueCopyBufferRect", dst->name, error);
}

/* Splits @t around @axis into outer and inner element counts. */
static void
split_axis (const SoraTensor *t, guint axis, gsize *outer, gsize *inner)
{
  *outer = 1;
  *inner = 1;
  for (guint k = 0; k < t->ndim; k++) {
    if (k < axis)
      *outer *= t->shape[k];
    else if (k > axis)
      *inner *= t->shape[k];
  }
}

gboolean
sora_op_concat (
    SoraTensor *a, SoraTensor *b, guint axis, SoraTensor *y, GError **error)
{
  gsize shape[SORA_MAX_DIMS], bshape[SORA_MAX_DIMS], outer, inner;

  if (axis >= a->ndim)
    return layout_fail ("concat", a, "has no such axis", error);
  if (b->ndim != a->ndim)
    return layout_fail ("concat", b, "does not match the other input", error);
  memcpy (bshape, a->shape, sizeof (bshape));
  bshape[axis] = b->shape[axis];
  if (!sora_tensor_check_shape (b, "concat", a->ndim, bshape, error))
    return FALSE;
  memcpy (shape, a->shape, sizeof (shape));
  shape[axis] = a->shape[axis] + b->shape[axis];
  if (!sora_tensor_check_shape (y, "concat", a->ndim, shape, error))
    return FALSE;
  split_axis (a, axis, &outer, &inner);
  return sora_op_copy_slab (a, y, outer, inner, a->shape[axis], 0, shape[axis],
             0, a->shape[axis], error) &&
      sora_op_copy_slab (b, y, outer, inner, b->shape[axis], 0, shape[axis],
          a->shape[axis], b->shape[axis], error);
}

gboolean
sora_op_slice (SoraTensor *x, guint axis, gsize start, gsize len, SoraTensor *y,
    GError **error)
{
  gsize shape[SORA_MAX_DIMS], outer, inner;

  if (axis >= x->ndim || start + len > x->shape[axis])
    return layout_fail ("slice", x, "has no such range", error);
  memcpy (shape, x->shape, sizeof (shape));
  shape[axis] = len;
  if (!sora_tensor_check_shape (y, "slice", x->ndim, shape, error))
    return FALSE;
  split_axis (x, axis, &outer, &inner);
  return sora_op_copy_slab (
      x, y, outer, inner, x->shape[axis], start, len, 0, len, error);
}
