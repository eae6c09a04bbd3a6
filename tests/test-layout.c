/* gst-sora tests: layout ops against explicit index formulas
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * These ops only move elements, so every comparison is exact. */
#include <string.h>

#include "sora-test-util.h"

static SoraTensor *
new_tensor (const char *name, SoraDType dtype, guint ndim, const gsize *shape)
{
  GError *error = NULL;
  SoraTensor *t =
      sora_tensor_new (sora_test_device (), name, dtype, ndim, shape, &error);

  g_assert_no_error (error);
  return t;
}

static void
assert_equal (const float *got, const float *want, gsize n, const char *what)
{
  for (gsize i = 0; i < n; i++)
    if (memcmp (&got[i], &want[i], sizeof (float)) != 0)
      g_error ("%s: element %" G_GSIZE_FORMAT " is %g, expected %g", what, i,
          got[i], want[i]);
}

/* Values that f16 and bf16 hold exactly, so the 2-byte path is exact too. */
static float *
random_exact (gsize n)
{
  float *v = sora_test_random (n, -8, 8);

  for (gsize i = 0; i < n; i++)
    v[i] = (float)(int)(v[i] * 16) / 16;
  return v;
}

/* Reference permute: out index -> view coordinates -> input index. */
static float *
permute_ref (
    const float *x, guint ndim, const gsize *shape, const guint *perm, gsize n)
{
  float *y = g_new (float, n);
  gsize stride[SORA_MAX_DIMS], s = 1;

  for (guint k = ndim; k-- > 0;) {
    stride[k] = s;
    s *= shape[k];
  }
  for (gsize i = 0; i < n; i++) {
    gsize r = i, off = 0;
    for (guint k = ndim; k-- > 0;) {
      off += (r % shape[perm[k]]) * stride[perm[k]];
      r /= shape[perm[k]];
    }
    y[i] = x[off];
  }
  return y;
}

static void
check_permute (
    SoraDType dtype, guint ndim, const gsize *shape, const guint *perm)
{
  GError *error = NULL;
  gsize n = 1, yshape[SORA_MAX_DIMS];
  float *x, *want, *got;
  SoraTensor *tx, *ty;

  for (guint k = 0; k < ndim; k++) {
    n *= shape[k];
    yshape[k] = shape[perm[k]];
  }
  x = random_exact (n);
  tx = sora_test_upload ("x", dtype, x, 1, &n);
  ty = new_tensor ("y", dtype, ndim, yshape);
  g_assert_true (sora_op_permute (tx, ndim, shape, perm, ty, &error));
  g_assert_no_error (error);
  got = sora_test_download (ty);
  want = permute_ref (x, ndim, shape, perm, n);
  assert_equal (got, want, n, "permute");
  sora_tensor_free (tx);
  sora_tensor_free (ty);
  g_free (x);
  g_free (want);
  g_free (got);
}

static void
test_permute (void)
{
  for (guint ndim = 1; ndim <= 5; ndim++)
    for (guint trial = 0; trial < 6; trial++) {
      gsize shape[SORA_MAX_DIMS];
      guint perm[SORA_MAX_DIMS];

      for (guint k = 0; k < ndim; k++) {
        shape[k] = g_test_rand_int_range (1, ndim <= 2 ? 40 : 8);
        perm[k] = k;
      }
      for (guint k = ndim; k-- > 1;) {
        guint j = g_test_rand_int_range (0, k + 1), tmp = perm[k];
        perm[k] = perm[j];
        perm[j] = tmp;
      }
      check_permute (
          trial % 2 ? SORA_DTYPE_F16 : SORA_DTYPE_F32, ndim, shape, perm);
    }
  /* Fixed 5-D shapes with primes, all dtypes. */
  check_permute (SORA_DTYPE_F32, 5, (gsize[]){ 3, 5, 7, 2, 11 },
      (guint[]){ 4, 2, 0, 3, 1 });
  check_permute (SORA_DTYPE_BF16, 5, (gsize[]){ 1, 13, 1, 3, 2 },
      (guint[]){ 1, 4, 3, 0, 2 });
}

static void
check_upsample (SoraDType dtype, gsize c, gsize t, gsize h, gsize w)
{
  GError *error = NULL;
  gsize xs[] = { c, t, h, w }, ys[] = { c, t, 2 * h, 2 * w };
  gsize n = c * t * h * w;
  float *x = random_exact (n), *want = g_new (float, 4 * n), *got;
  SoraTensor *tx = sora_test_upload ("x", dtype, x, 4, xs);
  SoraTensor *ty = new_tensor ("y", dtype, 4, ys);

  for (gsize p = 0; p < c * t; p++)
    for (gsize i = 0; i < 2 * h; i++)
      for (gsize j = 0; j < 2 * w; j++)
        want[(p * 2 * h + i) * 2 * w + j] = x[(p * h + i / 2) * w + j / 2];
  g_assert_true (sora_op_upsample_nearest2x (tx, ty, &error));
  g_assert_no_error (error);
  got = sora_test_download (ty);
  assert_equal (got, want, 4 * n, "upsample_nearest2x");
  sora_tensor_free (tx);
  sora_tensor_free (ty);
  g_free (x);
  g_free (want);
  g_free (got);
}

static void
test_upsample (void)
{
  check_upsample (SORA_DTYPE_F32, 3, 2, 5, 7);
  check_upsample (SORA_DTYPE_F32, 1, 1, 1, 1);
  check_upsample (SORA_DTYPE_F32, 2, 3, 1, 13);
  check_upsample (SORA_DTYPE_BF16, 5, 1, 3, 2);
}

/* patchify against docs/model.md §DiT (patch embedding):
 * y[n, (c·ph + a)·pw + β] = x[c, f, y·ph + a, z·pw + β], then unpatchify
 * against §DiT (unpatchify), and the round trip through both. */
static void
check_patches (gsize c, gsize f, gsize h, gsize w, guint ph, guint pw)
{
  GError *error = NULL;
  gsize H = h * ph, W = w * pw, n = c * f * H * W, L = f * h * w;
  gsize xs[] = { c, f, H, W }, ps[] = { L, c * ph * pw };
  float *x = random_exact (n), *want = g_new (float, n), *got, *back;
  float *q_major = g_new (float, n);
  SoraTensor *tx = sora_test_upload ("x", SORA_DTYPE_F32, x, 4, xs);
  SoraTensor *tp = new_tensor ("patches", SORA_DTYPE_F32, 2, ps);
  SoraTensor *tq, *ty = new_tensor ("y", SORA_DTYPE_F32, 4, xs);

  for (gsize ci = 0; ci < c; ci++)
    for (gsize fi = 0; fi < f; fi++)
      for (gsize yi = 0; yi < h; yi++)
        for (gsize zi = 0; zi < w; zi++)
          for (gsize a = 0; a < ph; a++)
            for (gsize b = 0; b < pw; b++) {
              gsize tok = fi * h * w + yi * w + zi;
              gsize xi = ((ci * f + fi) * H + yi * ph + a) * W + zi * pw + b;
              want[tok * c * ph * pw + (ci * ph + a) * pw + b] = x[xi];
              /* The head's ordering, q = (a·pw + β)·C + c. */
              q_major[tok * c * ph * pw + (a * pw + b) * c + ci] = x[xi];
            }
  g_assert_true (sora_op_patchify (tx, 1, ph, pw, tp, &error));
  g_assert_no_error (error);
  got = sora_test_download (tp);
  assert_equal (got, want, n, "patchify");

  tq = sora_test_upload ("P", SORA_DTYPE_F32, q_major, 2, ps);
  g_assert_true (sora_op_unpatchify (tq, f, h, w, 1, ph, pw, ty, &error));
  g_assert_no_error (error);
  back = sora_test_download (ty);
  assert_equal (back, x, n, "unpatchify");

  sora_tensor_free (tx);
  sora_tensor_free (tp);
  sora_tensor_free (tq);
  sora_tensor_free (ty);
  g_free (x);
  g_free (want);
  g_free (q_major);
  g_free (got);
  g_free (back);
}

static void
test_patches (void)
{
  check_patches (16, 3, 5, 7, 2, 2);
  check_patches (3, 1, 1, 1, 2, 2);
  check_patches (5, 2, 3, 4, 1, 3);
}

/* Round trip with one channel count: unpatchify (P) with P in the head's
 * order, patchify back, then the column permutation between the two
 * orders (a permute on the device too) recovers P. */
static void
test_patch_roundtrip (void)
{
  GError *error = NULL;
  gsize c = 4, f = 2, h = 3, w = 5, L = f * h * w, n = c * L * 4;
  gsize ps[] = { L, 4 * c }, ys[] = { c, f, 2 * h, 2 * w };
  float *p = random_exact (n), *got;
  SoraTensor *tp = sora_test_upload ("P", SORA_DTYPE_F32, p, 2, ps);
  SoraTensor *ty = new_tensor ("y", SORA_DTYPE_F32, 4, ys);
  SoraTensor *tpatch = new_tensor ("patches", SORA_DTYPE_F32, 2, ps);
  SoraTensor *tback = new_tensor ("back", SORA_DTYPE_F32, 2, ps);

  g_assert_true (sora_op_unpatchify (tp, f, h, w, 1, 2, 2, ty, &error));
  g_assert_true (sora_op_patchify (ty, 1, 2, 2, tpatch, &error));
  /* columns (c, a·2 + β) -> (a·2 + β, c) */
  g_assert_true (sora_op_permute (
      tpatch, 3, (gsize[]){ L, c, 4 }, (guint[]){ 0, 2, 1 }, tback, &error));
  g_assert_no_error (error);
  got = sora_test_download (tback);
  assert_equal (got, p, n, "unpatchify-patchify round trip");
  sora_tensor_free (tp);
  sora_tensor_free (ty);
  sora_tensor_free (tpatch);
  sora_tensor_free (tback);
  g_free (p);
  g_free (got);
}

/* upsample3d: out[c, 2t + s, i] = x[s·C + c, t, i]. */
static void
test_time_split (void)
{
  GError *error = NULL;
  gsize c = 3, t = 3, hw = 5 * 7, n = 2 * c * t * hw;
  gsize xs[] = { 2 * c, t, 5, 7 }, ys[] = { c, 2 * t, 5, 7 };
  float *x = random_exact (n), *want = g_new (float, n), *got;
  SoraTensor *tx = sora_test_upload ("x", SORA_DTYPE_F32, x, 4, xs);
  SoraTensor *ty = new_tensor ("y", SORA_DTYPE_F32, 4, ys);

  for (gsize s = 0; s < 2; s++)
    for (gsize ci = 0; ci < c; ci++)
      for (gsize ti = 0; ti < t; ti++)
        for (gsize i = 0; i < hw; i++)
          want[(ci * 2 * t + 2 * ti + s) * hw + i] =
              x[((s * c + ci) * t + ti) * hw + i];
  g_assert_true (sora_op_time_split (tx, ty, &error));
  g_assert_no_error (error);
  got = sora_test_download (ty);
  assert_equal (got, want, n, "time_split");
  sora_tensor_free (tx);
  sora_tensor_free (ty);
  g_free (x);
  g_free (want);
  g_free (got);
}

/* Slices [0, k) and [k, n) of every axis against the formula, and their
 * concatenation against x. */
static void
check_concat_slice (SoraDType dtype, guint ndim, const gsize *shape)
{
  GError *error = NULL;
  gsize n = 1;
  float *x;
  SoraTensor *tx;

  for (guint k = 0; k < ndim; k++)
    n *= shape[k];
  x = random_exact (n);
  tx = sora_test_upload ("x", dtype, x, ndim, shape);
  for (guint axis = 0; axis < ndim; axis++) {
    gsize k = g_test_rand_int_range (0, shape[axis] + 1);
    gsize outer = 1, inner = 1, as[SORA_MAX_DIMS], bs[SORA_MAX_DIMS];
    float *got, *want = g_new (float, n);
    SoraTensor *ta, *tb, *ty;

    for (guint d = 0; d < ndim; d++) {
      outer *= d < axis ? shape[d] : 1;
      inner *= d > axis ? shape[d] : 1;
    }
    memcpy (as, shape, ndim * sizeof (gsize));
    memcpy (bs, shape, ndim * sizeof (gsize));
    as[axis] = k;
    bs[axis] = shape[axis] - k;
    ta = new_tensor ("a", dtype, ndim, as);
    tb = new_tensor ("b", dtype, ndim, bs);
    ty = new_tensor ("y", dtype, ndim, shape);
    g_assert_true (sora_op_slice (tx, axis, 0, k, ta, &error));
    g_assert_true (sora_op_slice (tx, axis, k, shape[axis] - k, tb, &error));
    g_assert_no_error (error);

    /* b against the formula (an empty slice cannot be read back) */
    if (tb->numel > 0) {
      got = sora_test_download (tb);
      for (gsize o = 0; o < outer; o++)
        for (gsize i = 0; i < shape[axis] - k; i++)
          memcpy (want + (o * (shape[axis] - k) + i) * inner,
              x + (o * shape[axis] + k + i) * inner, inner * sizeof (float));
      assert_equal (got, want, tb->numel, "slice");
      g_free (got);
    }

    g_assert_true (sora_op_concat (ta, tb, axis, ty, &error));
    g_assert_no_error (error);
    got = sora_test_download (ty);
    assert_equal (got, x, n, "concat of slices");
    g_free (got);
    g_free (want);
    sora_tensor_free (ta);
    sora_tensor_free (tb);
    sora_tensor_free (ty);
  }
  sora_tensor_free (tx);
  g_free (x);
}

static void
test_concat_slice (void)
{
  check_concat_slice (SORA_DTYPE_F32, 4, (gsize[]){ 3, 5, 7, 11 });
  check_concat_slice (SORA_DTYPE_F16, 4, (gsize[]){ 2, 1, 3, 5 });
  check_concat_slice (SORA_DTYPE_F32, 1, (gsize[]){ 13 });
  check_concat_slice (SORA_DTYPE_BF16, 2, (gsize[]){ 1, 7 });
}

static void
expect_error (gboolean ok, GError *error, const char *needle)
{
  g_assert_false (ok);
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  if (strstr (error->message, needle) == NULL)
    g_error ("error \"%s\" does not name \"%s\"", error->message, needle);
  g_error_free (error);
}

static void
test_errors (void)
{
  GError *error = NULL;
  gsize xs[] = { 2, 3, 4, 6 }, bad[] = { 2, 3, 8, 11 }, ps[] = { 6, 8 };
  gsize six[] = { 6 }, two_by_three[] = { 2, 3 };
  SoraTensor *x = new_tensor ("x", SORA_DTYPE_F32, 4, xs);
  SoraTensor *yb = new_tensor ("ybad", SORA_DTYPE_F32, 4, bad);
  SoraTensor *p = new_tensor ("P", SORA_DTYPE_F32, 2, ps);
  SoraTensor *h = new_tensor ("h", SORA_DTYPE_F16, 4, xs);
  SoraTensor *v = new_tensor ("v", SORA_DTYPE_F32, 1, six);
  SoraTensor *m = new_tensor ("m", SORA_DTYPE_F32, 2, two_by_three);
  gboolean ok;

  ok =
      sora_op_permute (x, 2, (gsize[]){ 12, 12 }, (guint[]){ 1, 1 }, h, &error);
  expect_error (ok, error,
      "x [2, 3, 4, 6] f32 is given an invalid "
      "permutation");
  error = NULL;
  ok =
      sora_op_permute (x, 2, (gsize[]){ 12, 12 }, (guint[]){ 1, 0 }, h, &error);
  expect_error (ok, error, "h [2, 3, 4, 6] f16 must be f32");
  error = NULL;
  ok =
      sora_op_permute (x, 2, (gsize[]){ 12, 11 }, (guint[]){ 1, 0 }, x, &error);
  expect_error (ok, error, "does not have the view's size");
  error = NULL;
  ok = sora_op_upsample_nearest2x (x, yb, &error);
  expect_error (ok, error,
      "ybad [2, 3, 8, 11] f32 should have shape "
      "[2, 3, 8, 12]");
  error = NULL;
  ok = sora_op_patchify (x, 2, 2, 2, p, &error);
  expect_error (ok, error, "pt = 1");
  error = NULL;
  ok = sora_op_patchify (x, 1, 2, 2, p, &error);
  expect_error (ok, error, "P [6, 8] f32 should have shape [18, 8]");
  error = NULL;
  ok = sora_op_unpatchify (p, 3, 2, 3, 1, 2, 2, x, &error);
  expect_error (ok, error, "P [6, 8] f32 should have shape [18, 8]");
  error = NULL;
  ok = sora_op_time_split (m, x, &error);
  expect_error (ok, error, "m [2, 3] f32 must be [2C, T, H, W]");
  error = NULL;
  ok = sora_op_concat (x, yb, 3, x, &error);
  expect_error (ok, error,
      "ybad [2, 3, 8, 11] f32 should have shape "
      "[2, 3, 4, 11]");
  error = NULL;
  ok = sora_op_slice (v, 0, 4, 3, v, &error);
  expect_error (ok, error, "v [6] f32 has no such range");
  error = NULL;
  ok = sora_op_copy_slab (x, h, 1, 1, 144, 0, 144, 0, 1, &error);
  expect_error (ok, error, "h [2, 3, 4, 6] f16 must be f32");
  error = NULL;
  ok = sora_op_copy_slab (v, m, 1, 2, 3, 2, 3, 0, 2, &error);
  expect_error (ok, error, "v [6] f32 does not hold the slab");
  sora_tensor_free (x);
  sora_tensor_free (yb);
  sora_tensor_free (p);
  sora_tensor_free (h);
  sora_tensor_free (v);
  sora_tensor_free (m);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/layout/permute", test_permute);
  g_test_add_func ("/layout/upsample-nearest2x", test_upsample);
  g_test_add_func ("/layout/patchify-unpatchify", test_patches);
  g_test_add_func ("/layout/patch-roundtrip", test_patch_roundtrip);
  g_test_add_func ("/layout/time-split", test_time_split);
  g_test_add_func ("/layout/concat-slice", test_concat_slice);
  g_test_add_func ("/layout/errors", test_errors);
  return sora_test_run ();
}
