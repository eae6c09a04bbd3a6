/* sora-tool bench: op timings on the selected device, next to OpenBLAS
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dlfcn.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>

#include "sora-ops.h"
#include "sora-tool.h"

/* One timed run, complete when it returns (device work finished). */
typedef gboolean (*BenchFn) (gpointer data, GError **error);

typedef struct
{
  SoraDevice *dev;
  gboolean quick;
  JsonBuilder *json; /* the "rows" array, or NULL */
  double ref_gflops; /* the reference's rate on this shape, or 0 */
  GRand *rng;
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

/* OpenBLAS reads OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE when it loads; the
 * values this environment sets halve its speed, so they are cleared for a
 * fair reference. */
static void
load_openblas (void)
{
  void *lib;

  g_unsetenv ("OPENBLAS_CORETYPE");
  g_unsetenv ("OPENBLAS_L2_SIZE");
  lib = dlopen ("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    printf ("OpenBLAS: not loaded (%s); no reference column\n", dlerror ());
    return;
  }
  openblas_sgemm = (SgemmFn)dlsym (lib, "cblas_sgemm");
  printf ("OpenBLAS (OPENBLAS_CORETYPE unset)%s\n",
      openblas_sgemm ? "" : ": no cblas_sgemm; no reference column");
}

/* Times @fn: one untimed run (kernels build, caches fill), then runs until
 * about a second is spent (at least one, at most five); prints and records
 * the best.  A @reference row sets the rate the next rows are compared
 * with. */
static void
bench_row (Bench *b, const char *bench, const char *shape, const char *backend,
    gboolean reference, double flops, BenchFn fn, gpointer data)
{
  GError *error = NULL;
  double best = G_MAXDOUBLE, total = 0, gflops, ratio;
  double budget = b->quick ? 0.05 : 1.0;
  int runs = 0;

  if (!fn (data, &error))
    goto fail;
  while (runs < 1 || (total < budget && runs < 5)) {
    gint64 t0 = g_get_monotonic_time ();
    double s;

    if (!fn (data, &error))
      goto fail;
    s = (g_get_monotonic_time () - t0) / 1e6;
    best = MIN (best, s);
    total += s;
    runs++;
  }
  gflops = flops / best / 1e9;
  if (reference)
    b->ref_gflops = gflops;
  ratio = b->ref_gflops > 0 ? gflops / b->ref_gflops : 0;
  printf ("%-8s %-18s %-12s %10.2f %10.1f", bench, shape, backend, best * 1e3,
      gflops);
  if (ratio > 0)
    printf (" %8.2f\n", ratio);
  else
    printf (" %8s\n", "-");
  if (b->json) {
    json_builder_begin_object (b->json);
    json_builder_set_member_name (b->json, "bench");
    json_builder_add_string_value (b->json, bench);
    json_builder_set_member_name (b->json, "shape");
    json_builder_add_string_value (b->json, shape);
    json_builder_set_member_name (b->json, "backend");
    json_builder_add_string_value (b->json, backend);
    json_builder_set_member_name (b->json, "ms");
    json_builder_add_double_value (b->json, best * 1e3);
    json_builder_set_member_name (b->json, "gflops");
    json_builder_add_double_value (b->json, gflops);
    json_builder_set_member_name (b->json, "runs");
    json_builder_add_int_value (b->json, runs);
    json_builder_set_member_name (b->json, "ratio_vs_openblas");
    if (ratio > 0)
      json_builder_add_double_value (b->json, ratio);
    else
      json_builder_add_null_value (b->json);
    json_builder_end_object (b->json);
  }
  return;

fail:
  printf (
      "%-8s %-18s %-12s failed: %s\n", bench, shape, backend, error->message);
  g_error_free (error);
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
  };

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    const gsize *dims = b->quick ? quick_shapes[s] : shapes[s];
    GemmHost h = { dims[0], dims[1], dims[2] };
    GemmDevice d = { 0 };
    GError *error = NULL;
    double flops = 2.0 * h.m * h.n * h.k;
    char *shape = g_strdup_printf ("%" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT
                                   "x%" G_GSIZE_FORMAT,
        h.m, h.n, h.k);
    void *stored = g_malloc (h.n * h.k * sizeof (float));

    h.x = g_new (float, h.m *h.k);
    h.w = g_new (float, h.n *h.k);
    h.y = g_new (float, h.m *h.n);
    for (gsize i = 0; i < h.m * h.k; i++)
      h.x[i] = (float)g_rand_double_range (b->rng, -1, 1);
    for (gsize i = 0; i < h.n * h.k; i++)
      h.w[i] = (float)g_rand_double_range (b->rng, -1, 1);

    b->ref_gflops = 0;
    if (openblas_sgemm)
      bench_row (b, "gemm", shape, "OpenBLAS", TRUE, flops, run_openblas, &h);

    d.x = sora_tensor_new_v (b->dev, "x", SORA_DTYPE_F32, &error, 2, h.m, h.k);
    d.y = sora_tensor_new_v (b->dev, "y", SORA_DTYPE_F32, &error, 2, h.m, h.n);
    if (d.x && d.y && sora_tensor_write (d.x, h.x, &error)) {
      for (guint v = 0; v < G_N_ELEMENTS (variants); v++) {
        sora_convert_from_f32 (variants[v].dtype, h.w, stored, h.n * h.k);
        d.linear = sora_linear_new_full (b->dev, "bench", variants[v].dtype,
            h.n, h.k, stored, NULL, variants[v].backend, &error);
        if (d.linear == NULL) {
          printf ("gemm     %-18s %-12s failed: %s\n", shape, variants[v].label,
              error->message);
          g_clear_error (&error);
          continue;
        }
        bench_row (
            b, "gemm", shape, variants[v].label, FALSE, flops, run_linear, &d);
        sora_linear_free (d.linear);
      }
    }
    if (error) {
      printf ("gemm     %-18s failed: %s\n", shape, error->message);
      g_clear_error (&error);
    }
    sora_tensor_free (d.x);
    sora_tensor_free (d.y);
    g_free (stored);
    g_free (h.x);
    g_free (h.w);
    g_free (h.y);
    g_free (shape);
  }
}

/* The benchmarks, in the order they run; each prints its own rows through
 * bench_row().  Add other ops here. */
static const struct
{
  const char *name;
  void (*run) (Bench *b);
} benches[] = {
  { "gemm", bench_gemm },
};

/* All benches run when none is named. */
static gboolean
selected (int argc, char **argv, const char *name)
{
  for (int i = 1; i < argc; i++)
    if (g_strcmp0 (argv[i], name) == 0)
      return TRUE;
  return argc < 2;
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
  char *json_path = NULL;
  GOptionEntry entries[] = { { "quick", 0, 0, G_OPTION_ARG_NONE, &quick,
                                 "small shapes, a smoke test", NULL },
    { "json", 0, 0, G_OPTION_ARG_FILENAME, &json_path,
        "also write the figures to FILE as JSON", "FILE" },
    { NULL } };
  GOptionContext *ctx =
      g_option_context_new ("[BENCH...] - time ops against OpenBLAS");
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
    return 1;
  }
  b.quick = quick;
  b.rng = g_rand_new_with_seed (1);
  info = sora_device_get_info (b.dev);
  backend = sora_gemm_backend_name (b.dev);
  printf ("device: %s (%s)\ngemm backend chosen for it: %s\n%s"
          "times: best of up to 5 runs after one untimed run\n\n",
      info->name, info->driver_version, backend,
      quick ? "quick: small shapes\n" : "");
  printf ("%-8s %-18s %-12s %10s %10s %8s\n", "bench", "shape (MxNxK)",
      "backend", "ms", "GFLOP/s", "/OpenBLAS");

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
        b.json, openblas_sgemm ? "OpenBLAS (OPENBLAS_CORETYPE unset)" : "none");
    json_builder_set_member_name (b.json, "quick");
    json_builder_add_boolean_value (b.json, quick);
    json_builder_set_member_name (b.json, "rows");
    json_builder_begin_array (b.json);
  }

  for (guint i = 0; i < G_N_ELEMENTS (benches); i++)
    if (selected (argc, argv, benches[i].name))
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
  return status;
}
