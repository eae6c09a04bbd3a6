/* gst-sora engine: video extension, continuing a clip with a T2V model
 *
 *   last 1 + 4k context frames -> VAE encode -> z_ctx; latents
 *   [context part | new part] of seeded noise; before each step the context
 *   part becomes z_ctx noised to that step's sigma with its own initial
 *   noise (temporal inpainting), after the last step z_ctx itself; causal
 *   decode of the whole clip, of which the new frames are handed on.
 *   Continuing the engine's own last clip starts from its latents instead
 *   of an encode, and decodes only the new part, going on from that clip's
 *   decoder state.
 *
 * docs/extension.md gives the method and its limits.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-engine-internal.h"
#include "sora-engine-test.h"
#include "sora-ops.h"

guint
sora_engine_extend_round_frames (guint requested)
{
  return MAX (4, (requested + 2) / 4 * 4);
}

typedef struct
{
  SoraTensor *z_ctx; /* [C, K, h, w], normalised */
  SoraTensor *noise_ctx; /* the context part of the initial noise */
  SoraTensor *noisy; /* z_ctx at the current step's noise level */
  float **final_latents;

  SoraProgressFunc progress;
  SoraChunkFunc chunk;
  gpointer user_data;
} Extension;

static void
extension_clear (Extension *e)
{
  sora_tensor_free (e->z_ctx);
  sora_tensor_free (e->noise_ctx);
  sora_tensor_free (e->noisy);
}

/* Latent frames [0, K) of @x [1, C, F, h, w] set from @ctx [C, K, h, w]
 * (@to_latents) or copied into it. */
static gboolean
copy_context (
    SoraTensor *ctx, SoraTensor *x, gboolean to_latents, GError **error)
{
  gsize c = ctx->shape[0], k = ctx->shape[1], f = x->shape[2];
  gsize plane = ctx->shape[2] * ctx->shape[3];

  return to_latents
      ? sora_op_copy_slab (ctx, x, c, plane, k, 0, f, 0, k, error)
      : sora_op_copy_slab (x, ctx, c, plane, f, 0, k, 0, k, error);
}

static gboolean
impose_context (SoraScheduler *scheduler, guint step, SoraTensor *x,
    gpointer user_data, GError **error)
{
  Extension *e = user_data;
  gboolean last = step == sora_scheduler_get_n_steps (scheduler);

  if (!last)
    return sora_scheduler_add_noise (
               scheduler, step, e->z_ctx, e->noise_ctx, e->noisy, error) &&
        copy_context (e->noisy, x, TRUE, error);
  if (!copy_context (e->z_ctx, x, TRUE, error))
    return FALSE;
  if (e->final_latents) {
    *e->final_latents = g_new (float, x->numel);
    return sora_tensor_read (x, *e->final_latents, error);
  }
  return TRUE;
}

static gboolean
on_progress (guint step, guint total_steps, double seconds, gpointer user_data)
{
  Extension *e = user_data;

  return e->progress == NULL ||
      e->progress (step, total_steps, seconds, e->user_data);
}

static gboolean
on_chunk (SoraTensor *frames, const guint8 *pixels, guint n_frames, guint width,
    guint height, gpointer user_data)
{
  Extension *e = user_data;

  return e->chunk == NULL ||
      e->chunk (frames, pixels, n_frames, width, height, e->user_data);
}

/* The last @n_frames frames of @context, packed RGB, as the VAE's input
 * [3, n, H, W] in [-1, 1]. */
static SoraTensor *
upload_context (SoraDevice *dev, const guint8 *context, guint n_frames,
    guint width, guint height, GError **error)
{
  gsize n = (gsize)n_frames * height * width * 3;
  gsize shape[4] = { n_frames, height, width, 3 };
  float *host = g_new (float, n);
  SoraTensor *packed, *video = NULL;

  /* As diffusers' VideoProcessor: x / 255 to [0, 1], then 2x - 1. */
  for (gsize i = 0; i < n; i++)
    host[i] = context[i] / 255.0f * 2.0f - 1.0f;
  packed = sora_tensor_new (
      dev, "extension context", SORA_DTYPE_F32, 4, shape, error);
  if (packed && sora_tensor_write (packed, host, error))
    video = sora_tensor_new_v (dev, "extension context video", SORA_DTYPE_F32,
        error, 4, 3, n_frames, height, width);
  if (video &&
      !sora_op_permute (
          packed, 4, shape, (const guint[]){ 3, 0, 1, 2 }, video, error))
    g_clear_pointer (&video, sora_tensor_free);
  sora_tensor_free (packed);
  g_free (host);
  return video;
}

static gboolean
check_context (const guint8 *context, guint n_context_frames,
    guint max_context_latents, GError **error)
{
  if (context && n_context_frames >= 1 && max_context_latents >= 1)
    return TRUE;
  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "Video extension needs at least 1 context frame (got %u, at most %u "
      "context latent frames)",
      context ? n_context_frames : 0, max_context_latents);
  return FALSE;
}

/* Whether @params asks for new frames the extension can make. */
static gboolean
check_new_frames (const SoraGenerateParams *params, GError **error)
{
  if (params->frames == 0 || params->frames % 4 != 0) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "Video extension makes new frames 4 at a time: %u new frames cannot "
        "be made, the nearest valid count is %u",
        params->frames, sora_engine_extend_round_frames (params->frames));
    return FALSE;
  }
  if (!sora_engine_check_size (params->width, params->height, 1, error)) {
    g_prefix_error (error, "Video extension context frames: ");
    return FALSE;
  }
  return TRUE;
}

/* Extends a clip whose last latent frames are @e->z_ctx [C, K, h, w]
 * by params->frames new frames: with @continued, the engine's last clip,
 * whose decode goes on; else one whose K latent frames are decoded again
 * for the decoder's causal state, their frames not handed on. */
static gboolean
extend_latents (SoraEngine *engine, const SoraGenerateParams *params,
    guint text_length, Extension *e, gboolean continued,
    const float *initial_latents, GCancellable *cancellable, GError **error)
{
  SoraDevice *dev = sora_engine_get_device (engine);
  guint k = e->z_ctx->shape[1];
  SoraTensor *x;
  gboolean ok = FALSE;

  x = sora_engine_new_latents (
      engine, params, k + params->frames / 4, initial_latents, error);
  if (x == NULL)
    return FALSE;
  if (e->z_ctx->shape[0] != x->shape[1]) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
        "Video extension needs a text-to-video model whose transformer takes "
        "the VAE's %" G_GSIZE_FORMAT " latent channels, not %" G_GSIZE_FORMAT,
        e->z_ctx->shape[0], x->shape[1]);
    goto out;
  }
  if (!(e->noise_ctx = sora_tensor_new (dev, "extension context noise",
            SORA_DTYPE_F32, 4, e->z_ctx->shape, error)) ||
      !(e->noisy = sora_tensor_new (dev, "extension noisy context",
            SORA_DTYPE_F32, 4, e->z_ctx->shape, error)) ||
      !copy_context (e->noise_ctx, x, FALSE, error))
    goto out;
  ok = sora_engine_denoise_decode (engine, params, text_length, x,
      impose_context, e, continued ? k : 0, continued ? 0 : k, on_progress,
      on_chunk, e, cancellable, error);

out:
  sora_tensor_free (x);
  return ok;
}

gboolean
sora_engine_extend_run (SoraEngine *engine, const SoraGenerateParams *params,
    guint text_length, const guint8 *context, guint n_context_frames,
    guint max_context_latents, const float *initial_latents,
    SoraProgressFunc progress, SoraChunkFunc chunk, gpointer user_data,
    float **final_latents, GCancellable *cancellable, GError **error)
{
  Extension e = { .final_latents = final_latents,
    .progress = progress,
    .chunk = chunk,
    .user_data = user_data };
  gboolean ok;

  if (final_latents)
    *final_latents = NULL;
  if (!check_context (context, n_context_frames, max_context_latents, error) ||
      !check_new_frames (params, error))
    return FALSE;
  e.z_ctx = sora_engine_encode_context (engine, params, context,
      n_context_frames, max_context_latents, cancellable, error);
  ok = e.z_ctx &&
      extend_latents (engine, params, text_length, &e, FALSE, initial_latents,
          cancellable, error);
  if (!ok && final_latents)
    g_clear_pointer (final_latents, g_free);
  extension_clear (&e);
  return ok;
}

SoraTensor *
sora_engine_encode_context (SoraEngine *engine,
    const SoraGenerateParams *params, const guint8 *context,
    guint n_context_frames, guint max_latents, GCancellable *cancellable,
    GError **error)
{
  SoraDevice *dev = sora_engine_get_device (engine);
  SoraTensor *video, *z = NULL;
  GCancellable *previous;
  /* Frame 1 + 4j closes latent frame j. */
  guint used = 1 + 4 * MIN ((n_context_frames - 1) / 4, max_latents - 1);

  video = upload_context (dev,
      context +
          (gsize)(n_context_frames - used) * params->height * params->width * 3,
      used, params->width, params->height, error);
  /* The encode stops at once too (seconds at 480p). */
  previous = sora_device_set_cancellable (dev, cancellable);
  if (video)
    z = sora_wan_vae_encode (sora_engine_get_vae (engine), video, TRUE, error);
  sora_device_set_cancellable (dev, previous);
  sora_tensor_free (video);
  return z;
}

gboolean
sora_engine_extend (SoraEngine *engine, const SoraGenerateParams *params,
    const guint8 *context, guint n_context_frames, SoraProgressFunc progress,
    SoraFramesFunc frames, gpointer user_data, GCancellable *cancellable,
    GError **error)
{
  SoraPublicCallbacks d = { progress, frames, user_data };

  if (sora_engine_get_causal (engine, NULL, NULL, NULL))
    return check_new_frames (params, error) &&
        sora_stream_extend (engine, params, context, n_context_frames, progress,
            frames, user_data, cancellable, error);
  return sora_engine_extend_run (engine, params, SORA_WAN_TEXT_LENGTH, context,
      n_context_frames, SORA_EXTEND_CONTEXT_LATENTS, NULL,
      sora_engine_public_progress, sora_engine_public_pixels, &d, NULL,
      cancellable, error);
}

guint
sora_engine_extend_steps (SoraEngine *engine, const SoraGenerateParams *params)
{
  return sora_engine_get_causal (engine, NULL, NULL, NULL)
      ? sora_stream_extend_steps (engine, params)
      : params->steps;
}

gboolean
sora_engine_continue_run (SoraEngine *engine, const SoraGenerateParams *params,
    guint text_length, guint max_context_latents, const float *initial_latents,
    SoraProgressFunc progress, SoraChunkFunc chunk, gpointer user_data,
    float **final_latents, GCancellable *cancellable, GError **error)
{
  Extension e = { .final_latents = final_latents,
    .progress = progress,
    .chunk = chunk,
    .user_data = user_data };
  guint width, height;
  SoraTensor *last = sora_engine_get_last_clip (engine, &width, &height);
  gsize c, f, k, plane;
  gboolean ok;

  if (final_latents)
    *final_latents = NULL;
  if (last == NULL) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "There is no previous clip to continue");
    return FALSE;
  }
  if (width != params->width || height != params->height) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "Cannot continue a %ux%u clip at %ux%u", width, height, params->width,
        params->height);
    return FALSE;
  }
  c = last->shape[0];
  f = last->shape[1];
  k = CLAMP (max_context_latents, 1, f);
  plane = last->shape[2] * last->shape[3];
  /* A copy: the decode about to run replaces the last clip. */
  ok = check_new_frames (params, error) &&
      (e.z_ctx = sora_tensor_new_v (sora_engine_get_device (engine),
           "extension context latents", SORA_DTYPE_F32, error, 4, c, k,
           last->shape[2], last->shape[3])) &&
      sora_op_copy_slab (last, e.z_ctx, c, plane, f, f - k, k, 0, k, error) &&
      extend_latents (engine, params, text_length, &e, TRUE, initial_latents,
          cancellable, error);
  if (!ok && final_latents)
    g_clear_pointer (final_latents, g_free);
  extension_clear (&e);
  return ok;
}

gboolean
sora_engine_continue (SoraEngine *engine, const SoraGenerateParams *params,
    SoraProgressFunc progress, SoraFramesFunc frames, gpointer user_data,
    GCancellable *cancellable, GError **error)
{
  SoraPublicCallbacks d = { progress, frames, user_data };

  if (sora_engine_get_causal (engine, NULL, NULL, NULL))
    return check_new_frames (params, error) &&
        sora_stream_continue (
            engine, params, progress, frames, user_data, cancellable, error);
  return sora_engine_continue_run (engine, params, SORA_WAN_TEXT_LENGTH,
      SORA_CONTINUE_CONTEXT_LATENTS, NULL, sora_engine_public_progress,
      sora_engine_public_pixels, &d, NULL, cancellable, error);
}
