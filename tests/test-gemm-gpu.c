/* gst-sora tests: the GPU and matrix-unit GEMM kernels (SORA_GEMM_GPU,
 * SORA_GEMM_MMA) on every tile the tuner may pick, and the precision
 * choice; part of test-gemm (test-gemm.c)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>

#include "sora-tune.h"

#include "sora-test-util.h"
#include "test-gemm.h"

/* The GPU kernel's tiles: every one the tuner may pick, and odd ones
 * (work-groups of 32 and 128, one-row register blocks, K slices of 4). */
static char **
gpu_tiles (void)
{
  return sora_test_tiles (
      sora_tune_gpu_tile_candidates (), "8x12x4x1x3", "16x32x8x2x2", NULL);
}

/* Each GPU tile on @n_shapes of the shapes (all three weight dtypes, with
 * and without bias) and on strided batches, forced on this device as
 * SORA_KERNELS=gpu would. */
static void
check_gpu_tiles (const gsize (*sh)[3], guint n_shapes)
{
  char **tiles = gpu_tiles ();
  const SoraDType dtypes[] = { SORA_DTYPE_F32, SORA_DTYPE_F16,
    SORA_DTYPE_BF16 };

  g_setenv ("SORA_KERNELS", "gpu", TRUE);
  for (guint i = 0; tiles[i]; i++) {
    char *chosen;

    g_setenv ("SORA_GEMM_GPU_TILE", tiles[i], TRUE);
    chosen = sora_gemm_gpu_tile_name (sora_test_device (), SORA_DTYPE_F32);
    g_assert_cmpstr (chosen, ==, tiles[i]);
    g_free (chosen);
    g_test_message ("gpu tile %s", tiles[i]);
    for (guint s = 0; s < n_shapes; s++)
      check_linear (dtypes[s % 3], SORA_GEMM_GPU, 1, &sh[s][0], sh[s][1],
          sh[s][2], s % 2 == 0);
    check_batched (
        3, 7, 65, 33, 7 * 36 + 5, 36, 65 * 34 + 2, 34, 7 * 69 + 3, 69);
    check_batched (2, 13, 5, 21, 13 * 21, 21, 0, 21, 13 * 5, 5);
  }
  g_unsetenv ("SORA_GEMM_GPU_TILE");
  g_unsetenv ("SORA_KERNELS");
  g_strfreev (tiles);
}

/* Every shape, so each dtype meets tiles straddled and K sliced. */
static void
test_gpu (void)
{
  check_gpu_tiles (shapes, shapes_len);
}

/* Small odd shapes only: the ones Oclgrind runs (tests/gpu-proof.sh). */
static void
test_gpu_small (void)
{
  static const gsize small[][3] = {
    { 1, 1, 1 },
    { 5, 7, 3 },
    { 9, 13, 21 },
    { 37, 70, 21 },
    { 3, 130, 5 },
    { 70, 9, 33 },
  };

  check_gpu_tiles (small, G_N_ELEMENTS (small));
}

/* The matrix-unit tiles: every one the tuner may pick, and odd ones (one
 * warp; a warp's block of 16 x 48 with one K step per slice). */
static char **
mma_tiles (void)
{
  return sora_test_tiles (
      sora_tune_mma_tile_candidates (), "16x16x16x1x1", "32x48x16x2x1", NULL);
}

/* Each matrix-unit tile, for bf16 and f16 operands, on @n_shapes of the
 * shapes, with and without bias, its weights in one dtype (each a variant
 * to build: the tiles take the three dtypes in turn, so that every
 * operand and weight dtype meet, at a third of the builds): with the
 * device's instructions where it has them (on a GPU, only these are new),
 * else with the portable stand-in. */
static void
check_mma_tiles_with (const gsize (*sh)[3], guint n_shapes, char **tiles)
{
  static const char *const precisions[] = { "bf16", "f16" };
  const SoraDType dtypes[] = { SORA_DTYPE_F32, SORA_DTYPE_F16,
    SORA_DTYPE_BF16 };

  for (guint p = 0; p < G_N_ELEMENTS (precisions); p++) {
    g_setenv ("SORA_PRECISION", precisions[p], TRUE);
    for (guint i = 0; tiles[i]; i++) {
      g_setenv ("SORA_GEMM_MMA_TILE", tiles[i], TRUE);
      g_test_message ("mma %s tile %s", precisions[p], tiles[i]);
      for (guint s = 0; s < n_shapes; s++)
        check_linear (dtypes[(i + p) % 3], SORA_GEMM_MMA, 1, &sh[s][0],
            sh[s][1], sh[s][2], s % 2 == 0);
    }
  }
  g_unsetenv ("SORA_GEMM_MMA_TILE");
  g_unsetenv ("SORA_PRECISION");
  g_strfreev (tiles);
}

static void
check_mma_tiles (const gsize (*sh)[3], guint n_shapes)
{
  if (sora_tune_mma_form (sora_test_device ()) == SORA_MMA_NONE) {
    g_test_message ("no matrix units: testing the stand-in (SORA_MMA)");
    g_setenv ("SORA_MMA", "emulate", TRUE);
  }
  check_mma_tiles_with (sh, n_shapes, mma_tiles ());
  g_unsetenv ("SORA_MMA");
}

/* The stand-ins named by @stand_ins (NULL-terminated), where the device
 * has no matrix units (a GPU's own are tested by /gemm/mma): one tuner
 * tile and the odd ones, on odd shapes. */
static void
check_stand_ins (const char *const *stand_ins)
{
  static const gsize odd_shapes[][3] = {
    { 1, 1, 1 },
    { 63, 65, 97 },
    { 37, 70, 35 },
  };

  if (sora_tune_mma_form (sora_test_device ()) != SORA_MMA_NONE) {
    g_test_skip ("the device has matrix units: /gemm/mma tests them");
    return;
  }
  for (guint i = 0; stand_ins[i]; i++) {
    g_setenv ("SORA_MMA", stand_ins[i], TRUE);
    g_test_message ("%s", stand_ins[i]);
    check_mma_tiles_with (odd_shapes, G_N_ELEMENTS (odd_shapes),
        sora_test_tiles (g_strsplit ("64x64x32x2x2", ",", -1), "16x16x16x1x1",
            "32x48x16x2x1", NULL));
  }
  g_unsetenv ("SORA_MMA");
}

/* AMD's fragments: MFMA's waves of 64, WMMA's of 32. */
static void
test_mma_amd (void)
{
  static const char *const stand_ins[] = { "emulate-mfma", "emulate-wmma",
    NULL };

  check_stand_ins (stand_ins);
}

/* Intel's: cl_intel_subgroup_matrix_multiply_accumulate's sub-groups of 8
 * (its int a operands, two K-consecutive a lane) and of 16 (short a). */
static void
test_mma_intel (void)
{
  static const char *const stand_ins[] = { "emulate-xmx8", "emulate-xmx16",
    NULL };

  check_stand_ins (stand_ins);
}

/* Shapes straddling every tile, K sliced many times. */
static void
test_mma (void)
{
  static const gsize mma_shapes[][3] = {
    { 1, 1, 1 },
    { 5, 7, 3 },
    { 63, 65, 97 },
    { 130, 97, 65 },
    { 37, 70, 1536 },
    { 200, 131, 33 },
  };

  check_mma_tiles (mma_shapes, G_N_ELEMENTS (mma_shapes));
}

/* Small odd shapes only: the ones Oclgrind runs (tests/gpu-proof.sh). */
static void
test_mma_small (void)
{
  static const gsize small[][3] = {
    { 1, 1, 1 },
    { 9, 13, 21 },
    { 37, 70, 35 },
  };

  check_mma_tiles (small, G_N_ELEMENTS (small));
}

/* $SORA_PRECISION: f32 when unset, bf16 and f16 taking every Linear to
 * the matrix units (failing, with the device's name, where there are none),
 * anything else refused by name and with the values it takes ("auto":
 * /gemm/precision-choice). */
static void
test_precision (void)
{
  SoraDevice *dev = sora_test_device ();
  const float w[6] = { 1, 2, 3, 4, 5, 6 };
  GError *error = NULL;
  SoraLinear *l;

  /* A backend and tile given, so that nothing is tuned. */
  g_setenv ("SORA_KERNELS", "gpu", TRUE);
  g_setenv ("SORA_GEMM", "gpu", TRUE);
  g_setenv ("SORA_GEMM_GPU_TILE", "8x12x4x1x3", TRUE);
  l = sora_linear_new (dev, "lin", SORA_DTYPE_F32, 2, 3, w, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (sora_linear_get_backend (l), ==, SORA_GEMM_GPU);
  sora_linear_free (l);
  g_unsetenv ("SORA_GEMM_GPU_TILE");
  g_unsetenv ("SORA_GEMM");
  g_unsetenv ("SORA_KERNELS");

  /* A small tile: nothing to tune. */
  g_setenv ("SORA_GEMM_MMA_TILE", "16x16x16x1x1", TRUE);
  g_setenv ("SORA_PRECISION", "bf16", TRUE);
  l = sora_linear_new (dev, "lin", SORA_DTYPE_F32, 2, 3, w, NULL, &error);
  if (sora_tune_mma_form (dev) == SORA_MMA_NONE) {
    g_assert_null (l);
    g_assert_error (error, SORA_ERROR, SORA_ERROR_DEVICE);
    g_assert_nonnull (strstr (error->message, "linear lin"));
    g_assert_nonnull (
        strstr (error->message, sora_device_get_info (dev)->name));
    g_clear_error (&error);
    g_setenv ("SORA_MMA", "emulate", TRUE);
    l = sora_linear_new (dev, "lin", SORA_DTYPE_F32, 2, 3, w, NULL, &error);
  }
  g_assert_no_error (error);
  g_assert_cmpint (sora_linear_get_backend (l), ==, SORA_GEMM_MMA);
  sora_linear_free (l);

  g_setenv ("SORA_PRECISION", "fp8", TRUE);
  g_assert_null (
      sora_linear_new (dev, "lin", SORA_DTYPE_F32, 2, 3, w, NULL, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "SORA_PRECISION=fp8"));
  g_assert_nonnull (strstr (error->message, "\"auto\""));
  g_clear_error (&error);
  g_unsetenv ("SORA_PRECISION");
  g_unsetenv ("SORA_MMA");
  g_unsetenv ("SORA_GEMM_MMA_TILE");
}

/* A stand-in for an op's precision probe (sora_tune_precision): counts
 * its setups, and its bf16 candidate's check always fails. */
static gpointer
refusing_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  guint *setups = data;

  (*setups)++;
  if (g_strcmp0 (candidate, "bf16") != 0)
    return data;
  g_set_error (error, SORA_ERROR, SORA_ERROR_DEVICE,
      "bf16 check: relative L2 error 0.5 against the f32 path exceeds 0.01");
  return NULL;
}

/* The backend of a 2x3 Linear with $SORA_PRECISION at @precision (NULL:
 * unset), its GPU and matrix-unit tiles given so that nothing is tuned. */
static SoraGemmBackend
backend_with (SoraDevice *dev, const char *precision)
{
  const float w[6] = { 1, 2, 3, 4, 5, 6 };
  GError *error = NULL;
  SoraLinear *l;
  SoraGemmBackend backend;

  if (precision)
    g_setenv ("SORA_PRECISION", precision, TRUE);
  else
    g_unsetenv ("SORA_PRECISION");
  l = sora_linear_new (dev, "lin", SORA_DTYPE_F32, 2, 3, w, NULL, &error);
  g_assert_no_error (error);
  backend = sora_linear_get_backend (l);
  sora_linear_free (l);
  return backend;
}

/* A device whose matrix units (the stand-in, forced) were measured correct
 * and faster ("gemm-precision" = bf16): unset and "f32" keep the Linears
 * on f32, "auto" takes that choice. */
static void
check_measured_bf16 (SoraDevice *dev)
{
  sora_test_tune_as (dev, "gemm-precision", "bf16", sora_tune_valid_precision);
  g_setenv ("SORA_KERNELS", "gpu", TRUE);
  g_setenv ("SORA_GEMM", "gpu", TRUE);
  g_setenv ("SORA_GEMM_GPU_TILE", "8x12x4x1x3", TRUE);
  g_setenv ("SORA_GEMM_MMA_TILE", "16x16x16x1x1", TRUE);
  g_assert_cmpint (backend_with (dev, NULL), ==, SORA_GEMM_GPU);
  g_assert_cmpint (backend_with (dev, "f32"), ==, SORA_GEMM_GPU);
  g_assert_cmpint (backend_with (dev, "auto"), ==, SORA_GEMM_MMA);
  g_unsetenv ("SORA_PRECISION");
  g_unsetenv ("SORA_GEMM_MMA_TILE");
  g_unsetenv ("SORA_GEMM_GPU_TILE");
  g_unsetenv ("SORA_GEMM");
  g_unsetenv ("SORA_KERNELS");
}

/* The matrix units' per-device decision ($SORA_PRECISION=auto): a device
 * without them is never measured and stays f32 ("bf16" is not even a valid
 * choice there); where it has them (here the stand-in, forced), a bf16
 * path whose first-use check fails is not taken, and f32 is stored; one
 * measured bf16 is taken with "auto" alone. */
static void
test_precision_choice (void)
{
  SoraDevice *dev = sora_test_device ();
  SoraTuneSpec spec = { "test-precision", NULL, "none", 1.0,
    sora_tune_valid_precision, sora_test_probe_ready, sora_test_probe_nothing,
    refusing_setup, sora_test_probe_noop, sora_test_probe_nothing };
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("sora-precision-XXXXXX", &error);
  char *old = g_strdup (g_getenv ("SORA_CACHE_DIR"));
  char *path, *stored;
  GKeyFile *kf = g_key_file_new ();
  char **groups;
  guint setups = 0;

  g_assert_no_error (error);
  g_setenv ("SORA_CACHE_DIR", dir, TRUE);
  if (sora_tune_mma_form (dev) == SORA_MMA_NONE) {
    g_assert_cmpint (
        sora_tune_precision (dev, &spec, &setups), ==, SORA_DTYPE_F32);
    g_assert_cmpuint (setups, ==, 0);
    g_assert_false (sora_tune_valid_precision (dev, "bf16"));
    g_setenv ("SORA_MMA", "emulate", TRUE);
  }
  g_assert_true (sora_tune_valid_precision (dev, "bf16"));
  g_assert_false (sora_tune_valid_precision (dev, "fp8"));
  g_assert_cmpint (
      sora_tune_precision (dev, &spec, &setups), ==, SORA_DTYPE_F32);
  g_assert_cmpuint (setups, ==, 2);
  path = g_build_filename (dir, "choices", "tuning.ini", NULL);
  g_assert_true (g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &error));
  g_assert_no_error (error);
  groups = g_key_file_get_groups (kf, NULL);
  g_assert_nonnull (groups[0]);
  stored = g_key_file_get_string (kf, groups[0], "test-precision", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (stored, ==, "f32");
  check_measured_bf16 (dev);

  g_unsetenv ("SORA_MMA");
  if (old)
    g_setenv ("SORA_CACHE_DIR", old, TRUE);
  else
    g_unsetenv ("SORA_CACHE_DIR");
  g_remove (path);
  g_free (path);
  path = g_build_filename (dir, "choices", NULL);
  g_rmdir (path);
  g_rmdir (dir);
  g_free (path);
  g_free (stored);
  g_strfreev (groups);
  g_key_file_free (kf);
  g_free (old);
  g_free (dir);
}

void
test_gemm_gpu_add (void)
{
  g_test_add_func ("/gemm/gpu", test_gpu);
  g_test_add_func ("/gemm/gpu-small", test_gpu_small);
  g_test_add_func ("/gemm/mma", test_mma);
  g_test_add_func ("/gemm/mma-small", test_mma_small);
  g_test_add_func ("/gemm/precision", test_precision);
  g_test_add_func ("/gemm/mma-amd", test_mma_amd);
  g_test_add_func ("/gemm/mma-intel", test_mma_intel);
  g_test_add_func ("/gemm/precision-choice", test_precision_choice);
}
