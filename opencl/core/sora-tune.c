/* gst-sora engine: kernel parameters chosen per device by timing
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sora-tune.h"

/* Timed runs per candidate after the untimed one, interleaved across the
 * candidates so that a change in a shared machine's load falls on all:
 * at least MIN_ROUNDS, and more, up to MAX_ROUNDS, while a candidate's runs
 * took under BUDGET_S in all.  The best run counts.  On 2 busy cores, 3
 * runs of 20 ms picked GEMM tiles for f16 and bf16 that were 7-13% slower
 * than the best; up to 7 picked the best for all three dtypes. */
#define MIN_ROUNDS 2
#define MAX_ROUNDS 7
#define BUDGET_S 0.2

/* Held while measuring, so that concurrent first uses measure once;
 * recursive, as one parameter's probe may need another's (the GEMM
 * backend probe runs the tiled kernel with its tuned tile). */
static GRecMutex lock;
static GHashTable *chosen; /* "device key\nname" -> value */

/* "platform | device | driver", usable as a GKeyFile group name.  PoCL
 * names its CPU devices after the LLVM target ("pthread-skylake-avx512-
 * ..."), so hosts with other vector units get other keys. */
static char *
device_key (const SoraDeviceInfo *info)
{
  char *key = g_strdup_printf (
      "%s | %s | %s", info->platform_name, info->name, info->driver_version);

  g_strdelimit (key, "[]\n\r", '_');
  return key;
}

static char *
tuning_path (void)
{
  char *dir = sora_device_cache_dir ("choices");
  char *path = g_build_filename (dir, "tuning.ini", NULL);

  g_free (dir);
  return path;
}

/* The stored choices; an unreadable file is left empty (the next store
 * replaces it), and reported when @warn. */
static GKeyFile *
load_choices (gboolean warn)
{
  GKeyFile *kf = g_key_file_new ();
  char *path = tuning_path ();
  GError *error = NULL;

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &error)) {
    if (warn && !g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      g_warning (
          "tuning: ignoring %s (%s); measuring again", path, error->message);
    g_error_free (error);
    g_key_file_free (kf);
    kf = g_key_file_new ();
  }
  g_free (path);
  return kf;
}

/* Reads the file again just before writing, to keep what other processes
 * stored meanwhile (an unreadable file was reported when read first). */
static void
store_choice (const char *key, const SoraTuneSpec *spec, const char *value,
    const char *measured)
{
  GKeyFile *kf = load_choices (FALSE);
  char *path = tuning_path ();
  char *name = g_strdup_printf ("%s-gflops", spec->name);
  GError *error = NULL;

  g_key_file_set_string (kf, key, spec->name, value);
  g_key_file_set_string (kf, key, name, measured);
  g_free (name);
  name = g_strdup_printf ("%s-probe", spec->name);
  g_key_file_set_string (kf, key, name, spec->probe);
  if (!g_key_file_save_to_file (kf, path, &error)) {
    g_warning (
        "tuning: cannot store %s in %s: %s", spec->name, path, error->message);
    g_error_free (error);
  }
  g_free (name);
  g_free (path);
  g_key_file_free (kf);
}

/* Best seconds of one run per candidate into @best (negative where it
 * cannot run); returns the index of the fastest, or -1 when none runs. */
static int
measure (SoraDevice *dev, const SoraTuneSpec *spec,
    const char *const *candidates, gpointer data, double *best)
{
  guint n = g_strv_length ((char **)candidates);
  gpointer *probes = g_new0 (gpointer, n);
  double *spent = g_new0 (double, n);
  GError *error = NULL;
  int fastest = -1;

  for (guint c = 0; c < n; c++) {
    best[c] = -1;
    probes[c] = spec->setup (dev, candidates[c], data, &error);
    if (probes[c] && !spec->run (probes[c], &error))
      g_clear_pointer (&probes[c], spec->free);
    if (probes[c] == NULL) {
      g_info ("tuning %s: %s cannot run: %s", spec->name, candidates[c],
          error->message);
      g_clear_error (&error);
    } else {
      best[c] = G_MAXDOUBLE;
    }
  }
  for (int round = 0; round < MAX_ROUNDS; round++)
    for (guint c = 0; c < n; c++) {
      gint64 t0 = g_get_monotonic_time ();
      double s;

      if (probes[c] == NULL || (round >= MIN_ROUNDS && spent[c] >= BUDGET_S))
        continue;
      if (!spec->run (probes[c], &error)) {
        g_info ("tuning %s: %s failed: %s", spec->name, candidates[c],
            error->message);
        g_clear_error (&error);
        g_clear_pointer (&probes[c], spec->free);
        best[c] = -1;
        continue;
      }
      s = (g_get_monotonic_time () - t0) / 1e6;
      best[c] = MIN (best[c], s);
      spent[c] += s;
    }
  for (guint c = 0; c < n; c++) {
    if (probes[c] && (fastest < 0 || best[c] < best[fastest]))
      fastest = c;
    g_clear_pointer (&probes[c], spec->free);
  }
  g_free (probes);
  g_free (spent);
  return fastest;
}

/* Times the candidates and stores the winner; the first candidate when
 * none runs (its own error will show on use), then not stored. */
static char *
tune (SoraDevice *dev, const char *key, const SoraTuneSpec *spec,
    const char *const *candidates, gpointer data)
{
  guint n = g_strv_length ((char **)candidates);
  double *best = g_new (double, n);
  GString *measured = g_string_new (NULL);
  int fastest = -1;
  char *value;
  GCancellable *cancellable;

  for (guint c = 0; c < n; c++)
    best[c] = -1;
  /* A stop waits for the tuning: a candidate cut short would lose to the
   * others and the wrong one be stored. */
  cancellable = sora_device_set_cancellable (dev, NULL);
  if (spec->init (dev, data))
    fastest = measure (dev, spec, candidates, data, best);
  spec->clear (data);
  sora_device_set_cancellable (dev, cancellable);

  for (guint c = 0; c < n; c++)
    g_string_append_printf (measured, "%s%s:%.1f", c ? " " : "", candidates[c],
        best[c] > 0 ? spec->flops / best[c] / 1e9 : 0);
  g_info ("tuning %s on %s (GFLOP/s on %s): %s", spec->name, key, spec->probe,
      measured->str);
  if (fastest < 0) {
    g_warning ("tuning %s: no candidate ran on %s; using %s", spec->name, key,
        candidates[0]);
    value = g_strdup (candidates[0]);
  } else {
    value = g_strdup (candidates[fastest]);
    store_choice (key, spec, value, measured->str);
  }
  g_string_free (measured, TRUE);
  g_free (best);
  return value;
}

/* The stored value, or NULL (with a warning when it is invalid). */
static char *
stored_choice (SoraDevice *dev, const char *key, const SoraTuneSpec *spec)
{
  GKeyFile *kf = load_choices (TRUE);
  char *value = g_key_file_get_string (kf, key, spec->name, NULL);

  if (value && !spec->valid (dev, value)) {
    g_warning ("tuning: stored %s=%s is invalid for %s; measuring again",
        spec->name, value, key);
    g_clear_pointer (&value, g_free);
  }
  g_key_file_free (kf);
  return value;
}

char *
sora_tune_choose (SoraDevice *dev, const SoraTuneSpec *spec,
    const char *const *candidates, gpointer data)
{
  const char *env = spec->env ? g_getenv (spec->env) : NULL;
  char *key, *entry, *value;

  if (env != NULL && *env != '\0') {
    if (spec->valid (dev, env))
      return g_strdup (env);
    g_warning (
        "%s=%s is not a valid %s here; ignored", spec->env, env, spec->name);
  }

  key = device_key (sora_device_get_info (dev));
  entry = g_strdup_printf ("%s\n%s", key, spec->name);
  g_rec_mutex_lock (&lock);
  if (chosen == NULL)
    chosen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  value = g_strdup (g_hash_table_lookup (chosen, entry));
  if (value == NULL) {
    value = stored_choice (dev, key, spec);
    if (value == NULL)
      value = tune (dev, key, spec, candidates, data);
    g_hash_table_insert (chosen, g_strdup (entry), g_strdup (value));
  }
  g_rec_mutex_unlock (&lock);
  g_free (entry);
  g_free (key);
  return value;
}

gboolean
sora_tune_gpu_kernels (SoraDevice *dev)
{
  const char *env = g_getenv ("SORA_KERNELS");

  if (g_strcmp0 (env, "gpu") == 0)
    return TRUE;
  if (g_strcmp0 (env, "cpu") == 0)
    return FALSE;
  if (env != NULL && *env != '\0')
    g_warning ("SORA_KERNELS=%s is neither \"gpu\" nor \"cpu\"; ignored", env);
  return sora_device_get_info (dev)->is_gpu;
}

int
sora_tune_vector_width (SoraDevice *dev)
{
  guint width = sora_device_get_info (dev)->preferred_float_width;

  return width >= 16 ? 16 : width >= 8 ? 8 : 4;
}

guint
sora_tune_register_tiles (
    SoraDevice *dev, SoraRegTile tiles[SORA_MAX_REG_TILES])
{
  static const int rows[] = { 4, 6, 8, 12 };
  int vw = sora_tune_vector_width (dev);
  int regs = vw >= 16 ? 32 : 16;
  guint n = 0;

  for (guint r = 0; r < G_N_ELEMENTS (rows); r++)
    for (int nv = 1; nv <= 4; nv++) {
      int acc = rows[r] * nv;

      if (acc + nv + 1 <= regs && 4 * acc >= 3 * regs && n < SORA_MAX_REG_TILES)
        tiles[n++] = (SoraRegTile){ rows[r], nv, vw };
    }
  return n;
}

gboolean
sora_tune_parse_tile (SoraDevice *dev, const char *s, SoraTile *tile)
{
  *tile = (SoraTile){ 0, 0, sora_tune_vector_width (dev) };
  return s[strspn (s, "0123456789x")] == '\0' &&
      sscanf (s, "%dx%dx%d", &tile->m, &tile->n, &tile->vw) >= 2 &&
      tile->m > 0 && tile->m <= 16 &&
      (tile->vw == 4 || tile->vw == 8 || tile->vw == 16) && tile->n > 0 &&
      tile->n % tile->vw == 0 && tile->n / tile->vw <= 8;
}

gboolean
sora_tune_valid_tile (SoraDevice *dev, const char *value)
{
  SoraTile tile;

  return sora_tune_parse_tile (dev, value, &tile);
}

char **
sora_tune_tile_candidates (SoraDevice *dev)
{
  SoraRegTile reg[SORA_MAX_REG_TILES];
  guint n = sora_tune_register_tiles (dev, reg);
  char **candidates = g_new0 (char *, n + 1);

  for (guint i = 0; i < n; i++)
    candidates[i] = g_strdup_printf (
        "%dx%dx%d", reg[i].m, reg[i].nv * reg[i].vw, reg[i].vw);
  return candidates;
}

/* 256 work-items each (a multiple of every GPU's SIMD width), 8 to 64
 * accumulators, 6 to 17 KiB of local memory. */
static const char *const gpu_tiles[] = { "64x64x16x4x4", "128x64x16x8x4",
  "128x128x16x8x8", "32x64x16x2x4", NULL };

/* Local memory a GPU tile stages (gemm-gpu.cl: the K slices of X and W,
 * a padding word per row). */
#define GPU_TILE_LOCAL(t) ((gsize)(t).wk * ((t).wm + (t).wn + 2) * 4)

gboolean
sora_tune_parse_gpu_tile (const char *s, SoraGpuTile *t)
{
  *t = (SoraGpuTile){ 0 };
  return s[strspn (s, "0123456789x")] == '\0' &&
      sscanf (s, "%dx%dx%dx%dx%d", &t->wm, &t->wn, &t->wk, &t->rm, &t->rn) ==
      5 &&
      t->wm > 0 && t->wn > 0 && t->wk > 0 && t->rm > 0 && t->rn > 0 &&
      t->wk % 4 == 0 && t->wm % t->rm == 0 && t->wn % t->rn == 0 &&
      t->rm * t->rn <= 64 && GPU_TILE_LOCAL (*t) <= SORA_GPU_LOCAL_BUDGET;
}

gsize
sora_tune_gpu_tile_threads (SoraGpuTile t)
{
  return (gsize)(t.wm / t.rm) * (t.wn / t.rn);
}

gboolean
sora_tune_valid_gpu_tile (SoraDevice *dev, const char *value)
{
  SoraGpuTile t;

  return sora_tune_parse_gpu_tile (value, &t) &&
      sora_tune_gpu_tile_threads (t) <=
      sora_device_get_info (dev)->max_work_group;
}

char *
sora_tune_gpu_tile_options (SoraGpuTile t)
{
  return g_strdup_printf ("-DWG_M=%d -DWG_N=%d -DWG_K=%d -DRM=%d -DRN=%d", t.wm,
      t.wn, t.wk, t.rm, t.rn);
}

char **
sora_tune_gpu_tile_candidates (void)
{
  return g_strdupv ((char **)gpu_tiles);
}

/* 4 or 8 warps, 32 to 64 accumulators a work-item, 10 to 20 KiB staged. */
static const char *const mma_tiles[] = { "128x128x32x2x4", "128x64x32x2x2",
  "64x64x32x2x2", "128x128x32x4x2", NULL };

/* Local memory a matrix-unit tile stages: X's and W's slices as 16-bit
 * operands, rows padded by 8. */
#define MMA_TILE_LOCAL(t) ((gsize)((t).wm + (t).wn) * ((t).wk + 8) * 2)

gboolean
sora_tune_parse_mma_tile (const char *s, SoraMmaTile *t)
{
  *t = (SoraMmaTile){ 0 };
  return s[strspn (s, "0123456789x")] == '\0' &&
      sscanf (s, "%dx%dx%dx%dx%d", &t->wm, &t->wn, &t->wk, &t->warps_m,
          &t->warps_n) == 5 &&
      t->wm > 0 && t->wn > 0 && t->wk > 0 && t->warps_m > 0 && t->warps_n > 0 &&
      t->warps_m * t->warps_n <= 32 && t->wk % 16 == 0 &&
      t->wm % (16 * t->warps_m) == 0 && t->wn % (16 * t->warps_n) == 0 &&
      (t->wm / t->warps_m) * (t->wn / t->warps_n) / 32 <= 128 &&
      MMA_TILE_LOCAL (*t) <= SORA_GPU_LOCAL_BUDGET;
}

gsize
sora_tune_mma_wave (SoraMmaForm form)
{
  switch (form) {
    case SORA_MMA_MFMA:
    case SORA_MMA_EMULATE_MFMA:
      return 64;
    case SORA_MMA_XMX8:
    case SORA_MMA_EMULATE_XMX8:
      return 8;
    case SORA_MMA_XMX16:
    case SORA_MMA_EMULATE_XMX16:
      return 16;
    default:
      return 32;
  }
}

gsize
sora_tune_mma_tile_threads (SoraMmaTile t, SoraMmaForm form)
{
  return sora_tune_mma_wave (form) * t.warps_m * t.warps_n;
}

gboolean
sora_tune_mma_tile_fits (SoraMmaTile t, SoraMmaForm form)
{
  return (gsize)(t.wm / t.warps_m) * (t.wn / t.warps_n) /
      sora_tune_mma_wave (form) <=
      128;
}

gboolean
sora_tune_valid_mma_tile (SoraDevice *dev, const char *value)
{
  SoraMmaForm form = sora_tune_mma_form (dev);
  SoraMmaTile t;

  return sora_tune_parse_mma_tile (value, &t) &&
      sora_tune_mma_tile_fits (t, form) &&
      sora_tune_mma_tile_threads (t, form) <=
      sora_device_get_info (dev)->max_work_group;
}

char *
sora_tune_mma_tile_options (SoraMmaTile t)
{
  return g_strdup_printf ("-DWG_M=%d -DWG_N=%d -DWG_K=%d -DWARPS_M=%d "
                          "-DWARPS_N=%d",
      t.wm, t.wn, t.wk, t.warps_m, t.warps_n);
}

char **
sora_tune_mma_tile_candidates (void)
{
  return g_strdupv ((char **)mma_tiles);
}

/* cl_nv_device_attribute_query's CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV. */
#define COMPUTE_CAPABILITY_MAJOR_NV 0x4000
#define VENDOR_ID_NVIDIA 0x10de

/* Whether @id's CL_DEVICE_EXTENSIONS names each of @names (NULL-ended)
 * as a whole word. */
static gboolean
has_extensions (cl_device_id id, const char *const *names)
{
  gsize size = 0;
  char *extensions;
  char **words;
  gboolean all = TRUE;

  if (clGetDeviceInfo (id, CL_DEVICE_EXTENSIONS, 0, NULL, &size) !=
          CL_SUCCESS ||
      size == 0)
    return FALSE;
  extensions = g_malloc0 (size + 1);
  if (clGetDeviceInfo (id, CL_DEVICE_EXTENSIONS, size, extensions, NULL) !=
      CL_SUCCESS)
    extensions[0] = '\0';
  words = g_strsplit (extensions, " ", -1);
  for (guint i = 0; names[i]; i++)
    all = all && g_strv_contains ((const char *const *)words, names[i]);
  g_strfreev (words);
  g_free (extensions);
  return all;
}

static gboolean
has_nv_matrix_units (cl_device_id id)
{
  static const char *const needed[] = { "cl_nv_device_attribute_query", NULL };
  cl_uint vendor = 0, major = 0;

  return clGetDeviceInfo (id, CL_DEVICE_VENDOR_ID, sizeof (vendor), &vendor,
             NULL) == CL_SUCCESS &&
      vendor == VENDOR_ID_NVIDIA && has_extensions (id, needed) &&
      clGetDeviceInfo (id, COMPUTE_CAPABILITY_MAJOR_NV, sizeof (major), &major,
          NULL) == CL_SUCCESS &&
      major >= 8;
}

#define VENDOR_ID_AMD 0x1002

/* AMD's matrix instructions by the device's name (its gfx target). */
static SoraMmaForm
amd_matrix_units (SoraDevice *dev)
{
  const char *name = sora_device_get_info (dev)->name;
  cl_uint vendor = 0;

  if (clGetDeviceInfo (sora_device_get_id (dev), CL_DEVICE_VENDOR_ID,
          sizeof (vendor), &vendor, NULL) != CL_SUCCESS ||
      vendor != VENDOR_ID_AMD)
    return SORA_MMA_NONE;
  if (g_str_has_prefix (name, "gfx90a") || g_str_has_prefix (name, "gfx94"))
    return SORA_MMA_MFMA;
  return g_str_has_prefix (name, "gfx11") ? SORA_MMA_WMMA : SORA_MMA_NONE;
}

/* cl_intel_required_subgroup_size's CL_DEVICE_SUB_GROUP_SIZES_INTEL. */
#define SUB_GROUP_SIZES_INTEL 0x4108

/* Intel's matrix builtins, whose sub-group must be the device's smallest
 * (the extension: 8 on some devices, 16 on others). */
static SoraMmaForm
intel_matrix_units (cl_device_id id)
{
  static const char *const needed[] = {
    "cl_intel_subgroup_matrix_multiply_accumulate",
    "cl_intel_required_subgroup_size", NULL
  };
  gsize sizes[16], size = 0, smallest = 0;

  if (!has_extensions (id, needed) ||
      clGetDeviceInfo (id, SUB_GROUP_SIZES_INTEL, sizeof (sizes), sizes,
          &size) != CL_SUCCESS)
    return SORA_MMA_NONE;
  for (guint i = 0; i < size / sizeof (gsize); i++)
    if (smallest == 0 || sizes[i] < smallest)
      smallest = sizes[i];
  return smallest == 8 ? SORA_MMA_XMX8
      : smallest == 16 ? SORA_MMA_XMX16
                       : SORA_MMA_NONE;
}

SoraMmaForm
sora_tune_mma_form (SoraDevice *dev)
{
  static const struct
  {
    const char *name;
    SoraMmaForm form;
  } stand_ins[] = { { "emulate", SORA_MMA_EMULATE },
    { "emulate-mfma", SORA_MMA_EMULATE_MFMA },
    { "emulate-wmma", SORA_MMA_EMULATE_WMMA },
    { "emulate-xmx8", SORA_MMA_EMULATE_XMX8 },
    { "emulate-xmx16", SORA_MMA_EMULATE_XMX16 } };
  const char *env = g_getenv ("SORA_MMA");
  SoraMmaForm form;

  for (guint i = 0; env && i < G_N_ELEMENTS (stand_ins); i++)
    if (strcmp (env, stand_ins[i].name) == 0)
      return stand_ins[i].form;
  if (env != NULL && *env != '\0')
    g_warning ("SORA_MMA=%s is not \"emulate\", \"emulate-mfma\", "
               "\"emulate-wmma\", \"emulate-xmx8\" or \"emulate-xmx16\"; "
               "ignored",
        env);
  if (has_nv_matrix_units (sora_device_get_id (dev)))
    return SORA_MMA_PTX;
  form = amd_matrix_units (dev);
  return form != SORA_MMA_NONE ? form
                               : intel_matrix_units (sora_device_get_id (dev));
}

gboolean
sora_tune_mma_native (SoraMmaForm form)
{
  return form == SORA_MMA_PTX || form == SORA_MMA_MFMA ||
      form == SORA_MMA_WMMA || form == SORA_MMA_XMX8 || form == SORA_MMA_XMX16;
}

gboolean
sora_tune_mma_ptx_layout (SoraMmaForm form)
{
  return form == SORA_MMA_PTX || form == SORA_MMA_EMULATE;
}

gboolean
sora_tune_requested_precision (
    SoraDType *op_dtype, gboolean *measure, GError **error)
{
  const char *env = g_getenv ("SORA_PRECISION");

  *op_dtype = SORA_DTYPE_F32;
  *measure = g_strcmp0 (env, "auto") == 0;
  if (env == NULL || *env == '\0' || *measure || g_strcmp0 (env, "f32") == 0)
    return TRUE;
  if (g_strcmp0 (env, "bf16") == 0 || g_strcmp0 (env, "f16") == 0) {
    *op_dtype = g_strcmp0 (env, "bf16") == 0 ? SORA_DTYPE_BF16 : SORA_DTYPE_F16;
    return TRUE;
  }
  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "SORA_PRECISION=%s: it must be \"f32\", \"auto\", \"bf16\" or "
      "\"f16\"",
      env);
  return FALSE;
}

gboolean
sora_tune_check_close (
    SoraTensor *got, SoraTensor *want, const char *what, GError **error)
{
  float *a = g_new (float, got->numel), *b = g_new (float, want->numel);
  double num = 0, den = 0, err = INFINITY;
  gboolean ok;

  if (got->numel == want->numel && sora_tensor_read_f32 (got, a, error) &&
      sora_tensor_read_f32 (want, b, error)) {
    for (gsize i = 0; i < got->numel; i++) {
      num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
      den += (double)b[i] * b[i];
    }
    /* A NaN fails the comparison below. */
    err = sqrt (num) / MAX (sqrt (den), 1e-30);
  }
  ok = err <= SORA_MMA_CHECK_TOL;
  g_info ("%s: relative L2 %.3g against the f32 path (bound %g)", what, err,
      SORA_MMA_CHECK_TOL);
  if (!ok && (error == NULL || *error == NULL))
    g_set_error (error, SORA_ERROR, SORA_ERROR_DEVICE,
        "%s: relative L2 error %.3g against the f32 path exceeds %g", what, err,
        SORA_MMA_CHECK_TOL);
  g_free (a);
  g_free (b);
  return ok;
}

gboolean
sora_tune_valid_precision (SoraDevice *dev, const char *value)
{
  return g_strcmp0 (value, "f32") == 0 ||
      (g_strcmp0 (value, "bf16") == 0 &&
          sora_tune_mma_form (dev) != SORA_MMA_NONE);
}

SoraDType
sora_tune_precision (SoraDevice *dev, const SoraTuneSpec *spec, gpointer data)
{
  static const char *const candidates[] = { "f32", "bf16", NULL };
  char *value;
  SoraDType op_dtype;

  if (sora_tune_mma_form (dev) == SORA_MMA_NONE)
    return SORA_DTYPE_F32;
  value = sora_tune_choose (dev, spec, candidates, data);
  op_dtype = g_strcmp0 (value, "bf16") == 0 ? SORA_DTYPE_BF16 : SORA_DTYPE_F32;
  g_free (value);
  return op_dtype;
}

char *
sora_tune_mma_options (SoraDType op_dtype, SoraMmaForm form)
{
  static const char *const forms[] = {
    [SORA_MMA_NONE] = "",
    [SORA_MMA_PTX] = "-DMMA_PTX",
    [SORA_MMA_EMULATE] = "-DMMA_EMULATE",
    [SORA_MMA_MFMA] = "-DMMA_MFMA",
    [SORA_MMA_WMMA] = "-DMMA_WMMA",
    [SORA_MMA_XMX8] = "-DMMA_XMX -DMMA_SG=8",
    [SORA_MMA_XMX16] = "-DMMA_XMX -DMMA_SG=16",
    [SORA_MMA_EMULATE_MFMA] = "-DMMA_MFMA -DMMA_EMULATE",
    [SORA_MMA_EMULATE_WMMA] = "-DMMA_WMMA -DMMA_EMULATE",
    [SORA_MMA_EMULATE_XMX8] = "-DMMA_XMX -DMMA_SG=8 -DMMA_EMULATE",
    [SORA_MMA_EMULATE_XMX16] = "-DMMA_XMX -DMMA_SG=16 -DMMA_EMULATE",
  };

  return g_strdup_printf ("-DMMA -DMMA_%s %s",
      op_dtype == SORA_DTYPE_BF16 ? "BF16" : "F16", forms[form]);
}

char *
sora_tune_report (const SoraDeviceInfo *info)
{
  GKeyFile *kf = load_choices (TRUE);
  char *key = device_key (info);
  char **names = g_key_file_get_keys (kf, key, NULL, NULL);
  GString *report = g_string_new (NULL);

  for (guint i = 0; names && names[i]; i++) {
    char *value = g_key_file_get_string (kf, key, names[i], NULL);

    g_string_append_printf (report, "%s = %s\n", names[i], value);
    g_free (value);
  }
  g_strfreev (names);
  g_free (key);
  g_key_file_free (kf);
  return g_string_free (report, report->len == 0);
}
