/* sora-tool bench: the causal chunk benches (issue 21)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <stdio.h>

#include "sora-tool-bench.h"
#include "sora-tune.h"
#include "sora-umt5.h"
#include "sora-wan-dit-cache.h"
#include "sora-wan-dit.h"

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
  char *dir = bench_recipe_folder (b, layers, dtype, &error);

  if (dir == NULL) {
    printf ("causal %-30s failed: %s\n", "1.3B 480p", error->message);
    g_error_free (error);
    return;
  }
  causal_case (b, "1.3B 480p", dir, &longlive, 60, 104, 30, vae);
  bench_recipe_folder_remove (dir);
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
  bench_model_header ();
  causal_case (b, "tiny", tiny, NULL, 6, 10, 2,
      bench_vae_case (b, "tiny causal", tiny, tiny_vae));
  /* On a CPU the 480p chunk of one block takes tens of seconds: one block,
   * the figures scaled to 30; on a GPU the 30 blocks in bf16. */
  if (!b->quick)
    causal_recipe_case (b, gpu ? 30 : 1, gpu ? SORA_DTYPE_BF16 : SORA_DTYPE_F32,
        bench_vae_case (b, "real extents", extents, p480_vae));
  g_free (tiny);
  g_free (extents);
}
