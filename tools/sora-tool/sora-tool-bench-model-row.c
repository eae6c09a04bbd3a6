/* sora-tool bench: a model bench's row: the engine's timing, the same in
 * PyTorch (tools/bench_reference.py), printed and recorded; and the
 * recipe model folders the larger rows run on
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "sora-recipe.h"
#include "sora-safetensors.h"
#include "sora-tool-bench.h"

typedef struct
{
  double wall, cpu; /* best seconds */
  int runs;
} Timing;

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
time_runs (BenchStepFn fn, gpointer data, Timing *t, GError **error)
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

/* bench_reference.py with @args, and --compare with the engine's
 * @output when there is one; see run_reference(). */
static JsonObject *
run_reference_on (
    Bench *b, SoraTensor **output, const char *const *args, char **reason)
{
  GPtrArray *py = g_ptr_array_new ();
  char *tmp = NULL, *compare = NULL;
  GError *error = NULL;
  JsonObject *ref;

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
  ref = run_reference (b, (const char *const *)py->pdata, reason);
  if (compare)
    g_remove (compare);
  if (tmp)
    g_rmdir (tmp);
  g_free (compare);
  g_free (tmp);
  g_ptr_array_free (py, TRUE);
  return ref;
}

/* A model row's figures; times are divided by @per. */
typedef struct
{
  Timing t;
  double per, peak, rss; /* peak: the device's, rss: ours, in MB */
  JsonObject *ref; /* bench_reference.py's, or NULL */
  char *reason; /* why ref is NULL */
} ModelRow;

static void
print_model_row (Bench *b, const char *bench, const char *config, ModelRow *r)
{
  double torch = member (r->ref, "seconds"), ratio = r->t.wall / torch;
  double rel_l2 = member (r->ref, "rel_l2");
  char rel_l2_text[16];

  /* A row without a compared output (the decode) has "-" for its error. */
  g_snprintf (
      rel_l2_text, sizeof (rel_l2_text), isnan (rel_l2) ? "-" : "%.2g", rel_l2);
  printf ("%-6s %-30s %9.3f %9.3f %9.3f %9.3f %7.2f %8.1f %8.0f %8.0f %9s\n",
      bench, config, r->t.wall / r->per, r->t.cpu / r->per, torch / r->per,
      member (r->ref, "cpu_seconds") / r->per, ratio, r->peak, r->rss,
      member (r->ref, "rss_mb"), rel_l2_text);
  if (r->reason)
    printf ("%-6s %-30s PyTorch: skipped (%s)\n", bench, config, r->reason);
  if (b->json == NULL)
    return;
  bench_json_row (b, bench, config, "model");
  bench_json_number (b->json, "seconds", r->t.wall / r->per);
  bench_json_number (b->json, "cpu_seconds", r->t.cpu / r->per);
  json_builder_set_member_name (b->json, "runs");
  json_builder_add_int_value (b->json, r->t.runs);
  bench_json_number (b->json, "device_peak_mb", r->peak);
  bench_json_number (b->json, "rss_peak_mb", r->rss);
  bench_json_number (b->json, "torch_seconds", torch / r->per);
  bench_json_number (
      b->json, "torch_cpu_seconds", member (r->ref, "cpu_seconds") / r->per);
  bench_json_number (b->json, "torch_rss_mb", member (r->ref, "rss_mb"));
  bench_json_number (b->json, "ratio_vs_torch", ratio);
  bench_json_number (b->json, "rel_l2_vs_torch", rel_l2);
  json_builder_set_member_name (b->json, "torch_skipped");
  if (r->reason)
    json_builder_add_string_value (b->json, r->reason);
  else
    json_builder_add_null_value (b->json);
  json_builder_end_object (b->json);
}

void
bench_model_header (void)
{
  printf ("%-6s %-30s %9s %9s %9s %9s %7s %8s %8s %8s %9s\n", "bench", "config",
      "sora s", "sora cpu", "torch s", "torch cpu", "ratio", "dev MB", "RSS MB",
      "torchRSS", "rel L2");
}

double
bench_model_row (Bench *b, const char *bench, const char *config, double per,
    BenchStepFn fn, gpointer data, SoraTensor **output, const char *const *args)
{
  ModelRow r = { .per = per };
  GError *error = NULL;

  sora_device_reset_peak (b->dev);
  if (!time_runs (fn, data, &r.t, &error)) {
    printf ("%-6s %-30s failed: %s\n", bench, config, error->message);
    g_error_free (error);
    return NAN;
  }
  r.peak = sora_device_bytes_peak (b->dev) / 1048576.0;
  r.rss = rss_mb ();
  r.ref = run_reference_on (b, output, args, &r.reason);
  print_model_row (b, bench, config, &r);
  g_free (r.reason);
  if (r.ref)
    json_object_unref (r.ref);
  return r.t.wall / per;
}

void
bench_recipe_folder_remove (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir && (name = g_dir_read_name (dir))) {
    char *child = g_build_filename (path, name, NULL);

    if (!g_file_test (child, G_FILE_TEST_IS_SYMLINK) &&
        g_file_test (child, G_FILE_TEST_IS_DIR))
      bench_recipe_folder_remove (child);
    else
      g_remove (child);
    g_free (child);
  }
  if (dir)
    g_dir_close (dir);
  g_rmdir (path);
}

char *
bench_recipe_folder (Bench *b, guint layers, SoraDType dtype, GError **error)
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
    bench_recipe_folder_remove (tmp);
    g_clear_pointer (&tmp, g_free);
  }
  return tmp;
}
