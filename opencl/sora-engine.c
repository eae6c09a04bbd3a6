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
#include "sora-scheduler.h"
#include "sora-tokenizer.h"
#include "sora-umt5.h"
#include "sora-wan-dit.h"

#define WAN_TEXT_LENGTH 512

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
};

void
sora_engine_free (SoraEngine *engine)
{
  if (engine == NULL)
    return;
  sora_tensor_free (engine->cached_text);
  g_free (engine->cached_key);
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
  engine->text_encoder = sora_umt5_new (engine->dev, engine->folder, error);
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
  /* Wan2.1 is trained at 832x480 (and 1280x720), 81 frames. */
  if (width)
    *width = 832;
  if (height)
    *height = 480;
  if (frames)
    *frames = 81;
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

/* Wan's prompt_clean, less ftfy (diffusers makes it optional). */
char *
sora_prompt_clean (const char *text)
{
  static const struct
  {
    const char *entity, *text;
  } entities[] = {
    { "&amp;", "&" },
    { "&lt;", "<" },
    { "&gt;", ">" },
    { "&quot;", "\"" },
    { "&#39;", "'" },
    { "&#x27;", "'" },
    { "&apos;", "'" },
    { "&nbsp;", "\xc2\xa0" },
  };
  char *s = g_strdup (text ? text : "");
  GString *out;

  for (int pass = 0; pass < 2; pass++) {
    out = g_string_new (NULL);
    for (const char *p = s; *p;) {
      guint i;
      for (i = 0; i < G_N_ELEMENTS (entities); i++) {
        gsize len = strlen (entities[i].entity);
        if (strncmp (p, entities[i].entity, len) == 0) {
          g_string_append (out, entities[i].text);
          p += len;
          break;
        }
      }
      if (i == G_N_ELEMENTS (entities))
        g_string_append_c (out, *p++);
    }
    g_free (s);
    s = g_string_free (out, FALSE);
  }
  /* Collapse every run of Unicode white space into one ASCII space. */
  out = g_string_new (NULL);
  for (const char *p = s; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char_validated (p, -1);
    if (c == (gunichar)-1 || c == (gunichar)-2)
      break;
    if (g_unichar_isspace (c)) {
      if (out->len && out->str[out->len - 1] != ' ')
        g_string_append_c (out, ' ');
    } else {
      g_string_append_unichar (out, c);
    }
  }
  g_free (s);
  s = g_string_free (out, FALSE);
  return g_strstrip (s);
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

/* One denoising step's prediction: v = v_u + g·(v_c − v_u) from a batched
 * forward of [x, x] with texts [prompt, negative]. */
static SoraTensor *
predict (SoraEngine *engine, SoraTensor *x, float t, SoraTensor *text,
    double guidance, GError **error)
{
  gboolean guided = text->shape[0] == 2;
  SoraTensor *batch = NULL, *pred = NULL, *cond = NULL, *uncond = NULL;
  SoraTensor *out = NULL;
  float ts[2] = { t, t };

  if (!guided)
    return sora_wan_dit_forward (engine->dit, x, ts, text, NULL, error);

  batch = sora_tensor_new (engine->dev, "latents x2", SORA_DTYPE_F32, x->ndim,
      (gsize[]){ 2, x->shape[1], x->shape[2], x->shape[3], x->shape[4] },
      error);
  if (batch == NULL || !sora_op_concat (x, x, 0, batch, error))
    goto out;
  pred = sora_wan_dit_forward (engine->dit, batch, ts, text, NULL, error);
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
  GCancellable *cancellable;
  SoraVaeChunkFunc chunk;
  gpointer user_data;
} DecodeData;

static gboolean
on_chunk (SoraTensor *frames, const guint8 *pixels, guint n_frames, guint width,
    guint height, gpointer user_data)
{
  DecodeData *d = user_data;

  if (g_cancellable_is_cancelled (d->cancellable))
    return FALSE;
  return d->chunk (frames, pixels, n_frames, width, height, d->user_data);
}

gboolean
sora_engine_run (SoraEngine *engine, const SoraGenerateParams *params,
    guint text_length, const float *initial_latents, SoraProgressFunc progress,
    SoraVaeChunkFunc chunk, gpointer user_data, GCancellable *cancellable,
    GError **error)
{
  const SoraWanTransformerConfig *tc = sora_wan_dit_get_config (engine->dit);
  const SoraWanVaeConfig *vc =
      sora_model_folder_get_vae_config (engine->folder);
  const SoraSchedulerConfig *sc =
      sora_model_folder_get_scheduler_config (engine->folder);
  gboolean guided = params->guidance_scale > 1.0;
  SoraSchedulerConfig sched_cfg;
  gsize shape[5], numel;
  SoraTensor *text, *x = NULL;
  SoraScheduler *scheduler = NULL;
  float *host = NULL;
  gboolean ok = FALSE;
  DecodeData decode = { cancellable, chunk, user_data };

  if (!sora_engine_check_size (
          params->width, params->height, params->frames, error))
    return FALSE;
  shape[0] = 1;
  shape[1] = tc->in_channels;
  shape[2] = (params->frames - 1) / vc->scale_factor_temporal + 1;
  shape[3] = params->height / vc->scale_factor_spatial;
  shape[4] = params->width / vc->scale_factor_spatial;
  numel = shape[1] * shape[2] * shape[3] * shape[4];

  /* The folder's scheduler, or the one asked for with its defaults. */
  sched_cfg = *sc;
  if ((params->sampler == SORA_SAMPLER_EULER) !=
      (sc->kind == SORA_SCHEDULER_FLOW_EULER))
    sora_scheduler_config_defaults (&sched_cfg,
        params->sampler == SORA_SAMPLER_EULER ? SORA_SCHEDULER_FLOW_EULER :
        SORA_SCHEDULER_UNIPC, sc->shift);
  if (params->flow_shift > 0)
    sched_cfg.shift = params->flow_shift;
  scheduler = sora_scheduler_new (&sched_cfg, params->steps, error);
  if (scheduler == NULL)
    return FALSE;

  text = encode_text (engine, params->prompt, params->negative_prompt, guided,
      text_length, error);
  if (text == NULL || cancelled (cancellable, error))
    goto out;

  host = g_new (float, numel);
  if (initial_latents)
    memcpy (host, initial_latents, numel * sizeof (float));
  else
    sora_noise_normal (params->seed, host, numel);
  x = sora_tensor_new (engine->dev, "latents", SORA_DTYPE_F32, 5, shape, error);
  if (x == NULL || !sora_tensor_write (x, host, error))
    goto out;

  for (guint i = 0; i < sora_scheduler_get_n_steps (scheduler); i++) {
    gint64 start = g_get_monotonic_time ();
    SoraTensor *v =
        predict (engine, x, sora_scheduler_get_timestep (scheduler, i), text,
            params->guidance_scale, error);
    gboolean stepped = v && sora_scheduler_step (scheduler, v, x, error);

    sora_tensor_free (v);
    if (!stepped || !sora_device_finish (engine->dev, error) ||
        cancelled (cancellable, error))
      goto out;
    if (progress &&
        !progress (i + 1, sora_scheduler_get_n_steps (scheduler),
            (g_get_monotonic_time () - start) / 1e6, user_data)) {
      g_set_error (
          error, SORA_ERROR, SORA_ERROR_CANCELLED, "Generation was cancelled");
      goto out;
    }
  }

  if (!sora_tensor_reshape (x, 4, shape + 1, error))
    goto out;
  ok = sora_wan_vae_decode (
      engine->vae, x, params->format, on_chunk, &decode, error);

out:
  sora_tensor_free (x);
  sora_scheduler_free (scheduler);
  g_free (host);
  return ok;
}

typedef struct
{
  SoraProgressFunc progress;
  SoraFramesFunc frames;
  gpointer user_data;
} PublicCallbacks;

static gboolean
on_progress (
    guint step, guint total_steps, double seconds_per_step, gpointer user_data)
{
  PublicCallbacks *d = user_data;

  return d->progress == NULL ||
      d->progress (step, total_steps, seconds_per_step, d->user_data);
}

static gboolean
on_pixels (SoraTensor *frames, const guint8 *pixels, guint n_frames,
    guint width, guint height, gpointer user_data)
{
  PublicCallbacks *d = user_data;

  return d->frames == NULL ||
      d->frames (pixels, n_frames, width, height, d->user_data);
}

gboolean
sora_engine_generate (SoraEngine *engine, const SoraGenerateParams *params,
    SoraProgressFunc progress, SoraFramesFunc frames, gpointer user_data,
    GCancellable *cancellable, GError **error)
{
  PublicCallbacks d = { progress, frames, user_data };

  return sora_engine_run (engine, params, WAN_TEXT_LENGTH, NULL, on_progress,
      on_pixels, &d, cancellable, error);
}
