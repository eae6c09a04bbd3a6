/* gst-sora tests: Linear layers and batched matmul against a double C
 * reference, on both backends and with f32/f16/bf16 weights; the GPU and
 * matrix-unit kernels' cases are in test-gemm-gpu.c.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>

#include "sora-tune.h"

#include "sora-test-util.h"
#include "test-gemm.h"

/* fp32 products over K <= 1536 terms of values in [-1, 1]: the rounding of
 * the accumulation grows like sqrt(K) * 2^-24 (about 2e-6 at K = 1536), so
 * 1e-5 is tight yet leaves room for the backends' summation orders.  f16
 * and bf16 weights are compared with a reference made from the same rounded
 * weights, so the same bound holds. */
#define TOL 1e-5

/* The matrix-unit path (SORA_GEMM_MMA) is compared with a reference made
 * from X and W rounded to its bf16 or f16 operands, so that only the
 * accumulation differs: products of two bf16 or f16 values are exact in
 * fp32, and the stand-in adds them in fp32 as the bound above allows; NVIDIA
 * documents no rounding mode for mma.sync's fp32 additions, so 1e-4 of the
 * terms' magnitudes leaves it ten times the room while a fragment misplaced
 * or a K slice dropped still errs by the size of the terms themselves. */
#define MMA_TOL 1e-4

/* The operands SORA_GEMM_MMA rounds X and W to ($SORA_PRECISION). */
static SoraDType
operand_dtype (SoraGemmBackend backend)
{
  if (backend != SORA_GEMM_MMA)
    return SORA_DTYPE_F32;
  return g_strcmp0 (g_getenv ("SORA_PRECISION"), "f16") == 0 ? SORA_DTYPE_F16
                                                             : SORA_DTYPE_BF16;
}

/* Shapes whose sizes straddle the tiles (6 x 16 or 6 x 64): 1, primes,
 * 63/65, 130; past the 768-column, 1024-deep blocks, with enough rows
 * for a work-group per row tile (sora-op-gemm.c); and past the rows of one
 * launch (sora_op_launch_rows: 2544 for 12-row tiles in K slices of 1024
 * on 2 CPU cores, which /gemm/block-k runs). */
const gsize shapes[][3] = {
  /* M, N, K */
  { 1, 1, 1 },
  { 5, 7, 3 },
  { 7, 63, 65 },
  { 63, 65, 97 },
  { 65, 97, 130 },
  { 97, 130, 7 },
  { 130, 1, 63 },
  { 13, 200, 257 },
  { 37, 70, 1536 },
  { 1031, 17, 300 },
  { 67, 801, 1030 },
  { 3001, 17, 1030 },
};
const guint shapes_len = G_N_ELEMENTS (shapes);

/* y [m, n] = x [m, k] w [n, k]^T + bias, in double, and in *@scale the
 * sums of the terms' magnitudes (sora_assert_close_to_scale). */
static double *
reference (const float *x, const float *w, const float *bias, gsize m, gsize n,
    gsize k, double **scale)
{
  double *y = g_new (double, m *n);

  *scale = g_new (double, m *n);
  for (gsize i = 0; i < m; i++)
    for (gsize j = 0; j < n; j++) {
      double s = bias ? bias[j] : 0, a = fabs (s);
      for (gsize kk = 0; kk < k; kk++) {
        double t = (double)x[i * k + kk] * w[j * k + kk];
        s += t;
        a += fabs (t);
      }
      y[i * n + j] = s;
      (*scale)[i * n + j] = a;
    }
  return y;
}

/* One Linear [n, k] on x [lead..., k]; @lead are the leading dims. */
void
check_linear (SoraDType dtype, SoraGemmBackend backend, guint nlead,
    const gsize *lead, gsize n, gsize k, gboolean with_bias)
{
  GError *error = NULL;
  gsize m = 1, xshape[SORA_MAX_DIMS], yshape[SORA_MAX_DIMS];
  float *x, *w, *bias = NULL, *got, *nan;
  void *stored;
  double *want, *scale;
  SoraLinear *l;
  SoraTensor *tx, *ty;
  char *what;

  for (guint i = 0; i < nlead; i++) {
    m *= lead[i];
    xshape[i] = yshape[i] = lead[i];
  }
  xshape[nlead] = k;
  yshape[nlead] = n;
  x = sora_test_random (m * k, -1, 1);
  w = sora_test_random (n * k, -1, 1);
  if (with_bias)
    bias = sora_test_random (n, -1, 1);
  sora_test_round_to_dtype (w, n * k, dtype);
  stored = g_malloc (n * k * sora_dtype_size (dtype));
  sora_convert_from_f32 (dtype, w, stored, n * k);
  sora_test_round_to_dtype (x, m * k, operand_dtype (backend));
  sora_test_round_to_dtype (w, n * k, operand_dtype (backend));

  l = sora_linear_new_full (
      sora_test_device (), "lin", dtype, n, k, stored, bias, backend, &error);
  g_assert_no_error (error);
  g_assert_cmpint (sora_linear_get_backend (l), ==, backend);
  tx = sora_test_upload ("x", SORA_DTYPE_F32, x, nlead + 1, xshape);
  /* NaN everywhere first, so an element left unwritten fails. */
  nan = g_new (float, m *n);
  for (gsize i = 0; i < m * n; i++)
    nan[i] = NAN;
  ty = sora_test_upload ("y", SORA_DTYPE_F32, nan, nlead + 1, yshape);

  g_assert_true (sora_op_linear (l, tx, ty, &error));
  g_assert_no_error (error);
  got = sora_test_download (ty);
  want = reference (x, w, bias, m, n, k, &scale);
  what = g_strdup_printf ("linear %s %s m=%" G_GSIZE_FORMAT
                          " n=%" G_GSIZE_FORMAT " k=%" G_GSIZE_FORMAT "%s",
      sora_gemm_backend_to_string (backend), sora_dtype_name (dtype), m, n, k,
      with_bias ? " +bias" : "");
  sora_assert_close_to_scale (
      got, want, scale, m * n, backend == SORA_GEMM_MMA ? MMA_TOL : TOL, what);

  g_free (what);
  g_free (want);
  g_free (scale);
  g_free (got);
  g_free (nan);
  sora_tensor_free (tx);
  sora_tensor_free (ty);
  sora_linear_free (l);
  g_free (stored);
  g_free (bias);
  g_free (w);
  g_free (x);
}

static void
check_shapes (SoraDType dtype, SoraGemmBackend backend)
{
  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
    check_linear (dtype, backend, 1, &shapes[i][0], shapes[i][1], shapes[i][2],
        i % 2 == 0);
}

static void
test_tiled_f32 (void)
{
  check_shapes (SORA_DTYPE_F32, SORA_GEMM_TILED);
}

static void
test_tiled_f16 (void)
{
  check_shapes (SORA_DTYPE_F16, SORA_GEMM_TILED);
}

static void
test_tiled_bf16 (void)
{
  check_shapes (SORA_DTYPE_BF16, SORA_GEMM_TILED);
}

static void
test_clblast_f32 (void)
{
  check_shapes (SORA_DTYPE_F32, SORA_GEMM_CLBLAST);
}

/* [B, L, in] inputs, as the transformer feeds them. */
static void
test_3d (void)
{
  const gsize lead[] = { 2, 5 };

  check_linear (SORA_DTYPE_F32, SORA_GEMM_TILED, 2, lead, 97, 65, TRUE);
  check_linear (SORA_DTYPE_BF16, SORA_GEMM_TILED, 2, lead, 130, 7, FALSE);
  check_linear (SORA_DTYPE_F32, SORA_GEMM_CLBLAST, 2, lead, 97, 65, TRUE);
}

/* On a fresh cache the choice is measured and stored; SORA_GEMM forces
 * it, f16 weights staying on our kernel (the GPU one where the device gets
 * the GPU forms). */
static void
test_backend_choice (void)
{
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("sora-gemm-XXXXXX", &error);
  char *old = g_strdup (g_getenv ("SORA_CACHE_DIR"));
  char *path, *stored;
  const char *name;
  GKeyFile *kf = g_key_file_new ();
  char **groups;
  guint16 one = sora_f32_to_f16 (1.0f);
  float onef = 1.0f;
  SoraLinear *l;
  gboolean gpu = sora_tune_gpu_kernels (sora_test_device ());
  SoraGemmBackend ours = gpu ? SORA_GEMM_GPU : SORA_GEMM_TILED;

  g_assert_no_error (error);
  g_setenv ("SORA_CACHE_DIR", dir, TRUE);
  g_unsetenv ("SORA_GEMM");
  name = sora_gemm_backend_name (sora_test_device ());
  g_test_message ("measured backend: %s", name);
  path = g_build_filename (dir, "choices", "tuning.ini", NULL);
  g_assert_true (g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &error));
  g_assert_no_error (error);
  groups = g_key_file_get_groups (kf, NULL);
  g_assert_nonnull (groups[0]);
  /* Stored apart for the GPU forms (a GPU, or SORA_KERNELS=gpu). */
  stored = g_key_file_get_string (
      kf, groups[0], gpu ? "gemm-backend-gpu" : "gemm-backend", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (stored, ==, name);
  /* Asked again, the same answer without measuring. */
  g_assert_cmpstr (sora_gemm_backend_name (sora_test_device ()), ==, name);

  g_setenv ("SORA_GEMM", "clblast", TRUE);
  g_assert_cmpstr (sora_gemm_backend_name (sora_test_device ()), ==, "clblast");
  l = sora_linear_new (
      sora_test_device (), "f16", SORA_DTYPE_F16, 1, 1, &one, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (sora_linear_get_backend (l), ==, ours);
  sora_linear_free (l);
  g_setenv ("SORA_GEMM", "tiled", TRUE);
  l = sora_linear_new (
      sora_test_device (), "f32", SORA_DTYPE_F32, 1, 1, &onef, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (sora_linear_get_backend (l), ==, SORA_GEMM_TILED);
  sora_linear_free (l);
  /* Any other value is an error naming the variable, for every dtype. */
  g_setenv ("SORA_GEMM", "foo", TRUE);
  l = sora_linear_new (
      sora_test_device (), "f16", SORA_DTYPE_F16, 1, 1, &one, NULL, &error);
  g_assert_null (l);
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_assert_true (g_str_has_prefix (error->message, "SORA_GEMM=foo:"));
  g_clear_error (&error);
  g_unsetenv ("SORA_GEMM");

  if (old)
    g_setenv ("SORA_CACHE_DIR", old, TRUE);
  else
    g_unsetenv ("SORA_CACHE_DIR");
  g_strfreev (groups);
  g_free (stored);
  g_remove (path);
  g_free (path);
  path = g_build_filename (dir, "choices", NULL);
  g_rmdir (path);
  g_free (path);
  g_key_file_free (kf);
  g_free (old);
  g_free (dir);
}

/* Strided batches with gaps between rows and batches; the gaps must keep
 * their sentinel. */
void
check_batched (gsize batch, gsize m, gsize n, gsize k, gsize xbs, gsize ldx,
    gsize wbs, gsize ldw, gsize ybs, gsize ldy)
{
  const float sentinel = 12345.0f;
  GError *error = NULL;
  gsize xn = (batch - 1) * xbs + (m - 1) * ldx + k;
  gsize wn = (batch - 1) * wbs + (n - 1) * ldw + k;
  gsize yn = (batch - 1) * ybs + (m - 1) * ldy + n + 7;
  float *x = sora_test_random (xn, -1, 1), *w = sora_test_random (wn, -1, 1);
  float *y0 = g_new (float, yn), *got, *xb, *wb, *gotb;
  gboolean *written = g_new0 (gboolean, yn);
  SoraTensor *tx, *tw, *ty;
  double *want, *scale;

  for (gsize i = 0; i < yn; i++)
    y0[i] = sentinel;
  tx = sora_test_upload ("x", SORA_DTYPE_F32, x, 1, &xn);
  tw = sora_test_upload ("w", SORA_DTYPE_F32, w, 1, &wn);
  ty = sora_test_upload ("y", SORA_DTYPE_F32, y0, 1, &yn);
  g_assert_true (sora_op_matmul_batched (sora_test_device (), batch, m, n, k,
      tx, xbs, ldx, tw, wbs, ldw, ty, ybs, ldy, &error));
  g_assert_no_error (error);
  got = sora_test_download (ty);

  xb = g_new (float, m *k);
  wb = g_new (float, n *k);
  gotb = g_new (float, m *n);
  for (gsize b = 0; b < batch; b++) {
    char *what;

    for (gsize i = 0; i < m; i++)
      for (gsize kk = 0; kk < k; kk++)
        xb[i * k + kk] = x[b * xbs + i * ldx + kk];
    for (gsize j = 0; j < n; j++)
      for (gsize kk = 0; kk < k; kk++)
        wb[j * k + kk] = w[b * wbs + j * ldw + kk];
    for (gsize i = 0; i < m; i++)
      for (gsize j = 0; j < n; j++) {
        gotb[i * n + j] = got[b * ybs + i * ldy + j];
        written[b * ybs + i * ldy + j] = TRUE;
      }
    want = reference (xb, wb, NULL, m, n, k, &scale);
    what = g_strdup_printf ("matmul_batched b=%" G_GSIZE_FORMAT
                            "/%" G_GSIZE_FORMAT " m=%" G_GSIZE_FORMAT
                            " n=%" G_GSIZE_FORMAT " k=%" G_GSIZE_FORMAT,
        b, batch, m, n, k);
    sora_assert_close_to_scale (gotb, want, scale, m * n, TOL, what);
    g_free (what);
    g_free (want);
    g_free (scale);
  }
  for (gsize i = 0; i < yn; i++)
    if (!written[i])
      g_assert_cmpfloat (got[i], ==, sentinel);

  g_free (xb);
  g_free (wb);
  g_free (gotb);
  g_free (got);
  g_free (written);
  g_free (y0);
  g_free (w);
  g_free (x);
  sora_tensor_free (tx);
  sora_tensor_free (tw);
  sora_tensor_free (ty);
}

static void
test_batched (void)
{
  /* Separate matrices with padded rows and gaps between batches. */
  check_batched (3, 7, 65, 33, 7 * 36 + 5, 36, 65 * 34 + 2, 34, 7 * 69 + 3, 69);
  /* Heads interleaved in rows, as attention scores read Q and K. */
  check_batched (4, 65, 130, 16, 16, 64, 16, 64, 65 * 130, 130);
  check_batched (1, 1, 1, 1, 0, 1, 0, 1, 0, 1);
  check_batched (2, 13, 5, 97, 13 * 97, 97, 0, 97, 13 * 5, 5);
  /* Several row blocks and K slices. */
  check_batched (
      2, 1030, 9, 300, 1030 * 300, 300, 9 * 301, 301, 1030 * 9 + 1, 9);
}

/* Every tile the tuner may pick here, the tiles of other vector widths
 * and odd ones, through the override. */
static void
test_tiles (void)
{
  char **candidates = sora_tune_tile_candidates (sora_test_device ());
  const char *odd[] = { "6x64x16", "3x8x4", "5x24x8", "1x16x16", NULL };

  for (guint set = 0; set < 2; set++) {
    const char *const *tiles = set == 0 ? (const char *const *)candidates : odd;

    for (guint i = 0; tiles[i]; i++) {
      char *chosen;

      g_setenv ("SORA_GEMM_TILE", tiles[i], TRUE);
      chosen = sora_gemm_tile_name (sora_test_device (), SORA_DTYPE_F32);
      g_assert_cmpstr (chosen, ==, tiles[i]);
      g_free (chosen);
      g_test_message ("tile %s", tiles[i]);
      for (guint s = 0; s < G_N_ELEMENTS (shapes); s += 2)
        check_linear (SORA_DTYPE_F32, SORA_GEMM_TILED, 1, &shapes[s][0],
            shapes[s][1], shapes[s][2], s % 4 == 0);
      check_linear (SORA_DTYPE_F16, SORA_GEMM_TILED, 1, &shapes[3][0],
          shapes[3][1], shapes[3][2], TRUE);
      check_linear (SORA_DTYPE_BF16, SORA_GEMM_TILED, 1, &shapes[4][0],
          shapes[4][1], shapes[4][2], FALSE);
      check_batched (
          3, 7, 65, 33, 7 * 36 + 5, 36, 65 * 34 + 2, 34, 7 * 69 + 3, 69);
    }
  }
  g_unsetenv ("SORA_GEMM_TILE");
  g_strfreev (candidates);
}

/* The CPU kernel's K slices: the tuner's candidates and odd ones, so that
 * the shapes cross several slices and column blocks (f16 and bf16 weights
 * are widened per block), and a bad value refused. */
static void
test_block_k (void)
{
  const char *rows[] = { "256", "512", "1024", "16", "100", NULL };

  for (guint i = 0; rows[i]; i++) {
    char *chosen;

    g_setenv ("SORA_GEMM_BLOCK_K", rows[i], TRUE);
    chosen = sora_gemm_block_k_name (sora_test_device ());
    g_assert_cmpstr (chosen, ==, rows[i]);
    g_free (chosen);
    g_test_message ("K slice %s", rows[i]);
    for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
      check_linear (s % 3 == 0 ? SORA_DTYPE_F32
              : s % 3 == 1     ? SORA_DTYPE_F16
                               : SORA_DTYPE_BF16,
          SORA_GEMM_TILED, 1, &shapes[s][0], shapes[s][1], shapes[s][2],
          s % 2 == 0);
    check_batched (
        2, 1030, 9, 300, 1030 * 300, 300, 9 * 301, 301, 1030 * 9 + 1, 9);
  }
  g_unsetenv ("SORA_GEMM_BLOCK_K");
}

static void
test_block_k_invalid (void)
{
  char *chosen;

  /* The warning is what the parent checks. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  g_setenv ("SORA_GEMM_BLOCK_K", "8", TRUE);
  chosen = sora_gemm_block_k_name (sora_test_device ());
  g_assert_cmpstr (chosen, !=, "8");
  g_free (chosen);
}

static void
test_block_k_errors (void)
{
  g_test_trap_subprocess ("/gemm/block-k/invalid/subprocess", 0, 0);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr (
      "*SORA_GEMM_BLOCK_K=8 is not a valid gemm-block-k here; ignored*");
}

/* Run in a subprocess, so that nothing is chosen in memory yet: prints the
 * f32 tile the engine takes, with warnings not fatal (the parent checks
 * them). */
static void
print_tile (void)
{
  char *tile;

  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  tile = sora_gemm_tile_name (sora_test_device (), SORA_DTYPE_F32);
  printf ("tile=%s\n", tile);
  g_free (tile);
}

/* The tile in a fresh process, and its stderr; the stored tile after. */
static char *
tile_in_subprocess (const char *ini, char **stored)
{
  GKeyFile *kf = g_key_file_new ();
  char **groups;
  char *out;

  g_test_trap_subprocess ("/gemm/tuning-cache/subprocess", 0, 0);
  g_test_trap_assert_passed ();
  g_assert_true (g_key_file_load_from_file (kf, ini, G_KEY_FILE_NONE, NULL));
  groups = g_key_file_get_groups (kf, NULL);
  g_assert_nonnull (groups[0]);
  *stored = g_key_file_get_string (kf, groups[0], "gemm-tile-f32", NULL);
  g_assert_nonnull (*stored);
  g_strfreev (groups);
  g_key_file_free (kf);
  out = g_strdup_printf ("tile=%s\n", *stored);
  return out;
}

static void
set_stored (const char *ini, const char *value)
{
  GKeyFile *kf = g_key_file_new ();
  char **groups;

  g_assert_true (g_key_file_load_from_file (kf, ini, G_KEY_FILE_NONE, NULL));
  groups = g_key_file_get_groups (kf, NULL);
  g_key_file_set_string (kf, groups[0], "gemm-tile-f32", value);
  g_assert_true (g_key_file_save_to_file (kf, ini, NULL));
  g_strfreev (groups);
  g_key_file_free (kf);
}

/* Tuned once and stored; a new process reads the stored tile back (even
 * one the tuner would not pick) without measuring; $SORA_GEMM_TILE wins
 * over it; an invalid stored value or an unreadable file is reported and
 * measured again, the file rewritten. */
static void
test_tuning_cache (void)
{
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("sora-tune-XXXXXX", &error);
  char *old = g_strdup (g_getenv ("SORA_CACHE_DIR"));
  char *ini, *want, *stored;
  char **candidates = sora_tune_tile_candidates (sora_test_device ());

  g_assert_no_error (error);
  g_setenv ("SORA_CACHE_DIR", dir, TRUE);
  g_unsetenv ("SORA_GEMM_TILE");
  ini = g_build_filename (dir, "choices", "tuning.ini", NULL);

  /* Tuned: one of the candidates, stored with what was measured. */
  want = tile_in_subprocess (ini, &stored);
  g_test_trap_assert_stdout (want);
  g_assert_true (g_strv_contains ((const char *const *)candidates, stored));
  g_free (want);
  g_free (stored);

  /* Read back, not measured again: the tuner never picks 3x8x4. */
  set_stored (ini, "3x8x4");
  want = tile_in_subprocess (ini, &stored);
  g_test_trap_assert_stdout ("tile=3x8x4\n");
  g_free (want);
  g_free (stored);

  g_setenv ("SORA_GEMM_TILE", "5x24x8", TRUE);
  want = tile_in_subprocess (ini, &stored);
  g_test_trap_assert_stdout ("tile=5x24x8\n");
  g_assert_cmpstr (stored, ==, "3x8x4");
  g_free (want);
  g_free (stored);
  /* An invalid override is reported and ignored. */
  g_setenv ("SORA_GEMM_TILE", "6x50", TRUE);
  want = tile_in_subprocess (ini, &stored);
  g_test_trap_assert_stdout ("tile=3x8x4\n");
  g_test_trap_assert_stderr ("*SORA_GEMM_TILE=6x50 is not a valid*");
  g_unsetenv ("SORA_GEMM_TILE");
  g_free (want);
  g_free (stored);

  set_stored (ini, "0x0x16");
  want = tile_in_subprocess (ini, &stored);
  g_test_trap_assert_stdout (want);
  g_test_trap_assert_stderr ("*stored gemm-tile-f32=0x0x16 is invalid*");
  g_assert_true (g_strv_contains ((const char *const *)candidates, stored));
  g_free (want);
  g_free (stored);

  g_assert_true (g_file_set_contents (ini, "[unclosed\n\x01=", -1, NULL));
  want = tile_in_subprocess (ini, &stored);
  g_test_trap_assert_stdout (want);
  g_test_trap_assert_stderr ("*tuning: ignoring*");
  g_assert_true (g_strv_contains ((const char *const *)candidates, stored));
  g_free (want);
  g_free (stored);

  if (old)
    g_setenv ("SORA_CACHE_DIR", old, TRUE);
  else
    g_unsetenv ("SORA_CACHE_DIR");
  g_remove (ini);
  g_free (ini);
  ini = g_build_filename (dir, "choices", NULL);
  g_rmdir (ini);
  g_rmdir (dir);
  g_free (ini);
  g_free (old);
  g_free (dir);
  g_strfreev (candidates);
}

static void
test_errors (void)
{
  GError *error = NULL;
  SoraDevice *dev = sora_test_device ();
  float w[6] = { 0 };
  guint16 w16[6] = { 0 };
  gsize xs[] = { 3, 10 }, ys[] = { 3, 2 }, ybad[] = { 4, 2 };
  float *zeros = g_new0 (float, 40);
  SoraTensor *x, *y, *ybig;
  SoraLinear *l = sora_linear_new_full (
      dev, "proj", SORA_DTYPE_F32, 2, 3, w, NULL, SORA_GEMM_TILED, &error);

  g_assert_no_error (error);
  x = sora_test_upload ("x", SORA_DTYPE_F32, zeros, 2, xs);
  y = sora_test_upload ("y", SORA_DTYPE_F32, zeros, 2, ys);
  ybig = sora_test_upload ("ybig", SORA_DTYPE_F32, zeros, 2, ybad);

  /* x ends in 10, the layer takes 3. */
  g_assert_false (sora_op_linear (l, x, y, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "x [3, 10] f32"));
  g_assert_nonnull (strstr (error->message, "proj"));
  g_clear_error (&error);

  /* Right input, output with the wrong rows. */
  g_assert_true (sora_tensor_reshape (x, 2, (gsize[]){ 10, 3 }, &error));
  g_assert_false (sora_op_linear (l, x, ybig, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "ybig"));
  g_clear_error (&error);

  /* W too small for 2 batches of [5, 3] at stride 6. */
  g_assert_false (sora_op_matmul_batched (
      dev, 2, 2, 5, 3, x, 6, 3, y, 6, 3, ybig, 10, 5, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "y [3, 2] f32"));
  g_clear_error (&error);

  /* CLBlast has no f16 path. */
  g_assert_null (sora_linear_new_full (
      dev, "half", SORA_DTYPE_F16, 2, 3, w16, NULL, SORA_GEMM_CLBLAST, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "half"));
  g_clear_error (&error);

  sora_tensor_free (x);
  sora_tensor_free (y);
  sora_tensor_free (ybig);
  sora_linear_free (l);
  g_free (zeros);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  /* First, while no choice is cached in memory. */
  g_test_add_func ("/gemm/backend-choice", test_backend_choice);
  g_test_add_func ("/gemm/tiled-f32", test_tiled_f32);
  g_test_add_func ("/gemm/tiled-f16", test_tiled_f16);
  g_test_add_func ("/gemm/tiled-bf16", test_tiled_bf16);
  g_test_add_func ("/gemm/clblast-f32", test_clblast_f32);
  g_test_add_func ("/gemm/3d", test_3d);
  g_test_add_func ("/gemm/batched", test_batched);
  g_test_add_func ("/gemm/tiles", test_tiles);
  g_test_add_func ("/gemm/block-k", test_block_k);
  g_test_add_func ("/gemm/block-k/invalid", test_block_k_errors);
  g_test_add_func ("/gemm/block-k/invalid/subprocess", test_block_k_invalid);
  test_gemm_gpu_add ();
  g_test_add_func ("/gemm/tuning-cache", test_tuning_cache);
  g_test_add_func ("/gemm/tuning-cache/subprocess", print_tile);
  g_test_add_func ("/gemm/errors", test_errors);
  return sora_test_run ();
}
