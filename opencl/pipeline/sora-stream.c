/* gst-sora engine: live generation with a causal model, chunk by chunk
 *
 *   per chunk: noise -> the model's steps (x0, re-noise) attending the KV
 *   cache -> streaming VAE decode -> context pass writing the chunk's K/V.
 *
 * Self-Forcing's inference loop with LongLive's prompt re-cache
 * (docs/model.md §Causal sampling; docs/elements.md, "Live generation").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sora-engine-internal.h"
#include "sora-engine-test.h"
#include "sora-noise.h"
#include "sora-ops.h"
#include "sora-wan-dit-cache.h"

/* A chunk's clean latents, kept while a later chunk attends them: the
 * re-cache after a prompt switch or a RoPE rebase runs them again. */
typedef struct
{
  guint64 chunk;
  SoraTensor *x0; /* [1, C, chunk_frames, h, w] */
} KeptChunk;

struct _SoraStream
{
  SoraEngine *engine;
  SoraWanDit *dit;
  SoraWanCausalConfig cfg; /* the model's, with a window (stream_window) */
  SoraGenerateParams params; /* prompt: NULL, see prompt and next_prompt */
  guint text_length;
  guint max_frames; /* latent frame positions RoPE covers */
  SoraWanDitCache *cache;
  SoraWanVaeDecoder *decoder;
  char *prompt; /* the cache's text; NULL before the first chunk */
  char *next_prompt;
  guint64 chunk; /* the next chunk's index */
  /* Positions of frames past the sink are their index less this: a RoPE
   * rebase moves the window back next to the sink. */
  guint64 offset;
  GQueue kept; /* KeptChunk, oldest first */
  /* Frames of the last chunk past what the last bounded run handed on, in
   * params.format: a continue hands them on first. */
  GByteArray *pending;
  /* Made once, so that a chunk's steps allocate nothing: a noise draw, the
   * model's prediction, and the latents of the last chunk no longer kept,
   * which the next chunk is made in. */
  SoraTensor *noise, *v, *spare;
  SoraFrameSink sink; /* its pixel buffers, kept from chunk to chunk */
  gboolean failed;
};

static void
kept_chunk_free (KeptChunk *k)
{
  sora_tensor_free (k->x0);
  g_free (k);
}

/* The frames a stream's first chunk decodes, and so the fewest a stream
 * starts from: its first latent frame makes 1, each other 4. */
static guint
first_chunk_frames (const SoraWanCausalConfig *c)
{
  return 1 + 4 * (c->chunk_frames - 1);
}

/* A model attending every past frame (window_frames 0) attends, in a
 * stream, at most the latent frames of its training clip (its
 * "_sora_native_size" frames), else this many: Self-Forcing's global
 * attention, a KV cache of 32760 tokens, 21 latent frames of 832x480.  Past
 * them the window rolls, the sink kept, so memory stays the same and the
 * positions can move back within RoPE's. */
#define GLOBAL_WINDOW_FRAMES 21

/* The window a stream of @tc uses: the model's, or for window_frames 0 the
 * latent frames it was trained on, at most those RoPE has positions for
 * beside the sink, in whole chunks (at least one). */
static guint
stream_window (const SoraWanTransformerConfig *tc, guint max_frames)
{
  const SoraWanCausalConfig *c = &tc->causal;
  guint trained = tc->native_size[2] ? 1 + (tc->native_size[2] - 1) / 4
                                     : GLOBAL_WINDOW_FRAMES;
  guint room = max_frames > c->sink_frames ? max_frames - c->sink_frames : 0;

  if (c->window_frames > 0)
    return c->window_frames;
  return MAX (MIN (trained, room) / c->chunk_frames, 1) * c->chunk_frames;
}

/* The chunks the next chunk attends besides itself, at most. */
static guint
attended_chunks (const SoraWanCausalConfig *c)
{
  return (c->sink_frames + c->window_frames) / c->chunk_frames - 1;
}

/* A chunk's latents, [1, C, chunk_frames, h, w]. */
static SoraTensor *
chunk_latents_new (SoraStream *stream, const char *what, GError **error)
{
  const SoraWanTransformerConfig *tc = sora_wan_dit_get_config (stream->dit);

  return sora_tensor_new_v (sora_engine_get_device (stream->engine), what,
      SORA_DTYPE_F32, error, 5, (gsize)1, (gsize)tc->in_channels,
      (gsize)stream->cfg.chunk_frames, (gsize)stream->params.height / 8,
      (gsize)stream->params.width / 8);
}

/* The device bytes a stream of @engine at @params' size allocates beside
 * what the engine holds (a stream of sora_stream_new_full's arguments); in
 * @largest its largest buffer. */
static guint64
stream_bytes (SoraEngine *engine, const SoraGenerateParams *params,
    guint text_length, guint64 *largest)
{
  SoraWanDit *dit = sora_engine_get_dit (engine);
  const SoraWanTransformerConfig *tc = sora_wan_dit_get_config (dit);
  SoraWanCausalConfig c = tc->causal;
  guint max_frames = tc->rope_max_seq_len * tc->patch_size[0];
  gsize h = params->height / 8, w = params->width / 8;
  guint64 chunk = (guint64)tc->in_channels * c.chunk_frames * h * w * 4;

  c.window_frames = stream_window (tc, max_frames);
  /* the KV cache and a chunk forward; the kept chunks, the one being made
   * and a noise draw; the decoder; a chunk's frames as pixels */
  return sora_wan_dit_cache_estimate (
             dit, &c, 1, h, w, max_frames, text_length, largest) +
      (attended_chunks (&c) + 2) * chunk +
      sora_wan_vae_decoder_bytes (sora_engine_get_vae (engine), h, w) +
      4ull * c.chunk_frames *
      sora_pixel_frame_size (params->format, params->width, params->height);
}

guint64
sora_stream_bytes (
    SoraEngine *engine, const SoraGenerateParams *params, guint text_length)
{
  return stream_bytes (engine, params, text_length, NULL);
}

/* Refuses, before anything is allocated, a stream whose memory does not
 * fit beside what the device holds, or whose KV cache needs a buffer over
 * the device's largest, naming the size and the device. */
static gboolean
check_stream_fits (SoraEngine *engine, const SoraGenerateParams *params,
    guint text_length, GError **error)
{
  SoraDevice *dev = sora_engine_get_device (engine);
  const SoraDeviceInfo *info = sora_device_get_info (dev);
  guint64 held = sora_device_bytes_current (dev), largest;
  guint64 need = stream_bytes (engine, params, text_length, &largest);

  if (held + need > info->global_mem)
    g_set_error (error, SORA_ERROR, SORA_ERROR_OUT_OF_MEMORY,
        "A %ux%u stream needs about %.2f GB of device memory (KV cache, "
        "chunk forward, kept latents, VAE decode) beside the %.2f GB held, "
        "but %s has %.2f GB",
        params->width, params->height, need / 1e9, held / 1e9, info->name,
        info->global_mem / 1e9);
  else if (largest > info->max_alloc)
    g_set_error (error, SORA_ERROR, SORA_ERROR_OUT_OF_MEMORY,
        "A %ux%u stream's KV cache needs a buffer of %.2f GB per block, "
        "over the %.2f GB %s allocates at most",
        params->width, params->height, largest / 1e9, info->max_alloc / 1e9,
        info->name);
  else
    return TRUE;
  return FALSE;
}

SoraStream *
sora_stream_new_full (SoraEngine *engine, const SoraGenerateParams *params,
    guint text_length, GError **error)
{
  SoraWanDit *dit = sora_engine_get_dit (engine);
  const SoraWanTransformerConfig *tc = sora_wan_dit_get_config (dit);
  SoraStream *stream;
  guint frames = 1 + 4 * (tc->causal.chunk_frames - 1);

  if (tc->causal.chunk_frames == 0) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "The model makes whole clips, not a stream: its transformer config "
        "has no \"_sora_causal\"");
    return NULL;
  }
  if (!sora_engine_check_size (params->width, params->height, frames, error) ||
      !check_stream_fits (engine, params, text_length, error))
    return NULL;
  stream = g_new0 (SoraStream, 1);
  stream->engine = engine;
  stream->dit = dit;
  stream->cfg = tc->causal;
  stream->params = *params;
  stream->params.prompt = stream->params.negative_prompt = NULL;
  stream->params.frames = frames;
  stream->params.guidance_scale = 1.0;
  stream->text_length = text_length;
  stream->max_frames = tc->rope_max_seq_len * tc->patch_size[0];
  stream->cfg.window_frames = stream_window (tc, stream->max_frames);
  stream->next_prompt = g_strdup (params->prompt ? params->prompt : "");
  g_queue_init (&stream->kept);
  stream->pending = g_byte_array_new ();
  stream->noise = chunk_latents_new (stream, "stream noise", error);
  stream->v = stream->noise
      ? sora_wan_dit_output_new (dit, stream->noise, error)
      : NULL;
  if (stream->v == NULL)
    g_clear_pointer (&stream, sora_stream_free);
  return stream;
}

SoraStream *
sora_stream_new (
    SoraEngine *engine, const SoraGenerateParams *params, GError **error)
{
  return sora_stream_new_full (engine, params, SORA_WAN_TEXT_LENGTH, error);
}

void
sora_stream_free (SoraStream *stream)
{
  if (stream == NULL)
    return;
  g_queue_clear_full (&stream->kept, (GDestroyNotify)kept_chunk_free);
  g_byte_array_unref (stream->pending);
  sora_tensor_free (stream->noise);
  sora_tensor_free (stream->v);
  sora_tensor_free (stream->spare);
  sora_frame_sink_clear (&stream->sink);
  sora_wan_vae_decoder_free (stream->decoder);
  sora_wan_dit_cache_free (stream->cache);
  g_free (stream->prompt);
  g_free (stream->next_prompt);
  g_free (stream);
}

void
sora_stream_set_prompt (SoraStream *stream, const char *prompt)
{
  g_free (stream->next_prompt);
  stream->next_prompt = g_strdup (prompt ? prompt : "");
}

guint64
sora_stream_get_chunks (SoraStream *stream)
{
  return stream->chunk;
}

guint
sora_stream_get_steps (SoraStream *stream)
{
  return stream->cfg.n_steps;
}

SoraTensor *
sora_stream_get_latents (SoraStream *stream, guint64 chunk)
{
  for (GList *l = stream->kept.head; l; l = l->next) {
    KeptChunk *k = l->data;
    if (k->chunk == chunk)
      return k->x0;
  }
  return NULL;
}

/* The flow-matching sigma of raw step @step in [0, 1000] under the shift. */
static double
step_sigma (const SoraWanCausalConfig *cfg, double step)
{
  double u = step / 1000.0;

  return cfg->shift * u / (1.0 + (cfg->shift - 1.0) * u);
}

/* The RoPE position of chunk @chunk's first latent frame: sink frames stay
 * where they were made, later ones move back by the rebase offset. */
static guint64
chunk_position (SoraStream *stream, guint64 chunk)
{
  guint64 first = chunk * stream->cfg.chunk_frames;

  return first < stream->cfg.sink_frames ? first : first - stream->offset;
}

/* Draw @draw of chunk @chunk's noise into @x (chunk_latents_new's). */
static gboolean
chunk_noise (SoraStream *stream, guint64 chunk, guint draw, SoraTensor *x,
    GError **error)
{
  float *host = g_new (float, x->numel);
  gboolean ok;

  sora_noise_normal_stream (
      stream->params.seed, (guint32)chunk, draw, host, x->numel);
  ok = sora_tensor_write (x, host, error);
  g_free (host);
  return ok;
}

/* x = a·x + b·y, in place. */
static gboolean
mix (SoraTensor *x, double a, SoraTensor *y, double b, GError **error)
{
  return sora_op_lincomb (
      x, 2, (SoraTensor *[]){ x, y }, (float[]){ (float)a, (float)b }, error);
}

/* Writes chunk @chunk's K/V into the cache from its clean latents @x0, run
 * at the context timestep (noised to it with draw n_steps when above 0). */
static gboolean
context_pass (SoraStream *stream, guint64 chunk, SoraTensor *x0,
    GCancellable *cancellable, GError **error)
{
  double t = stream->cfg.context_timestep, sigma = t / 1000.0;
  float ts[1] = { (float)t };
  SoraTensor *x = x0;

  if (t > 0) {
    x = stream->noise;
    if (!chunk_noise (stream, chunk, stream->cfg.n_steps, x, error) ||
        !mix (x, sigma, x0, 1.0 - sigma, error))
      return FALSE;
  }
  return sora_wan_dit_forward_chunk_into (stream->dit, stream->cache, x,
      chunk_position (stream, chunk), ts, TRUE, stream->v, cancellable, error);
}

/* Empties the cache and runs the kept chunks again with the cache's text
 * at their positions: after a prompt switch or a rebase. */
static gboolean
recache (SoraStream *stream, GCancellable *cancellable, GError **error)
{
  sora_wan_dit_cache_reset (stream->cache);
  for (GList *l = stream->kept.head; l; l = l->next) {
    KeptChunk *k = l->data;
    if (!context_pass (stream, k->chunk, k->x0, cancellable, error))
      return FALSE;
  }
  return TRUE;
}

/* Whether the next chunk would reach past RoPE's positions; then the
 * window's frames move back next to the sink, where the model has seen
 * them at the stream's start (relative positions within the window stay;
 * the gap to the sink closes).  A window that does not fit RoPE's
 * positions beside the sink cannot move: the stream ends there. */
static gboolean
need_rebase (SoraStream *stream, gboolean *rebase, GError **error)
{
  const SoraWanCausalConfig *c = &stream->cfg;
  guint64 s = chunk_position (stream, stream->chunk);

  *rebase = s + c->chunk_frames > stream->max_frames;
  if (!*rebase)
    return TRUE;
  if (c->sink_frames + c->window_frames > stream->max_frames) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "The stream reached the %u latent frames the model's RoPE covers, "
        "and its attention window (window_frames %u, sink_frames %u) "
        "cannot move back",
        stream->max_frames, c->window_frames, c->sink_frames);
    return FALSE;
  }
  stream->offset += s - (c->window_frames - c->chunk_frames) - c->sink_frames;
  return TRUE;
}

/* Before a chunk: the cache and the decoder exist, the cache's text is the
 * prompt asked for, and the positions fit RoPE; a changed text or moved
 * positions re-cache the kept chunks. */
static gboolean
prepare_chunk (SoraStream *stream, GCancellable *cancellable, GError **error)
{
  gboolean switched = g_strcmp0 (stream->prompt, stream->next_prompt) != 0;
  gboolean rebase;
  SoraTensor *text;
  gsize h = stream->params.height / 8, w = stream->params.width / 8;

  if (stream->cache == NULL) {
    stream->cache = sora_wan_dit_cache_new (
        stream->dit, &stream->cfg, 1, h, w, stream->max_frames, error);
    if (stream->cache == NULL)
      return FALSE;
  }
  if (stream->decoder == NULL)
    stream->decoder =
        sora_wan_vae_decoder_new (sora_engine_get_vae (stream->engine), h, w);
  if (switched) {
    text = sora_engine_encode_text (stream->engine, stream->next_prompt, "",
        FALSE, stream->text_length, error);
    if (text == NULL ||
        !sora_wan_dit_cache_set_text (stream->cache, text, error))
      return FALSE;
    g_free (stream->prompt);
    stream->prompt = g_strdup (stream->next_prompt);
  }
  if (!need_rebase (stream, &rebase, error))
    return FALSE;
  if ((switched || rebase) && stream->chunk > 0)
    return recache (stream, cancellable, error);
  return TRUE;
}

/* Denoises chunk @stream->chunk from its noise at the model's steps: x0 =
 * x − σ·v at each, re-noised to the next σ with the next draw. */
static SoraTensor *
denoise_chunk (SoraStream *stream, SoraProgressFunc progress,
    gpointer user_data, GCancellable *cancellable, GError **error)
{
  const SoraWanCausalConfig *c = &stream->cfg;
  guint64 pos = chunk_position (stream, stream->chunk);
  SoraTensor *x = g_steal_pointer (&stream->spare);

  if (x == NULL)
    x = chunk_latents_new (stream, "chunk latents", error);
  if (x && !chunk_noise (stream, stream->chunk, 0, x, error))
    g_clear_pointer (&x, sora_tensor_free);
  for (guint i = 0; x && i < c->n_steps; i++) {
    gint64 start = g_get_monotonic_time ();
    double sigma = step_sigma (c, c->steps[i]);
    float ts[1] = { (float)(1000.0 * sigma) };
    gboolean ok = sora_wan_dit_forward_chunk_into (stream->dit, stream->cache,
                      x, pos, ts, FALSE, stream->v, cancellable, error) &&
        mix (x, 1.0, stream->v, -sigma, error);

    if (ok && i + 1 < c->n_steps) {
      double next = step_sigma (c, c->steps[i + 1]);
      ok = chunk_noise (stream, stream->chunk, i + 1, stream->noise, error) &&
          mix (x, 1.0 - next, stream->noise, next, error);
    }
    ok = ok &&
        sora_device_finish (sora_engine_get_device (stream->engine), error);
    if (ok &&
        (g_cancellable_is_cancelled (cancellable) ||
            (progress &&
                !progress (i + 1, c->n_steps,
                    (g_get_monotonic_time () - start) / 1e6, user_data)))) {
      g_set_error (
          error, SORA_ERROR, SORA_ERROR_CANCELLED, "Generation was cancelled");
      ok = FALSE;
    }
    if (!ok)
      g_clear_pointer (&x, sora_tensor_free);
  }
  return x;
}

/* Decodes the clean chunk @x0 [1, C, F, h, w] on from the last one's
 * decoder state, its frames to @sink. */
static gboolean
decode_chunk (
    SoraStream *stream, SoraTensor *x0, SoraFrameSink *sink, GError **error)
{
  gsize shape5[5], shape4[4];
  gboolean ok;

  memcpy (shape5, x0->shape, sizeof (shape5));
  memcpy (shape4, x0->shape + 1, sizeof (shape4));
  if (!sora_tensor_reshape (x0, 4, shape4, error))
    return FALSE;
  ok = sora_wan_vae_decoder_run (stream->decoder, x0, sora_frame_sink_take,
      sink, sink->cancellable, error);
  return sora_tensor_reshape (x0, 5, shape5, ok ? error : NULL) && ok;
}

/* Keeps chunk @stream->chunk's clean latents and drops those no later
 * chunk attends: the next one, ending at e, attends the sink and frames
 * from e − window_frames on (the stream always has a window). */
static void
keep_chunk (SoraStream *stream, SoraTensor *x0)
{
  const SoraWanCausalConfig *c = &stream->cfg;
  KeptChunk *k = g_new (KeptChunk, 1);
  guint64 window_chunks = c->window_frames / c->chunk_frames;
  guint64 next = stream->chunk + 1;

  k->chunk = stream->chunk;
  k->x0 = x0;
  g_queue_push_tail (&stream->kept, k);
  for (GList *l = stream->kept.head; l;) {
    GList *following = l->next;
    KeptChunk *old = l->data;

    if (old->chunk * c->chunk_frames >= c->sink_frames &&
        old->chunk + window_chunks < next + 1) {
      if (stream->spare == NULL)
        stream->spare = g_steal_pointer (&old->x0);
      kept_chunk_free (old);
      g_queue_delete_link (&stream->kept, l);
    }
    l = following;
  }
}

gboolean
sora_stream_run_next (SoraStream *stream, SoraProgressFunc progress,
    SoraChunkFunc chunk, gpointer user_data, GCancellable *cancellable,
    GError **error)
{
  SoraDevice *dev = sora_engine_get_device (stream->engine);
  GCancellable *previous;
  SoraTensor *x0 = NULL;
  gboolean ok = FALSE;

  if (stream->failed) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "The stream failed at chunk %" G_GUINT64_FORMAT
        " and cannot go on: start a new one",
        stream->chunk);
    return FALSE;
  }
  stream->sink.format = stream->params.format;
  stream->sink.cancellable = cancellable;
  stream->sink.func = chunk;
  stream->sink.user_data = user_data;
  /* Every launch of the chunk stops when it is cancelled. */
  previous = sora_device_set_cancellable (dev, cancellable);
  if (!prepare_chunk (stream, cancellable, error))
    goto out;
  x0 = denoise_chunk (stream, progress, user_data, cancellable, error);
  /* The frames go out before the context pass: it only serves the next
   * chunk. */
  if (x0 == NULL || !decode_chunk (stream, x0, &stream->sink, error) ||
      !context_pass (stream, stream->chunk, x0, cancellable, error))
    goto out;
  keep_chunk (stream, g_steal_pointer (&x0));
  stream->chunk++;
  ok = TRUE;

out:
  sora_tensor_free (x0);
  /* the caller's, valid during the call only */
  stream->sink.cancellable = NULL;
  stream->sink.func = NULL;
  stream->sink.user_data = NULL;
  sora_device_set_cancellable (dev, previous);
  stream->failed = !ok;
  return ok;
}

gboolean
sora_stream_next (SoraStream *stream, SoraProgressFunc progress,
    SoraFramesFunc frames, gpointer user_data, GCancellable *cancellable,
    GError **error)
{
  SoraPublicCallbacks d = { progress, frames, user_data };

  return sora_stream_run_next (stream, sora_engine_public_progress,
      sora_engine_public_pixels, &d, cancellable, error);
}

/* Chunk @k of the clean context latents @z [C, m·chunk_frames, h, w] as the
 * stream's chunk: its K/V into the cache, its latents kept. */
static gboolean
prime_chunk (SoraStream *stream, SoraTensor *z, guint k,
    GCancellable *cancellable, GError **error)
{
  guint cf = stream->cfg.chunk_frames;
  SoraTensor *x0 = sora_tensor_new_v (z->dev, "context chunk", SORA_DTYPE_F32,
      error, 5, 1, z->shape[0], cf, z->shape[2], z->shape[3]);

  if (x0 == NULL ||
      !sora_op_copy_slab (z, x0, z->shape[0], z->shape[2] * z->shape[3],
          z->shape[1], k * cf, cf, 0, cf, error) ||
      !context_pass (stream, stream->chunk, x0, cancellable, error)) {
    sora_tensor_free (x0);
    return FALSE;
  }
  keep_chunk (stream, x0);
  stream->chunk++;
  return TRUE;
}

gboolean
sora_stream_prime (SoraStream *stream, const guint8 *context,
    guint n_context_frames, GCancellable *cancellable, GError **error)
{
  const SoraWanCausalConfig *c = &stream->cfg;
  guint cf = c->chunk_frames;
  guint have = context && n_context_frames > 0
      ? (1 + (n_context_frames - 1) / 4) / cf
      : 0;
  guint m = MIN (have, attended_chunks (c));
  SoraDevice *dev = sora_engine_get_device (stream->engine);
  SoraFrameSink sink = { stream->params.format, 0, cancellable, NULL, NULL };
  GCancellable *previous;
  SoraTensor *z = NULL;
  gboolean ok;

  if (stream->chunk > 0 || m == 0) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "A stream starts from a video before its first chunk, from at least "
        "%u frames (a chunk of %u latent frames); got %u frames, "
        "%" G_GUINT64_FORMAT " chunks made",
        first_chunk_frames (c), cf, context ? n_context_frames : 0,
        stream->chunk);
    return FALSE;
  }
  z = sora_engine_encode_context (stream->engine, &stream->params, context,
      n_context_frames, m * cf, cancellable, error);
  previous = sora_device_set_cancellable (dev, cancellable);
  ok = z && prepare_chunk (stream, cancellable, error) &&
      sora_wan_vae_decoder_run (
          stream->decoder, z, sora_frame_sink_take, &sink, cancellable, error);
  for (guint k = 0; ok && k < m; k++)
    ok = prime_chunk (stream, z, k, cancellable, error);
  sora_device_set_cancellable (dev, previous);
  sora_tensor_free (z);
  stream->failed = !ok;
  return ok;
}

/* What a bounded run hands on: the first @left frames, steps counted over
 * every chunk. */
typedef struct
{
  SoraStream *stream;
  SoraProgressFunc progress;
  SoraFramesFunc frames;
  gpointer user_data;
  guint left;
  guint step, total_steps;
} Bounded;

static gboolean
bounded_progress (
    guint step, guint total_steps, double seconds, gpointer user_data)
{
  Bounded *b = user_data;

  b->step++;
  return b->progress == NULL ||
      b->progress (b->step, b->total_steps, seconds, b->user_data);
}

static gboolean
bounded_frames (const guint8 *pixels, guint n_frames, guint width, guint height,
    gpointer user_data)
{
  Bounded *b = user_data;
  guint take = MIN (n_frames, b->left);
  gsize size = sora_pixel_frame_size (b->stream->params.format, width, height);

  b->left -= take;
  g_byte_array_append (
      b->stream->pending, pixels + take * size, (n_frames - take) * size);
  return take == 0 || b->frames == NULL ||
      b->frames (pixels, take, width, height, b->user_data);
}

/* Hands on the pending frames @b wants, first. */
static gboolean
hand_pending (SoraStream *stream, Bounded *b, GError **error)
{
  guint w = stream->params.width, h = stream->params.height;
  gsize size = sora_pixel_frame_size (stream->params.format, w, h);
  guint n = MIN (b->left, stream->pending->len / size);
  gboolean ok = n == 0 || b->frames == NULL ||
      b->frames (stream->pending->data, n, w, h, b->user_data);

  g_byte_array_remove_range (stream->pending, 0, n * size);
  b->left -= n;
  if (!ok)
    g_set_error (
        error, SORA_ERROR, SORA_ERROR_CANCELLED, "Generation was cancelled");
  return ok;
}

/* The chunks of a model of @c that make @n_frames more frames, @first the
 * stream's first (first_chunk_frames). */
static guint
chunks_for (const SoraWanCausalConfig *c, gboolean first, guint n_frames)
{
  guint chunk = 4 * c->chunk_frames;
  guint next = first ? first_chunk_frames (c) : chunk;

  return n_frames == 0   ? 0
      : n_frames <= next ? 1
                         : 1 + (n_frames - next + chunk - 1) / chunk;
}

/* Makes chunks of @stream until @n_frames ≥ 1 frames are out, the frames
 * left from the last run first; the last chunk's frames past them are kept
 * for the next run. */
static gboolean
run_bounded (SoraStream *stream, guint n_frames, SoraProgressFunc progress,
    SoraFramesFunc frames, gpointer user_data, GCancellable *cancellable,
    GError **error)
{
  Bounded b = { stream, progress, frames, user_data, n_frames, 0, 0 };
  guint chunks;
  gboolean ok = hand_pending (stream, &b, error);

  chunks = chunks_for (&stream->cfg, stream->chunk == 0, b.left);
  b.total_steps = chunks * stream->cfg.n_steps;
  for (guint i = 0; ok && i < chunks; i++)
    ok = sora_stream_next (
        stream, bounded_progress, bounded_frames, &b, cancellable, error);
  return ok;
}

/* Between bounded runs the stream keeps its KV cache on the device: a
 * re-cache from the kept chunks would not give the same K/V (each chunk's
 * context pass attended chunks no longer kept).  Its decoder's state goes
 * to host memory, as the last clip's. */
static gboolean
park (SoraStream *stream, GError **error)
{
  sora_frame_sink_clear (&stream->sink);
  return stream->decoder == NULL ||
      sora_wan_vae_decoder_park (stream->decoder, error);
}

/* The engine keeps @stream, parked, for sora_stream_continue when its run
 * went @ok; else it keeps none. */
static gboolean
keep_stream (
    SoraEngine *engine, SoraStream *stream, gboolean ok, GError **error)
{
  ok = ok && park (stream, error);
  if (!ok)
    g_clear_pointer (&stream, sora_stream_free);
  sora_engine_keep_last_stream (engine, stream);
  return ok;
}

/* @context's @n frames (packed RGB of @params' size) led in by its first
 * frame held until they make a chunk of @c's frames: a picture, or a video
 * shorter than a chunk, primes a stream as a still start would.  NULL when
 * they make one already (or there is none). */
static guint8 *
hold_first_frame (const SoraWanCausalConfig *c,
    const SoraGenerateParams *params, const guint8 *context, guint *n)
{
  guint need = first_chunk_frames (c);
  gsize size = (gsize)params->width * params->height * 3;
  guint8 *held;

  if (context == NULL || *n == 0 || *n >= need)
    return NULL;
  held = g_malloc (need * size);
  for (guint i = 0; i < need - *n; i++)
    memcpy (held + i * size, context, size);
  memcpy (held + (need - *n) * size, context, *n * size);
  *n = need;
  return held;
}

gboolean
sora_stream_extend (SoraEngine *engine, const SoraGenerateParams *params,
    const guint8 *context, guint n_context_frames, SoraProgressFunc progress,
    SoraFramesFunc frames, gpointer user_data, GCancellable *cancellable,
    GError **error)
{
  SoraStream *stream;
  guint8 *held = NULL;
  gboolean ok;

  /* The last video's stream first gives its memory back. */
  sora_stream_free (sora_engine_take_last_stream (engine));
  stream = sora_stream_new (engine, params, error);
  if (stream)
    held = hold_first_frame (&stream->cfg, params, context, &n_context_frames);
  ok = stream &&
      sora_stream_prime (stream, held ? held : context, n_context_frames,
          cancellable, error) &&
      run_bounded (stream, params->frames, progress, frames, user_data,
          cancellable, error);
  g_free (held);
  return keep_stream (engine, stream, ok, error);
}

guint
sora_stream_extend_steps (SoraEngine *engine, const SoraGenerateParams *params)
{
  const SoraWanCausalConfig *c =
      &sora_wan_dit_get_config (sora_engine_get_dit (engine))->causal;

  /* A primed stream has made chunks, and has no frames pending. */
  return chunks_for (c, FALSE, params->frames) * c->n_steps;
}

gboolean
sora_stream_generate (SoraEngine *engine, const SoraGenerateParams *params,
    SoraProgressFunc progress, SoraFramesFunc frames, gpointer user_data,
    GCancellable *cancellable, GError **error)
{
  SoraStream *stream;
  gboolean ok;

  sora_stream_free (sora_engine_take_last_stream (engine));
  stream = sora_stream_new (engine, params, error);
  ok = stream &&
      run_bounded (stream, params->frames, progress, frames, user_data,
          cancellable, error);
  return keep_stream (engine, stream, ok, error);
}

/* Whether the engine's last stream can go on at @params' size and pixel
 * format. */
static gboolean
check_continue (
    SoraStream *stream, const SoraGenerateParams *params, GError **error)
{
  if (stream == NULL) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "There is no previous video to continue");
    return FALSE;
  }
  if (stream->params.width != params->width ||
      stream->params.height != params->height ||
      stream->params.format != params->format) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "Cannot continue a %ux%u video (pixel format %d) at %ux%u (pixel "
        "format %d)",
        stream->params.width, stream->params.height, stream->params.format,
        params->width, params->height, params->format);
    return FALSE;
  }
  return TRUE;
}

gboolean
sora_stream_continue (SoraEngine *engine, const SoraGenerateParams *params,
    SoraProgressFunc progress, SoraFramesFunc frames, gpointer user_data,
    GCancellable *cancellable, GError **error)
{
  SoraStream *stream;
  gboolean ok;

  if (!check_continue (sora_engine_get_last_stream (engine), params, error))
    return FALSE;
  stream = sora_engine_take_last_stream (engine);
  /* A new prompt switches as live.  The seed stays the stream's: its noise
   * goes on by chunk, and a re-cache at a context timestep above 0 draws
   * the kept chunks' noise again. */
  sora_stream_set_prompt (stream, params->prompt);
  ok = run_bounded (
      stream, params->frames, progress, frames, user_data, cancellable, error);
  return keep_stream (engine, stream, ok, error);
}
