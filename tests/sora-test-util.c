/* gst-sora tests: shared helpers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "sora-safetensors.h"
#include "sora-test-util.h"
#include "sora-tune.h"

static GRand *rng;
static SoraDevice *device;

static void
free_device (void)
{
  g_clear_pointer (&device, sora_device_free);
  g_clear_pointer (&rng, g_rand_free);
}

void
sora_test_init (int *argc, char ***argv)
{
  const char *env = g_getenv ("SORA_TEST_SEED");
  guint32 seed = env ? (guint32)strtoul (env, NULL, 10) : g_random_int ();

  g_test_init (argc, argv, NULL);
  rng = g_rand_new_with_seed (seed);
  g_test_message ("random inputs from SORA_TEST_SEED=%u", seed);
  atexit (free_device);
}

int
sora_test_run (void)
{
  int status = g_test_run ();

  free_device ();
  return status;
}

SoraDevice *
sora_test_device (void)
{
  GError *error = NULL;

  if (device == NULL) {
    device = sora_device_open (NULL, &error);
    g_assert_no_error (error);
    g_test_message ("device: %s", sora_device_get_info (device)->name);
  }
  return device;
}

void
sora_test_bf16_on (void)
{
  g_setenv ("SORA_PRECISION", "bf16", TRUE);
  if (sora_tune_mma_form (sora_test_device ()) != SORA_MMA_NONE)
    return;
  g_test_message ("no matrix units: the stand-in (SORA_MMA=emulate)");
  g_setenv ("SORA_MMA", "emulate", TRUE);
  g_setenv ("SORA_GEMM_MMA_TILE", "64x64x32x2x2", TRUE);
  g_setenv ("SORA_ATTENTION_MMA_TILE", "64x32", TRUE);
  /* Head dims 16 does not divide (the tiny model's 12) take the GPU form. */
  g_setenv ("SORA_ATTENTION_GPU_TILE", "32x8", TRUE);
}

void
sora_test_bf16_off (void)
{
  g_unsetenv ("SORA_PRECISION");
  g_unsetenv ("SORA_MMA");
  g_unsetenv ("SORA_GEMM_MMA_TILE");
  g_unsetenv ("SORA_ATTENTION_MMA_TILE");
  g_unsetenv ("SORA_ATTENTION_GPU_TILE");
}

guint64
sora_test_bytes_held (SoraDevice *dev)
{
  return sora_device_bytes_current (dev) - sora_device_scratch_bytes (dev);
}

char **
sora_test_tiles (char **candidates, ...)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  const char *odd;
  char **tiles;
  va_list ap;

  g_strv_builder_addv (builder, (const char **)candidates);
  va_start (ap, candidates);
  while ((odd = va_arg (ap, const char *)))
    g_strv_builder_add (builder, odd);
  va_end (ap);
  tiles = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  g_strfreev (candidates);
  return tiles;
}

float *
sora_test_random (gsize n, float lo, float hi)
{
  float *v = g_new (float, n);

  for (gsize i = 0; i < n; i++)
    v[i] = (float)g_rand_double_range (rng, lo, hi);
  return v;
}

double
sora_test_rel_l2 (const float *got, const double *want, gsize n)
{
  double num = 0, den = 0;

  for (gsize i = 0; i < n; i++) {
    double d = (double)got[i] - want[i];
    if (isnan (got[i]))
      return INFINITY;
    num += d * d;
    den += want[i] * want[i];
  }
  return sqrt (num) / MAX (sqrt (den), 1e-30);
}

void
sora_test_assert_close (const float *got, const double *want, gsize n,
    double tol, const char *what, const char *loc)
{
  double err = sora_test_rel_l2 (got, want, n);

  g_test_message (
      "%s: relative L2 error %.3g (tolerance %.1g)", what, err, tol);
  if (!(err <= tol)) {
    char *msg = g_strdup_printf (
        "%s: relative L2 error %.3g exceeds %.1g", what, err, tol);
    g_assertion_message (G_LOG_DOMAIN, loc, 0, G_STRFUNC, msg);
    g_free (msg);
  }
}

void
sora_test_assert_close_to_scale (const float *got, const double *want,
    const double *scale, gsize n, double tol, const char *what, const char *loc)
{
  double num = 0, den = 0, err;

  for (gsize i = 0; i < n; i++) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += scale[i] * scale[i];
  }
  err = isnan (num) ? INFINITY : sqrt (num) / MAX (sqrt (den), 1e-30);
  g_test_message ("%s: L2 error %.3g of the terms' magnitude (tolerance %.1g)",
      what, err, tol);
  if (!(err <= tol)) {
    char *msg = g_strdup_printf (
        "%s: L2 error %.3g of the terms' magnitude exceeds %.1g", what, err,
        tol);
    g_assertion_message (G_LOG_DOMAIN, loc, 0, G_STRFUNC, msg);
    g_free (msg);
  }
}

SoraTensor *
sora_test_upload (const char *name, SoraDType dtype, const float *host,
    guint ndim, const gsize *shape)
{
  GError *error = NULL;
  SoraTensor *t =
      sora_tensor_new (sora_test_device (), name, dtype, ndim, shape, &error);

  g_assert_no_error (error);
  sora_tensor_write_f32 (t, host, &error);
  g_assert_no_error (error);
  return t;
}

float *
sora_test_download (SoraTensor *t)
{
  GError *error = NULL;
  float *host = g_new (float, t->numel);

  sora_tensor_read_f32 (t, host, &error);
  g_assert_no_error (error);
  return host;
}

void
sora_test_round_to_dtype (float *v, gsize n, SoraDType dtype)
{
  for (gsize i = 0; i < n; i++) {
    if (dtype == SORA_DTYPE_F16)
      v[i] = sora_f16_to_f32 (sora_f32_to_f16 (v[i]));
    else if (dtype == SORA_DTYPE_BF16)
      v[i] = sora_bf16_to_f32 (sora_f32_to_bf16 (v[i]));
  }
}

char *
sora_test_fixture (const char *name)
{
  const char *dir = g_getenv ("SORA_FIXTURES");

  g_assert_nonnull (dir);
  return g_build_filename (dir, name, NULL);
}

float *
sora_test_reference_f32 (const char *file, const char *tensor, gsize *numel)
{
  GError *error = NULL;
  char *rel = g_build_filename ("reference", file, NULL);
  char *path = sora_test_fixture (rel);
  SoraSafetensors *st = sora_safetensors_open (path, &error);
  const SoraSafetensor *t;
  float *out;

  g_assert_no_error (error);
  t = sora_safetensors_find (st, tensor);
  if (t == NULL)
    g_error ("%s has no tensor %s", path, tensor);
  g_assert_cmpint (t->dtype, ==, SORA_SAFE_F32);
  out = g_new (float, MAX (t->numel, 1));
  memcpy (out, t->data, t->nbytes);
  *numel = t->numel;
  sora_safetensors_free (st);
  g_free (path);
  g_free (rel);
  return out;
}

double *
sora_test_reference (const char *file, const char *tensor, gsize *numel)
{
  float *f = sora_test_reference_f32 (file, tensor, numel);
  double *d = g_new (double, MAX (*numel, 1));

  for (gsize i = 0; i < *numel; i++)
    d[i] = f[i];
  g_free (f);
  return d;
}

SoraTensor *
sora_test_new_f32 (const char *name, guint ndim, const gsize *shape)
{
  GError *error = NULL;
  SoraTensor *t = sora_tensor_new (
      sora_test_device (), name, SORA_DTYPE_F32, ndim, shape, &error);

  g_assert_no_error (error);
  return t;
}

void
sora_test_assert_error_names (GError **error, const char *what)
{
  g_assert_error (*error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  if (strstr ((*error)->message, what) == NULL)
    g_error ("\"%s\" does not name \"%s\"", (*error)->message, what);
  g_clear_error (error);
}

gboolean
sora_test_remove_tree (const char *path)
{
  gboolean ok = TRUE;

  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name (d))) {
      g_autofree char *p = g_build_filename (path, name, NULL);

      ok = sora_test_remove_tree (p) && ok;
    }
  }
  return g_remove (path) == 0 && ok;
}

char *
sora_test_folder_with_config (const char *base, const char *members)
{
  static const char *const links[] = { "model_index.json", "scheduler",
    "text_encoder", "tokenizer", "vae",
    "transformer/diffusion_pytorch_model.safetensors" };
  g_autofree char *dir = g_dir_make_tmp ("sora-config-XXXXXX", NULL);
  g_autofree char *tdir = g_build_filename (dir, "transformer", NULL);
  g_autofree char *cfg_path =
      g_build_filename (base, "transformer", "config.json", NULL);
  g_autofree char *json = NULL;
  g_autofree char *out = g_build_filename (tdir, "config.json", NULL);
  char *end;

  g_assert_nonnull (dir);
  g_assert_cmpint (g_mkdir (tdir, 0755), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (links); i++) {
    g_autofree char *from = g_build_filename (base, links[i], NULL);
    g_autofree char *to = g_build_filename (dir, links[i], NULL);

    g_assert_cmpint (symlink (from, to), ==, 0);
  }
  g_assert_true (g_file_get_contents (cfg_path, &json, NULL, NULL));
  end = strrchr (json, '}');
  g_assert_nonnull (end);
  *end = '\0';
  {
    g_autofree char *text = g_strdup_printf ("%s, %s}", json, members);
    g_assert_true (g_file_set_contents (out, text, -1, NULL));
  }
  return g_steal_pointer (&dir);
}

void
sora_test_remove_config_folder (const char *dir)
{
  static const char *const files[] = { "model_index.json", "scheduler",
    "text_encoder", "tokenizer", "vae",
    "transformer/diffusion_pytorch_model.safetensors",
    "transformer/config.json", "transformer" };

  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree char *p = g_build_filename (dir, files[i], NULL);

    g_assert_cmpint (g_remove (p), ==, 0);
  }
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

gboolean
sora_test_probe_ready (SoraDevice *dev, gpointer data)
{
  return TRUE;
}

gboolean
sora_test_probe_noop (gpointer run, GError **error)
{
  return TRUE;
}

void
sora_test_probe_nothing (gpointer data)
{
}

/* Any non-NULL run: the one candidate always sets up. */
static gpointer
probe_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  return dev;
}

void
sora_test_tune_as (SoraDevice *dev, const char *name, const char *value,
    gboolean (*valid) (SoraDevice *dev, const char *value))
{
  const char *const candidates[] = { value, NULL };
  SoraTuneSpec spec = { name, NULL, "none", 1.0, valid, sora_test_probe_ready,
    sora_test_probe_nothing, probe_setup, sora_test_probe_noop,
    sora_test_probe_nothing };
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("sora-tune-as-XXXXXX", &error);
  char *old = g_strdup (g_getenv ("SORA_CACHE_DIR"));
  char *chosen;

  g_assert_no_error (error);
  g_setenv ("SORA_CACHE_DIR", dir, TRUE);
  chosen = sora_tune_choose (dev, &spec, candidates, NULL);
  g_assert_cmpstr (chosen, ==, value);
  if (old)
    g_setenv ("SORA_CACHE_DIR", old, TRUE);
  else
    g_unsetenv ("SORA_CACHE_DIR");
  g_assert_true (sora_test_remove_tree (dir));
  g_free (chosen);
  g_free (old);
  g_free (dir);
}
