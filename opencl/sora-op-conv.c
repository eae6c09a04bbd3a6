/* gst-sora engine op: 3-D convolution
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-op.h"
#include "sora-op-conv.h"

/* Output channels per work-item: enough sums in registers to amortize each
 * input load, few enough to keep the registers from spilling. */
#define CONV_CO_TILE 8

static gboolean
conv_fail (const SoraTensor *t, const char *why, GError **error)
{
  char *d = sora_tensor_describe (t);

  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "conv3d: tensor %s %s", d, why);
  g_free (d);
  return FALSE;
}

gboolean
sora_op_conv3d (SoraTensor *x, SoraTensor *cache, SoraTensor *weight,
    SoraTensor *bias, const SoraConv3dParams *p, SoraTensor *y, GError **error)
{
  gsize cin, t, h, w, tc, cout, kt, kh, kw, t_in, h_in, w_in;
  gsize out_shape[4], global[3];
  char *options;
  gboolean ok;

  if (x->ndim != 4)
    return conv_fail (x, "must be [Cin, T, H, W]", error);
  if (weight->ndim != 5)
    return conv_fail (weight, "must be [Cout, Cin, kt, kh, kw]", error);
  cin = x->shape[0];
  t = x->shape[1];
  h = x->shape[2];
  w = x->shape[3];
  cout = weight->shape[0];
  kt = weight->shape[2];
  kh = weight->shape[3];
  kw = weight->shape[4];
  if (weight->shape[1] != cin)
    return conv_fail (weight, "does not match the input channels", error);
  if (!sora_op_check_dtype (x, "conv3d", SORA_DTYPE_F32, error) ||
      !sora_op_check_dtype (y, "conv3d", SORA_DTYPE_F32, error))
    return FALSE;
  tc = 0;
  if (cache) {
    tc = cache->ndim == 4 ? cache->shape[1] : 0;
    if (!sora_tensor_check_shape (
            cache, "conv3d", 4, (gsize[]){ cin, tc, h, w }, error) ||
        !sora_op_check_dtype (cache, "conv3d", SORA_DTYPE_F32, error))
      return FALSE;
  }
  if (bias &&
      (!sora_tensor_check_shape (bias, "conv3d", 1, &cout, error) ||
          !sora_op_check_dtype (bias, "conv3d", SORA_DTYPE_F32, error)))
    return FALSE;
  if (p->stride_t == 0 || p->stride_h == 0 || p->stride_w == 0)
    return conv_fail (weight, "needs strides of at least 1", error);

  t_in = p->pad_t_front + tc + t;
  h_in = p->pad_top + h + p->pad_bottom;
  w_in = p->pad_left + w + p->pad_right;
  if (t_in < kt || h_in < kh || w_in < kw)
    return conv_fail (x, "is smaller than the kernel, even padded", error);
  out_shape[0] = cout;
  out_shape[1] = (t_in - kt) / p->stride_t + 1;
  out_shape[2] = (h_in - kh) / p->stride_h + 1;
  out_shape[3] = (w_in - kw) / p->stride_w + 1;
  if (!sora_tensor_check_shape (y, "conv3d", 4, out_shape, error) ||
      !sora_op_check_int (x->numel, "conv3d", x, error) ||
      !sora_op_check_int (y->numel, "conv3d", y, error) ||
      !sora_op_check_int (weight->numel, "conv3d", weight, error) ||
      (cache && !sora_op_check_int (cache->numel, "conv3d", cache, error)))
    return FALSE;

  global[0] = (out_shape[3] + 7) / 8;
  global[1] = out_shape[1] * out_shape[2];
  global[2] = (cout + CONV_CO_TILE - 1) / CONV_CO_TILE;
  options = g_strdup_printf ("%s -DCO_TILE=%d -DKT=%u -DKH=%u -DKW=%u "
                             "-DST=%u -DSH=%u -DSW=%u",
      sora_storage_options (weight->dtype), CONV_CO_TILE, (guint)kt, (guint)kh,
      (guint)kw, p->stride_t, p->stride_h, p->stride_w);
  ok = sora_device_run (x->dev, "conv", options, "conv3d", 3, global, NULL,
      error, SORA_MEM (x->buf), SORA_MEM (cache ? cache->buf : NULL),
      SORA_MEM (weight->buf), SORA_MEM (bias ? bias->buf : NULL),
      SORA_MEM (y->buf), SORA_INT (cin), SORA_INT (t), SORA_INT (tc),
      SORA_INT (h), SORA_INT (w), SORA_INT (cout), SORA_INT (out_shape[2]),
      SORA_INT (out_shape[3]), SORA_INT (out_shape[1]),
      SORA_INT (p->pad_t_front), SORA_INT (p->pad_top), SORA_INT (p->pad_left),
      SORA_END);
  g_free (options);
  return ok;
}
