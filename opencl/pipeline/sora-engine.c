/* gst-sora engine: text to video, the generate pipeline
 *
 *   tokenize -> umT5 (cached per prompt) -> noise -> denoise with
 *   classifier-free guidance (both branches in one batched DiT forward)
 *   -> streaming VAE decode, chunk by chunk.
 *
 * Mirrors diffusers' WanPipeline.__call__ (docs/model.md §Pipeline).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sora-engine-internal.h"
#include "sora-engine-test.h"
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
  const SoraWanVaeConfig *vae_cfg; /* the folder's, read once */
  SoraTokenizer *tokenizer;
  SoraUmt5 *text_encoder;
  SoraWanDit *dit;
  SoraWanVae *vae;

  /* The last encoded prompt pair: prompts change far less often than
   * seeds, and umT5-XXL costs seconds. */
  char *cached_key;
  SoraTensor *cached_text;

  /* The last decoded clip, for sora_engine_continue: its last latent
   * frames [C, K, h, w] as they were decoded, the decoder's causal state
   * after them, and its size. */
  SoraTensor *last_latents;
  SoraWanVaeDecoder *last_decoder;
  guint last_width, last_height;

  /* The same for a causal model: the stream of the last video, parked. */
  SoraStream *last_stream;
};

void
sora_engine_free (SoraEngine *engine)
{
  if (engine == NULL)
    return;
  sora_tensor_free (engine->cached_text);
  g_free (engine->cached_key);
  sora_tensor_free (engine->last_latents);
  sora_wan_vae_decoder_free (engine->last_decoder);
  sora_stream_free (engine->last_stream);
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
  engine->vae_cfg = sora_model_folder_get_vae_config (engine->folder);
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
  const SoraWanVaeConfig *vc = engine->vae_cfg;
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

gboolean
sora_engine_get_causal (SoraEngine *engine, guint *chunk_frames,
    guint *window_frames, guint *sink_frames)
{
  const SoraWanCausalConfig *c = &sora_wan_dit_get_config (engine->dit)->causal;

  if (c->chunk_frames == 0)
    return FALSE;
  if (chunk_frames)
    *chunk_frames = c->chunk_frames;
  if (window_frames)
    *window_frames = c->window_frames;
  if (sink_frames)
    *sink_frames = c->sink_frames;
  return TRUE;
}

void
sora_engine_get_max_size (
    SoraEngine *engine, guint *width, guint *height, guint *frames)
{
  const SoraWanTransformerConfig *tc = sora_wan_dit_get_config (engine->dit);
  const SoraWanVaeConfig *vc = engine->vae_cfg;
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
  guint w = sora_engine_nearest_side (width);
  guint h = sora_engine_nearest_side (height);
  guint f = sora_engine_nearest_frames (frames);

  if (width == w && height == h && frames == f)
    return TRUE;
  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "%ux%u with %u frames cannot be generated: width and height must be "
      "multiples of 16 and the frame count 4k+1; the nearest valid values "
      "are %ux%u with %u frames",
      width, height, frames, w, h, f);
  return FALSE;
}

SoraTensor *
sora_engine_encode_text (SoraEngine *engine, const char *prompt,
    const char *negative, gboolean guided, guint text_length, GError **error)
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

/* predict's tensors for the latents of a run, made at its first step and
 * kept to its last: the CFG batch [x, x] (guided only), the forward's output
 * and the two predictions (guided only). */
typedef struct
{
  SoraTensor *batch, *pred, *cond, *uncond;
} Prediction;

static void
prediction_clear (Prediction *p)
{
  g_clear_pointer (&p->batch, sora_tensor_free);
  g_clear_pointer (&p->pred, sora_tensor_free);
  g_clear_pointer (&p->cond, sora_tensor_free);
  g_clear_pointer (&p->uncond, sora_tensor_free);
}

static gboolean
prediction_init (SoraEngine *engine, Prediction *p, SoraTensor *x, gsize batch,
    GError **error)
{
  const gsize *s = x->shape;

#define NEW(field, name, b)                                                    \
  (p->field = sora_tensor_new_v (engine->dev, name, SORA_DTYPE_F32, error, 5,  \
       (gsize)(b), s[1], s[2], s[3], s[4]))
  if (NEW (pred, "prediction", batch) &&
      (batch == 1 ||
          (NEW (batch, "latents x2", 2) &&
              NEW (cond, "conditional prediction", 1) &&
              NEW (uncond, "unconditional prediction", 1))))
    return TRUE;
#undef NEW
  prediction_clear (p);
  return FALSE;
}

/* One denoising step's prediction: v = v_u + g·(v_c − v_u) from a batched
 * forward of [x, x] with texts [prompt, negative]; it belongs to @p. */
static SoraTensor *
predict (SoraEngine *engine, Prediction *p, SoraTensor *x, float t,
    SoraTensor *text, double guidance, GCancellable *cancellable,
    GError **error)
{
  gboolean guided = text->shape[0] == 2;
  float ts[2] = { t, t };

  if (p->pred == NULL && !prediction_init (engine, p, x, text->shape[0], error))
    return NULL;
  if (!guided)
    return sora_wan_dit_forward_into (
               engine->dit, x, ts, text, NULL, p->pred, cancellable, error)
        ? p->pred
        : NULL;
  if (!sora_op_concat (x, x, 0, p->batch, error) ||
      !sora_wan_dit_forward_into (
          engine->dit, p->batch, ts, text, NULL, p->pred, cancellable, error) ||
      !sora_op_slice (p->pred, 0, 0, 1, p->cond, error) ||
      !sora_op_slice (p->pred, 0, 1, 1, p->uncond, error) ||
      !sora_op_lincomb (p->cond, 2, (SoraTensor *[]){ p->cond, p->uncond },
          (float[]){ guidance, 1.0 - guidance }, error))
    return NULL;
  return p->cond;
}

SoraTensor *
sora_engine_get_last_clip (SoraEngine *engine, guint *width, guint *height)
{
  *width = engine->last_width;
  *height = engine->last_height;
  return engine->last_latents;
}

SoraStream *
sora_engine_get_last_stream (SoraEngine *engine)
{
  return engine->last_stream;
}

SoraStream *
sora_engine_take_last_stream (SoraEngine *engine)
{
  return g_steal_pointer (&engine->last_stream);
}

void
sora_engine_keep_last_stream (SoraEngine *engine, SoraStream *stream)
{
  sora_stream_free (engine->last_stream);
  engine->last_stream = stream;
}

/* Keeps the last SORA_CONTINUE_CONTEXT_LATENTS latent frames of the decoded
 * @x [C, F, h, w] and the state of @decoder after them for a later
 * sora_engine_continue. */
static gboolean
keep_last_clip (SoraEngine *engine, const SoraGenerateParams *params,
    SoraTensor *x, SoraWanVaeDecoder *decoder, GError **error)
{
  gsize c = x->shape[0], f = x->shape[1], plane = x->shape[2] * x->shape[3];
  gsize k = MIN (f, SORA_CONTINUE_CONTEXT_LATENTS);

  engine->last_latents = sora_tensor_new_v (engine->dev, "last clip latents",
      SORA_DTYPE_F32, error, 4, c, k, x->shape[2], x->shape[3]);
  if (engine->last_latents == NULL ||
      !sora_op_copy_slab (
          x, engine->last_latents, c, plane, f, f - k, k, 0, k, error) ||
      !sora_wan_vae_decoder_park (decoder, error)) {
    g_clear_pointer (&engine->last_latents, sora_tensor_free);
    sora_wan_vae_decoder_free (decoder);
    return FALSE;
  }
  engine->last_decoder = decoder;
  engine->last_width = params->width;
  engine->last_height = params->height;
  return TRUE;
}

/* Decodes latent frames [@n_decoded, F) of @x [C, F, h, w], going on from
 * the last clip's decode when @n_decoded > 0, and keeps what a later
 * sora_engine_continue needs in place of the last clip's. */
static gboolean
decode_clip (SoraEngine *engine, const SoraGenerateParams *params,
    SoraTensor *x, guint n_decoded, SoraFrameSink *sink, GError **error)
{
  gsize f = x->shape[1] - n_decoded;
  SoraWanVaeDecoder *decoder = g_steal_pointer (&engine->last_decoder);
  SoraTensor *part = x;
  gboolean ok;

  g_return_val_if_fail (n_decoded == 0 || decoder != NULL, FALSE);
  g_clear_pointer (&engine->last_latents, sora_tensor_free);
  if (n_decoded == 0) {
    sora_wan_vae_decoder_free (decoder);
    decoder = sora_wan_vae_decoder_new (engine->vae, x->shape[2], x->shape[3]);
  }
  if (n_decoded > 0 &&
      (!(part = sora_tensor_new_v (engine->dev, "new latents", SORA_DTYPE_F32,
             error, 4, x->shape[0], f, x->shape[2], x->shape[3])) ||
          !sora_op_slice (x, 1, n_decoded, f, part, error))) {
    sora_tensor_free (part);
    sora_wan_vae_decoder_free (decoder);
    return FALSE;
  }
  ok = sora_wan_vae_decoder_run (
      decoder, part, sora_frame_sink_take, sink, sink->cancellable, error);
  if (part != x)
    sora_tensor_free (part);
  if (!ok) {
    sora_wan_vae_decoder_free (decoder);
    return FALSE;
  }
  return keep_last_clip (engine, params, x, decoder, error);
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

SoraWanDit *
sora_engine_get_dit (SoraEngine *engine)
{
  return engine->dit;
}

/* The folder's scheduler, or the one asked for with its defaults. */
static void
scheduler_config (SoraEngine *engine, const SoraGenerateParams *params,
    SoraSchedulerConfig *cfg)
{
  const SoraSchedulerConfig *sc =
      sora_model_folder_get_scheduler_config (engine->folder);

  *cfg = *sc;
  if (params->scheduler != sc->kind)
    sora_scheduler_config_defaults (cfg, params->scheduler, sc->shift);
  if (params->flow_shift > 0)
    cfg->shift = params->flow_shift;
}

guint64
sora_engine_denoise_bytes (SoraEngine *engine, const SoraGenerateParams *params,
    guint n_latent_frames, guint text_length)
{
  SoraSchedulerConfig sched_cfg;
  const SoraWanTransformerConfig *tc = sora_wan_dit_get_config (engine->dit);
  const SoraWanVaeConfig *vc = engine->vae_cfg;
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
 * (with the most text rows, SORA_WAN_TEXT_LENGTH) fits beside what the device
 * holds (a streaming umT5 holds no layer between encodings); the VAE decode
 * tiles itself to fit. */
static gboolean
size_fits (SoraEngine *engine, const SoraGenerateParams *params,
    guint n_latent_frames, guint64 *need)
{
  const SoraDeviceInfo *info = sora_device_get_info (engine->dev);
  const SoraWanTransformerConfig *tc = sora_wan_dit_get_config (engine->dit);
  const SoraWanVaeConfig *vc = engine->vae_cfg;
  guint patch_h = vc->scale_factor_spatial * tc->patch_size[1];
  guint patch_w = vc->scale_factor_spatial * tc->patch_size[2];

  *need = sora_engine_denoise_bytes (
      engine, params, n_latent_frames, SORA_WAN_TEXT_LENGTH);
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
  const SoraWanVaeConfig *vc = engine->vae_cfg;
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
    SoraDenoiseHook hook, gpointer hook_data, guint n_decoded, guint n_hidden,
    SoraProgressFunc progress, SoraChunkFunc chunk, gpointer user_data,
    GCancellable *cancellable, GError **error)
{
  gboolean guided = params->guidance_scale > 1.0;
  SoraSchedulerConfig sched_cfg;
  SoraTensor *text;
  SoraScheduler *scheduler = NULL;
  gsize video_shape[4];
  guint n_steps;
  gboolean ok = FALSE;
  SoraFrameSink sink = { params->format, n_hidden, cancellable, chunk,
    user_data };
  Prediction prediction = { NULL };
  GCancellable *previous;

  scheduler_config (engine, params, &sched_cfg);
  scheduler = sora_scheduler_new (&sched_cfg, params->steps, error);
  if (scheduler == NULL)
    return FALSE;
  n_steps = sora_scheduler_get_n_steps (scheduler);
  /* Every launch of the generation (umT5, the steps, the decode) stops
   * when it is cancelled, not only those the DiT and the VAE scope. */
  previous = sora_device_set_cancellable (engine->dev, cancellable);

  text = sora_engine_encode_text (engine, params->prompt,
      params->negative_prompt, guided, text_length, error);
  if (text == NULL || cancelled (cancellable, error))
    goto out;

  for (guint i = 0; i < n_steps; i++) {
    gint64 start = g_get_monotonic_time ();
    SoraTensor *v;

    if (hook && !hook (scheduler, i, x, hook_data, error))
      goto out;
    v = predict (engine, &prediction, x,
        sora_scheduler_get_timestep (scheduler, i), text,
        params->guidance_scale, cancellable, error);
    if (v == NULL || !sora_scheduler_step (scheduler, v, x, error) ||
        !sora_device_finish (engine->dev, error) ||
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
  /* The steps' memory goes to the decode. */
  prediction_clear (&prediction);
  sora_wan_dit_release_workspace (engine->dit);

  /* The VAE takes one video: drop the batch axis (always 1 here). */
  memcpy (video_shape, x->shape + 1, sizeof (video_shape));
  if (!sora_tensor_reshape (x, 4, video_shape, error))
    goto out;
  ok = decode_clip (engine, params, x, n_decoded, &sink, error);

out:
  sora_device_set_cancellable (engine->dev, previous);
  sora_frame_sink_clear (&sink);
  prediction_clear (&prediction);
  sora_wan_dit_release_workspace (engine->dit);
  sora_scheduler_free (scheduler);
  return ok;
}

gboolean
sora_engine_run (SoraEngine *engine, const SoraGenerateParams *params,
    guint text_length, const float *initial_latents, SoraProgressFunc progress,
    SoraChunkFunc chunk, gpointer user_data, GCancellable *cancellable,
    GError **error)
{
  const SoraWanVaeConfig *vc = engine->vae_cfg;
  SoraTensor *x;
  gboolean ok;

  if (!sora_engine_check_size (
          params->width, params->height, params->frames, error))
    return FALSE;
  x = sora_engine_new_latents (engine, params,
      (params->frames - 1) / vc->scale_factor_temporal + 1, initial_latents,
      error);
  ok = x &&
      sora_engine_denoise_decode (engine, params, text_length, x, NULL, NULL, 0,
          0, progress, chunk, user_data, cancellable, error);
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

  if (sora_engine_get_causal (engine, NULL, NULL, NULL))
    return sora_engine_check_size (
               params->width, params->height, params->frames, error) &&
        sora_stream_generate (
            engine, params, progress, frames, user_data, cancellable, error);
  return sora_engine_run (engine, params, SORA_WAN_TEXT_LENGTH, NULL,
      sora_engine_public_progress, sora_engine_public_pixels, &d, cancellable,
      error);
}
