/* gst-sora tests: Wan's 3-axis RoPE against a double-precision reference
 * written from the original Wan code's description (pairs split
 * [c − 2⌊c/3⌋, ⌊c/3⌋, ⌊c/3⌋] for c = D/2 pairs), and known table values.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include "sora-test-util.h"

/* Each output is two f32 products of an input with f32-rounded cos/sin and
 * one sum: a few 1e-8 relative. */
#define TOL 1e-5
#define THETA 10000.0

static SoraTensor *
new_table (gsize F, gsize H, gsize W, gsize D)
{
  GError *error = NULL;
  SoraTensor *t =
      sora_rope_table_new (sora_test_device (), 0, F, H, W, D, THETA, &error);

  g_assert_no_error (error);
  g_assert_nonnull (t);
  return t;
}

/* The angle of pair j of a head at grid position (f, y, z). */
static double
ref_angle (gsize D, gsize f, gsize y, gsize z, gsize j)
{
  gsize c = D / 2, hp = c / 3, tp = c - 2 * hp;

  if (j < tp)
    return f * pow (THETA, -(2.0 * j) / (2 * tp));
  if (j < tp + hp)
    return y * pow (THETA, -(2.0 * (j - tp)) / (2 * hp));
  return z * pow (THETA, -(2.0 * (j - tp - hp)) / (2 * hp));
}

static void
check_rope (
    gsize B, gsize F, gsize H, gsize W, guint heads, gsize D, gboolean in_place)
{
  GError *error = NULL;
  gsize L = F * H * W, shape[] = { B, L, heads * D }, n = B * L * heads * D;
  float *x = sora_test_random (n, -2.0f, 2.0f), *got;
  double *want = g_new (double, n);
  SoraTensor *table = new_table (F, H, W, D);
  SoraTensor *tx = sora_test_upload ("x", SORA_DTYPE_F32, x, 3, shape);
  SoraTensor *ty = in_place ? tx
                            : sora_tensor_new (sora_test_device (), "y",
                                  SORA_DTYPE_F32, 3, shape, &error);
  char *what = g_strdup_printf (
      "rope B %" G_GSIZE_FORMAT " grid %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT
      "x%" G_GSIZE_FORMAT " heads %u D %" G_GSIZE_FORMAT "%s",
      B, F, H, W, heads, D, in_place ? " in place" : "");

  g_assert_no_error (error);
  for (gsize b = 0; b < B; b++) {
    for (gsize l = 0; l < L; l++) {
      gsize f = l / (H * W), y = l / W % H, z = l % W;
      for (guint h = 0; h < heads; h++) {
        for (gsize j = 0; j < D / 2; j++) {
          gsize i = ((b * L + l) * heads + h) * D + 2 * j;
          double phi = ref_angle (D, f, y, z, j);
          want[i] = x[i] * cos (phi) - x[i + 1] * sin (phi);
          want[i + 1] = x[i] * sin (phi) + x[i + 1] * cos (phi);
        }
      }
    }
  }
  g_assert_true (sora_op_rope (tx, table, heads, ty, &error));
  g_assert_no_error (error);
  got = sora_test_download (ty);
  sora_assert_close (got, want, n, TOL, what);

  if (ty != tx)
    sora_tensor_free (ty);
  sora_tensor_free (tx);
  sora_tensor_free (table);
  g_free (what);
  g_free (got);
  g_free (want);
  g_free (x);
}

static void
test_rope (void)
{
  check_rope (2, 3, 5, 7, 2, 128, FALSE);
  check_rope (2, 3, 5, 7, 2, 12, FALSE);
  check_rope (1, 1, 1, 1, 1, 12, FALSE);
  check_rope (2, 3, 5, 7, 3, 128, TRUE);
  check_rope (1, 2, 3, 2, 5, 64, FALSE);
}

/* The split for D = 128 (docs/model.md §RoPE): pairs [0, 22) turn with the
 * frame, [22, 43) with the row, [43, 64) with the column; the first pair of
 * each axis turns by exactly its position. */
static void
test_table_values (void)
{
  gsize F = 2, H = 2, W = 2, D = 128, half = D / 2;
  SoraTensor *table = new_table (F, H, W, D);
  float *t = sora_test_download (table);
  /* token index of (f, y, z) is f·H·W + y·W + z */
  const float *f1 = t + 4 * half * 2, *y1 = t + 2 * half * 2;
  const float *z1 = t + 1 * half * 2;

  g_assert_cmpuint (table->ndim, ==, 3);
  g_assert_cmpuint (table->shape[0], ==, F * H * W);
  g_assert_cmpuint (table->shape[1], ==, half);
  g_assert_cmpuint (table->shape[2], ==, 2);
  for (gsize j = 0; j < half; j++) {
    /* token 0 is unrotated */
    g_assert_cmpfloat (t[2 * j], ==, 1.0f);
    g_assert_cmpfloat (t[2 * j + 1], ==, 0.0f);
    /* frame 1 turns pairs 0..21 only, and so on */
    g_assert_cmpint (f1[2 * j + 1] != 0.0f, ==, j < 22);
    g_assert_cmpint (y1[2 * j + 1] != 0.0f, ==, j >= 22 && j < 43);
    g_assert_cmpint (z1[2 * j + 1] != 0.0f, ==, j >= 43);
  }
  g_assert_cmpfloat (f1[0], ==, (float)cos (1.0));
  g_assert_cmpfloat (f1[1], ==, (float)sin (1.0));
  g_assert_cmpfloat (
      f1[2 * 21 + 1], ==, (float)sin (pow (THETA, -42.0 / 44.0)));
  g_assert_cmpfloat (y1[2 * 22 + 1], ==, (float)sin (1.0));
  g_assert_cmpfloat (
      y1[2 * 42 + 1], ==, (float)sin (pow (THETA, -40.0 / 42.0)));
  g_assert_cmpfloat (z1[2 * 43 + 1], ==, (float)sin (1.0));
  g_assert_cmpfloat (z1[2 * 63], ==, (float)cos (pow (THETA, -40.0 / 42.0)));
  sora_tensor_free (table);
  g_free (t);
}

/* The table of frames [5, 7) is rows 5·H·W.. of the table from frame 0
 * (a chunk of a causal stream at its absolute positions), made new or
 * written over the table of frames [0, 2) (the next chunk's reuse). */
static void
test_first_frame (void)
{
  GError *error = NULL;
  gsize H = 2, W = 3, D = 12, frame = H * W * D / 2 * 2;
  SoraTensor *whole = new_table (7, H, W, D);
  SoraTensor *chunk =
      sora_rope_table_new (sora_test_device (), 5, 2, H, W, D, THETA, &error);
  SoraTensor *reused = new_table (2, H, W, D);
  float *w, *c, *r;

  g_assert_no_error (error);
  g_assert_true (sora_rope_table_write (reused, 5, 2, H, W, D, THETA, &error));
  g_assert_no_error (error);
  w = sora_test_download (whole);
  c = sora_test_download (chunk);
  r = sora_test_download (reused);
  g_assert_cmpuint (chunk->shape[0], ==, 2 * H * W);
  g_assert_cmpmem (
      c, 2 * frame * sizeof (float), w + 5 * frame, 2 * frame * sizeof (float));
  g_assert_cmpmem (
      r, 2 * frame * sizeof (float), w + 5 * frame, 2 * frame * sizeof (float));
  g_free (w);
  g_free (c);
  g_free (r);
  sora_tensor_free (whole);
  sora_tensor_free (chunk);
  sora_tensor_free (reused);
}

static void
test_errors (void)
{
  GError *error = NULL;
  gsize xs[] = { 1, 6, 24 }, ys[] = { 1, 6, 12 };
  SoraTensor *table = new_table (1, 2, 3, 12);
  SoraTensor *x =
      sora_tensor_new (sora_test_device (), "x", SORA_DTYPE_F32, 3, xs, &error);
  SoraTensor *y =
      sora_tensor_new (sora_test_device (), "y", SORA_DTYPE_F32, 3, ys, &error);
  SoraTensor *other = new_table (1, 2, 2, 12);

  g_assert_no_error (error);
  g_assert_true (sora_op_rope (x, table, 2, x, &error));
  g_assert_no_error (error);
  g_assert_false (sora_op_rope (x, table, 3, x, &error));
  sora_test_assert_error_names (&error, "x [1, 6, 24] f32");
  g_assert_false (sora_op_rope (x, other, 2, x, &error));
  sora_test_assert_error_names (&error, "rope_table [4, 6, 2] f32");
  g_assert_false (sora_op_rope (x, table, 2, y, &error));
  sora_test_assert_error_names (&error, "y [1, 6, 12] f32");
  g_assert_null (
      sora_rope_table_new (sora_test_device (), 0, 1, 1, 1, 7, THETA, &error));
  sora_test_assert_error_names (&error, "head dim 7");
  g_assert_false (sora_rope_table_write (table, 3, 2, 2, 3, 12, THETA, &error));
  sora_test_assert_error_names (&error, "grid 2x2x3");
  sora_tensor_free (table);
  sora_tensor_free (other);
  sora_tensor_free (x);
  sora_tensor_free (y);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/rope/apply", test_rope);
  g_test_add_func ("/rope/table-values", test_table_values);
  g_test_add_func ("/rope/first-frame", test_first_frame);
  g_test_add_func ("/rope/errors", test_errors);
  return sora_test_run ();
}
