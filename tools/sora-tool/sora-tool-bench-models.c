/* sora-tool bench: the model benches, each next to PyTorch
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <stdio.h>

#include "sora-tool-bench.h"
#include "sora-tune.h"
#include "sora-umt5.h"
#include "sora-wan-dit.h"
#include "sora-wan-vae.h"

/* Model benches: a DiT step with CFG (batch 2), a text encoding, a VAE
 * decode, each in the engine and in PyTorch (tools/bench_reference.py) on
 * the same weights and inputs (sora_recipe_values), with the device's peak
 * memory and the process's peak RSS. */

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

    bench_model_row (b, "dit", config, 1, dit_step, &d, &d.out, args);
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
  char *dir = bench_recipe_folder (b, layers, dtype, &error);

  if (dir == NULL) {
    printf ("dit    %-30s failed: %s\n", name, error->message);
    g_error_free (error);
    return;
  }
  printf ("(%s: model folder of %u blocks, %s weights, written in %.1f s)\n",
      name, layers, sora_dtype_name (dtype),
      (g_get_monotonic_time () - start) / 1e6);
  dit_case (b, name, dir, lat, seq, warm);
  bench_recipe_folder_remove (dir);
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
  bench_model_row (b, "umt5", config, 1, umt5_step, &u, &u.out, args);

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

double
bench_vae_case (Bench *b, const char *name, const char *dir, const gsize *lat)
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
  seconds =
      bench_model_row (b, "vae", config, lat[1], vae_step, &v, NULL, args);

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
  bench_model_header ();
  dit_case (b, "tiny", tiny, tiny_lat, 32, NULL);
  umt5_case (b, "tiny", tiny, 2, 32);
  bench_vae_case (b, "tiny", tiny, tiny_vae);
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
