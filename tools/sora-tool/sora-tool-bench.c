/* sora-tool bench: op timings on the selected device, next to OpenBLAS
 *
 * The driver: options, the header, the rows of a table and their timing;
 * the benches are in sora-tool-bench-ops.c, sora-tool-bench-models.c and
 * sora-tool-bench-causal.c (their rows timed by sora-tool-bench-model-row.c).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <stdio.h>

#include "sora-recipe.h"
#include "sora-tool-bench.h"
#include "sora-tool.h"
#include "sora-tune.h"

void
bench_json_row (
    Bench *b, const char *bench, const char *shape, const char *backend)
{
  if (b->json == NULL)
    return;
  json_builder_begin_object (b->json);
  json_builder_set_member_name (b->json, "bench");
  json_builder_add_string_value (b->json, bench);
  json_builder_set_member_name (b->json, "shape");
  json_builder_add_string_value (b->json, shape);
  json_builder_set_member_name (b->json, "backend");
  json_builder_add_string_value (b->json, backend);
}

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
    bench_json_row (b, bench, row->shape, row->backend);
    json_builder_set_member_name (b->json, "ms");
    json_builder_add_double_value (b->json, row->best * 1e3);
    json_builder_set_member_name (b->json, "gflops");
    json_builder_add_double_value (b->json, gflops);
    json_builder_set_member_name (b->json, "runs");
    json_builder_add_int_value (b->json, row->runs);
    bench_json_number (b->json, "ratio_vs_reference", ratio > 0 ? ratio : NAN);
    json_builder_end_object (b->json);
  }
}

/* Times the rows: one untimed run each (kernels build, caches fill), then
 * rounds of one run per row until each has spent about a second (at least
 * one run, at most five), so that a change in the machine's load, which is
 * large on a shared host, falls on every row alike.  Prints and records
 * the best of each; with @reference, rows[0] is the rate the last column
 * compares with. */
void
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

SoraTensor *
bench_recipe_tensor (SoraDevice *dev, const char *name, guint ndim,
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

void
bench_json_number (JsonBuilder *j, const char *name, double v)
{
  json_builder_set_member_name (j, name);
  if (isnan (v))
    json_builder_add_null_value (j);
  else
    json_builder_add_double_value (j, v);
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
  { "causal", bench_causal, TRUE },
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

/* The options; FALSE (with the message printed) when they do not parse. */
static gboolean
parse_options (
    int *argc, char ***argv, gboolean *quick, char **json_path, char **fixtures)
{
  GOptionEntry entries[] = { { "quick", 0, 0, G_OPTION_ARG_NONE, quick,
                                 "small shapes, a smoke test", NULL },
    { "json", 0, 0, G_OPTION_ARG_FILENAME, json_path,
        "also write the figures to FILE as JSON", "FILE" },
    { "fixtures", 0, 0, G_OPTION_ARG_FILENAME, fixtures,
        "the model benches' tests/fixtures (default $SORA_FIXTURES, else "
        "tests/fixtures)",
        "DIR" },
    { NULL } };
  GOptionContext *ctx = g_option_context_new (
      "[BENCH...] - time ops against OpenBLAS, models against PyTorch");
  GError *error = NULL;
  gboolean ok;

  g_option_context_add_main_entries (ctx, entries, NULL);
  ok = g_option_context_parse (ctx, argc, argv, &error);
  if (!ok) {
    fprintf (stderr, "sora-tool bench: %s\n", error->message);
    g_error_free (error);
  }
  g_option_context_free (ctx);
  return ok;
}

/* The device, the reference and the tuning, printed and, with --json,
 * recorded before the "rows" array opens. */
static void
print_header (Bench *b, const char *reference)
{
  const SoraDeviceInfo *info = sora_device_get_info (b->dev);
  const char *backend = sora_gemm_backend_name (b->dev);

  printf ("device: %s (%s)\ngemm backend chosen for it: %s\n%s"
          "times: best of up to 5 runs after one untimed run, rows of a table "
          "interleaved\n",
      info->name, info->driver_version, backend,
      b->quick ? "quick: small shapes\n" : "");
  if (b->json) {
    json_builder_begin_object (b->json);
    json_builder_set_member_name (b->json, "device");
    json_builder_add_string_value (b->json, info->name);
    json_builder_set_member_name (b->json, "driver");
    json_builder_add_string_value (b->json, info->driver_version);
    json_builder_set_member_name (b->json, "gemm_backend");
    json_builder_add_string_value (b->json, backend);
    json_builder_set_member_name (b->json, "reference");
    json_builder_add_string_value (b->json, reference ? reference : "none");
    json_builder_set_member_name (b->json, "quick");
    json_builder_add_boolean_value (b->json, b->quick);
  }
  print_tuning (b);
  printf ("%-8s %-18s %-12s %10s %10s %8s\n", "bench", "shape (MxNxK)",
      "backend", "ms", "GFLOP/s", "/OpenBLAS");
  if (b->json) {
    json_builder_set_member_name (b->json, "rows");
    json_builder_begin_array (b->json);
  }
}

int
sora_tool_bench (int argc, char **argv)
{
  gboolean quick = FALSE;
  char *json_path = NULL, *fixtures = NULL;
  const char *reference;
  GError *error = NULL;
  Bench b = { 0 };
  int status = 0;

  /* Rows show as they finish, also through a pipe. */
  setvbuf (stdout, NULL, _IOLBF, 0);
  if (!parse_options (&argc, &argv, &quick, &json_path, &fixtures))
    return 2;
  reference = bench_load_openblas ();
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
  b.json = json_path ? json_builder_new () : NULL;
  print_header (&b, reference);

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
