/* gst-sora engine op: 3-D convolution
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-op.h"
#include "sora-op-conv.h"

/* The output tile one work-item of conv3d_panel computes: m pixels along a
 * row x n output channels (the packed panel width), in vectors of vw. */
typedef struct
{
  int m, n, vw;
} ConvTile;

/* A weight's shape [Cout, Cin, kt, kh, kw]. */
typedef struct
{
  gsize cout, cin, kt, kh, kw;
} ConvKernel;

struct _SoraConvWeight
{
  SoraDevice *dev;
  char *desc; /* the weight tensor it came from, for errors */
  ConvKernel k;
  SoraDType dtype; /* as packed */
  ConvTile tile;
  cl_mem buf;
  gsize bytes;
};

static gboolean
conv_fail (const SoraTensor *t, const char *why, GError **error)
{
  char *d = sora_tensor_describe (t);

  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "conv3d: tensor %s %s", d, why);
  g_free (d);
  return FALSE;
}

static gboolean
kernel_shape (const SoraTensor *weight, ConvKernel *k, GError **error)
{
  if (weight->ndim != 5)
    return conv_fail (weight, "must be [Cout, Cin, kt, kh, kw]", error);
  if (weight->numel == 0)
    return conv_fail (weight, "is empty", error);
  k->cout = weight->shape[0];
  k->cin = weight->shape[1];
  k->kt = weight->shape[2];
  k->kh = weight->shape[3];
  k->kw = weight->shape[4];
  return TRUE;
}

/* As in gemm.cl's tile: 6 pixels x 2 vectors of the device's preferred
 * width keep 12 accumulators, which fit AVX2's 16 vector registers next to
 * the 2 weight vectors and an input broadcast. */
static ConvTile
device_tile (SoraDevice *dev)
{
  guint width = sora_device_get_info (dev)->preferred_float_width;
  ConvTile tile = { 6, 0, width >= 16 ? 16 : width >= 8 ? 8 : 4 };

  tile.n = 2 * tile.vw;
  return tile;
}

SoraConvWeight *
sora_conv_weight_new (SoraTensor *weight, gboolean widen, GError **error)
{
  SoraConvWeight *cw;
  gsize k, global[2];
  char *options, *what;
  gboolean ok;
  ConvKernel shape;

  if (!kernel_shape (weight, &shape, error))
    return NULL;
  cw = g_new0 (SoraConvWeight, 1);
  cw->dev = weight->dev;
  cw->desc = sora_tensor_describe (weight);
  cw->k = shape;
  cw->dtype = widen ? SORA_DTYPE_F32 : weight->dtype;
  cw->tile = device_tile (cw->dev);
  k = shape.cin * shape.kt * shape.kh * shape.kw;
  global[0] = k;
  global[1] = (shape.cout + cw->tile.n - 1) / cw->tile.n * cw->tile.n;
  cw->bytes = global[1] * k * sora_dtype_size (cw->dtype);
  if (!sora_op_check_int (global[1] * k, "conv3d", weight, error)) {
    sora_conv_weight_free (cw);
    return NULL;
  }
  what = g_strdup_printf ("%s (packed)", weight->name);
  cw->buf = sora_device_alloc (cw->dev, cw->bytes, what, error);
  g_free (what);
  if (cw->buf == NULL) {
    sora_conv_weight_free (cw);
    return NULL;
  }
  options = g_strdup_printf ("%s -DCONV_PACK -DTILE_N=%d%s",
      sora_storage_options (weight->dtype), cw->tile.n,
      cw->dtype != weight->dtype ? " -DPACK_F32" : "");
  ok = sora_device_run (cw->dev, "conv", options, "conv3d_pack", 2, global,
      NULL, error, SORA_MEM (weight->buf), SORA_MEM (cw->buf),
      SORA_INT (shape.cout), SORA_INT (k), SORA_END);
  g_free (options);
  if (!ok) {
    sora_conv_weight_free (cw);
    return NULL;
  }
  return cw;
}

void
sora_conv_weight_free (SoraConvWeight *weight)
{
  if (weight == NULL)
    return;
  sora_device_release (weight->dev, weight->buf, weight->bytes);
  g_free (weight->desc);
  g_free (weight);
}

/* Checks the op's tensors against the kernel @k of the weight described
 * by @wdesc; sets y's shape in @out and the cached frames in @tc. */
static gboolean
conv_check (const SoraTensor *x, const SoraTensor *cache, const ConvKernel *k,
    const char *wdesc, const SoraTensor *bias, const SoraConv3dParams *p,
    const SoraTensor *y, gsize out[4], gsize *tc, GError **error)
{
  gsize t, h, w, t_in, h_in, w_in;

  if (x->ndim != 4)
    return conv_fail (x, "must be [Cin, T, H, W]", error);
  t = x->shape[1];
  h = x->shape[2];
  w = x->shape[3];
  if (x->shape[0] != k->cin) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "conv3d: tensor %s does not match the input channels", wdesc);
    return FALSE;
  }
  if (!sora_op_check_dtype (x, "conv3d", SORA_DTYPE_F32, error) ||
      !sora_op_check_dtype (y, "conv3d", SORA_DTYPE_F32, error))
    return FALSE;
  *tc = 0;
  if (cache) {
    *tc = cache->ndim == 4 ? cache->shape[1] : 0;
    if (!sora_tensor_check_shape (
            cache, "conv3d", 4, (gsize[]){ k->cin, *tc, h, w }, error) ||
        !sora_op_check_dtype (cache, "conv3d", SORA_DTYPE_F32, error))
      return FALSE;
  }
  if (bias &&
      (!sora_tensor_check_shape (bias, "conv3d", 1, &k->cout, error) ||
          !sora_op_check_dtype (bias, "conv3d", SORA_DTYPE_F32, error)))
    return FALSE;
  if (p->stride_t == 0 || p->stride_h == 0 || p->stride_w == 0)
    return conv_fail (x, "needs strides of at least 1", error);

  t_in = p->pad_t_front + *tc + t;
  h_in = p->pad_top + h + p->pad_bottom;
  w_in = p->pad_left + w + p->pad_right;
  if (t_in < k->kt || h_in < k->kh || w_in < k->kw)
    return conv_fail (x, "is smaller than the kernel, even padded", error);
  out[0] = k->cout;
  out[1] = (t_in - k->kt) / p->stride_t + 1;
  out[2] = (h_in - k->kh) / p->stride_h + 1;
  out[3] = (w_in - k->kw) / p->stride_w + 1;
  return sora_tensor_check_shape (y, "conv3d", 4, out, error) &&
      sora_op_check_int (x->numel, "conv3d", x, error) &&
      sora_op_check_int (y->numel, "conv3d", y, error) &&
      (!cache || sora_op_check_int (cache->numel, "conv3d", cache, error));
}

/* Runs conv3d_panel on checked arguments (see conv_check). */
static gboolean
conv_launch (SoraTensor *x, SoraTensor *cache, SoraConvWeight *weight,
    SoraTensor *bias, const SoraConv3dParams *p, SoraTensor *y,
    const gsize out[4], gsize tc, GError **error)
{
  ConvTile tile = weight->tile;
  gsize tiles_w, global[2];
  char *options;
  gboolean ok;

  if (y->numel == 0)
    return TRUE;
  tiles_w = (out[3] + tile.m - 1) / tile.m;
  global[0] = tiles_w * out[2] * out[1];
  global[1] = (out[0] + tile.n - 1) / tile.n;
  if (!sora_op_check_int (global[0], "conv3d", y, error))
    return FALSE;
  options = g_strdup_printf ("%s -DTILE_M=%d -DTILE_N=%d -DVW=%d -DKT=%u "
                             "-DKH=%u -DKW=%u -DST=%u -DSH=%u -DSW=%u",
      sora_storage_options (weight->dtype), tile.m, tile.n, tile.vw,
      (guint)weight->k.kt, (guint)weight->k.kh, (guint)weight->k.kw,
      p->stride_t, p->stride_h, p->stride_w);
  ok = sora_device_run (x->dev, "conv", options, "conv3d_panel", 2, global,
      NULL, error, SORA_MEM (x->buf), SORA_MEM (cache ? cache->buf : NULL),
      SORA_MEM (weight->buf), SORA_MEM (bias ? bias->buf : NULL),
      SORA_MEM (y->buf), SORA_INT (x->shape[0]), SORA_INT (x->shape[1]),
      SORA_INT (tc), SORA_INT (x->shape[2]), SORA_INT (x->shape[3]),
      SORA_INT (out[0]), SORA_INT (out[2]), SORA_INT (out[3]),
      SORA_INT (out[1]), SORA_INT (p->pad_t_front), SORA_INT (p->pad_top),
      SORA_INT (p->pad_left), SORA_INT (tiles_w), SORA_END);
  g_free (options);
  return ok;
}

gboolean
sora_op_conv3d_packed (SoraTensor *x, SoraTensor *cache, SoraConvWeight *weight,
    SoraTensor *bias, const SoraConv3dParams *p, SoraTensor *y, GError **error)
{
  gsize out[4], tc;

  return conv_check (
             x, cache, &weight->k, weight->desc, bias, p, y, out, &tc, error) &&
      conv_launch (x, cache, weight, bias, p, y, out, tc, error);
}

gboolean
sora_op_conv3d (SoraTensor *x, SoraTensor *cache, SoraTensor *weight,
    SoraTensor *bias, const SoraConv3dParams *p, SoraTensor *y, GError **error)
{
  ConvKernel k;
  SoraConvWeight *packed;
  gsize out[4], tc;
  char *desc;
  gboolean ok;

  if (!kernel_shape (weight, &k, error))
    return FALSE;
  /* Checked before packing, so that a bad call enqueues nothing. */
  desc = sora_tensor_describe (weight);
  ok = conv_check (x, cache, &k, desc, bias, p, y, out, &tc, error);
  g_free (desc);
  if (!ok)
    return FALSE;
  /* Packing costs one pass over the weight, little next to the conv. */
  packed = sora_conv_weight_new (weight, FALSE, error);
  if (packed == NULL)
    return FALSE;
  ok = conv_launch (x, cache, packed, bias, p, y, out, tc, error);
  sora_conv_weight_free (packed);
  return ok;
}
