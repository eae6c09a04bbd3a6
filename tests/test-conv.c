/* gst-sora tests: 3-D convolution against a double-precision reference;
 * /conv/speed is in test-conv-speed.c
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sora-test-util.h"
#include "sora-tune.h"
#include "test-conv.h"

void
out_shape (const ConvCase *c, gsize *shape)
{
  shape[0] = c->cout;
  shape[1] = (c->p.pad_t_front + c->tc + c->t - c->kt) / c->p.stride_t + 1;
  shape[2] =
      (c->p.pad_top + c->h + c->p.pad_bottom - c->kh) / c->p.stride_h + 1;
  shape[3] =
      (c->p.pad_left + c->w + c->p.pad_right - c->kw) / c->p.stride_w + 1;
}

/* Input frame ti of the padded sequence zeros ++ cache ++ x, or NULL. */
static const float *
frame (const ConvCase *c, const float *x, const float *cache, gsize ci, long ti)
{
  ti -= c->p.pad_t_front;
  if (ti < 0)
    return NULL;
  if ((gsize)ti < c->tc)
    return cache + (ci * c->tc + ti) * c->h * c->w;
  return x + (ci * c->t + ti - c->tc) * c->h * c->w;
}

double
conv_ref_at (const ConvCase *c, const float *x, const float *cache,
    const float *wt, const float *bias, gsize co, gsize ot, gsize oy, gsize ox)
{
  double acc = bias ? bias[co] : 0.0;

  for (gsize ci = 0; ci < c->cin; ci++)
    for (gsize dt = 0; dt < c->kt; dt++) {
      const float *f = frame (c, x, cache, ci, (long)(ot * c->p.stride_t + dt));
      for (gsize dy = 0; f && dy < c->kh; dy++)
        for (gsize dx = 0; dx < c->kw; dx++) {
          long iy = (long)(oy * c->p.stride_h + dy) - c->p.pad_top;
          long ix = (long)(ox * c->p.stride_w + dx) - c->p.pad_left;
          if (iy < 0 || ix < 0 || iy >= (long)c->h || ix >= (long)c->w)
            continue;
          acc += (double)f[iy * c->w + ix] *
              wt[(((co * c->cin + ci) * c->kt + dt) * c->kh + dy) * c->kw + dx];
        }
    }
  return acc;
}

static double *
conv_ref (const ConvCase *c, const float *x, const float *cache,
    const float *wt, const float *bias)
{
  gsize s[4];
  double *y;

  out_shape (c, s);
  y = g_new (double, s[0] * s[1] * s[2] * s[3]);
  for (gsize co = 0; co < s[0]; co++)
    for (gsize ot = 0; ot < s[1]; ot++)
      for (gsize oy = 0; oy < s[2]; oy++)
        for (gsize ox = 0; ox < s[3]; ox++)
          y[((co * s[1] + ot) * s[2] + oy) * s[3] + ox] =
              conv_ref_at (c, x, cache, wt, bias, co, ot, oy, ox);
  return y;
}

/* How the weight reaches the op: as a tensor, or packed once (in its
 * stored dtype, or widened to f32). */
typedef enum { PATH_TENSOR, PATH_PACKED, PATH_PACKED_WIDE, N_PATHS } ConvPath;

static const char *path_names[] = { "tensor", "packed", "packed f32" };

/* Runs the op on the device; returns y (g_free it). */
static float *
conv_device (const ConvCase *c, const float *x, const float *cache,
    const float *wt, const float *bias, ConvPath path, gsize *ys)
{
  GError *error = NULL;
  gsize xs[] = { c->cin, c->t, c->h, c->w };
  gsize cs[] = { c->cin, c->tc, c->h, c->w };
  gsize ws[] = { c->cout, c->cin, c->kt, c->kh, c->kw };
  SoraTensor *tx, *tc = NULL, *tw, *tb = NULL, *ty;
  SoraConvWeight *cw;
  float *out;

  out_shape (c, ys);
  tx = sora_test_upload ("x", SORA_DTYPE_F32, x, 4, xs);
  if (cache)
    tc = sora_test_upload ("cache", SORA_DTYPE_F32, cache, 4, cs);
  tw = sora_test_upload ("weight", c->wdtype, wt, 5, ws);
  if (bias)
    tb = sora_test_upload ("bias", SORA_DTYPE_F32, bias, 1, &c->cout);
  ty =
      sora_tensor_new (sora_test_device (), "y", SORA_DTYPE_F32, 4, ys, &error);
  g_assert_no_error (error);
  if (path == PATH_TENSOR) {
    g_assert_true (sora_op_conv3d (tx, tc, tw, tb, &c->p, ty, &error));
  } else {
    cw = sora_conv_weight_new (tw, path == PATH_PACKED_WIDE, &error);
    g_assert_no_error (error);
    /* The packed weight no longer needs the tensor. */
    sora_tensor_free (g_steal_pointer (&tw));
    g_assert_true (sora_op_conv3d_packed (tx, tc, cw, tb, &c->p, ty, &error));
    sora_conv_weight_free (cw);
  }
  g_assert_no_error (error);
  out = sora_test_download (ty);
  sora_tensor_free (tx);
  sora_tensor_free (tc);
  sora_tensor_free (tw);
  sora_tensor_free (tb);
  sora_tensor_free (ty);
  return out;
}

static void
check_conv (const ConvCase *c, const char *what)
{
  gsize nx = c->cin * c->t * c->h * c->w, nc = c->cin * c->tc * c->h * c->w;
  gsize nw = c->cout * c->cin * c->kt * c->kh * c->kw, ys[4];
  float *x = sora_test_random (nx, -1, 1);
  float *cache = c->tc ? sora_test_random (nc, -1, 1) : NULL;
  float *wt = sora_test_random (nw, -1, 1);
  float *bias = c->bias ? sora_test_random (c->cout, -1, 1) : NULL;
  double *want;
  float *got;
  char *label;

  /* The reference sees the weights as the device stores them. */
  sora_test_round_to_dtype (wt, nw, c->wdtype);
  want = conv_ref (c, x, cache, wt, bias);
  for (ConvPath path = 0; path < N_PATHS; path++) {
    got = conv_device (c, x, cache, wt, bias, path, ys);
    label = g_strdup_printf ("%s: Cin %" G_GSIZE_FORMAT " Cout %" G_GSIZE_FORMAT
                             " T %" G_GSIZE_FORMAT "+%" G_GSIZE_FORMAT
                             " %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT
                             " k %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT
                             "x%" G_GSIZE_FORMAT " %s weights, %s",
        what, c->cin, c->cout, c->tc, c->t, c->h, c->w, c->kt, c->kh, c->kw,
        sora_dtype_name (c->wdtype), path_names[path]);
    sora_assert_close (
        got, want, ys[0] * ys[1] * ys[2] * ys[3], TOL_F32, label);
    g_free (label);
    g_free (got);
  }
  g_free (x);
  g_free (cache);
  g_free (wt);
  g_free (bias);
  g_free (want);
}

/* The VAE's causal 3x3x3 conv: 2 zero frames in front, spatial pad 1. */
static void
test_causal_333 (void)
{
  for (gsize t = 1; t <= 4; t++) {
    ConvCase c = { .cin = 3,
      .cout = 5,
      .t = t,
      .h = 7,
      .w = 9,
      .kt = 3,
      .kh = 3,
      .kw = 3,
      .p = { 1, 1, 1, 2, 1, 1, 1, 1 },
      .bias = TRUE };
    check_conv (&c, "causal 3x3x3");
  }
  /* Several channel tiles and work-groups, odd everything, no bias. */
  {
    ConvCase c = { .cin = 17,
      .cout = 19,
      .t = 2,
      .h = 11,
      .w = 37,
      .kt = 3,
      .kh = 3,
      .kw = 3,
      .p = { 1, 1, 1, 2, 1, 1, 1, 1 } };
    check_conv (&c, "causal 3x3x3");
  }
  /* Degenerate images: one pixel, one row. */
  {
    ConvCase c = { .cin = 2,
      .cout = 1,
      .t = 1,
      .h = 1,
      .w = 1,
      .kt = 3,
      .kh = 3,
      .kw = 3,
      .p = { 1, 1, 1, 2, 1, 1, 1, 1 },
      .bias = TRUE };
    check_conv (&c, "causal 3x3x3");
    c.h = 1;
    c.w = 23;
    check_conv (&c, "causal 3x3x3");
  }
}

/* A conv past the work of one launch (sora_op_launch_rows: two launches
 * on a 2-core CPU, the second from an offset), at the VAE's widths: every
 * 101st output against the reference. */
static void
test_split_launches (void)
{
  ConvCase c = { .cin = 96,
    .cout = 96,
    .t = 2,
    .h = 64,
    .w = 64,
    .kt = 3,
    .kh = 3,
    .kw = 3,
    .p = { 1, 1, 1, 2, 1, 1, 1, 1 },
    .bias = TRUE };
  gsize nx = c.cin * c.t * c.h * c.w;
  gsize nw = c.cout * c.cin * c.kt * c.kh * c.kw, ys[4], n, m = 0;
  float *x = sora_test_random (nx, -1, 1);
  float *wt = sora_test_random (nw, -1, 1);
  float *bias = sora_test_random (c.cout, -1, 1);
  float *got = conv_device (&c, x, NULL, wt, bias, PATH_PACKED, ys);
  float *sampled;
  double *want;

  n = ys[0] * ys[1] * ys[2] * ys[3];
  sampled = g_new (float, n / 101 + 1);
  want = g_new (double, n / 101 + 1);
  for (gsize i = 0; i < n; i += 101, m++) {
    gsize ox = i % ys[3], oy = i / ys[3] % ys[2];
    gsize ot = i / ys[3] / ys[2] % ys[1], co = i / ys[3] / ys[2] / ys[1];

    sampled[m] = got[i];
    want[m] = conv_ref_at (&c, x, NULL, wt, bias, co, ot, oy, ox);
  }
  sora_assert_close (sampled, want, m, TOL_F32, "split launches");
  g_free (sampled);
  g_free (want);
  g_free (got);
  g_free (x);
  g_free (wt);
  g_free (bias);
}

static void
test_pointwise (void)
{
  ConvCase c = { .cin = 3,
    .cout = 5,
    .t = 3,
    .h = 7,
    .w = 9,
    .kt = 1,
    .kh = 1,
    .kw = 1,
    .p = { 1, 1, 1, 0, 0, 0, 0, 0 },
    .bias = TRUE };
  check_conv (&c, "1x1x1");
  c.cin = 13;
  c.cout = 1;
  c.t = 1;
  check_conv (&c, "1x1x1");
}

/* upsample3d's time_conv: kernel (3,1,1), causal pad, dim -> 2 dim. */
static void
test_time_conv (void)
{
  ConvCase c = { .cin = 3,
    .cout = 6,
    .t = 1,
    .h = 7,
    .w = 9,
    .kt = 3,
    .kh = 1,
    .kw = 1,
    .p = { 1, 1, 1, 2, 0, 0, 0, 0 },
    .bias = TRUE };
  for (c.t = 1; c.t <= 4; c.t++)
    check_conv (&c, "time_conv");
}

/* downsample2d: ZeroPad2d (0,1,0,1), then 3x3 stride 2 per frame. */
static void
test_downsample_spatial (void)
{
  ConvCase c = { .cin = 3,
    .cout = 5,
    .t = 2,
    .h = 7,
    .w = 9,
    .kt = 1,
    .kh = 3,
    .kw = 3,
    .p = { 1, 2, 2, 0, 0, 1, 0, 1 },
    .bias = TRUE };
  check_conv (&c, "downsample2d");
  c.h = 8;
  c.w = 10;
  check_conv (&c, "downsample2d");
}

/* downsample3d's time_conv: (3,1,1) stride (2,1,1), no padding, with the
 * last frame of the previous chunk as cache. */
static void
test_downsample_time (void)
{
  ConvCase c = { .cin = 3,
    .cout = 5,
    .t = 4,
    .tc = 1,
    .h = 7,
    .w = 9,
    .kt = 3,
    .kh = 1,
    .kw = 1,
    .p = { 2, 1, 1, 0, 0, 0, 0, 0 },
    .bias = TRUE };
  check_conv (&c, "downsample3d time_conv");
  c.t = 2;
  check_conv (&c, "downsample3d time_conv");
  c.tc = 0;
  c.t = 5;
  check_conv (&c, "stride-2 time conv, no cache");
}

/* A conv with Tc cached frames equals, bit for bit, the same conv over the
 * concatenation cache ++ x with the same zero front padding, for every cache
 * length the causal decode uses. */
static void
test_cache_equivalence (void)
{
  for (gsize tc = 1; tc <= 2; tc++) {
    ConvCase c = { .cin = 3,
      .cout = 5,
      .t = 3,
      .tc = tc,
      .h = 7,
      .w = 9,
      .kt = 3,
      .kh = 3,
      .kw = 3,
      .p = { 1, 1, 1, 2 - tc, 1, 1, 1, 1 },
      .bias = TRUE };
    ConvCase whole = c;
    gsize plane = c.h * c.w, ys[4], ws[4];
    float *x = sora_test_random (c.cin * c.t * plane, -1, 1);
    float *cache = sora_test_random (c.cin * tc * plane, -1, 1);
    gsize nw = c.cout * c.cin * 27;
    float *wt = sora_test_random (nw, -1, 1);
    float *bias = sora_test_random (c.cout, -1, 1);
    float *cat = g_new (float, c.cin *(tc + c.t) * plane);
    float *got, *got_whole;
    double *want;

    for (gsize ci = 0; ci < c.cin; ci++) {
      memcpy (cat + ci * (tc + c.t) * plane, cache + ci * tc * plane,
          tc * plane * sizeof (float));
      memcpy (cat + (ci * (tc + c.t) + tc) * plane, x + ci * c.t * plane,
          c.t * plane * sizeof (float));
    }
    whole.t = tc + c.t;
    whole.tc = 0;
    got = conv_device (&c, x, cache, wt, bias, PATH_TENSOR, ys);
    got_whole = conv_device (&whole, cat, NULL, wt, bias, PATH_TENSOR, ws);
    g_assert_cmpmem (ws, sizeof (ws), ys, sizeof (ys));
    for (gsize i = 0; i < c.cout * ys[1] * plane; i++)
      g_assert_cmpfloat (got[i], ==, got_whole[i]);
    want = conv_ref (&c, x, cache, wt, bias);
    sora_assert_close (
        got, want, c.cout * ys[1] * plane, TOL_F32, "conv with cache");
    g_free (x);
    g_free (cache);
    g_free (wt);
    g_free (bias);
    g_free (cat);
    g_free (got);
    g_free (got_whole);
    g_free (want);
  }
}

/* Stored weights are read as f16/bf16 and summed in f32; the reference
 * uses the same rounded weights, so fp32 tolerance still holds. */
static void
test_half_weights (void)
{
  ConvCase c = { .cin = 3,
    .cout = 5,
    .t = 2,
    .tc = 2,
    .h = 7,
    .w = 9,
    .kt = 3,
    .kh = 3,
    .kw = 3,
    .p = { 1, 1, 1, 0, 1, 1, 1, 1 },
    .bias = TRUE };
  c.wdtype = SORA_DTYPE_F16;
  check_conv (&c, "causal 3x3x3");
  c.wdtype = SORA_DTYPE_BF16;
  check_conv (&c, "causal 3x3x3");
}

static void
expect_error (SoraTensor *x, SoraTensor *cache, SoraTensor *w, SoraTensor *b,
    const SoraConv3dParams *p, SoraTensor *y, const char *needle)
{
  GError *error = NULL;

  g_assert_false (sora_op_conv3d (x, cache, w, b, p, y, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  if (strstr (error->message, needle) == NULL)
    g_error ("error \"%s\" does not name \"%s\"", error->message, needle);
  g_clear_error (&error);
}

/* Every tile the tuner may pick here, the tiles of other vector widths
 * and odd ones, through the override: channels and pixels past the tiles,
 * f32 and f16 weights. */
static void
test_tiles (void)
{
  char **candidates = sora_tune_tile_candidates (sora_test_device ());
  const char *odd[] = { "6x32x16", "3x8x4", "5x24x8", NULL };
  ConvCase c = { .cin = 17,
    .cout = 19,
    .t = 2,
    .h = 5,
    .w = 37,
    .kt = 3,
    .kh = 3,
    .kw = 3,
    .p = { 1, 1, 1, 2, 1, 1, 1, 1 },
    .bias = TRUE };

  for (guint set = 0; set < 2; set++) {
    const char *const *tiles = set == 0 ? (const char *const *)candidates : odd;

    for (guint i = 0; tiles[i]; i++) {
      char *chosen;

      g_setenv ("SORA_CONV_TILE", tiles[i], TRUE);
      chosen = sora_conv_tile_name (sora_test_device (), SORA_DTYPE_F32);
      g_assert_cmpstr (chosen, ==, tiles[i]);
      g_free (chosen);
      g_test_message ("tile %s", tiles[i]);
      c.wdtype = SORA_DTYPE_F32;
      check_conv (&c, "causal 3x3x3");
      c.wdtype = SORA_DTYPE_F16;
      check_conv (&c, "causal 3x3x3");
    }
  }
  g_unsetenv ("SORA_CONV_TILE");
  g_strfreev (candidates);
}

/* The GPU form (forced as SORA_KERNELS=gpu would) with every tile the
 * tuner may pick and odd ones (work-groups of 32 and 128, one-column
 * register blocks, K slices of 4 and 8), on @n_cases. */
static void
check_gpu_tiles (const ConvCase *cases, guint n_cases)
{
  char **tiles = sora_test_tiles (
      sora_tune_gpu_tile_candidates (), "8x12x4x1x3", "32x8x8x4x1", NULL);

  g_setenv ("SORA_KERNELS", "gpu", TRUE);
  for (guint t = 0; tiles[t]; t++) {
    char *chosen;

    g_setenv ("SORA_CONV_GPU_TILE", tiles[t], TRUE);
    chosen = sora_conv_gpu_tile_name (sora_test_device (), SORA_DTYPE_F32);
    g_assert_cmpstr (chosen, ==, tiles[t]);
    g_free (chosen);
    g_test_message ("gpu tile %s", tiles[t]);
    for (guint i = 0; i < n_cases; i++)
      check_conv (&cases[i], "gpu");
  }
  g_unsetenv ("SORA_CONV_GPU_TILE");
  g_unsetenv ("SORA_KERNELS");
  g_strfreev (tiles);
}

/* Every kernel shape and stride of the VAE on odd sizes: pixels and
 * channels past the work-group tiles, K over several slices, cached
 * frames, all three weight dtypes. */
static void
test_gpu (void)
{
  static const ConvCase cases[] = {
    { 17, 19, 2, 0, 5, 37, 3, 3, 3, { 1, 1, 1, 2, 1, 1, 1, 1 }, SORA_DTYPE_F32,
        TRUE },
    { 5, 70, 1, 2, 9, 15, 3, 3, 3, { 1, 1, 1, 0, 1, 1, 1, 1 }, SORA_DTYPE_BF16,
        FALSE },
    { 13, 3, 3, 0, 7, 9, 1, 1, 1, { 1, 1, 1, 0, 0, 0, 0, 0 }, SORA_DTYPE_F16,
        TRUE },
    { 3, 6, 3, 0, 11, 13, 3, 1, 1, { 1, 1, 1, 2, 0, 0, 0, 0 }, SORA_DTYPE_F32,
        TRUE },
    { 7, 5, 4, 1, 7, 9, 3, 1, 1, { 2, 1, 1, 0, 0, 0, 0, 0 }, SORA_DTYPE_F16,
        TRUE },
    { 3, 9, 2, 0, 17, 21, 1, 3, 3, { 1, 1, 1, 0, 1, 1, 1, 1 }, SORA_DTYPE_BF16,
        TRUE },
    { 3, 5, 2, 0, 8, 11, 1, 3, 3, { 1, 2, 2, 0, 0, 1, 0, 1 }, SORA_DTYPE_F32,
        TRUE },
    { 2, 1, 1, 0, 1, 1, 3, 3, 3, { 1, 1, 1, 2, 1, 1, 1, 1 }, SORA_DTYPE_F32,
        TRUE },
  };

  check_gpu_tiles (cases, G_N_ELEMENTS (cases));
}

/* Small odd shapes only: the ones Oclgrind runs (tests/gpu-proof.sh). */
static void
test_gpu_small (void)
{
  static const ConvCase cases[] = {
    { 3, 5, 2, 1, 3, 7, 3, 3, 3, { 1, 1, 1, 1, 1, 1, 1, 1 }, SORA_DTYPE_F32,
        TRUE },
    { 2, 3, 3, 0, 3, 5, 3, 1, 1, { 2, 1, 1, 2, 0, 0, 0, 0 }, SORA_DTYPE_F16,
        FALSE },
    { 3, 2, 1, 0, 5, 7, 1, 3, 3, { 1, 2, 2, 0, 0, 1, 0, 1 }, SORA_DTYPE_BF16,
        TRUE },
    { 5, 3, 1, 0, 2, 3, 1, 1, 1, { 1, 1, 1, 0, 0, 0, 0, 0 }, SORA_DTYPE_F32,
        TRUE },
  };

  check_gpu_tiles (cases, G_N_ELEMENTS (cases));
}

static void
test_errors (void)
{
  GError *error = NULL;
  SoraDevice *dev = sora_test_device ();
  SoraConv3dParams p = { 1, 1, 1, 2, 1, 1, 1, 1 }, p0 = p;
  SoraTensor *x = sora_tensor_new_v (dev, "x", SORA_DTYPE_F32, &error, 4,
      (gsize)3, (gsize)2, (gsize)7, (gsize)9);
  SoraTensor *w = sora_tensor_new_v (dev, "w", SORA_DTYPE_F32, &error, 5,
      (gsize)5, (gsize)3, (gsize)3, (gsize)3, (gsize)3);
  SoraTensor *w4 = sora_tensor_new_v (dev, "w4", SORA_DTYPE_F32, &error, 5,
      (gsize)5, (gsize)4, (gsize)3, (gsize)3, (gsize)3);
  SoraTensor *cache = sora_tensor_new_v (dev, "cache", SORA_DTYPE_F32, &error,
      4, (gsize)3, (gsize)1, (gsize)7, (gsize)8);
  SoraTensor *b =
      sora_tensor_new_v (dev, "b", SORA_DTYPE_F32, &error, 1, (gsize)4);
  SoraTensor *y = sora_tensor_new_v (dev, "y", SORA_DTYPE_F32, &error, 4,
      (gsize)5, (gsize)2, (gsize)7, (gsize)8);

  g_assert_no_error (error);
  expect_error (x, NULL, w, NULL, &p, y,
      "y [5, 2, 7, 8] f32 should have "
      "shape [5, 2, 7, 9]");
  expect_error (x, NULL, w4, NULL, &p, y, "w4 [5, 4, 3, 3, 3]");
  expect_error (x, cache, w, NULL, &p, y, "cache [3, 1, 7, 8]");
  expect_error (x, NULL, w, b, &p, y, "b [4]");
  p0.stride_h = 0;
  expect_error (x, NULL, w, NULL, &p0, y, "strides");
  p0 = p;
  p0.pad_t_front = 0;
  p0.pad_top = 0;
  p0.pad_bottom = 0;
  expect_error (x, NULL, w, NULL, &p0, y, "smaller than the kernel");
  sora_tensor_free (x);
  sora_tensor_free (w);
  sora_tensor_free (w4);
  sora_tensor_free (cache);
  sora_tensor_free (b);
  sora_tensor_free (y);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/conv/causal-3x3x3", test_causal_333);
  g_test_add_func ("/conv/split-launches", test_split_launches);
  g_test_add_func ("/conv/pointwise", test_pointwise);
  g_test_add_func ("/conv/time-conv", test_time_conv);
  g_test_add_func ("/conv/downsample-spatial", test_downsample_spatial);
  g_test_add_func ("/conv/downsample-time", test_downsample_time);
  g_test_add_func ("/conv/cache-equivalence", test_cache_equivalence);
  g_test_add_func ("/conv/half-weights", test_half_weights);
  g_test_add_func ("/conv/speed", test_speed);
  g_test_add_func ("/conv/tiles", test_tiles);
  g_test_add_func ("/conv/gpu", test_gpu);
  g_test_add_func ("/conv/gpu-small", test_gpu_small);
  g_test_add_func ("/conv/errors", test_errors);
  return sora_test_run ();
}
