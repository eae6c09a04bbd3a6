/* gst-sora engine: text to video, the generate pipeline
 *
 *   tokenize -> umT5 (cached per prompt) -> noise -> denoise with
 *   classifier-free guidance (both branches in one batched DiT forward)
 *   -> streaming VAE decode, chunk by chunk.
 *
 * Mirrors diffusers' WanPipeline.__call__ (../shared/design/wan-model.md A).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sora-engine-private.h"
#include "sora-noise.h"
#include "sora-ops.h"
#include "sora-prompt-clean.h"
#include "sora-scheduler.h"
#include "sora-tokenizer.h"
#include "sora-umt5.h"
#include "sora-wan-dit.h"

struct _SoraEngine
{
  SoraDevice *dev;
  SoraModelFolder *folder;
  SoraTokenizer *tokenizer;
  SoraUmt5 *text_encoder;
  SoraWanDit *dit;
  SoraWanVae *vae;

  /* The last encoded prompt pair: prompts change far less often than
   * seeds, and umT5-XXL costs seconds. */
  char *cached_key;
  SoraTensor *cached_text;

  /* The last frames of the last decoded clip as packed RGB, so that
   * sora_engine_continue can extend it without the caller's format. */
  GByteArray *tail;
  guint tail_frames, tail_width, tail_height;
  SoraTensor *tail_pixels; /* device scratch for one chunk's RGB */
};

void
sora_engine_free (SoraEngine *engine)
{
  if (engine == NULL)
    return;
  sora_tensor_free (engine->cached_text);
  g_free (engine->cached_key);
  if (engine->tail)
    g_byte_array_unref (engine->tail);
  sora_tensor_free (engine->tail_pixels);
  sora_wan_vae_free (engine->vae);
  sora_wan_dit_free (engine->dit);
  sora_umt5_free (engine->text_encoder);
  sora_tokenizer_free (engine->tokenizer);
  sora_model_folder_free (engine->folder);
  sora_device_free (engine->dev);
  g_free (engine);
}

static gboolean
cancelled (GCancellable *cancellable, GError **error)
{
  if (g_cancellable_is_cancelled (cancellable)) {
    g_set_error (
        error, SORA_ERROR, SORA_ERROR_CANCELLED, "Generation was cancelled");
    return TRUE;
  }
  return FALSE;
}

gboolean
sora_engine_check_model (const char *model_dir, GError **error)
{
  SoraModelFolder *folder = sora_model_folder_open (model_dir, error);
  gboolean ok = folder && sora_model_folder_validate (folder, error);

  sora_model_folder_free (folder);
  return ok;
}

SoraEngine *
sora_engine_open (const char *model_dir, const char *device,
    GCancellable *cancellable, GError **error)
{
  SoraEngine *engine = g_new0 (SoraEngine, 1);
  char *tokenizer_path = NULL;

  engine->folder = sora_model_folder_open (model_dir, error);
  if (engine->folder == NULL ||
      !sora_model_folder_validate (engine->folder, error))
    goto fail;
  engine->dev = sora_device_open (device, error);
  if (engine->dev == NULL)
    goto fail;
  tokenizer_path = sora_model_folder_get_file (
      engine->folder, SORA_COMPONENT_TOKENIZER, "tokenizer.json");
  engine->tokenizer = sora_tokenizer_new_from_file (tokenizer_path, error);
  if (engine->tokenizer == NULL || cancelled (cancellable, error))
    goto fail;
  /* umT5 streams its layers when it would take over a quarter of the
   * device (umT5-XXL is 11.4 GB in bf16): the DiT's activations need the
   * room more than a new prompt needs speed. */
  engine->text_encoder = sora_umt5_new (engine->dev, engine->folder,
      sora_umt5_weight_bytes (engine->folder) >
          sora_device_get_info (engine->dev)->global_mem / 4,
      error);
  if (engine->text_encoder == NULL || cancelled (cancellable, error))
    goto fail;
  engine->dit = sora_wan_dit_new (engine->dev, engine->folder, error);
  if (engine->dit == NULL || cancelled (cancellable, error))
    goto fail;
  engine->vae = sora_wan_vae_new (engine->dev, engine->folder, error);
  if (engine->vae == NULL)
    goto fail;
  g_free (tokenizer_path);
  return engine;

fail:
  g_free (tokenizer_path);
  sora_engine_free (engine);
  return NULL;
}

const char *
sora_engine_get_device_name (SoraEngine *engine)
{
  return sora_device_get_info (engine->dev)->name;
}

void
sora_engine_get_native_size (
    SoraEngine *engine, guint *width, guint *height, guint *frames)
{
  const SoraWanTransformerConfig *tc = sora_wan_dit_get_config (engine->dit);
  const SoraWanVaeConfig *vc =
      sora_model_folder_get_vae_config (engine->folder);
  /* A model may say what it was trained at; Wan2.1 is trained at 832x480
   * with 81 frames, and a model whose RoPE covers fewer patches along an
   * axis (small models) gets that many instead. */
  guint patch_w = vc->scale_factor_spatial * tc->patch_size[2];
  guint patch_h = vc->scale_factor_spatial * tc->patch_size[1];
  guint max_f = (tc->rope_max_seq_len - 1) * vc->scale_factor_temporal + 1;

  if (tc->native_size[0]) {
    if (width)
      *width = tc->native_size[0];
    if (height)
      *height = tc->native_size[1];
    if (frames)
      *frames = tc->native_size[2];
    return;
  }
  if (width)
    *width = MIN (832, tc->rope_max_seq_len * patch_w);
  if (height)
    *height = MIN (480, tc->rope_max_seq_len * patch_h);
  if (frames)
    *frames = MIN (81, max_f);
}

void
sora_engine_get_max_size (
    SoraEngine *engine, guint *width, guint *height, guint *frames)
{
  const SoraWanTransformerConfig *tc = sora_wan_dit_get_config (engine->dit);
  const SoraWanVaeConfig *vc =
      sora_model_folder_get_vae_config (engine->folder);
  guint rope = tc->rope_max_seq_len;

  if (width)
    *width = rope * tc->patch_size[2] * vc->scale_factor_spatial / 16 * 16;
  if (height)
    *height = rope * tc->patch_size[1] * vc->scale_factor_spatial / 16 * 16;
  if (frames)
    *frames = (rope * tc->patch_size[0] - 1) * vc->scale_factor_temporal + 1;
}

gboolean
sora_engine_check_size (guint width, guint height, guint frames, GError **error)
{
  guint w = MAX (16, (width + 8) / 16 * 16);
  guint h = MAX (16, (height + 8) / 16 * 16);
  guint f = frames < 1 ? 1 : (frames - 1 + 2) / 4 * 4 + 1;

  if (width == w && height == h && frames == f)
    return TRUE;
  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "%ux%u with %u frames cannot be generated: width and height must be "
      "multiples of 16 and the frame count 4k+1; the nearest valid values "
      "are %ux%u with %u frames",
      width, height, frames, w, h, f);
  return FALSE;
}

/* Text states [batch, text_length, d]: the prompt, then (with guidance) the
 * negative prompt. */
static SoraTensor *
encode_text (SoraEngine *engine, const char *prompt, const char *negative,
    gboolean guided, guint text_length, GError **error)
{
  char *texts[2] = { sora_prompt_clean (prompt), sora_prompt_clean (negative) };
  guint batch = guided ? 2 : 1;
  char *key = g_strdup_printf (
      "%u|%u|%s|%s", text_length, batch, texts[0], guided ? texts[1] : "");
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  GArray *mask = g_array_new (FALSE, FALSE, sizeof (gint32));
  GArray *all_ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  GArray *all_mask = g_array_new (FALSE, FALSE, sizeof (gint32));
  SoraTensor *text = NULL;

  if (engine->cached_text && g_strcmp0 (key, engine->cached_key) == 0) {
    text = engine->cached_text;
    goto out;
  }
  for (guint b = 0; b < batch; b++) {
    if (!sora_tokenizer_encode (
            engine->tokenizer, texts[b], text_length, ids, mask, error))
      goto out;
    g_array_append_vals (all_ids, ids->data, ids->len);
    g_array_append_vals (all_mask, mask->data, mask->len);
  }
  text = sora_umt5_encode (engine->text_encoder, (gint32 *)all_ids->data,
      (gint32 *)all_mask->data, batch, text_length, NULL, error);
  if (text == NULL)
    goto out;
  sora_tensor_free (engine->cached_text);
  g_free (engine->cached_key);
  engine->cached_text = text;
  engine->cached_key = g_steal_pointer (&key);

out:
  g_array_unref (ids);
  g_array_unref (mask);
  g_array_unref (all_ids);
  g_array_unref (all_mask);
  g_free (texts[0]);
  g_free (texts[1]);
  g_free (key);
  return text;
}

gboolean
sora_engine_count_tokens (SoraEngine *engine, const char *text, guint *n_tokens,
    guint *max_tokens, GError **error)
{
  char *clean = sora_prompt_clean (text);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  /* As encode_text, without its truncation to the text length. */
  gboolean ok =
      sora_tokenizer_encode (engine->tokenizer, clean, 0, ids, NULL, error);

  *n_tokens = ids->len;
  *max_tokens = SORA_WAN_TEXT_LENGTH;
  g_array_unref (ids);
  g_free (clean);
  return ok;
}

/* One denoising step's prediction: v = v_u + g·(v_c − v_u) from a batched
 * forward of [x, x] with texts [prompt, negative]. */
static SoraTensor *
predict (SoraEngine *engine, SoraTensor *x, float t, SoraTensor *text,
    double guidance, GCancellable *cancellable, GError **error)
{
  gboolean guided = text->shape[0] == 2;
  SoraTensor *batch = NULL, *pred = NULL, *cond = NULL, *uncond = NULL;
  SoraTensor *out = NULL;
  float ts[2] = { t, t };

  if (!guided)
    return sora_wan_dit_forward (
        engine->dit, x, ts, text, NULL, cancellable, error);

  batch = sora_tensor_new (engine->dev, "latents x2", SORA_DTYPE_F32, x->ndim,
      (gsize[]){ 2, x->shape[1], x->shape[2], x->shape[3], x->shape[4] },
      error);
  if (batch == NULL || !sora_op_concat (x, x, 0, batch, error))
    goto out;
  pred = sora_wan_dit_forward (
      engine->dit, batch, ts, text, NULL, cancellable, error);
  if (pred == NULL)
    goto out;
  cond = sora_tensor_new (engine->dev, "conditional prediction", SORA_DTYPE_F32,
      x->ndim, x->shape, error);
  uncond = cond ? sora_tensor_new (engine->dev, "unconditional prediction",
                      SORA_DTYPE_F32, x->ndim, x->shape, error)
                : NULL;
  if (uncond == NULL || !sora_op_slice (pred, 0, 0, 1, cond, error) ||
      !sora_op_slice (pred, 0, 1, 1, uncond, error) ||
      !sora_op_lincomb (cond, 2, (SoraTensor *[]){ cond, uncond },
          (float[]){ guidance, 1.0 - guidance }, error))
    goto out;
  out = cond;
  cond = NULL;

out:
  sora_tensor_free (batch);
  sora_tensor_free (pred);
  sora_tensor_free (cond);
  sora_tensor_free (uncond);
  return out;
}

typedef struct
{
  SoraEngine *engine;
  GCancellable *cancellable;
  SoraVaeChunkFunc chunk;
  gpointer user_data;
  GError *error;
} DecodeData;

/* Appends a decoded chunk to the engine's RGB tail, keeping the frames the
 * longest extension conditions on. */
static gboolean
keep_tail (SoraEngine *engine, SoraTensor *frames, GError **error)
{
  guint n = frames->shape[1], h = frames->shape[2], w = frames->shape[3];
  gsize frame = sora_pixel_frame_size (SORA_PIXEL_RGB, w, h);
  guint keep = 1 + 4 * (SORA_EXTEND_CONTEXT_LATENTS - 1);

  if (engine->tail_pixels == NULL || engine->tail_pixels->nbytes < n * frame) {
    sora_tensor_free (engine->tail_pixels);
    engine->tail_pixels = sora_tensor_new_v (engine->dev, "tail pixels",
        SORA_DTYPE_F32, error, 1, (n * frame + 3) / 4);
    if (engine->tail_pixels == NULL)
      return FALSE;
  }
  g_byte_array_set_size (engine->tail, (engine->tail_frames + n) * frame);
  if (!sora_op_to_pixels (frames, SORA_PIXEL_RGB, engine->tail_pixels->buf,
          engine->tail_pixels->nbytes, error) ||
      !sora_cl_check (
          clEnqueueReadBuffer (sora_device_get_queue (engine->dev),
              engine->tail_pixels->buf, CL_TRUE, 0, n * frame,
              engine->tail->data + engine->tail_frames * frame, 0, NULL, NULL),
          "clEnqueueReadBuffer", "tail pixels", error))
    return FALSE;
  engine->tail_frames += n;
  engine->tail_width = w;
  engine->tail_height = h;
  if (engine->tail_frames > keep) {
    g_byte_array_remove_range (
        engine->tail, 0, (engine->tail_frames - keep) * frame);
    engine->tail_frames = keep;
  }
  return TRUE;
}

static gboolean
on_chunk (SoraTensor *frames, const guint8 *pixels, guint n_frames, guint width,
    guint height, gpointer user_data)
{
  DecodeData *d = user_data;

  if (g_cancellable_is_cancelled (d->cancellable) ||
      !keep_tail (d->engine, frames, &d->error))
    return FALSE;
  return d->chunk (frames, pixels, n_frames, width, height, d->user_data);
}

const guint8 *
sora_engine_get_tail (
    SoraEngine *engine, guint *n_frames, guint *width, guint *height)
{
  *n_frames = engine->tail_frames;
  *width = engine->tail_width;
  *height = engine->tail_height;
  return engine->tail ? engine->tail->data : NULL;
}

gboolean
sora_engine_set_text_encoder_streaming (
    SoraEngine *engine, gboolean stream, GError **error)
{
  SoraUmt5 *m = sora_umt5_new (engine->dev, engine->folder, stream, error);

  if (m == NULL)
    return FALSE;
  sora_umt5_free (engine->text_encoder);
  engine->text_encoder = m;
  return TRUE;
}

SoraDevice *
sora_engine_get_device (SoraEngine *engine)
{
  return engine->dev;
}

SoraWanVae *
sora_engine_get_vae (SoraEngine *engine)
{
  return engine->vae;
}

/* The folder's scheduler, or the one asked for with its defaults. */
static void
scheduler_config (SoraEngine *engine, const SoraGenerateParams *params,
    SoraSchedulerConfig *cfg)
{
  const SoraSchedulerConfig *sc =
      sora_model_folder_get_scheduler_config (engine->folder);

  *cfg = *sc;
  if ((params->sampler == SORA_SAMPLER_EULER) !=
      (sc->kind == SORA_SCHEDULER_FLOW_EULER))
    sora_scheduler_config_defaults (cfg,
        params->sampler == SORA_SAMPLER_EULER ? SORA_SCHEDULER_FLOW_EULER
                                              : SORA_SCHEDULER_UNIPC,
        sc->shift);
  if (params->flow_shift > 0)
    cfg->shift = params->flow_shift;
}

guint64
sora_engine_denoise_bytes (SoraEngine *engine, const SoraGenerateParams *params,
    guint n_latent_frames, guint text_length)
{
  SoraSchedulerConfig sched_cfg;
  const SoraWanTransformerConfig *tc = sora_wan_dit_get_config (engine->dit);
  const SoraWanVaeConfig *vc =
      sora_model_folder_get_vae_config (engine->folder);
  guint batch = params->guidance_scale > 1.0 ? 2 : 1;
  gsize h = params->height / vc->scale_factor_spatial;
  gsize w = params->width / vc->scale_factor_spatial;
  guint64 latents = (guint64)tc->in_channels * n_latent_frames * h * w * 4;

  /* the latents, predict's batch of them and its two predictions, the
   * scheduler's history */
  scheduler_config (engine, params, &sched_cfg);
  return sora_wan_dit_forward_bytes (
             engine->dit, batch, n_latent_frames, h, w, text_length) +
      (batch + 3 + sora_scheduler_state_tensors (&sched_cfg)) * latents;
}

/* Whether @params' size is in the model's RoPE range, and its denoising
 * (with the most text rows, 512) fits beside what the device holds (a
 * streaming umT5 holds no layer between encodings); the VAE decode tiles
 * itself to fit. */
static gboolean
size_fits (SoraEngine *engine, const SoraGenerateParams *params,
    guint n_latent_frames, guint64 *need)
{
  const SoraDeviceInfo *info = sora_device_get_info (engine->dev);
  const SoraWanTransformerConfig *tc = sora_wan_dit_get_config (engine->dit);
  const SoraWanVaeConfig *vc =
      sora_model_folder_get_vae_config (engine->folder);
  guint patch_h = vc->scale_factor_spatial * tc->patch_size[1];
  guint patch_w = vc->scale_factor_spatial * tc->patch_size[2];

  *need = sora_engine_denoise_bytes (engine, params, n_latent_frames, 512);
  return n_latent_frames / tc->patch_size[0] <= tc->rope_max_seq_len &&
      params->height / patch_h <= tc->rope_max_seq_len &&
      params->width / patch_w <= tc->rope_max_seq_len &&
      sora_device_bytes_current (engine->dev) + *need <= info->global_mem;
}

/* The largest size of @params' aspect (multiples of 16), and the most
 * frames (4k+1) at @params' size, that fit: the error's suggestions. */
static void
nearest_fit (SoraEngine *engine, const SoraGenerateParams *params,
    guint n_latent_frames, guint *width, guint *height, guint *frames)
{
  SoraGenerateParams p = *params;
  guint64 need;

  *width = *height = *frames = 0;
  for (guint s = 256; s > 0 && *width == 0; s--) {
    p.width = MAX (16, params->width * s / 256 / 16 * 16);
    p.height = MAX (16, params->height * s / 256 / 16 * 16);
    if (size_fits (engine, &p, n_latent_frames, &need)) {
      *width = p.width;
      *height = p.height;
    }
  }
  p = *params;
  for (guint t = n_latent_frames; t > 0 && *frames == 0; t--)
    if (size_fits (engine, &p, t, &need))
      *frames = (t - 1) * 4 + 1;
}

/* Refuses, before the first step rather than in the middle of one, a size
 * beyond the model's RoPE range or the device's memory, naming the limit
 * and the nearest size that fits. */
static gboolean
check_fits (SoraEngine *engine, const SoraGenerateParams *params,
    guint n_latent_frames, GError **error)
{
  const SoraDeviceInfo *info = sora_device_get_info (engine->dev);
  const SoraWanTransformerConfig *tc = sora_wan_dit_get_config (engine->dit);
  guint64 held = sora_device_bytes_current (engine->dev), need;
  guint w, h, f;
  char *limit, *nearest;
  gboolean memory;

  if (size_fits (engine, params, n_latent_frames, &need))
    return TRUE;
  memory = held + need > info->global_mem;
  if (memory)
    limit = g_strdup_printf ("needs about %.1f GB of device memory to "
                             "denoise, beside the %.1f GB of weights held, "
                             "but %s has %.1f GB",
        need / 1e9, held / 1e9, info->name, info->global_mem / 1e9);
  else
    limit = g_strdup_printf ("is beyond the model's RoPE range of %u "
                             "positions per axis",
        tc->rope_max_seq_len);
  nearest_fit (engine, params, n_latent_frames, &w, &h, &f);
  if (w == 0)
    nearest = g_strdup ("no size fits: use a device with more memory");
  else if (f == 0)
    nearest = g_strdup_printf ("the nearest size that fits is %ux%u", w, h);
  else
    nearest = g_strdup_printf ("the nearest that fit are %ux%u, or %u frames "
                               "at %ux%u",
        w, h, f, params->width, params->height);
  g_set_error (error, SORA_ERROR,
      memory ? SORA_ERROR_OUT_OF_MEMORY : SORA_ERROR_INVALID_ARGUMENT,
      "%ux%u with %u frames %s; %s", params->width, params->height,
      params->frames, limit, nearest);
  g_free (limit);
  g_free (nearest);
  return FALSE;
}

SoraTensor *
sora_engine_new_latents (SoraEngine *engine, const SoraGenerateParams *params,
    guint n_latent_frames, const float *initial, GError **error)
{
  const SoraWanTransformerConfig *tc = sora_wan_dit_get_config (engine->dit);
  const SoraWanVaeConfig *vc =
      sora_model_folder_get_vae_config (engine->folder);
  gsize shape[5] = { 1, tc->in_channels, n_latent_frames,
    params->height / vc->scale_factor_spatial,
    params->width / vc->scale_factor_spatial };
  SoraTensor *x;
  float *host;

  if (!check_fits (engine, params, n_latent_frames, error))
    return NULL;
  x = sora_tensor_new (engine->dev, "latents", SORA_DTYPE_F32, 5, shape, error);
  if (x == NULL)
    return NULL;
  host = initial ? NULL : g_new (float, x->numel);
  if (host)
    sora_noise_normal (params->seed, host, x->numel);
  if (!sora_tensor_write (x, initial ? initial : host, error))
    g_clear_pointer (&x, sora_tensor_free);
  g_free (host);
  return x;
}

gboolean
sora_engine_denoise_decode (SoraEngine *engine,
    const SoraGenerateParams *params, guint text_length, SoraTensor *x,
    SoraDenoiseHook hook, gpointer hook_data, SoraProgressFunc progress,
    SoraVaeChunkFunc chunk, gpointer user_data, GCancellable *cancellable,
    GError **error)
{
  gboolean guided = params->guidance_scale > 1.0;
  SoraSchedulerConfig sched_cfg;
  SoraTensor *text;
  SoraScheduler *scheduler = NULL;
  gsize video_shape[4];
  guint n_steps;
  gboolean ok = FALSE;
  DecodeData decode = { engine, cancellable, chunk, user_data, NULL };
  GCancellable *previous;

  scheduler_config (engine, params, &sched_cfg);
  scheduler = sora_scheduler_new (&sched_cfg, params->steps, error);
  if (scheduler == NULL)
    return FALSE;
  n_steps = sora_scheduler_get_n_steps (scheduler);
  /* Every launch of the generation (umT5, the steps, the decode) stops
   * when it is cancelled, not only those the DiT and the VAE scope. */
  previous = sora_device_set_cancellable (engine->dev, cancellable);

  text = encode_text (engine, params->prompt, params->negative_prompt, guided,
      text_length, error);
  if (text == NULL || cancelled (cancellable, error))
    goto out;

  for (guint i = 0; i < n_steps; i++) {
    gint64 start = g_get_monotonic_time ();
    SoraTensor *v = NULL;
    gboolean stepped;

    if (hook && !hook (scheduler, i, x, hook_data, error))
      goto out;
    v = predict (engine, x, sora_scheduler_get_timestep (scheduler, i), text,
        params->guidance_scale, cancellable, error);
    stepped = v && sora_scheduler_step (scheduler, v, x, error);
    sora_tensor_free (v);
    if (!stepped || !sora_device_finish (engine->dev, error) ||
        cancelled (cancellable, error))
      goto out;
    if (progress &&
        !progress (i + 1, n_steps, (g_get_monotonic_time () - start) / 1e6,
            user_data)) {
      g_set_error (
          error, SORA_ERROR, SORA_ERROR_CANCELLED, "Generation was cancelled");
      goto out;
    }
  }
  if (hook && !hook (scheduler, n_steps, x, hook_data, error))
    goto out;

  /* The VAE takes one video: drop the batch axis (always 1 here). */
  memcpy (video_shape, x->shape + 1, sizeof (video_shape));
  if (!sora_tensor_reshape (x, 4, video_shape, error))
    goto out;
  /* A new clip: what a later sora_engine_continue extends. */
  if (engine->tail == NULL)
    engine->tail = g_byte_array_new ();
  g_byte_array_set_size (engine->tail, 0);
  engine->tail_frames = 0;
  ok = sora_wan_vae_decode (
      engine->vae, x, params->format, on_chunk, &decode, cancellable, error);
  if (decode.error) {
    /* keep_tail failed and stopped the decode: report why. */
    g_clear_error (error);
    g_propagate_error (error, decode.error);
    ok = FALSE;
  }
  if (!ok)
    engine->tail_frames = 0;

out:
  sora_device_set_cancellable (engine->dev, previous);
  sora_scheduler_free (scheduler);
  return ok;
}

gboolean
sora_engine_run (SoraEngine *engine, const SoraGenerateParams *params,
    guint text_length, const float *initial_latents, SoraProgressFunc progress,
    SoraVaeChunkFunc chunk, gpointer user_data, GCancellable *cancellable,
    GError **error)
{
  const SoraWanVaeConfig *vc =
      sora_model_folder_get_vae_config (engine->folder);
  SoraTensor *x;
  gboolean ok;

  if (!sora_engine_check_size (
          params->width, params->height, params->frames, error))
    return FALSE;
  x = sora_engine_new_latents (engine, params,
      (params->frames - 1) / vc->scale_factor_temporal + 1, initial_latents,
      error);
  ok = x &&
      sora_engine_denoise_decode (engine, params, text_length, x, NULL, NULL,
          progress, chunk, user_data, cancellable, error);
  sora_tensor_free (x);
  return ok;
}

gboolean
sora_engine_public_progress (
    guint step, guint total_steps, double seconds_per_step, gpointer user_data)
{
  SoraPublicCallbacks *d = user_data;

  return d->progress == NULL ||
      d->progress (step, total_steps, seconds_per_step, d->user_data);
}

gboolean
sora_engine_public_pixels (SoraTensor *frames, const guint8 *pixels,
    guint n_frames, guint width, guint height, gpointer user_data)
{
  SoraPublicCallbacks *d = user_data;

  return d->frames == NULL ||
      d->frames (pixels, n_frames, width, height, d->user_data);
}

gboolean
sora_engine_generate (SoraEngine *engine, const SoraGenerateParams *params,
    SoraProgressFunc progress, SoraFramesFunc frames, gpointer user_data,
    GCancellable *cancellable, GError **error)
{
  SoraPublicCallbacks d = { progress, frames, user_data };

  return sora_engine_run (engine, params, SORA_WAN_TEXT_LENGTH, NULL,
      sora_engine_public_progress, sora_engine_public_pixels, &d, cancellable,
      error);
}
