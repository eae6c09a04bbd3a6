/* sora-tool bench: op timings on the selected device, next to OpenBLAS
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dlfcn.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "sora-ops.h"
#include "sora-recipe.h"
#include "sora-safetensors.h"
#include "sora-tool.h"
#include "sora-tune.h"
#include "sora-umt5.h"
#include "sora-wan-dit.h"
#include "sora-wan-vae.h"

/* One timed run, complete when it returns (device work finished). */
typedef gboolean (*BenchFn) (gpointer data, GError **error);

typedef struct
{
  SoraDevice *dev;
  gboolean quick;
  JsonBuilder *json; /* the "rows" array, or NULL */
  GRand *rng;
  const char *fixtures; /* tests/fixtures, for the model benches */
  const char *python; /* runs tools/bench_reference.py */
} Bench;

/* cblas_sgemm, when OpenBLAS could be loaded. */
typedef void (*SgemmFn) (int order, int trans_a, int trans_b, int m, int n,
    int k, float alpha, const float *a, int lda, const float *b, int ldb,
    float beta, float *c, int ldc);
static SgemmFn openblas_sgemm;

enum {
  CBLAS_ROW_MAJOR = 101,
  CBLAS_NO_TRANS = 111,
  CBLAS_TRANS = 112,
};

/* What the reference column runs, for the table and the JSON. */
static char *openblas_name;

/* OpenBLAS reads OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE when it loads.  The
 * values this environment sets halve its speed, and left to itself
 * OpenBLAS 0.3.21 does not know newer CPUs: on an AVX-512 Xeon (family 6,
 * model 207) it ran its Prescott kernels at 64 GFLOP/s instead of SkylakeX's
 * 302.  So the reference gets the widest kernel family the CPU has. */
static void
load_openblas (void)
{
  const char *(*corename) (void);
  void *lib;

  g_unsetenv ("OPENBLAS_L2_SIZE");
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx512f"))
    g_setenv ("OPENBLAS_CORETYPE", "SkylakeX", TRUE);
  else if (__builtin_cpu_supports ("avx2"))
    g_setenv ("OPENBLAS_CORETYPE", "Haswell", TRUE);
  else
    g_unsetenv ("OPENBLAS_CORETYPE");
  lib = dlopen ("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    printf ("OpenBLAS: not loaded (%s); no reference column\n", dlerror ());
    return;
  }
  openblas_sgemm = (SgemmFn)dlsym (lib, "cblas_sgemm");
  corename = (const char *(*)(void))dlsym (lib, "openblas_get_corename");
  openblas_name = g_strdup_printf (
      "OpenBLAS, %s kernels", corename ? corename () : "unknown");
  printf ("%s%s\n", openblas_name,
      openblas_sgemm ? "" : ": no cblas_sgemm; no reference column");
}

/* One row of a table: a backend timed on a shape. */
typedef struct
{
  const char *shape;
  const char *backend;
  double flops;
  BenchFn fn;
  gpointer data;
  double best, total; /* seconds */
  int runs;
  GError *error;
} BenchRow;

static void
print_row (Bench *b, const char *bench, const BenchRow *row, double ref_gflops)
{
  double gflops = row->flops / row->best / 1e9;
  double ratio = ref_gflops > 0 ? gflops / ref_gflops : 0;

  if (row->error) {
    printf ("%-8s %-18s %-12s failed: %s\n", bench, row->shape, row->backend,
        row->error->message);
    return;
  }
  printf ("%-8s %-18s %-12s %10.2f %10.1f", bench, row->shape, row->backend,
      row->best * 1e3, gflops);
  if (ratio > 0)
    printf (" %8.2f\n", ratio);
  else
    printf (" %8s\n", "-");
  if (b->json) {
    json_builder_begin_object (b->json);
    json_builder_set_member_name (b->json, "bench");
    json_builder_add_string_value (b->json, bench);
    json_builder_set_member_name (b->json, "shape");
    json_builder_add_string_value (b->json, row->shape);
    json_builder_set_member_name (b->json, "backend");
    json_builder_add_string_value (b->json, row->backend);
    json_builder_set_member_name (b->json, "ms");
    json_builder_add_double_value (b->json, row->best * 1e3);
    json_builder_set_member_name (b->json, "gflops");
    json_builder_add_double_value (b->json, gflops);
    json_builder_set_member_name (b->json, "runs");
    json_builder_add_int_value (b->json, row->runs);
    json_builder_set_member_name (b->json, "ratio_vs_reference");
    if (ratio > 0)
      json_builder_add_double_value (b->json, ratio);
    else
      json_builder_add_null_value (b->json);
    json_builder_end_object (b->json);
  }
}

/* Times the rows: one untimed run each (kernels build, caches fill), then
 * rounds of one run per row until each has spent about a second (at least
 * one run, at most five), so that a change in the machine's load, which is
 * large on a shared host, falls on every row alike.  Prints and records
 * the best of each; with @reference, rows[0] is the rate the last column
 * compares with. */
static void
bench_rows (Bench *b, const char *bench, BenchRow *rows, guint n_rows,
    gboolean reference)
{
  double budget = b->quick ? 0.05 : 1.0;
  gboolean busy = TRUE;

  for (guint r = 0; r < n_rows; r++) {
    rows[r].best = G_MAXDOUBLE;
    rows[r].fn (rows[r].data, &rows[r].error);
  }
  while (busy) {
    busy = FALSE;
    for (guint r = 0; r < n_rows; r++) {
      BenchRow *row = &rows[r];
      gint64 t0 = g_get_monotonic_time ();
      double s;

      if (row->error ||
          (row->runs >= 1 && (row->total >= budget || row->runs >= 5)))
        continue;
      if (!row->fn (row->data, &row->error))
        continue;
      s = (g_get_monotonic_time () - t0) / 1e6;
      row->best = MIN (row->best, s);
      row->total += s;
      row->runs++;
      busy = TRUE;
    }
  }
  for (guint r = 0; r < n_rows; r++)
    print_row (b, bench, &rows[r],
        reference && !rows[0].error ? rows[0].flops / rows[0].best / 1e9 : 0);
  for (guint r = 0; r < n_rows; r++)
    g_clear_error (&rows[r].error);
}

/* GEMM: Y = X·Wᵀ as the Linear layers run it. */

typedef struct
{
  gsize m, n, k;
  float *x, *w, *y; /* host, for OpenBLAS */
} GemmHost;

typedef struct
{
  SoraLinear *linear;
  SoraTensor *x, *y;
} GemmDevice;

static gboolean
run_openblas (gpointer data, GError **error)
{
  GemmHost *h = data;

  openblas_sgemm (CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, h->m, h->n,
      h->k, 1.0f, h->x, h->k, h->w, h->k, 0.0f, h->y, h->n);
  return TRUE;
}

static gboolean
run_linear (gpointer data, GError **error)
{
  GemmDevice *d = data;

  return sora_op_linear (d->linear, d->x, d->y, error) &&
      sora_device_finish (d->y->dev, error);
}

static void
bench_gemm (Bench *b)
{
  /* Wan2.1-1.3B's Linear shapes at 4096 tokens: attention projections
   * (and FFN input width), FFN up, FFN down. */
  static const gsize shapes[][3] = {
    { 4096, 1536, 1536 },
    { 4096, 8960, 1536 },
    { 4096, 1536, 8960 },
  };
  static const gsize quick_shapes[][3] = {
    { 96, 192, 160 },
    { 96, 320, 160 },
    { 96, 160, 320 },
  };
  static const struct
  {
    const char *label;
    SoraDType dtype;
    SoraGemmBackend backend;
  } variants[] = {
    { "tiled f32", SORA_DTYPE_F32, SORA_GEMM_TILED },
    { "tiled f16", SORA_DTYPE_F16, SORA_GEMM_TILED },
    { "tiled bf16", SORA_DTYPE_BF16, SORA_GEMM_TILED },
    { "clblast f32", SORA_DTYPE_F32, SORA_GEMM_CLBLAST },
    { "gpu f32", SORA_DTYPE_F32, SORA_GEMM_GPU },
    { "gpu f16", SORA_DTYPE_F16, SORA_GEMM_GPU },
    { "gpu bf16", SORA_DTYPE_BF16, SORA_GEMM_GPU },
    /* Operands in bf16, or f16 with SORA_PRECISION=f16. */
    { "mma f32", SORA_DTYPE_F32, SORA_GEMM_MMA },
    { "mma bf16", SORA_DTYPE_BF16, SORA_GEMM_MMA },
  };
  /* The GPU forms only where the engine would take them (SORA_KERNELS),
   * the matrix units only where the device has them. */
  gboolean gpu = sora_tune_gpu_kernels (b->dev);
  gboolean mma = gpu && sora_tune_mma_form (b->dev) == SORA_MMA_PTX;

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    const gsize *dims = b->quick ? quick_shapes[s] : shapes[s];
    GemmHost h = { dims[0], dims[1], dims[2] };
    GemmDevice d[G_N_ELEMENTS (variants)] = { { 0 } };
    BenchRow rows[1 + G_N_ELEMENTS (variants)] = { { 0 } };
    guint n_rows = 0;
    GError *error = NULL;
    double flops = 2.0 * h.m * h.n * h.k;
    char *shape = g_strdup_printf ("%" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT
                                   "x%" G_GSIZE_FORMAT,
        h.m, h.n, h.k);
    void *stored = g_malloc (h.n * h.k * sizeof (float));
    SoraTensor *x = NULL, *y = NULL;

    h.x = g_new (float, h.m *h.k);
    h.w = g_new (float, h.n *h.k);
    h.y = g_new (float, h.m *h.n);
    for (gsize i = 0; i < h.m * h.k; i++)
      h.x[i] = (float)g_rand_double_range (b->rng, -1, 1);
    for (gsize i = 0; i < h.n * h.k; i++)
      h.w[i] = (float)g_rand_double_range (b->rng, -1, 1);

    if (openblas_sgemm)
      rows[n_rows++] = (BenchRow){ shape, "OpenBLAS", flops, run_openblas, &h };
    if ((x = sora_tensor_new_v (
             b->dev, "x", SORA_DTYPE_F32, &error, 2, h.m, h.k)) &&
        (y = sora_tensor_new_v (
             b->dev, "y", SORA_DTYPE_F32, &error, 2, h.m, h.n)) &&
        sora_tensor_write (x, h.x, &error)) {
      for (guint v = 0; v < G_N_ELEMENTS (variants); v++) {
        if ((variants[v].backend == SORA_GEMM_GPU && !gpu) ||
            (variants[v].backend == SORA_GEMM_MMA && !mma))
          continue;
        sora_convert_from_f32 (variants[v].dtype, h.w, stored, h.n * h.k);
        d[v] = (GemmDevice){ sora_linear_new_full (b->dev, "bench",
                                 variants[v].dtype, h.n, h.k, stored, NULL,
                                 variants[v].backend, &error),
          x, y };
        if (d[v].linear == NULL) {
          printf ("gemm     %-18s %-12s failed: %s\n", shape, variants[v].label,
              error->message);
          g_clear_error (&error);
          continue;
        }
        rows[n_rows++] =
            (BenchRow){ shape, variants[v].label, flops, run_linear, &d[v] };
      }
      bench_rows (b, "gemm", rows, n_rows, openblas_sgemm != NULL);
    }
    if (error) {
      printf ("gemm     %-18s failed: %s\n", shape, error->message);
      g_clear_error (&error);
    }
    for (guint v = 0; v < G_N_ELEMENTS (variants); v++)
      if (d[v].linear)
        sora_linear_free (d[v].linear);
    sora_tensor_free (x);
    sora_tensor_free (y);
    g_free (stored);
    g_free (h.x);
    g_free (h.w);
    g_free (h.y);
    g_free (shape);
  }
}

/* Model benches: a DiT step with CFG (batch 2), a text encoding, a VAE
 * decode, each in the engine and in PyTorch (tools/bench_reference.py) on
 * the same weights and inputs (sora_recipe_values), with the device's peak
 * memory and the process's peak RSS. */

typedef struct
{
  double wall, cpu; /* best seconds */
  int runs;
} Timing;

/* One run; @warmup marks the untimed one, which may take smaller inputs. */
typedef gboolean (*StepFn) (gpointer data, gboolean warmup, GError **error);

/* Process CPU seconds: PoCL's worker threads count, unlike wall time on a
 * shared machine. */
static double
cpu_now (void)
{
  return (double)clock () / CLOCKS_PER_SEC;
}

/* One untimed run, then the best of at least 3 (one run of a large model
 * on a shared host can be 50% off) and up to 5 within about a second. */
static gboolean
time_runs (StepFn fn, gpointer data, Timing *t, GError **error)
{
  double total = 0;

  *t = (Timing){ G_MAXDOUBLE, G_MAXDOUBLE, 0 };
  if (!fn (data, TRUE, error))
    return FALSE;
  while (t->runs < 3 || (total < 1.0 && t->runs < 5)) {
    gint64 t0 = g_get_monotonic_time ();
    double c0 = cpu_now (), s;

    if (!fn (data, FALSE, error))
      return FALSE;
    s = (g_get_monotonic_time () - t0) / 1e6;
    t->wall = MIN (t->wall, s);
    t->cpu = MIN (t->cpu, cpu_now () - c0);
    total += s;
    t->runs++;
  }
  return TRUE;
}

/* The peak resident set so far (ru_maxrss never decreases), in MB. */
static double
rss_mb (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

/* Inputs both sides draw the same way (bench_reference.py inputs()). */
static SoraTensor *
recipe_tensor (SoraDevice *dev, const char *name, guint ndim,
    const gsize *shape, GError **error)
{
  SoraTensor *t =
      sora_tensor_new (dev, name, SORA_DTYPE_F32, ndim, shape, error);
  float *v;

  if (t == NULL)
    return NULL;
  v = g_new (float, t->numel);
  sora_recipe_values (name, 1.0f, 0.0f, v, t->numel);
  if (!sora_tensor_write (t, v, error))
    g_clear_pointer (&t, sora_tensor_free);
  g_free (v);
  return t;
}

/* Writes @t as "output" to @path for bench_reference.py --compare. */
static gboolean
save_output (SoraTensor *t, const char *path, GError **error)
{
  SoraSafetensor st = { .name = "output", .dtype = SORA_SAFE_F32 };
  float *v = g_new (float, t->numel);
  gboolean ok;

  st.ndim = t->ndim;
  for (guint i = 0; i < t->ndim; i++)
    st.shape[i] = t->shape[i];
  st.numel = t->numel;
  st.data = (const guint8 *)v;
  ok = sora_tensor_read_f32 (t, v, error) &&
      sora_safetensors_write (path, &st, 1, error);
  g_free (v);
  return ok;
}

/* Runs bench_reference.py with @args and returns its JSON line's object,
 * or NULL with the reason the PyTorch column is empty. */
static JsonObject *
run_reference (Bench *b, const char *const *args, char **reason)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  char *script = g_build_filename (
      b->fixtures, "..", "..", "tools", "bench_reference.py", NULL);
  char *out = NULL, *err = NULL, *line;
  int status;
  GError *error = NULL;
  JsonObject *result = NULL;

  g_ptr_array_add (argv, g_strdup (b->python));
  g_ptr_array_add (argv, script);
  for (; *args; args++)
    g_ptr_array_add (argv, g_strdup (*args));
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_sync (NULL, (char **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH,
          NULL, NULL, &out, &err, &status, &error) ||
      !g_spawn_check_wait_status (status, &error)) {
    *reason = g_strdup_printf ("%s: %s", b->python, error->message);
    g_error_free (error);
    goto out;
  }
  g_strchomp (out);
  line = strrchr (out, '\n');
  line = line ? line + 1 : out;
  result = sora_json_parse_object (line, strlen (line), 4, script, &error);
  if (result == NULL) {
    *reason = g_strdup (error->message);
    g_error_free (error);
  } else if (json_object_has_member (result, "skipped")) {
    *reason = g_strdup (json_object_get_string_member (result, "skipped"));
    g_clear_pointer (&result, json_object_unref);
  }

out:
  if (result == NULL && err && *err)
    g_printerr ("%s", err);
  g_free (out);
  g_free (err);
  g_ptr_array_free (argv, TRUE);
  return result;
}

static double
member (JsonObject *o, const char *name)
{
  return o && json_object_has_member (o, name)
      ? json_object_get_double_member (o, name)
      : NAN;
}

static void
json_number (JsonBuilder *j, const char *name, double v)
{
  json_builder_set_member_name (j, name);
  if (isnan (v))
    json_builder_add_null_value (j);
  else
    json_builder_add_double_value (j, v);
}

/* Times @fn in the engine, then the same in PyTorch (@args for
 * bench_reference.py, which gets --compare when @output is set: the engine's
 * last result), and prints and records the row; times are divided by
 * @per (latent frames, for the decode). */
static void
model_row (Bench *b, const char *bench, const char *config, double per,
    StepFn fn, gpointer data, SoraTensor **output, const char *const *args)
{
  GError *error = NULL;
  Timing t;
  double peak, rss, ratio, rel_l2;
  char rel_l2_text[16];
  char *tmp = NULL, *compare = NULL, *reason = NULL;
  GPtrArray *py = g_ptr_array_new_with_free_func (NULL);
  JsonObject *ref = NULL;

  sora_device_reset_peak (b->dev);
  if (!time_runs (fn, data, &t, &error)) {
    printf ("%-6s %-30s failed: %s\n", bench, config, error->message);
    g_error_free (error);
    g_ptr_array_free (py, TRUE);
    return;
  }
  peak = sora_device_bytes_peak (b->dev) / 1048576.0;
  rss = rss_mb ();

  for (; *args; args++)
    g_ptr_array_add (py, (gpointer)*args);
  if (output && *output) {
    tmp = g_dir_make_tmp ("sora-bench-XXXXXX", NULL);
    compare = tmp ? g_build_filename (tmp, "output.safetensors", NULL) : NULL;
    if (compare && save_output (*output, compare, &error)) {
      g_ptr_array_add (py, (gpointer) "--compare");
      g_ptr_array_add (py, compare);
    }
    g_clear_error (&error);
  }
  g_ptr_array_add (py, NULL);
  ref = run_reference (b, (const char *const *)py->pdata, &reason);
  ratio = t.wall / member (ref, "seconds");

  rel_l2 = member (ref, "rel_l2");
  /* A row without a compared output (the decode) has "-" for its error. */
  g_snprintf (
      rel_l2_text, sizeof (rel_l2_text), isnan (rel_l2) ? "-" : "%.2g", rel_l2);
  printf ("%-6s %-30s %9.3f %9.3f %9.3f %9.3f %7.2f %8.1f %8.0f %8.0f %9s\n",
      bench, config, t.wall / per, t.cpu / per, member (ref, "seconds") / per,
      member (ref, "cpu_seconds") / per, ratio, peak, rss,
      member (ref, "rss_mb"), rel_l2_text);
  if (reason)
    printf ("%-6s %-30s PyTorch: skipped (%s)\n", bench, config, reason);
  if (b->json) {
    json_builder_begin_object (b->json);
    json_builder_set_member_name (b->json, "bench");
    json_builder_add_string_value (b->json, bench);
    json_builder_set_member_name (b->json, "shape");
    json_builder_add_string_value (b->json, config);
    json_builder_set_member_name (b->json, "backend");
    json_builder_add_string_value (b->json, "model");
    json_number (b->json, "seconds", t.wall / per);
    json_number (b->json, "cpu_seconds", t.cpu / per);
    json_builder_set_member_name (b->json, "runs");
    json_builder_add_int_value (b->json, t.runs);
    json_number (b->json, "device_peak_mb", peak);
    json_number (b->json, "rss_peak_mb", rss);
    json_number (b->json, "torch_seconds", member (ref, "seconds") / per);
    json_number (
        b->json, "torch_cpu_seconds", member (ref, "cpu_seconds") / per);
    json_number (b->json, "torch_rss_mb", member (ref, "rss_mb"));
    json_number (b->json, "ratio_vs_torch", ratio);
    json_number (b->json, "rel_l2_vs_torch", rel_l2);
    json_builder_set_member_name (b->json, "torch_skipped");
    if (reason)
      json_builder_add_string_value (b->json, reason);
    else
      json_builder_add_null_value (b->json);
    json_builder_end_object (b->json);
  }

  if (compare)
    g_remove (compare);
  if (tmp)
    g_rmdir (tmp);
  g_free (compare);
  g_free (tmp);
  g_free (reason);
  if (ref)
    json_object_unref (ref);
  g_ptr_array_free (py, TRUE);
}

/* Removes a folder made by recipe_folder(): links are unlinked, never
 * followed into the fixtures. */
static void
remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir && (name = g_dir_read_name (dir))) {
    char *child = g_build_filename (path, name, NULL);

    if (!g_file_test (child, G_FILE_TEST_IS_SYMLINK) &&
        g_file_test (child, G_FILE_TEST_IS_DIR))
      remove_tree (child);
    else
      g_remove (child);
    g_free (child);
  }
  if (dir)
    g_dir_close (dir);
  g_rmdir (path);
}

/* A temporary model folder: wan-tiny's other components linked, the
 * transformer of reference/wide-recipe.json (1.3B widths) with @layers
 * blocks in @dtype. */
static char *
recipe_folder (Bench *b, guint layers, SoraDType dtype, GError **error)
{
  static const char *linked[] = { "model_index.json", "scheduler", "tokenizer",
    "text_encoder", "vae" };
  char *tmp = g_dir_make_tmp ("sora-bench-model-XXXXXX", error);
  char *recipe =
      g_build_filename (b->fixtures, "reference", "wide-recipe.json", NULL);
  gboolean ok = tmp != NULL;

  for (guint i = 0; ok && i < G_N_ELEMENTS (linked); i++) {
    char *from = g_build_filename (b->fixtures, "wan-tiny", linked[i], NULL);
    char *abs = g_canonicalize_filename (from, NULL);
    char *to = g_build_filename (tmp, linked[i], NULL);

    if (symlink (abs, to) != 0) {
      int e = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "%s: %s",
          to, g_strerror (e));
      ok = FALSE;
    }
    g_free (from);
    g_free (abs);
    g_free (to);
  }
  ok = ok && sora_recipe_write_transformer (recipe, layers, dtype, tmp, error);
  g_free (recipe);
  if (!ok && tmp) {
    remove_tree (tmp);
    g_clear_pointer (&tmp, g_free);
  }
  return tmp;
}

typedef struct
{
  SoraDevice *dev;
  SoraWanDit *dit;
  SoraTensor *latents, *warm, *text, *out;
} DitStep;

static gboolean
dit_step (gpointer data, gboolean warmup, GError **error)
{
  DitStep *d = data;
  /* The same timestep for both CFG branches, as the pipeline runs them. */
  float t[2] = { 500.0f, 500.0f };
  SoraTensor *out = sora_wan_dit_forward (d->dit,
      warmup && d->warm ? d->warm : d->latents, t, d->text, NULL, NULL, error);

  if (out == NULL)
    return FALSE;
  sora_tensor_free (d->out);
  d->out = out;
  return sora_device_finish (d->dev, error);
}

static char *
shape_string (const gsize *shape, guint ndim)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < ndim; i++)
    g_string_append_printf (s, "%s%" G_GSIZE_FORMAT, i ? "," : "", shape[i]);
  return g_string_free (s, FALSE);
}

/* One CFG step (batch 2) of the transformer in @dir on latents @lat with
 * @seq text rows; @warm: smaller latents for the untimed run, or NULL. */
static void
dit_case (Bench *b, const char *name, const char *dir, const gsize *lat,
    gsize seq, const gsize *warm)
{
  GError *error = NULL;
  SoraModelFolder *folder = sora_model_folder_open (dir, &error);
  DitStep d = { b->dev };
  char *lat_s = shape_string (lat, 5), *warm_s = NULL, *seq_s, *config;
  gsize tokens;

  if (folder == NULL || !(d.dit = sora_wan_dit_new (b->dev, folder, &error)))
    goto out;
  {
    const SoraWanTransformerConfig *c = sora_wan_dit_get_config (d.dit);
    gsize text_shape[3] = { lat[0], seq, c->text_dim };

    tokens = lat[2] / c->patch_size[0] * (lat[3] / c->patch_size[1]) *
        (lat[4] / c->patch_size[2]);
    if (!(d.latents =
                recipe_tensor (b->dev, "bench.latents", 5, lat, &error)) ||
        !(d.text =
                recipe_tensor (b->dev, "bench.text", 3, text_shape, &error)) ||
        (warm &&
            !(d.warm =
                    recipe_tensor (b->dev, "bench.latents", 5, warm, &error))))
      goto out;
    config =
        g_strdup_printf ("%s %u blk L=%" G_GSIZE_FORMAT " S=%" G_GSIZE_FORMAT,
            name, c->num_layers, tokens, seq);
  }
  seq_s = g_strdup_printf ("%" G_GSIZE_FORMAT, seq);
  warm_s = warm ? shape_string (warm, 5) : NULL;
  {
    const char *args[] = { "dit", "--folder", dir, "--latents", lat_s, "--text",
      seq_s, warm ? "--warmup" : NULL, warm_s, NULL };

    model_row (b, "dit", config, 1, dit_step, &d, &d.out, args);
  }
  g_free (seq_s);
  g_free (config);

out:
  if (error) {
    printf ("dit    %-30s failed: %s\n", name, error->message);
    g_error_free (error);
  }
  sora_tensor_free (d.out);
  sora_tensor_free (d.latents);
  sora_tensor_free (d.warm);
  sora_tensor_free (d.text);
  sora_wan_dit_free (d.dit);
  if (folder)
    sora_model_folder_free (folder);
  g_free (lat_s);
  g_free (warm_s);
}

/* A recipe transformer (1.3B widths) with @layers blocks in @dtype. */
static void
dit_recipe_case (Bench *b, const char *name, guint layers, SoraDType dtype,
    const gsize *lat, gsize seq, const gsize *warm)
{
  GError *error = NULL;
  gint64 start = g_get_monotonic_time ();
  char *dir = recipe_folder (b, layers, dtype, &error);

  if (dir == NULL) {
    printf ("dit    %-30s failed: %s\n", name, error->message);
    g_error_free (error);
    return;
  }
  printf ("(%s: model folder of %u blocks, %s weights, written in %.1f s)\n",
      name, layers, sora_dtype_name (dtype),
      (g_get_monotonic_time () - start) / 1e6);
  dit_case (b, name, dir, lat, seq, warm);
  remove_tree (dir);
  g_free (dir);
}

typedef struct
{
  SoraDevice *dev;
  SoraUmt5 *m;
  gint32 *ids, *mask;
  gsize batch, seq;
  SoraTensor *out;
} Umt5Step;

static gboolean
umt5_step (gpointer data, gboolean warmup, GError **error)
{
  Umt5Step *u = data;
  SoraTensor *out =
      sora_umt5_encode (u->m, u->ids, u->mask, u->batch, u->seq, NULL, error);

  if (out == NULL)
    return FALSE;
  sora_tensor_free (u->out);
  u->out = out;
  return sora_device_finish (u->dev, error);
}

static void
umt5_case (Bench *b, const char *name, const char *dir, gsize batch, gsize seq)
{
  GError *error = NULL;
  SoraModelFolder *folder = sora_model_folder_open (dir, &error);
  Umt5Step u = { b->dev, NULL, NULL, NULL, batch, seq };
  char *batch_s = g_strdup_printf ("%" G_GSIZE_FORMAT, batch);
  char *seq_s = g_strdup_printf ("%" G_GSIZE_FORMAT, seq);
  char *config = g_strdup_printf (
      "%s B=%" G_GSIZE_FORMAT " S=%" G_GSIZE_FORMAT, name, batch, seq);
  const char *args[] = { "umt5", "--folder", dir, "--batch", batch_s, "--seq",
    seq_s, NULL };

  if (folder == NULL ||
      !(u.m = sora_umt5_new (b->dev, folder, FALSE, &error))) {
    printf ("umt5   %-30s failed: %s\n", config, error->message);
    g_error_free (error);
    goto out;
  }
  u.ids = g_new (gint32, batch * seq);
  u.mask = g_new (gint32, batch * seq);
  /* bench_reference.py umt5_ids */
  for (gsize i = 0; i < batch * seq; i++) {
    u.ids[i] = (gint32)((i * 7919 + 3) %
        sora_model_folder_get_text_encoder_config (folder)->vocab_size);
    u.mask[i] = 1;
  }
  model_row (b, "umt5", config, 1, umt5_step, &u, &u.out, args);

out:
  sora_tensor_free (u.out);
  sora_umt5_free (u.m);
  if (folder)
    sora_model_folder_free (folder);
  g_free (u.ids);
  g_free (u.mask);
  g_free (batch_s);
  g_free (seq_s);
  g_free (config);
}

typedef struct
{
  SoraDevice *dev;
  SoraWanVae *vae;
  SoraTensor *latents;
} VaeStep;

static gboolean
vae_chunk (SoraTensor *frames, const guint8 *pixels, guint n_frames,
    guint width, guint height, gpointer user_data)
{
  return TRUE;
}

static gboolean
vae_step (gpointer data, gboolean warmup, GError **error)
{
  VaeStep *v = data;

  return sora_wan_vae_decode (
      v->vae, v->latents, SORA_PIXEL_RGB, vae_chunk, NULL, error);
}

/* The decode of latents @lat [z_dim, F, h, w], per latent frame. */
static void
vae_case (Bench *b, const char *name, const char *dir, const gsize *lat)
{
  GError *error = NULL;
  SoraModelFolder *folder = sora_model_folder_open (dir, &error);
  VaeStep v = { b->dev };
  char *lat_s = shape_string (lat, 4);
  char *config = g_strdup_printf ("%s %s /frame", name, lat_s);
  const char *args[] = { "vae", "--folder", dir, "--latents", lat_s, NULL };

  if (folder == NULL || !(v.vae = sora_wan_vae_new (b->dev, folder, &error)) ||
      !(v.latents = recipe_tensor (b->dev, "bench.latents", 4, lat, &error))) {
    printf ("vae    %-30s failed: %s\n", config, error->message);
    g_error_free (error);
    goto out;
  }
  model_row (b, "vae", config, lat[1], vae_step, &v, NULL, args);

out:
  sora_tensor_free (v.latents);
  sora_wan_vae_free (v.vae);
  if (folder)
    sora_model_folder_free (folder);
  g_free (lat_s);
  g_free (config);
}

/* Attention alone: q, k, v [1, N, H·128] as the DiT's self-attention. */
typedef struct
{
  SoraTensor *q, *k, *v, *out;
  SoraAttentionParams p;
} AttnDevice;

static gboolean
run_attention (gpointer data, GError **error)
{
  AttnDevice *a = data;

  return sora_op_attention (a->q, a->k, a->v, a->out, &a->p, error) &&
      sora_device_finish (a->out->dev, error);
}

static void
bench_attention (Bench *b)
{
  /* 4096 tokens: the 2-block case's grid; 32760: 480p, 81 frames (21 x 30
   * x 52 patches), one head of the 12 (the time scales with the heads). */
  static const gsize cases[][2] = { { 4096, 12 }, { 32760, 1 } };
  GemmDevice g = { 0 };
  GError *error = NULL;
  float *w = g_new (float, 1536 * 1536);

  /* The rate the attention is measured against: the DiT's own projection
   * shape, on the backend the device uses. */
  sora_recipe_values ("bench.w", 0.03f, 0, w, 1536 * 1536);
  g.linear = sora_linear_new (
      b->dev, "bench", SORA_DTYPE_F32, 1536, 1536, w, NULL, &error);
  g.x = g.linear
      ? recipe_tensor (b->dev, "bench.x", 2, (gsize[]){ 4096, 1536 }, &error)
      : NULL;
  g.y = g.x
      ? sora_tensor_new_v (b->dev, "y", SORA_DTYPE_F32, &error, 2, 4096, 1536)
      : NULL;
  AttnDevice a[G_N_ELEMENTS (cases)] = { { NULL } };
  BenchRow rows[1 + G_N_ELEMENTS (cases)] = { { 0 } };
  char *labels[G_N_ELEMENTS (cases)] = { NULL };
  guint n_rows = 0;

  printf ("attention: the last column is the rate against this GEMM row\n");
  if (g.y)
    rows[n_rows++] = (BenchRow){ "4096x1536x1536", "gemm f32",
      2.0 * 4096 * 1536 * 1536, run_linear, &g };
  for (guint c = 0; g.y && c < G_N_ELEMENTS (cases); c++) {
    gsize n = b->quick ? 256 : cases[c][0], heads = cases[c][1];
    gsize shape[3] = { 1, n, heads * 128 };

    labels[c] =
        g_strdup_printf ("N=%" G_GSIZE_FORMAT " H=%" G_GSIZE_FORMAT, n, heads);
    a[c].p.heads = heads;
    a[c].p.scale = 1.0f / sqrtf (128.0f);
    if ((a[c].q = recipe_tensor (b->dev, "bench.q", 3, shape, &error)) &&
        (a[c].k = recipe_tensor (b->dev, "bench.k", 3, shape, &error)) &&
        (a[c].v = recipe_tensor (b->dev, "bench.v", 3, shape, &error)) &&
        (a[c].out = sora_tensor_new (
             b->dev, "out", SORA_DTYPE_F32, 3, shape, &error)))
      rows[n_rows++] = (BenchRow){ labels[c], "fused",
        4.0 * n * n * 128 * heads, run_attention, &a[c] };
    if (error) {
      printf ("attn     %-18s failed: %s\n", labels[c], error->message);
      g_clear_error (&error);
    }
  }
  if (g.y)
    bench_rows (b, "attn", rows, n_rows, TRUE);
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    sora_tensor_free (a[c].q);
    sora_tensor_free (a[c].k);
    sora_tensor_free (a[c].v);
    sora_tensor_free (a[c].out);
    g_free (labels[c]);
  }
  if (error) {
    printf ("attn     failed: %s\n", error->message);
    g_error_free (error);
  }
  sora_linear_free (g.linear);
  sora_tensor_free (g.x);
  sora_tensor_free (g.y);
  g_free (w);
}

static void
bench_model (Bench *b)
{
  static const gsize tiny_lat[] = { 2, 16, 3, 6, 10 };
  /* 4 x 32 x 32 patches = 4096 tokens */
  static const gsize wide_lat[] = { 2, 16, 4, 64, 64 };
  /* 8 x 8 patches: the full depth at a size this machine runs in seconds */
  static const gsize full_lat[] = { 2, 16, 1, 16, 16 };
  /* a single token, to build the kernels before timing */
  static const gsize warm_lat[] = { 2, 16, 1, 2, 2 };
  static const gsize tiny_vae[] = { 16, 3, 8, 8 };
  char *tiny = g_build_filename (b->fixtures, "wan-tiny", NULL);

  printf ("\nmodels: seconds per call (DiT: one CFG step, batch 2; VAE: per "
          "latent frame), best of 3 to 5 after one untimed; PyTorch %s\n",
      b->python);
  printf ("%-6s %-30s %9s %9s %9s %9s %7s %8s %8s %8s %9s\n", "bench", "config",
      "sora s", "sora cpu", "torch s", "torch cpu", "ratio", "dev MB", "RSS MB",
      "torchRSS", "rel L2");
  dit_case (b, "tiny", tiny, tiny_lat, 32, NULL);
  umt5_case (b, "tiny", tiny, 2, 32);
  vae_case (b, "tiny", tiny, tiny_vae);
  if (!b->quick) {
    dit_recipe_case (b, "1.3B widths", 2, SORA_DTYPE_F32, wide_lat,
        SORA_WAN_TEXT_LENGTH, warm_lat);
    dit_recipe_case (b, "1.3B full", 30, SORA_DTYPE_F16, full_lat,
        SORA_WAN_TEXT_LENGTH, warm_lat);
  }
  g_free (tiny);
}

/* One tuned parameter: printed, recorded, freed. */
static void
print_param (Bench *b, const char *name, char *value)
{
  printf ("  %-18s %s\n", name, value);
  if (b->json) {
    json_builder_set_member_name (b->json, name);
    json_builder_add_string_value (b->json, value);
  }
  g_free (value);
}

/* Prints the tile @choose names for each weight dtype, as PREFIX-DTYPE. */
static void
print_dtype_params (
    Bench *b, const char *prefix, char *(*choose) (SoraDevice *, SoraDType))
{
  static const SoraDType dtypes[] = { SORA_DTYPE_F32, SORA_DTYPE_F16,
    SORA_DTYPE_BF16 };

  for (guint i = 0; i < G_N_ELEMENTS (dtypes); i++) {
    char *name = g_strdup_printf ("%s-%s", prefix, sora_dtype_name (dtypes[i]));

    print_param (b, name, choose (b->dev, dtypes[i]));
    g_free (name);
  }
}

/* The tuned kernel parameters the benches run with, timed now when none
 * are stored yet (so that no bench times the tuning): the GEMM's tiled
 * form always (its rows always run), the GPU forms where the device gets
 * them, else the CPU forms of attention and convolution. */
static void
print_tuning (Bench *b)
{
  gboolean gpu = sora_tune_gpu_kernels (b->dev);

  printf ("tuned parameters (SORA_GEMM_TILE, SORA_GEMM_BLOCK_K, "
          "SORA_ATTENTION_TILE, SORA_CONV_TILE and their _GPU_ forms force "
          "them):\n");
  if (b->json) {
    json_builder_set_member_name (b->json, "tuning");
    json_builder_begin_object (b->json);
  }
  print_dtype_params (b, "gemm-tile", sora_gemm_tile_name);
  print_param (b, "gemm-block-k", sora_gemm_block_k_name (b->dev));
  if (gpu) {
    print_dtype_params (b, "gemm-gpu-tile", sora_gemm_gpu_tile_name);
    print_param (
        b, "attention-gpu-tile", sora_attention_gpu_tile_name (b->dev));
    print_dtype_params (b, "conv-gpu-tile", sora_conv_gpu_tile_name);
  } else {
    print_param (b, "attention-tile", sora_attention_tile_name (b->dev));
    print_dtype_params (b, "conv-tile", sora_conv_tile_name);
  }
  if (b->json)
    json_builder_end_object (b->json);
  printf ("\n");
}

/* The benchmarks, in the order they run; each prints its own rows.  Add
 * other ops here. */
static const struct
{
  const char *name;
  void (*run) (Bench *b);
  gboolean named_only; /* minutes and gigabytes: only when asked for */
} benches[] = {
  { "gemm", bench_gemm, FALSE },
  { "attention", bench_attention, FALSE },
  { "model", bench_model, TRUE },
};

/* All benches but the named_only ones run when none is named. */
static gboolean
selected (int argc, char **argv, guint bench)
{
  for (int i = 1; i < argc; i++)
    if (g_strcmp0 (argv[i], benches[bench].name) == 0)
      return TRUE;
  return argc < 2 && !benches[bench].named_only;
}

static gboolean
write_json (Bench *b, const char *path, GError **error)
{
  JsonGenerator *gen = json_generator_new ();
  JsonNode *root;
  gboolean ok;

  json_builder_end_array (b->json);
  json_builder_end_object (b->json);
  root = json_builder_get_root (b->json);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  ok = json_generator_to_file (gen, path, error);
  json_node_unref (root);
  g_object_unref (gen);
  return ok;
}

int
sora_tool_bench (int argc, char **argv)
{
  gboolean quick = FALSE;
  char *json_path = NULL, *fixtures = NULL;
  GOptionEntry entries[] = { { "quick", 0, 0, G_OPTION_ARG_NONE, &quick,
                                 "small shapes, a smoke test", NULL },
    { "json", 0, 0, G_OPTION_ARG_FILENAME, &json_path,
        "also write the figures to FILE as JSON", "FILE" },
    { "fixtures", 0, 0, G_OPTION_ARG_FILENAME, &fixtures,
        "the model benches' tests/fixtures (default $SORA_FIXTURES, else "
        "tests/fixtures)",
        "DIR" },
    { NULL } };
  GOptionContext *ctx = g_option_context_new (
      "[BENCH...] - time ops against OpenBLAS, models against PyTorch");
  GError *error = NULL;
  Bench b = { 0 };
  const SoraDeviceInfo *info;
  const char *backend;
  int status = 0;

  /* Rows show as they finish, also through a pipe. */
  setvbuf (stdout, NULL, _IOLBF, 0);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    fprintf (stderr, "sora-tool bench: %s\n", error->message);
    g_error_free (error);
    g_option_context_free (ctx);
    return 2;
  }
  g_option_context_free (ctx);

  load_openblas ();
  b.dev = sora_device_open (NULL, &error);
  if (b.dev == NULL) {
    fprintf (stderr, "sora-tool bench: %s\n", error->message);
    g_error_free (error);
    g_free (json_path);
    g_free (fixtures);
    return 1;
  }
  b.quick = quick;
  if (fixtures == NULL)
    fixtures = g_strdup (g_getenv ("SORA_FIXTURES") ? g_getenv ("SORA_FIXTURES")
                                                    : "tests/fixtures");
  b.fixtures = fixtures;
  b.python = g_getenv ("SORA_BENCH_PYTHON") ? g_getenv ("SORA_BENCH_PYTHON")
                                            : "python3";
  b.rng = g_rand_new_with_seed (1);
  info = sora_device_get_info (b.dev);
  backend = sora_gemm_backend_name (b.dev);
  printf ("device: %s (%s)\ngemm backend chosen for it: %s\n%s"
          "times: best of up to 5 runs after one untimed run, rows of a table "
          "interleaved\n",
      info->name, info->driver_version, backend,
      quick ? "quick: small shapes\n" : "");

  if (json_path) {
    b.json = json_builder_new ();
    json_builder_begin_object (b.json);
    json_builder_set_member_name (b.json, "device");
    json_builder_add_string_value (b.json, info->name);
    json_builder_set_member_name (b.json, "driver");
    json_builder_add_string_value (b.json, info->driver_version);
    json_builder_set_member_name (b.json, "gemm_backend");
    json_builder_add_string_value (b.json, backend);
    json_builder_set_member_name (b.json, "reference");
    json_builder_add_string_value (
        b.json, openblas_sgemm ? openblas_name : "none");
    json_builder_set_member_name (b.json, "quick");
    json_builder_add_boolean_value (b.json, quick);
  }
  print_tuning (&b);
  printf ("%-8s %-18s %-12s %10s %10s %8s\n", "bench", "shape (MxNxK)",
      "backend", "ms", "GFLOP/s", "/OpenBLAS");
  if (b.json) {
    json_builder_set_member_name (b.json, "rows");
    json_builder_begin_array (b.json);
  }

  for (guint i = 0; i < G_N_ELEMENTS (benches); i++)
    if (selected (argc, argv, i))
      benches[i].run (&b);

  if (b.json) {
    if (!write_json (&b, json_path, &error)) {
      fprintf (stderr, "sora-tool bench: %s\n", error->message);
      g_error_free (error);
      status = 1;
    }
    g_object_unref (b.json);
  }
  g_rand_free (b.rng);
  sora_device_free (b.dev);
  g_free (json_path);
  g_free (fixtures);
  return status;
}
