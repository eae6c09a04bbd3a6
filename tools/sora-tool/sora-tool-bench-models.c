/* sora-tool bench: the model benches, each next to PyTorch
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
#include "sora-tune.h"
#include "sora-tool-bench.h"
#include "sora-umt5.h"
#include "sora-wan-dit-cache.h"
#include "sora-wan-dit.h"
#include "sora-wan-vae.h"

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

/* Times @fn in the engine, then the same in PyTorch (@args for
 * bench_reference.py, which gets --compare when @output is set: the engine's
 * last result), and prints and records the row; times are divided by
 * @per (latent frames, for the decode).  Returns the engine's seconds
 * divided by @per, NAN when it failed. */
static double
model_row (Bench *b, const char *bench, const char *config, double per,
    StepFn fn, gpointer data, SoraTensor **output, const char *const *args)
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
  GCancellable *cancellable; /* NULL but for the throttled timing */
} DitStep;

static gboolean
dit_step (gpointer data, gboolean warmup, GError **error)
{
  DitStep *d = data;
  /* The same timestep for both CFG branches, as the pipeline runs them. */
  float t[2] = { 500.0f, 500.0f };
  SoraTensor *out =
      sora_wan_dit_forward (d->dit, warmup && d->warm ? d->warm : d->latents, t,
          d->text, NULL, d->cancellable, error);

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

/* What stopping at once costs: the step with a cancellable (each launch
 * waiting for the one before, as the elements run it) against the step
 * without, alternating, best of 3 each. */
static void
throttle_row (const char *config, DitStep *d)
{
  GCancellable *cancellable = g_cancellable_new ();
  double best[2] = { G_MAXDOUBLE, G_MAXDOUBLE };
  GError *error = NULL;

  for (guint run = 0; run < 6 && error == NULL; run++) {
    gint64 t0 = g_get_monotonic_time ();

    d->cancellable = run % 2 ? cancellable : NULL;
    if (dit_step (d, FALSE, &error))
      best[run % 2] = MIN (best[run % 2], (g_get_monotonic_time () - t0) / 1e6);
  }
  d->cancellable = NULL;
  if (error) {
    printf ("dit    %-30s throttled: failed: %s\n", config, error->message);
    g_error_free (error);
  } else {
    printf ("dit    %-30s throttled: %.3f s against %.3f s (%.3fx)\n", config,
        best[1], best[0], best[1] / best[0]);
  }
  g_object_unref (cancellable);
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
    if (!(d.latents = bench_recipe_tensor (
              b->dev, "bench.latents", 5, lat, &error)) ||
        !(d.text = bench_recipe_tensor (
              b->dev, "bench.text", 3, text_shape, &error)) ||
        (warm &&
            !(d.warm = bench_recipe_tensor (
                  b->dev, "bench.latents", 5, warm, &error))))
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
  throttle_row (config, &d);
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
vae_chunk (SoraTensor *frames, gpointer user_data, GError **error)
{
  return TRUE;
}

static gboolean
vae_step (gpointer data, gboolean warmup, GError **error)
{
  VaeStep *v = data;

  /* The chunks are not read: without the finish the time is the launches'. */
  return sora_wan_vae_decode (
             v->vae, v->latents, vae_chunk, NULL, NULL, error) &&
      sora_device_finish (v->dev, error);
}

/* The decode of latents @lat [z_dim, F, h, w], per latent frame; returns
 * the engine's seconds per latent frame, NAN when it failed. */
static double
vae_case (Bench *b, const char *name, const char *dir, const gsize *lat)
{
  GError *error = NULL;
  SoraModelFolder *folder = sora_model_folder_open (dir, &error);
  VaeStep v = { b->dev };
  char *lat_s = shape_string (lat, 4);
  char *config = g_strdup_printf ("%s %s /frame", name, lat_s);
  const char *args[] = { "vae", "--folder", dir, "--latents", lat_s, NULL };
  double seconds = NAN;

  if (folder == NULL || !(v.vae = sora_wan_vae_new (b->dev, folder, &error)) ||
      !(v.latents =
              bench_recipe_tensor (b->dev, "bench.latents", 4, lat, &error))) {
    printf ("vae    %-30s failed: %s\n", config, error->message);
    g_error_free (error);
    goto out;
  }
  seconds = model_row (b, "vae", config, lat[1], vae_step, &v, NULL, args);

out:
  sora_tensor_free (v.latents);
  sora_wan_vae_free (v.vae);
  if (folder)
    sora_model_folder_free (folder);
  g_free (lat_s);
  g_free (config);
  return seconds;
}

void
bench_model (Bench *b)
{
  static const gsize tiny_lat[] = { 2, 16, 3, 6, 10 };
  /* 4 x 32 x 32 patches = 4096 tokens */
  static const gsize wide_lat[] = { 2, 16, 4, 64, 64 };
  /* 8 x 8 patches: the full depth at a size this machine runs in seconds */
  static const gsize full_lat[] = { 2, 16, 1, 16, 16 };
  /* 21 x 60 x 104 latents: 480p (832 x 480), 81 frames */
  static const gsize p480_lat[] = { 2, 16, 21, 60, 104 };
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
  /* One CFG step at 480p, 81 frames (32,760 tokens), in seconds on a GPU
   * (tools/device-check.sh's dit-bf16 against PyTorch bf16 on CUDA); hours
   * on a CPU. */
  if (!b->quick && sora_tune_gpu_kernels (b->dev))
    dit_recipe_case (b, "1.3B 480p", 30, SORA_DTYPE_BF16, p480_lat,
        SORA_WAN_TEXT_LENGTH, warm_lat);
  g_free (tiny);
}

/* Causal chunks (issue 21): one chunk of a block-causal DiT, batch 1 and no
 * CFG as Self-Forcing and LongLive sample, attending a full window. */
typedef struct
{
  SoraDevice *dev;
  SoraWanDit *dit;
  SoraWanDitCache *cache;
  SoraTensor *chunk;
  gsize next; /* the first frame of the next chunk */
} CausalChunk;

/* One forward of the chunk at c->next: a denoising step, or with @write the
 * context pass, which writes its K/V and moves c->next on.  Returns its
 * seconds, or -1 with @error set. */
static double
causal_forward (CausalChunk *c, gboolean write, GError **error)
{
  /* The context pass at context_timestep 0; a step at a middle timestep. */
  float t = write ? 0.0f : 500.0f;
  gint64 t0 = g_get_monotonic_time ();
  SoraTensor *out = sora_wan_dit_forward_chunk (
      c->dit, c->cache, c->chunk, c->next, &t, write, NULL, NULL, error);
  gboolean ok = out && sora_device_finish (c->dev, error);

  sora_tensor_free (out);
  if (!ok)
    return -1;
  if (write)
    c->next += c->chunk->shape[2];
  return (g_get_monotonic_time () - t0) / 1e6;
}

/* Writes chunks until the next one attends the whole window (the sink and
 * window_frames - chunk_frames cached frames), then one untimed chunk there
 * (the kernels of an unmasked window build), then times @runs denoising
 * steps and context passes, best of each.  Returns FALSE with @error. */
static gboolean
causal_time (CausalChunk *c, const SoraWanCausalConfig *causal, guint runs,
    double *fill, double *step, double *context, GError **error)
{
  gsize full = causal->sink_frames + causal->window_frames -
      MIN (causal->window_frames, causal->chunk_frames);
  double s;

  *fill = 0;
  *step = *context = G_MAXDOUBLE;
  while (c->next <= full) {
    if ((s = causal_forward (c, TRUE, error)) < 0)
      return FALSE;
    *fill += s;
  }
  for (guint r = 0; r < runs; r++) {
    if ((s = causal_forward (c, FALSE, error)) < 0)
      return FALSE;
    *step = MIN (*step, s);
    if ((s = causal_forward (c, TRUE, error)) < 0)
      return FALSE;
    *context = MIN (*context, s);
  }
  return TRUE;
}

static void
causal_json (Bench *b, const char *config, double step, double context,
    double chunk, double vae, double fps, guint layers)
{
  if (b->json == NULL)
    return;
  bench_json_row (b, "causal", config, "model");
  bench_json_number (b->json, "step_seconds", step);
  bench_json_number (b->json, "context_seconds", context);
  bench_json_number (b->json, "vae_seconds", vae);
  json_builder_set_member_name (b->json, "chunk_layers");
  json_builder_add_int_value (b->json, layers);
  bench_json_number (b->json, "chunk_seconds", chunk);
  bench_json_number (b->json, "fps", fps);
  json_builder_end_object (b->json);
}

/* The transformer in @dir on a latent grid @height x @width under @causal
 * (NULL: the model's own): one step and one context pass timed, then
 * scaled to a chunk of a model of @layers blocks: n_steps steps and the
 * context pass, plus @vae (the decode's seconds per latent frame, NAN when
 * unknown) for its latent frames; 4 video frames a latent frame. */
static void
causal_case (Bench *b, const char *name, const char *dir,
    const SoraWanCausalConfig *causal, gsize height, gsize width, guint layers,
    double vae)
{
  GError *error = NULL;
  SoraModelFolder *folder = sora_model_folder_open (dir, &error);
  CausalChunk c = { b->dev };
  SoraTensor *text = NULL;
  const SoraWanTransformerConfig *cfg;
  double fill, step, context, scale, chunk, vae_chunk;
  char *config = NULL;
  gsize frame;

  if (folder == NULL || !(c.dit = sora_wan_dit_new (b->dev, folder, &error)))
    goto out;
  cfg = sora_wan_dit_get_config (c.dit);
  causal = causal ? causal : &cfg->causal;
  frame = height / cfg->patch_size[1] * (width / cfg->patch_size[2]);
  {
    gsize lat[5] = { 1, cfg->in_channels, causal->chunk_frames, height, width };
    gsize text_shape[3] = { 1, SORA_WAN_TEXT_LENGTH, cfg->text_dim };

    if (!(c.cache = sora_wan_dit_cache_new (
              c.dit, causal, 1, height, width, 0, &error)) ||
        !(c.chunk = bench_recipe_tensor (
              b->dev, "bench.latents", 5, lat, &error)) ||
        !(text = bench_recipe_tensor (
              b->dev, "bench.text", 3, text_shape, &error)) ||
        !sora_wan_dit_cache_set_text (c.cache, text, &error))
      goto out;
  }
  config =
      g_strdup_printf ("%s %u blk L=%" G_GSIZE_FORMAT " K=%" G_GSIZE_FORMAT,
          name, cfg->num_layers, causal->chunk_frames * frame,
          (causal->sink_frames + causal->window_frames) * frame);
  if (!causal_time (&c, causal, sora_tune_gpu_kernels (b->dev) ? 3 : 1, &fill,
          &step, &context, &error))
    goto out;
  scale = (double)layers / cfg->num_layers;
  vae_chunk = vae * causal->chunk_frames;
  chunk = (causal->n_steps * step + context) * scale +
      (isnan (vae) ? 0 : vae_chunk);
  printf ("causal %-30s step %.3f s, context pass %.3f s (after %.1f s of "
          "writing the window)\n",
      config, step, context, fill);
  printf ("causal %-30s at %u blk: %.2f s a chunk (%u steps + context %.2f s, "
          "VAE %s%.2f s) = %.3g fps\n",
      config, layers, chunk, causal->n_steps,
      (causal->n_steps * step + context) * scale,
      isnan (vae) ? "not measured " : "", isnan (vae) ? 0 : vae_chunk,
      4.0 * causal->chunk_frames / chunk);
  /* PyTorch has no KV cache: its side would be the masked forward over the
   * whole window (tools/causal_attention.py), 5 times the chunk's queries. */
  printf ("causal %-30s PyTorch: not run (no KV cache there: the masked full "
          "forward of tools/causal_attention.py)\n",
      config);
  causal_json (b, config, step, context, chunk, vae_chunk,
      4.0 * causal->chunk_frames / chunk, layers);

out:
  if (error) {
    printf (
        "causal %-30s failed: %s\n", config ? config : name, error->message);
    g_error_free (error);
  }
  g_free (config);
  sora_tensor_free (text);
  sora_tensor_free (c.chunk);
  sora_wan_dit_cache_free (c.cache);
  sora_wan_dit_free (c.dit);
  if (folder)
    sora_model_folder_free (folder);
}

/* The recipe transformer (1.3B widths) under LongLive's settings at 480p,
 * with @layers blocks (the figures scaled to 30) in @dtype. */
static void
causal_recipe_case (Bench *b, guint layers, SoraDType dtype, double vae)
{
  static const SoraWanCausalConfig longlive = { .chunk_frames = 3,
    .window_frames = 12,
    .sink_frames = 3,
    .n_steps = 4,
    .steps = { 1000, 750, 500, 250 },
    .shift = 5.0 };
  GError *error = NULL;
  char *dir = recipe_folder (b, layers, dtype, &error);

  if (dir == NULL) {
    printf ("causal %-30s failed: %s\n", "1.3B 480p", error->message);
    g_error_free (error);
    return;
  }
  causal_case (b, "1.3B 480p", dir, &longlive, 60, 104, 30, vae);
  remove_tree (dir);
  g_free (dir);
}

void
bench_causal (Bench *b)
{
  /* 3 latent frames of 832 x 480 */
  static const gsize p480_vae[] = { 16, 3, 60, 104 };
  static const gsize tiny_vae[] = { 16, 2, 6, 10 };
  gboolean gpu = sora_tune_gpu_kernels (b->dev);
  char *tiny = g_build_filename (b->fixtures, "wan-tiny-causal", NULL);
  char *extents = g_build_filename (b->fixtures, "wan-tiny-real-extents", NULL);

  printf ("\ncausal chunks: one chunk (batch 1, no CFG) attending a full "
          "window, best of %u; a chunk is its steps and the context pass "
          "plus the VAE decode of its latent frames\n",
      gpu ? 3 : 1);
  printf ("%-6s %-30s %9s %9s %9s %9s %7s %8s %8s %8s %9s\n", "bench", "config",
      "sora s", "sora cpu", "torch s", "torch cpu", "ratio", "dev MB", "RSS MB",
      "torchRSS", "rel L2");
  causal_case (b, "tiny", tiny, NULL, 6, 10, 2,
      vae_case (b, "tiny causal", tiny, tiny_vae));
  /* On a CPU the 480p chunk of one block takes tens of seconds: one block,
   * the figures scaled to 30; on a GPU the 30 blocks in bf16. */
  if (!b->quick)
    causal_recipe_case (b, gpu ? 30 : 1, gpu ? SORA_DTYPE_BF16 : SORA_DTYPE_F32,
        vae_case (b, "real extents", extents, p480_vae));
  g_free (tiny);
  g_free (extents);
}
