/* gst-sora tests: LayerNorm, RMSNorm, the VAE's channel RMS norm and softmax
 * against double-precision references.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include "sora-test-util.h"

/* Every op here sums at most a few thousand f32 values per output, in
 * short per-item runs then a tree, so its error stays near 1e-7; 1e-5
 * leaves room without hiding a wrong formula (those give errors >= 1e-3). */
#define TOL 1e-5

/* Random values with a non-zero mean, so a missing mean subtraction (or a
 * mean taken where none belongs) shows. */
static float *
random_offset (gsize n, float offset)
{
  float *v = sora_test_random (n, -1.0f, 1.0f);

  for (gsize i = 0; i < n; i++)
    v[i] += offset;
  return v;
}

static void
ref_row_norm (const float *x, gsize rows, gsize C, const float *w,
    const float *b, double eps, gboolean center, double *out)
{
  for (gsize r = 0; r < rows; r++) {
    const float *xr = x + r * C;
    double mean = 0, var = 0;

    if (center) {
      for (gsize i = 0; i < C; i++)
        mean += xr[i];
      mean /= C;
    }
    for (gsize i = 0; i < C; i++)
      var += (xr[i] - mean) * (xr[i] - mean);
    var /= C;
    for (gsize i = 0; i < C; i++) {
      double v = (xr[i] - mean) / sqrt (var + eps);
      out[r * C + i] = v * (w ? w[i] : 1.0) + (b ? b[i] : 0.0);
    }
  }
}

/* @affine: 0 none, 1 weight only, 2 weight and bias. */
static void
check_row_norm (
    gboolean center, gsize rows, gsize C, int affine, gboolean in_place)
{
  GError *error = NULL;
  gsize shape[] = { rows, C }, vshape[] = { C };
  float *x = random_offset (rows * C, 3.0f);
  float *w = sora_test_random (C, 0.5f, 1.5f);
  float *b = sora_test_random (C, -1.0f, 1.0f);
  double *want = g_new (double, rows *C), eps = 1e-6;
  SoraTensor *tx = sora_test_upload ("x", SORA_DTYPE_F32, x, 2, shape);
  SoraTensor *tw =
      affine ? sora_test_upload ("weight", SORA_DTYPE_F32, w, 1, vshape) : NULL;
  SoraTensor *tb = affine == 2
      ? sora_test_upload ("bias", SORA_DTYPE_F32, b, 1, vshape)
      : NULL;
  SoraTensor *ty = in_place ? tx : sora_test_new_f32 ("y", 2, shape);
  char *what = g_strdup_printf ("%s rows %" G_GSIZE_FORMAT " C %" G_GSIZE_FORMAT
                                " affine %d%s",
      center ? "layer_norm" : "rms_norm", rows, C, affine,
      in_place ? " in place" : "");
  float *got;

  ref_row_norm (
      x, rows, C, affine ? w : NULL, affine == 2 ? b : NULL, eps, center, want);
  if (center)
    g_assert_true (sora_op_layer_norm (tx, tw, tb, eps, ty, &error));
  else
    g_assert_true (sora_op_rms_norm (tx, tw, eps, ty, &error));
  g_assert_no_error (error);
  got = sora_test_download (ty);
  sora_assert_close (got, want, rows * C, TOL, what);

  if (ty != tx)
    sora_tensor_free (ty);
  sora_tensor_free (tx);
  g_clear_pointer (&tw, sora_tensor_free);
  g_clear_pointer (&tb, sora_tensor_free);
  g_free (what);
  g_free (got);
  g_free (want);
  g_free (x);
  g_free (w);
  g_free (b);
}

static const gsize sizes[][2] = {
  { 1, 1 },
  { 7, 3 },
  { 33, 127 },
  { 7, 1537 },
  { 3, 5120 },
  { 1, 4096 },
};

static void
test_layer_norm (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    for (int affine = 0; affine <= 2; affine++)
      check_row_norm (TRUE, sizes[i][0], sizes[i][1], affine, FALSE);
  check_row_norm (TRUE, 33, 1537, 2, TRUE);
  check_row_norm (TRUE, 7, 3, 0, TRUE);
}

static void
test_rms_norm (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    check_row_norm (FALSE, sizes[i][0], sizes[i][1], 1, FALSE);
  check_row_norm (FALSE, 7, 127, 0, FALSE);
  check_row_norm (FALSE, 33, 1537, 1, TRUE);
}

/* Large magnitudes: the mean is over 1000 times the spread, where
 * a one-pass E[x²] - E[x]² in f32 would lose every digit. */
static void
test_layer_norm_large_mean (void)
{
  GError *error = NULL;
  gsize rows = 5, C = 1537, shape[] = { rows, C };
  float *x = random_offset (rows * C, 1000.0f);
  double *want = g_new (double, rows *C);
  SoraTensor *tx = sora_test_upload ("x", SORA_DTYPE_F32, x, 2, shape);
  float *got;

  ref_row_norm (x, rows, C, NULL, NULL, 1e-6, TRUE, want);
  g_assert_true (sora_op_layer_norm (tx, NULL, NULL, 1e-6, tx, &error));
  g_assert_no_error (error);
  got = sora_test_download (tx);
  /* The reference reads the same f32 inputs, so the usual bound holds
   * unless the kernel's sums lose the spread under the mean (a plain f32
   * mean gives ~5e-4 here). */
  sora_assert_close (got, want, rows * C, TOL, "layer_norm mean 1000");
  sora_tensor_free (tx);
  g_free (x);
  g_free (got);
  g_free (want);
}

static void
check_rms_norm_channels (
    gsize B, gsize C, gsize P, gboolean with_bias, gboolean in_place)
{
  GError *error = NULL;
  gsize shape3[] = { B, C, P }, shape2[] = { C, P }, vshape[] = { C, 1, 1, 1 };
  gsize n = B * C * P;
  float *x = random_offset (n, 0.5f);
  float *g = sora_test_random (C, 0.5f, 1.5f);
  float *bias = sora_test_random (C, -1.0f, 1.0f);
  double *want = g_new (double, n);
  SoraTensor *tx, *tg, *tb, *ty;
  char *what =
      g_strdup_printf ("rms_norm_channels B %" G_GSIZE_FORMAT
                       " C %" G_GSIZE_FORMAT " P %" G_GSIZE_FORMAT "%s%s",
          B, C, P, with_bias ? " bias" : "", in_place ? " in place" : "");
  float *got;

  /* An all-zero position takes the 1e-12 clamp instead of dividing by 0;
   * a tiny one (norm ~1e-6) must not be clamped. */
  for (gsize c = 0; c < C; c++) {
    x[c * P] = 0.0f;
    x[c * P + P - 1] *= P > 1 ? 1e-6f : 1.0f;
  }
  for (gsize b = 0; b < B; b++) {
    for (gsize p = 0; p < P; p++) {
      const float *xp = x + b * C * P + p;
      double ss = 0;

      for (gsize c = 0; c < C; c++)
        ss += (double)xp[c * P] * xp[c * P];
      for (gsize c = 0; c < C; c++)
        want[b * C * P + c * P + p] =
            xp[c * P] / MAX (sqrt (ss), 1e-12) * sqrt ((double)C) * g[c] +
            (with_bias ? bias[c] : 0.0);
    }
  }
  tx = sora_test_upload (
      "x", SORA_DTYPE_F32, x, B > 1 ? 3 : 2, B > 1 ? shape3 : shape2);
  tg = sora_test_upload ("gamma", SORA_DTYPE_F32, g, 4, vshape);
  tb = with_bias ? sora_test_upload ("bias", SORA_DTYPE_F32, bias, 1, vshape)
                 : NULL;
  ty = in_place ? tx : sora_test_new_f32 ("y", tx->ndim, tx->shape);
  g_assert_true (sora_op_rms_norm_channels (tx, tg, tb, ty, &error));
  g_assert_no_error (error);
  got = sora_test_download (ty);
  sora_assert_close (got, want, n, TOL, what);

  if (ty != tx)
    sora_tensor_free (ty);
  sora_tensor_free (tx);
  sora_tensor_free (tg);
  g_clear_pointer (&tb, sora_tensor_free);
  g_free (what);
  g_free (got);
  g_free (want);
  g_free (x);
  g_free (g);
  g_free (bias);
}

static void
test_rms_norm_channels (void)
{
  check_rms_norm_channels (1, 1, 1, FALSE, FALSE);
  check_rms_norm_channels (1, 3, 7, FALSE, FALSE);
  check_rms_norm_channels (1, 96, 131, TRUE, FALSE);
  check_rms_norm_channels (1, 384, 65, FALSE, TRUE);
  check_rms_norm_channels (2, 17, 33, TRUE, FALSE);
  check_rms_norm_channels (3, 4, 1, FALSE, TRUE);
}

static void
check_softmax (gsize rows, gsize C, gboolean in_place)
{
  GError *error = NULL;
  gsize shape[] = { rows, C };
  /* An offset of 1000 overflows exp unless the row maximum is taken off. */
  float *x = sora_test_random (rows * C, 980.0f, 1020.0f);
  double *want = g_new (double, rows *C);
  SoraTensor *tx = sora_test_upload ("x", SORA_DTYPE_F32, x, 2, shape);
  SoraTensor *ty = in_place ? tx : sora_test_new_f32 ("y", 2, shape);
  char *what = g_strdup_printf ("softmax rows %" G_GSIZE_FORMAT
                                " C %" G_GSIZE_FORMAT "%s",
      rows, C, in_place ? " in place" : "");
  float *got;

  for (gsize r = 0; r < rows; r++) {
    double m = -INFINITY, s = 0;

    for (gsize i = 0; i < C; i++)
      m = MAX (m, x[r * C + i]);
    for (gsize i = 0; i < C; i++)
      s += exp (x[r * C + i] - m);
    for (gsize i = 0; i < C; i++)
      want[r * C + i] = exp (x[r * C + i] - m) / s;
  }
  g_assert_true (sora_op_softmax (tx, ty, &error));
  g_assert_no_error (error);
  got = sora_test_download (ty);
  sora_assert_close (got, want, rows * C, TOL, what);

  if (ty != tx)
    sora_tensor_free (ty);
  sora_tensor_free (tx);
  g_free (what);
  g_free (got);
  g_free (want);
  g_free (x);
}

static void
test_softmax (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    check_softmax (sizes[i][0], sizes[i][1], FALSE);
  check_softmax (33, 512, TRUE);
}

static void
test_errors (void)
{
  GError *error = NULL;
  gsize xs[] = { 2, 4 }, ys[] = { 2, 5 }, ws[] = { 5 }, x4[] = { 4, 1, 2, 2 };
  SoraTensor *x = sora_test_new_f32 ("x", 2, xs),
             *y = sora_test_new_f32 ("y", 2, ys);
  SoraTensor *w = sora_test_new_f32 ("weight", 1, ws),
             *v = sora_test_new_f32 ("v", 4, x4);

  g_assert_false (sora_op_layer_norm (x, w, NULL, 1e-6f, x, &error));
  sora_test_assert_error_names (&error, "weight [5] f32");
  g_assert_false (sora_op_rms_norm (x, NULL, 1e-6f, y, &error));
  sora_test_assert_error_names (&error, "y [2, 5] f32");
  g_assert_false (sora_op_softmax (x, y, &error));
  sora_test_assert_error_names (&error, "y [2, 5] f32");
  g_assert_false (sora_op_rms_norm_channels (x, w, NULL, x, &error));
  sora_test_assert_error_names (&error, "weight [5] f32");
  g_assert_false (sora_op_rms_norm_channels (v, w, NULL, v, &error));
  sora_test_assert_error_names (&error, "v [4, 1, 2, 2] f32");
  sora_tensor_free (x);
  sora_tensor_free (y);
  sora_tensor_free (w);
  sora_tensor_free (v);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/norm/layer-norm", test_layer_norm);
  g_test_add_func ("/norm/layer-norm-large-mean", test_layer_norm_large_mean);
  g_test_add_func ("/norm/rms-norm", test_rms_norm);
  g_test_add_func ("/norm/rms-norm-channels", test_rms_norm_channels);
  g_test_add_func ("/norm/softmax", test_softmax);
  g_test_add_func ("/norm/errors", test_errors);
  return sora_test_run ();
}
