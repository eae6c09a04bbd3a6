/* gst-sora engine op: 3-D convolution
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-op.h"
#include "sora-op-conv.h"
#include "sora-tune.h"

/* The output tile one work-item of conv3d_panel computes: m pixels along a
 * row x n output channels (the packed panel width), in vectors of vw. */
typedef SoraTile ConvTile;

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

static ConvTile device_tile (SoraDevice *dev, SoraDType dtype);

/* sora_conv_weight_new with the given tile, or the device's when NULL. */
static SoraConvWeight *
weight_new (
    SoraTensor *weight, gboolean widen, const ConvTile *tile, GError **error)
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
  cw->tile = tile ? *tile : device_tile (cw->dev, cw->dtype);
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

SoraConvWeight *
sora_conv_weight_new (SoraTensor *weight, gboolean widen, GError **error)
{
  return weight_new (weight, widen, NULL, error);
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
  gsize tiles_w, items, step, global[2];
  char *options;
  gboolean ok = TRUE;

  if (y->numel == 0)
    return TRUE;
  tiles_w = (out[3] + tile.m - 1) / tile.m;
  items = tiles_w * out[2] * out[1];
  global[1] = (out[0] + tile.n - 1) / tile.n;
  if (!sora_op_check_int (items, "conv3d", y, error))
    return FALSE;
  /* Row tiles per launch, in whole default work-groups (the op asks for
   * none): one launch unless the work is past sora_op_launch_flops. */
  step = MIN (sora_op_launch_flops (x->dev) /
          (2.0 * tile.m * out[0] * x->shape[0] * weight->k.kt * weight->k.kh *
              weight->k.kw),
      items);
  step = (MAX (step, 1) + SORA_DEFAULT_GROUP - 1) / SORA_DEFAULT_GROUP *
      SORA_DEFAULT_GROUP;
  options = g_strdup_printf ("%s -DTILE_M=%d -DTILE_N=%d -DVW=%d -DKT=%u "
                             "-DKH=%u -DKW=%u -DST=%u -DSH=%u -DSW=%u",
      sora_storage_options (weight->dtype), tile.m, tile.n, tile.vw,
      (guint)weight->k.kt, (guint)weight->k.kh, (guint)weight->k.kw,
      p->stride_t, p->stride_h, p->stride_w);
  for (gsize i0 = 0; ok && i0 < items; i0 += step) {
    gsize offset[2] = { i0, 0 };

    global[0] = MIN (step, items - i0);
    ok = sora_device_run_at (x->dev, "conv", options, "conv3d_panel", 2, offset,
        global, NULL, error, SORA_MEM (x->buf),
        SORA_MEM (cache ? cache->buf : NULL), SORA_MEM (weight->buf),
        SORA_MEM (bias ? bias->buf : NULL), SORA_MEM (y->buf),
        SORA_INT (x->shape[0]), SORA_INT (x->shape[1]), SORA_INT (tc),
        SORA_INT (x->shape[2]), SORA_INT (x->shape[3]), SORA_INT (out[0]),
        SORA_INT (out[2]), SORA_INT (out[3]), SORA_INT (out[1]),
        SORA_INT (p->pad_t_front), SORA_INT (p->pad_top),
        SORA_INT (p->pad_left), SORA_INT (tiles_w), SORA_END);
  }
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

/* Tuning: a 3x3x3 causal conv of 128 channels on 2 frames of 16x48, a VAE
 * decoder's middle. */
#define PROBE_C 128
#define PROBE_T 2
#define PROBE_H 16
#define PROBE_W 48
#define PROBE_TAPS 27

typedef struct
{
  SoraDType dtype; /* of the packed weight */
  SoraTensor *x, *w, *y;
} ConvProbe;

static gboolean
probe_init (SoraDevice *dev, gpointer data)
{
  ConvProbe *c = data;
  gsize xs[4] = { PROBE_C, PROBE_T, PROBE_H, PROBE_W };
  gsize ws[5] = { PROBE_C, PROBE_C, 3, 3, 3 };
  gsize n = MAX (
      PROBE_C * PROBE_T * PROBE_H * PROBE_W, PROBE_C * PROBE_C * PROBE_TAPS);
  float *values = g_new (float, n);
  GError *error = NULL;

  for (gsize i = 0; i < n; i++)
    values[i] = (float)((int)(i % 7) - 3) / 64;
  c->x = sora_tensor_new (dev, "conv-probe.x", SORA_DTYPE_F32, 4, xs, &error);
  if (c->x && sora_tensor_write_f32 (c->x, values, &error))
    c->w = sora_tensor_new (dev, "conv-probe.w", c->dtype, 5, ws, &error);
  if (c->w && sora_tensor_write_f32 (c->w, values, &error))
    c->y = sora_tensor_new (dev, "conv-probe.y", SORA_DTYPE_F32, 4, xs, &error);
  g_free (values);
  if (c->y)
    return TRUE;
  g_warning ("conv3d: cannot set up the tuning probe: %s", error->message);
  g_error_free (error);
  return FALSE;
}

static void
probe_clear (gpointer data)
{
  ConvProbe *c = data;

  sora_tensor_free (c->x);
  sora_tensor_free (c->w);
  sora_tensor_free (c->y);
}

typedef struct
{
  ConvProbe *c;
  SoraConvWeight *w;
} ConvRun;

static void
probe_free (gpointer run)
{
  ConvRun *r = run;

  sora_conv_weight_free (r->w);
  g_free (r);
}

static gpointer
probe_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  ConvRun *r = g_new (ConvRun, 1);
  ConvTile tile;

  sora_tune_parse_tile (dev, candidate, &tile);
  r->c = data;
  r->w = weight_new (r->c->w, FALSE, &tile, error);
  if (r->w == NULL)
    g_clear_pointer (&r, g_free);
  return r;
}

static gboolean
probe_run (gpointer run, GError **error)
{
  ConvRun *r = run;
  SoraConv3dParams p = { 1, 1, 1, 2, 1, 1, 1, 1 };

  return sora_op_conv3d_packed (
             r->c->x, NULL, r->w, NULL, &p, r->c->y, error) &&
      sora_device_finish (r->c->x->dev, error);
}

char *
sora_conv_tile_name (SoraDevice *dev, SoraDType dtype)
{
  char *name = g_strdup_printf ("conv-tile-%s", sora_dtype_name (dtype));
  SoraTuneSpec spec = { name, "SORA_CONV_TILE",
    G_STRINGIFY (PROBE_C) "x" G_STRINGIFY (PROBE_T) "x" G_STRINGIFY (
        PROBE_H) "x" G_STRINGIFY (PROBE_W) " 3x3x3",
    2.0 * PROBE_C * PROBE_C * PROBE_TAPS * PROBE_T * PROBE_H * PROBE_W,
    sora_tune_valid_tile, probe_init, probe_clear, probe_setup, probe_run,
    probe_free };
  char **candidates = sora_tune_tile_candidates (dev);
  ConvProbe probe = { dtype };
  char *value;

  value =
      sora_tune_choose (dev, &spec, (const char *const *)candidates, &probe);
  g_strfreev (candidates);
  g_free (name);
  return value;
}

static ConvTile
device_tile (SoraDevice *dev, SoraDType dtype)
{
  char *value = sora_conv_tile_name (dev, dtype);
  ConvTile tile;

  sora_tune_parse_tile (dev, value, &tile);
  g_free (value);
  return tile;
}
