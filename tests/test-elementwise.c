/* gst-sora tests: activations, broadcast add/mul, AdaLN modulation, the
 * gated residual and linear combinations against double-precision
 * references.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include "sora-test-util.h"

/* add, mul and modulate round once or twice per element (≤ 1.2e-7
 * relative); the activations go through exp/tanh, a few ulp.  lincomb
 * rounds once per term. */
#define TOL_EXACT 1e-6
#define TOL_ACT 1e-5

/* GELU (tanh form) in double: 0.5 v (1 + tanh (z)) written as the equal
 * v / (1 + exp (-2z)), since 1 + tanh (z) cancels to 0 in double too once
 * z < -19 (x < -8.6), where f32 still holds the value. */
static double
gelu_tanh_ref (double v)
{
  return v /
      (1.0 + exp (-2.0 * sqrt (2.0 / G_PI) * (v + 0.044715 * v * v * v)));
}

static void
check_activation (SoraActivation act, gsize n, gboolean in_place)
{
  GError *error = NULL;
  gsize shape[] = { n };
  float *x = sora_test_random (n, -8.0f, 8.0f), *got;
  double *want = g_new (double, n);
  SoraTensor *tx, *ty;
  char *what = g_strdup_printf ("%s n %" G_GSIZE_FORMAT "%s",
      act == SORA_ACT_SILU            ? "silu"
          : act == SORA_ACT_GELU_TANH ? "gelu_tanh"
                                      : "clamp_unit",
      n, in_place ? " in place" : "");

  /* Saturated tails too, where exp and the cube overflow. */
  for (gsize i = 0; i < n; i += 5)
    x[i] *= 12.0f;
  for (gsize i = 0; i < n; i++) {
    double v = x[i];
    want[i] = act == SORA_ACT_SILU  ? v / (1.0 + exp (-v))
        : act == SORA_ACT_GELU_TANH ? gelu_tanh_ref (v)
                                    : CLAMP (v, -1.0, 1.0);
  }
  tx = sora_test_upload ("x", SORA_DTYPE_F32, x, 1, shape);
  ty = in_place ? tx : sora_test_new_f32 ("y", 1, shape);
  g_assert_true (sora_op_activate (tx, act, ty, &error));
  g_assert_no_error (error);
  got = sora_test_download (ty);
  sora_assert_close (got, want, n, TOL_ACT, what);

  if (ty != tx)
    sora_tensor_free (ty);
  sora_tensor_free (tx);
  g_free (what);
  g_free (got);
  g_free (want);
  g_free (x);
}

static void
test_activations (void)
{
  const gsize sizes[] = { 1, 7, 1000, 65537 };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
    check_activation (SORA_ACT_SILU, sizes[i], FALSE);
    check_activation (SORA_ACT_GELU_TANH, sizes[i], FALSE);
    check_activation (SORA_ACT_CLAMP_UNIT, sizes[i], FALSE);
  }
  check_activation (SORA_ACT_SILU, 1537, TRUE);
  check_activation (SORA_ACT_GELU_TANH, 1537, TRUE);
  check_activation (SORA_ACT_CLAMP_UNIT, 1537, TRUE);
}

/* A tile's linear ramps (in = 0 or out = 0: none on that side). */
static double
ramp_ref (gsize i, gsize n, guint in, guint out)
{
  if (i < in)
    return (double)i / in;
  if (i >= n - out)
    return (double)(n - i) / out;
  return 1.0;
}

/* sora_op_blend_tile on odd shapes, ramps on some sides, against the sum in
 * double; and a tile past the frame's edge refused. */
static void
test_blend_tile (void)
{
  const gsize c = 3, t = 2, h = 37, w = 29, th = 19, tw = 13, y0 = 11, x0 = 16;
  const guint ramps[4] = { 5, 0, 4, 3 };
  gsize fshape[] = { c, t, h, w }, tshape[] = { c, t, th, tw };
  float *frame = sora_test_random (c * t * h * w, -1.0f, 1.0f);
  float *tile = sora_test_random (c * t * th * tw, -1.0f, 1.0f), *got;
  double *want = g_new (double, c *t *h *w);
  SoraTensor *tf = sora_test_upload ("frame", SORA_DTYPE_F32, frame, 4, fshape);
  SoraTensor *tt = sora_test_upload ("tile", SORA_DTYPE_F32, tile, 4, tshape);
  GError *error = NULL;

  for (gsize i = 0; i < c * t * h * w; i++)
    want[i] = frame[i];
  for (gsize p = 0; p < c * t; p++)
    for (gsize y = 0; y < th; y++)
      for (gsize x = 0; x < tw; x++)
        want[(p * h + y0 + y) * w + x0 + x] +=
            ramp_ref (y, th, ramps[0], ramps[1]) *
            ramp_ref (x, tw, ramps[2], ramps[3]) * tile[(p * th + y) * tw + x];
  g_assert_true (sora_op_blend_tile (tt, tf, y0, x0, ramps, &error));
  g_assert_no_error (error);
  got = sora_test_download (tf);
  /* Products and one sum per element: f32 rounding only. */
  sora_assert_close (got, want, c * t * h * w, 1e-6, "blend_tile");

  g_assert_false (sora_op_blend_tile (tt, tf, h - th + 1, x0, ramps, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "does not fit frame"));
  g_clear_error (&error);

  sora_tensor_free (tf);
  sora_tensor_free (tt);
  g_free (frame);
  g_free (tile);
  g_free (want);
  g_free (got);
}

/* Where tanh (z) is close to -1, 0.5x (1 + tanh (z)) cancels in f32 (a
 * relative error of 2e-3 at x = -4); the kernel must keep these digits. */
static void
test_gelu_tail (void)
{
  GError *error = NULL;
  float x[] = { -4.0f, -5.5f, -7.0f, -9.0f }, *got;
  gsize shape[] = { G_N_ELEMENTS (x) };
  double want[G_N_ELEMENTS (x)];
  SoraTensor *tx = sora_test_upload ("x", SORA_DTYPE_F32, x, 1, shape);

  for (guint i = 0; i < G_N_ELEMENTS (x); i++)
    want[i] = gelu_tanh_ref (x[i]);
  g_assert_true (sora_op_activate (tx, SORA_ACT_GELU_TANH, tx, &error));
  g_assert_no_error (error);
  got = sora_test_download (tx);
  sora_assert_close (got, want, G_N_ELEMENTS (x), TOL_ACT, "gelu_tanh tail");
  sora_tensor_free (tx);
  g_free (got);
}

static char *
shape_string (guint ndim, const gsize *shape)
{
  GString *s = g_string_new ("[");

  for (guint i = 0; i < ndim; i++)
    g_string_append_printf (s, "%s%" G_GSIZE_FORMAT, i ? "," : "", shape[i]);
  g_string_append (s, "]");
  return g_string_free (s, FALSE);
}

/* y = a op b with b broadcast, checked against an index-by-index
 * reference; b stored as @dtype. */
static void
check_binary (gboolean mul, guint an, const gsize *ashape, guint bn,
    const gsize *bshape, SoraDType dtype, gboolean in_place)
{
  GError *error = NULL;
  gsize na = 1, nb = 1, bfull[SORA_MAX_DIMS];
  float *a, *b, *got;
  double *want;
  SoraTensor *ta, *tb, *ty;
  char *as = shape_string (an, ashape), *bs = shape_string (bn, bshape);
  char *what = g_strdup_printf ("%s %s %s %s%s", as, mul ? "*" : "+", bs,
      sora_dtype_name (dtype), in_place ? " in place" : "");

  for (guint k = 0; k < an; k++) {
    na *= ashape[k];
    bfull[k] = k < an - bn ? 1 : bshape[k - (an - bn)];
  }
  for (guint k = 0; k < bn; k++)
    nb *= bshape[k];
  a = sora_test_random (na, -2.0f, 2.0f);
  b = sora_test_random (nb, -2.0f, 2.0f);
  sora_test_round_to_dtype (b, nb, dtype);
  want = g_new (double, na);
  for (gsize i = 0; i < na; i++) {
    gsize rest = i, bi = 0, bstride = 1;

    for (guint k = an; k-- > 0;) {
      gsize c = rest % ashape[k];
      rest /= ashape[k];
      bi += (bfull[k] == 1 ? 0 : c) * bstride;
      bstride *= bfull[k];
    }
    want[i] = mul ? (double)a[i] * b[bi] : (double)a[i] + b[bi];
  }
  ta = sora_test_upload ("a", SORA_DTYPE_F32, a, an, ashape);
  tb = sora_test_upload ("b", dtype, b, bn, bshape);
  ty = in_place ? ta : sora_test_new_f32 ("y", an, ashape);
  if (mul)
    g_assert_true (sora_op_mul (ta, tb, ty, &error));
  else
    g_assert_true (sora_op_add (ta, tb, ty, &error));
  g_assert_no_error (error);
  got = sora_test_download (ty);
  sora_assert_close (got, want, na, TOL_EXACT, what);

  if (ty != ta)
    sora_tensor_free (ty);
  sora_tensor_free (ta);
  sora_tensor_free (tb);
  g_free (as);
  g_free (bs);
  g_free (what);
  g_free (got);
  g_free (want);
  g_free (a);
  g_free (b);
}

static void
test_broadcast (void)
{
  const gsize a3[] = { 2, 33, 127 }, c[] = { 127 }, b1c[] = { 2, 1, 127 };
  const gsize one_l_one[] = { 1, 33, 1 }, lc[] = { 33, 127 }, one[] = { 1 };
  const gsize b11[] = { 2, 1, 1 }, a5[] = { 2, 3, 1, 4, 5 };
  const gsize b5[] = { 3, 1, 1, 5 }, b5b[] = { 2, 1, 1, 4, 1 };
  const gsize big[] = { 7, 1537 }, bigc[] = { 1537 };

  for (int mul = 0; mul <= 1; mul++) {
    check_binary (mul, 3, a3, 1, c, SORA_DTYPE_F32, FALSE);
    check_binary (mul, 3, a3, 3, b1c, SORA_DTYPE_F32, FALSE);
    check_binary (mul, 3, a3, 3, one_l_one, SORA_DTYPE_F32, FALSE);
    check_binary (mul, 3, a3, 2, lc, SORA_DTYPE_F32, FALSE);
    check_binary (mul, 3, a3, 1, one, SORA_DTYPE_F32, FALSE);
    check_binary (mul, 3, a3, 3, a3, SORA_DTYPE_F32, FALSE);
    check_binary (mul, 3, a3, 3, b11, SORA_DTYPE_F32, TRUE);
    check_binary (mul, 5, a5, 4, b5, SORA_DTYPE_F32, FALSE);
    check_binary (mul, 5, a5, 5, b5b, SORA_DTYPE_F32, TRUE);
    check_binary (mul, 1, one, 1, one, SORA_DTYPE_F32, FALSE);
    check_binary (mul, 2, big, 1, bigc, SORA_DTYPE_BF16, TRUE);
    check_binary (mul, 3, a3, 2, lc, SORA_DTYPE_F16, FALSE);
  }
}

/* x [B, L, C] with mod [mod_b, R, C] (mod_b 0: a 2-D [R, C]). */
static void
check_modulation (gboolean gated, gsize B, gsize L, gsize C, gsize mod_b,
    gsize R, guint row_a, guint row_b, gboolean in_place)
{
  GError *error = NULL;
  gsize xs[] = { B, L, C }, ms3[] = { mod_b, R, C }, ms2[] = { R, C };
  gsize n = B * L * C, nm = MAX (mod_b, 1) * R * C;
  float *x = sora_test_random (n, -2.0f, 2.0f);
  float *y = sora_test_random (n, -2.0f, 2.0f);
  float *mod = sora_test_random (nm, -1.0f, 1.0f), *got;
  double *want = g_new (double, n);
  SoraTensor *tx, *ty, *tm, *tout;
  char *what = g_strdup_printf ("%s x [%" G_GSIZE_FORMAT ",%" G_GSIZE_FORMAT
                                ",%" G_GSIZE_FORMAT
                                "] mod batch %" G_GSIZE_FORMAT " rows %u %u%s",
      gated ? "add_gated" : "modulate", B, L, C, mod_b, row_a, row_b,
      in_place ? " in place" : "");

  for (gsize b = 0; b < B; b++) {
    const float *m = mod + (mod_b > 1 ? b * R * C : 0);
    for (gsize l = 0; l < L; l++) {
      for (gsize c = 0; c < C; c++) {
        gsize i = (b * L + l) * C + c;
        want[i] = gated ? x[i] + (double)y[i] * m[row_a * C + c]
                        : x[i] * (1.0 + m[row_a * C + c]) + m[row_b * C + c];
      }
    }
  }
  tx = sora_test_upload ("x", SORA_DTYPE_F32, x, 3, xs);
  ty = sora_test_upload ("y", SORA_DTYPE_F32, y, 3, xs);
  tm = sora_test_upload (
      "mod", SORA_DTYPE_F32, mod, mod_b ? 3 : 2, mod_b ? ms3 : ms2);
  if (gated) {
    g_assert_true (sora_op_add_gated (tx, ty, tm, row_a, &error));
    tout = tx;
  } else {
    tout = in_place ? tx : ty;
    g_assert_true (sora_op_modulate (tx, tm, row_a, row_b, tout, &error));
  }
  g_assert_no_error (error);
  got = sora_test_download (tout);
  sora_assert_close (got, want, n, TOL_EXACT, what);

  sora_tensor_free (tx);
  sora_tensor_free (ty);
  sora_tensor_free (tm);
  g_free (what);
  g_free (got);
  g_free (want);
  g_free (x);
  g_free (y);
  g_free (mod);
}

static void
test_modulate (void)
{
  /* The DiT's (shift, scale, gate) rows: scale 1, shift 0; then 4, 3. */
  check_modulation (FALSE, 2, 33, 127, 2, 6, 1, 0, FALSE);
  check_modulation (FALSE, 2, 7, 1536, 2, 6, 4, 3, TRUE);
  check_modulation (FALSE, 1, 1, 1, 1, 2, 1, 0, FALSE);
  check_modulation (FALSE, 3, 5, 31, 1, 2, 1, 0, FALSE);
  check_modulation (FALSE, 2, 5, 31, 0, 2, 1, 0, TRUE);
}

static void
test_add_gated (void)
{
  check_modulation (TRUE, 2, 33, 127, 2, 6, 2, 0, FALSE);
  check_modulation (TRUE, 2, 7, 1536, 2, 6, 5, 0, FALSE);
  check_modulation (TRUE, 1, 1, 1, 1, 1, 0, 0, FALSE);
  check_modulation (TRUE, 3, 5, 31, 0, 3, 2, 0, FALSE);
}

/* y = Σ c_k x_k over @n terms of @numel elements; @alias ≥ 0 writes into
 * x[alias]. */
static void
check_lincomb (guint n, gsize numel, int alias)
{
  GError *error = NULL;
  gsize shape[] = { numel };
  const float coefs[SORA_LINCOMB_MAX] = { 0.75f, -1.5f, 0.3f, 2.25f };
  float *x[SORA_LINCOMB_MAX], *got;
  double *want = g_new0 (double, numel), *scale = g_new0 (double, numel);
  SoraTensor *tx[SORA_LINCOMB_MAX], *ty;
  char *what = g_strdup_printf (
      "lincomb %u terms n %" G_GSIZE_FORMAT " alias %d", n, numel, alias);

  for (guint k = 0; k < n; k++) {
    x[k] = sora_test_random (numel, -2.0f, 2.0f);
    tx[k] = sora_test_upload ("x", SORA_DTYPE_F32, x[k], 1, shape);
    for (gsize i = 0; i < numel; i++) {
      want[i] += (double)coefs[k] * x[k][i];
      scale[i] += fabs ((double)coefs[k] * x[k][i]);
    }
  }
  ty = alias >= 0 ? tx[alias] : sora_test_new_f32 ("y", 1, shape);
  g_assert_true (sora_op_lincomb (ty, n, tx, coefs, &error));
  g_assert_no_error (error);
  got = sora_test_download (ty);
  sora_assert_close_to_scale (got, want, scale, numel, TOL_EXACT, what);

  if (alias < 0)
    sora_tensor_free (ty);
  for (guint k = 0; k < n; k++) {
    sora_tensor_free (tx[k]);
    g_free (x[k]);
  }
  g_free (what);
  g_free (got);
  g_free (want);
  g_free (scale);
}

static void
test_lincomb (void)
{
  for (guint n = 1; n <= SORA_LINCOMB_MAX; n++) {
    check_lincomb (n, 1, -1);
    check_lincomb (n, 65537, -1);
    check_lincomb (n, 1000, n - 1);
  }
  check_lincomb (SORA_LINCOMB_MAX, 4097, 0);
}

static void
test_errors (void)
{
  GError *error = NULL;
  gsize as[] = { 2, 4 }, bs[] = { 3 }, xs[] = { 2, 3, 4 }, ms[] = { 2, 6, 4 };
  gsize ws[] = { 2, 6, 5 }, ys[] = { 2, 3, 5 };
  SoraTensor *a = sora_test_new_f32 ("a", 2, as),
             *b = sora_test_new_f32 ("b", 1, bs);
  SoraTensor *x = sora_test_new_f32 ("x", 3, xs),
             *mod = sora_test_new_f32 ("mod", 3, ms);
  SoraTensor *wide = sora_test_new_f32 ("wide", 3, ws),
             *y = sora_test_new_f32 ("y", 3, ys);

  g_assert_false (sora_op_add (a, b, a, &error));
  sora_test_assert_error_names (&error, "b [3] f32");
  g_assert_false (sora_op_mul (b, a, b, &error));
  sora_test_assert_error_names (&error, "a [2, 4] f32");
  g_assert_false (sora_op_activate (a, SORA_ACT_SILU, b, &error));
  sora_test_assert_error_names (&error, "b [3] f32");
  g_assert_false (sora_op_modulate (x, mod, 6, 0, x, &error));
  sora_test_assert_error_names (&error, "mod [2, 6, 4] f32");
  g_assert_false (sora_op_modulate (x, wide, 1, 0, x, &error));
  sora_test_assert_error_names (&error, "wide [2, 6, 5] f32");
  g_assert_false (sora_op_add_gated (x, y, mod, 2, &error));
  sora_test_assert_error_names (&error, "y [2, 3, 5] f32");
  {
    SoraTensor *terms[SORA_LINCOMB_MAX + 1] = { x, x, x, x, x };
    const float c[SORA_LINCOMB_MAX + 1] = { 1, 1, 1, 1, 1 };

    g_assert_false (sora_op_lincomb (y, 2, terms, c, &error));
    sora_test_assert_error_names (&error, "y [2, 3, 5] f32");
    g_assert_false (sora_op_lincomb (x, 0, terms, c, &error));
    sora_test_assert_error_names (&error, "x [2, 3, 4] f32");
    g_assert_false (
        sora_op_lincomb (x, SORA_LINCOMB_MAX + 1, terms, c, &error));
    sora_test_assert_error_names (&error, "5 terms");
  }
  sora_tensor_free (a);
  sora_tensor_free (b);
  sora_tensor_free (x);
  sora_tensor_free (mod);
  sora_tensor_free (wide);
  sora_tensor_free (y);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/elementwise/activations", test_activations);
  g_test_add_func ("/elementwise/gelu-tail", test_gelu_tail);
  g_test_add_func ("/elementwise/broadcast", test_broadcast);
  g_test_add_func ("/elementwise/modulate", test_modulate);
  g_test_add_func ("/elementwise/add-gated", test_add_gated);
  g_test_add_func ("/elementwise/lincomb", test_lincomb);
  g_test_add_func ("/elementwise/blend-tile", test_blend_tile);
  g_test_add_func ("/elementwise/errors", test_errors);
  return sora_test_run ();
}
