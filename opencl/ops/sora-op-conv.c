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

/* Two forms, as for the GEMM: conv3d_panel (conv.cl) for CPUs, and
 * conv3d_gpu (gemm-gpu.cl, -DCONV3D) where sora_tune_gpu_kernels() says
 * so, whose work-group tile stages the input patches and the weights
 * through local memory. */
struct _SoraConvWeight
{
  SoraDevice *dev;
  char *desc; /* the weight tensor it came from, for errors */
  ConvKernel k;
  SoraDType dtype; /* as packed */
  gboolean gpu; /* the GPU form: weight rows [Cout, K], gpu_tile */
  ConvTile tile; /* the CPU form's: panels of tile.n channels */
  SoraGpuTile gpu_tile;
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

/* A GPU tile conv3d_gpu takes: each work-item gathers one pixel's inputs,
 * so WM must divide the work-group. */
static gboolean
valid_gpu_tile (SoraDevice *dev, const char *value)
{
  SoraGpuTile t;

  return sora_tune_valid_gpu_tile (dev, value) &&
      sora_tune_parse_gpu_tile (value, &t) &&
      sora_tune_gpu_tile_threads (t) % t.wm == 0;
}

static ConvTile device_tile (SoraDevice *dev, SoraDType dtype);
static SoraGpuTile device_gpu_tile (SoraDevice *dev, SoraDType dtype);

/* sora_conv_weight_new in the GPU form when @gpu, else the CPU form, with
 * the given (valid) tile, or the device's when NULL. */
static SoraConvWeight *
weight_new (SoraTensor *weight, gboolean widen, gboolean gpu, const char *tile,
    GError **error)
{
  SoraConvWeight *cw;
  gsize k, panel, global[2];
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
  cw->gpu = gpu;
  if (gpu && tile)
    sora_tune_parse_gpu_tile (tile, &cw->gpu_tile);
  else if (gpu)
    cw->gpu_tile = device_gpu_tile (cw->dev, cw->dtype);
  else if (tile)
    sora_tune_parse_tile (cw->dev, tile, &cw->tile);
  else
    cw->tile = device_tile (cw->dev, cw->dtype);
  /* Panels of one channel are the weight's own rows, as the GPU form
   * reads them. */
  panel = gpu ? 1 : cw->tile.n;
  k = shape.cin * shape.kt * shape.kh * shape.kw;
  global[0] = k;
  global[1] = (shape.cout + panel - 1) / panel * panel;
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
  options = g_strdup_printf ("%s -DCONV_PACK -DTILE_N=%" G_GSIZE_FORMAT "%s",
      sora_storage_options (weight->dtype), panel,
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
  return weight_new (
      weight, widen, sora_tune_gpu_kernels (weight->dev), NULL, error);
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

/* The build options both forms share: weight storage, kernel size and
 * strides (kt, kh, kw, st, sh, sw in @g). */
static char *
geometry_options (SoraDType dtype, const guint g[6])
{
  return g_strdup_printf ("%s -DKT=%u -DKH=%u -DKW=%u -DST=%u -DSH=%u -DSW=%u",
      sora_storage_options (dtype), g[0], g[1], g[2], g[3], g[4], g[5]);
}

static char *
gpu_options (const char *geometry, SoraGpuTile t)
{
  char *tile = sora_tune_gpu_tile_options (t);
  char *options = g_strdup_printf ("%s %s -DCONV3D", geometry, tile);

  g_free (tile);
  return options;
}

/* Runs conv3d_panel on checked arguments (see conv_check). */
static gboolean
launch_cpu (SoraTensor *x, SoraTensor *cache, SoraConvWeight *weight,
    SoraTensor *bias, const SoraConv3dParams *p, SoraTensor *y,
    const gsize out[4], gsize tc, const char *geometry, GError **error)
{
  ConvTile tile = weight->tile;
  gsize tiles_w, items, step, global[2];
  char *options;
  gboolean ok = TRUE;

  tiles_w = (out[3] + tile.m - 1) / tile.m;
  items = tiles_w * out[2] * out[1];
  global[1] = (out[0] + tile.n - 1) / tile.n;
  if (!sora_op_check_int (items, "conv3d", y, error))
    return FALSE;
  /* Row tiles per launch, in whole default work-groups (the op asks for
   * none). */
  step = SORA_DEFAULT_GROUP *
      sora_op_launch_rows (x->dev,
          (items + SORA_DEFAULT_GROUP - 1) / SORA_DEFAULT_GROUP, 1,
          2.0 * SORA_DEFAULT_GROUP * tile.m * out[0] * x->shape[0] *
              weight->k.kt * weight->k.kh * weight->k.kw);
  options = g_strdup_printf (
      "%s -DTILE_M=%d -DTILE_N=%d -DVW=%d", geometry, tile.m, tile.n, tile.vw);
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

/* Runs conv3d_gpu on checked arguments: a work-group per block of WM
 * output pixels x WN channels. */
static gboolean
launch_gpu (SoraTensor *x, SoraTensor *cache, SoraConvWeight *weight,
    SoraTensor *bias, const SoraConv3dParams *p, SoraTensor *y,
    const gsize out[4], gsize tc, const char *geometry, GError **error)
{
  SoraGpuTile t = weight->gpu_tile;
  gsize threads = sora_tune_gpu_tile_threads (t);
  gsize pixels = out[1] * out[2] * out[3];
  gsize global[2] = { (pixels + t.wm - 1) / t.wm * threads,
    (out[0] + t.wn - 1) / t.wn };
  gsize local[2] = { threads, 1 };
  char *options;
  gboolean ok;

  if (!sora_op_check_int (global[0], "conv3d", y, error))
    return FALSE;
  options = gpu_options (geometry, t);
  ok = sora_device_run (x->dev, "gemm-gpu", options, "conv3d_gpu", 2, global,
      local, error, SORA_MEM (x->buf), SORA_MEM (cache ? cache->buf : NULL),
      SORA_MEM (weight->buf), SORA_MEM (bias ? bias->buf : NULL),
      SORA_MEM (y->buf), SORA_INT (x->shape[0]), SORA_INT (x->shape[1]),
      SORA_INT (tc), SORA_INT (x->shape[2]), SORA_INT (x->shape[3]),
      SORA_INT (out[0]), SORA_INT (out[2]), SORA_INT (out[3]),
      SORA_INT (out[1]), SORA_INT (p->pad_t_front), SORA_INT (p->pad_top),
      SORA_INT (p->pad_left), SORA_END);
  g_free (options);
  return ok;
}

/* Runs the weight's form on checked arguments. */
static gboolean
conv_launch (SoraTensor *x, SoraTensor *cache, SoraConvWeight *weight,
    SoraTensor *bias, const SoraConv3dParams *p, SoraTensor *y,
    const gsize out[4], gsize tc, GError **error)
{
  guint g[6] = { weight->k.kt, weight->k.kh, weight->k.kw, p->stride_t,
    p->stride_h, p->stride_w };
  char *geometry;
  gboolean ok;

  if (y->numel == 0)
    return TRUE;
  geometry = geometry_options (weight->dtype, g);
  ok = (weight->gpu ? launch_gpu : launch_cpu) (
      x, cache, weight, bias, p, y, out, tc, geometry, error);
  g_free (geometry);
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

/* A timed run of @w (NULL when it could not be made) on the probe @c. */
static gpointer
probe_run_new (ConvProbe *c, SoraConvWeight *w)
{
  ConvRun *r;

  if (w == NULL)
    return NULL;
  r = g_new (ConvRun, 1);
  r->c = c;
  r->w = w;
  return r;
}

static gpointer
probe_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  ConvProbe *c = data;

  return probe_run_new (c, weight_new (c->w, FALSE, FALSE, candidate, error));
}

static gpointer
gpu_probe_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  ConvProbe *c = data;

  return probe_run_new (c, weight_new (c->w, FALSE, TRUE, candidate, error));
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

/* The conv tile named "conv[-gpu]-tile-DTYPE" for @dtype on @dev. */
static char *
choose_tile (SoraDevice *dev, SoraDType dtype, gboolean gpu)
{
  char *name = g_strdup_printf (
      "conv%s-tile-%s", gpu ? "-gpu" : "", sora_dtype_name (dtype));
  SoraTuneSpec spec = { name, gpu ? "SORA_CONV_GPU_TILE" : "SORA_CONV_TILE",
    G_STRINGIFY (PROBE_C) "x" G_STRINGIFY (PROBE_T) "x" G_STRINGIFY (
        PROBE_H) "x" G_STRINGIFY (PROBE_W) " 3x3x3",
    2.0 * PROBE_C * PROBE_C * PROBE_TAPS * PROBE_T * PROBE_H * PROBE_W,
    gpu ? valid_gpu_tile : sora_tune_valid_tile, probe_init, probe_clear,
    gpu ? gpu_probe_setup : probe_setup, probe_run, probe_free };
  char **candidates =
      gpu ? sora_tune_gpu_tile_candidates () : sora_tune_tile_candidates (dev);
  ConvProbe probe = { dtype };
  char *value;

  value =
      sora_tune_choose (dev, &spec, (const char *const *)candidates, &probe);
  g_strfreev (candidates);
  g_free (name);
  return value;
}

char *
sora_conv_tile_name (SoraDevice *dev, SoraDType dtype)
{
  return choose_tile (dev, dtype, FALSE);
}

char *
sora_conv_gpu_tile_name (SoraDevice *dev, SoraDType dtype)
{
  return choose_tile (dev, dtype, TRUE);
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

static SoraGpuTile
device_gpu_tile (SoraDevice *dev, SoraDType dtype)
{
  char *value = sora_conv_gpu_tile_name (dev, dtype);
  SoraGpuTile tile;

  sora_tune_parse_gpu_tile (value, &tile);
  g_free (value);
  return tile;
}

/* The kernel shapes and strides of Wan's VAE (kt, kh, kw, st, sh, sw): the
 * 3x3x3 convs, 1x1x1 shortcuts, the (3,1,1) time convs of the temporal
 * up- and downsamplers, 3x3 per-frame convs after spatial upsampling and
 * the stride-2 ones of spatial downsampling. */
static const guint vae_kernels[][6] = {
  { 3, 3, 3, 1, 1, 1 },
  { 1, 1, 1, 1, 1, 1 },
  { 3, 1, 1, 1, 1, 1 },
  { 3, 1, 1, 2, 1, 1 },
  { 1, 3, 3, 1, 1, 1 },
  { 1, 3, 3, 1, 2, 2 },
};

char **
sora_conv_gpu_variants (void)
{
  static const SoraDType dtypes[] = { SORA_DTYPE_F32, SORA_DTYPE_F16,
    SORA_DTYPE_BF16 };
  char **tiles = sora_tune_gpu_tile_candidates ();
  GPtrArray *all = g_ptr_array_new ();

  for (guint d = 0; d < G_N_ELEMENTS (dtypes); d++)
    for (guint g = 0; g < G_N_ELEMENTS (vae_kernels); g++) {
      char *geometry = geometry_options (dtypes[d], vae_kernels[g]);

      for (guint i = 0; tiles[i]; i++) {
        SoraGpuTile t;

        sora_tune_parse_gpu_tile (tiles[i], &t);
        g_ptr_array_add (all, gpu_options (geometry, t));
      }
      g_free (geometry);
    }
  g_strfreev (tiles);
  g_ptr_array_add (all, NULL);
  return (char **)g_ptr_array_free (all, FALSE);
}
