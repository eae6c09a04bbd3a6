/* gst-sora engine: the KV cache of a block-causal Wan transformer.
 *
 * Each block keeps K (after norm_k and RoPE) and V of whole latent frames in
 * frame slots of one buffer [B, (slots + tail)·T, dim], T tokens a frame:
 * the sink slots hold frames [0, sink_frames), a ring the last
 * window_frames − chunk_frames frames after them (each frame has its slot,
 * and the frame a new one overwrites is out of every later window), and the
 * tail the running chunk's own K/V.  Attention does not care about the
 * order of its keys, so a chunk attends the whole buffer in one call, with
 * a key mask only while some slot holds no attended frame (the first chunks,
 * a gap).  A chunk that attends no cached frame runs the
 * plain forward over its own K/V: the same numbers as sora_wan_dit_forward.
 * With window_frames 0 the slots are the frames [0, max_frames) themselves.
 * Where the attention rounds K and V to bf16 or f16 operands, the slots keep
 * them so (half the bytes), widened into one f32 buffer shared by the
 * blocks before each attention: rounding them again is lossless, so the
 * numbers are those of an f32 cache.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdarg.h>

#include "sora-wan-dit-private.h"

/* How the running chunk attends. */
typedef enum {
  ATTEND_CHUNK, /* itself only */
  ATTEND_ALL, /* every slot and the tail */
  ATTEND_MASKED, /* the slots and tail frames of the mask */
} Attend;

struct _SoraWanDitCache
{
  SoraWanDit *dit;
  SoraWanCausalConfig causal;
  guint layers;
  gsize batch, height, width, channels;
  gsize tokens; /* per frame */
  gsize dim;
  gsize sink, ring, slots, tail; /* in frames; slots = sink + ring */
  gboolean bounded; /* window_frames 0: slot = frame, up to slots */
  SoraDType dtype; /* of k and v: the attention's operands */
  SoraTensor **k, **v; /* per block [B, (slots + tail)·tokens, dim] */
  SoraTensor *wide_k, *wide_v; /* f32 k and v of a block; NULL with f32 */
  SoraTensor **text_k, **text_v; /* per block [B, S, dim]; NULL: no text */
  gsize text_rows;
  SoraTensor *mask; /* [B, (slots + tail)·tokens] */
  float *host_mask;
  gint64 *frame; /* the frame each slot holds, -1 for none */
  gsize end; /* of the last written chunk */
  /* the running chunk */
  gsize first, frames;
  gboolean write;
  Attend attend;
};

static void
tensors_free (SoraTensor **t, guint n)
{
  for (guint i = 0; t && i < n; i++)
    sora_tensor_free (t[i]);
  g_free (t);
}

static void
text_free (SoraWanDitCache *cache)
{
  tensors_free (cache->text_k, cache->layers);
  tensors_free (cache->text_v, cache->layers);
  cache->text_k = cache->text_v = NULL;
}

void
sora_wan_dit_cache_free (SoraWanDitCache *cache)
{
  if (cache == NULL)
    return;
  tensors_free (cache->k, cache->layers);
  tensors_free (cache->v, cache->layers);
  text_free (cache);
  sora_tensor_free (cache->wide_k);
  sora_tensor_free (cache->wide_v);
  sora_tensor_free (cache->mask);
  g_free (cache->host_mask);
  g_free (cache->frame);
  g_free (cache);
}

void
sora_wan_dit_cache_reset (SoraWanDitCache *cache)
{
  for (gsize s = 0; s < cache->slots; s++)
    cache->frame[s] = -1;
  cache->end = 0;
}

gsize
sora_wan_dit_cache_get_end (SoraWanDitCache *cache)
{
  return cache->end;
}

guint64
sora_wan_dit_cache_bytes (SoraWanDitCache *cache)
{
  guint64 wide = cache->wide_k ? 2 * cache->wide_k->nbytes : 0;

  return 2ull * cache->layers * cache->k[0]->nbytes + wide +
      cache->mask->nbytes;
}

/* The dtype the cache keeps K and V in: the attention's operands. */
static gboolean
kv_dtype (SoraWanDit *dit, SoraDType *dtype, GError **error)
{
  return sora_attention_operand_dtype (sora_wan_dit_get_device (dit),
      sora_wan_dit_get_config (dit)->attention_head_dim, dtype, error);
}

static gboolean cache_fail (GError **error, const char *format, ...)
    G_GNUC_PRINTF (2, 3);

static gboolean
cache_fail (GError **error, const char *format, ...)
{
  va_list ap;
  char *msg;

  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (
      error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT, "Wan DiT cache: %s", msg);
  g_free (msg);
  return FALSE;
}

static gboolean
check_settings (const SoraWanTransformerConfig *c,
    const SoraWanCausalConfig *causal, gsize batch, gsize height, gsize width,
    gsize max_frames, GError **error)
{
  const guint *p = c->patch_size;

  if (causal->chunk_frames == 0)
    return cache_fail (
        error, "the transformer is not causal (no \"_sora_causal\")");
  if (causal->window_frames &&
      (causal->window_frames < causal->chunk_frames ||
          causal->window_frames % causal->chunk_frames))
    return cache_fail (error,
        "window_frames %u must be a multiple of chunk_frames %u",
        causal->window_frames, causal->chunk_frames);
  if (causal->window_frames == 0 && max_frames == 0)
    return cache_fail (error, "max_frames is 0 without a window");
  if (p[0] != 1)
    return cache_fail (error,
        "a temporal patch of %u latent frames is not supported (only 1)", p[0]);
  if (batch == 0 || height == 0 || height % p[1] || width == 0 ||
      width % p[2] || height / p[1] > c->rope_max_seq_len ||
      width / p[2] > c->rope_max_seq_len)
    return cache_fail (error,
        "no cache for %" G_GSIZE_FORMAT " items of %" G_GSIZE_FORMAT
        "x%" G_GSIZE_FORMAT " latents: they must be non-zero multiples of "
        "the patch %ux%u, at most rope_max_seq_len %u patches",
        batch, height, width, p[1], p[2], c->rope_max_seq_len);
  return TRUE;
}

/* Sets the key mask of frame slot @slot (or tail frame @slot − slots). */
static void
mask_frame (SoraWanDitCache *cache, gsize slot, float value)
{
  gsize keys = (cache->slots + cache->tail) * cache->tokens;

  for (gsize b = 0; b < cache->batch; b++)
    for (gsize t = 0; t < cache->tokens; t++)
      cache->host_mask[b * keys + slot * cache->tokens + t] = value;
}

static gboolean
alloc_buffers (SoraWanDitCache *cache, GError **error)
{
  SoraDevice *dev = sora_wan_dit_get_device (cache->dit);
  gsize keys = (cache->slots + cache->tail) * cache->tokens;
  guint64 bytes = (guint64)cache->batch * keys * cache->dim * sizeof (float);
  guint64 max_alloc = sora_device_get_info (dev)->max_alloc;

  if (bytes > max_alloc)
    return cache_fail (error,
        "the K of a block's %" G_GSIZE_FORMAT " frames (%" G_GUINT64_FORMAT
        " bytes) is over the device's max_alloc %" G_GUINT64_FORMAT,
        cache->slots + cache->tail, bytes, max_alloc);
  cache->k = g_new0 (SoraTensor *, cache->layers);
  cache->v = g_new0 (SoraTensor *, cache->layers);
  for (guint i = 0; i < cache->layers; i++) {
    /* Zeroed: a masked key's score and value must be finite to weigh 0. */
    cache->k[i] = sora_tensor_new_v (dev, "wan dit cache k", cache->dtype,
        error, 3, cache->batch, keys, cache->dim);
    if (cache->k[i] == NULL || !sora_tensor_zero (cache->k[i], error))
      return FALSE;
    cache->v[i] = sora_tensor_new_v (dev, "wan dit cache v", cache->dtype,
        error, 3, cache->batch, keys, cache->dim);
    if (cache->v[i] == NULL || !sora_tensor_zero (cache->v[i], error))
      return FALSE;
  }
  if (cache->dtype != SORA_DTYPE_F32) {
    cache->wide_k = sora_tensor_new_v (dev, "wan dit cache wide k",
        SORA_DTYPE_F32, error, 3, cache->batch, keys, cache->dim);
    cache->wide_v = sora_tensor_new_v (dev, "wan dit cache wide v",
        SORA_DTYPE_F32, error, 3, cache->batch, keys, cache->dim);
    if (cache->wide_k == NULL || cache->wide_v == NULL)
      return FALSE;
  }
  cache->mask = sora_tensor_new_v (
      dev, "wan dit cache mask", SORA_DTYPE_F32, error, 2, cache->batch, keys);
  if (cache->mask == NULL)
    return FALSE;
  cache->host_mask = g_new (float, cache->mask->numel);
  /* The chunk's own frames: always attended. */
  for (gsize s = 0; s < cache->tail; s++)
    mask_frame (cache, cache->slots + s, 1.0f);
  return TRUE;
}

/* The frames a cache under @causal keeps: the sink's, the ring's and the
 * running chunk's tail. */
static void
cache_layout (const SoraWanCausalConfig *causal, gsize max_frames, gsize *sink,
    gsize *ring, gsize *tail)
{
  gboolean bounded = causal->window_frames == 0;

  *sink = bounded ? 0 : causal->sink_frames;
  *ring = bounded ? max_frames : causal->window_frames - causal->chunk_frames;
  *tail = causal->chunk_frames;
}

guint64
sora_wan_dit_cache_estimate (SoraWanDit *dit, const SoraWanCausalConfig *causal,
    gsize batch, gsize height, gsize width, gsize max_frames, gsize text_rows,
    guint64 *largest)
{
  const SoraWanTransformerConfig *c = sora_wan_dit_get_config (dit);
  gsize sink, ring, tail;
  gsize keys;
  guint64 kv, stored, text;
  /* A bad $SORA_PRECISION fails the forwards; f32 is the larger estimate. */
  SoraDType dtype = SORA_DTYPE_F32;

  if (causal == NULL)
    causal = &c->causal;
  kv_dtype (dit, &dtype, NULL);
  cache_layout (causal, max_frames, &sink, &ring, &tail);
  keys = (sink + ring + tail) * (height / c->patch_size[1]) *
      (width / c->patch_size[2]);
  kv = (guint64)batch * keys * c->inner_dim * sizeof (float);
  stored = kv / sizeof (float) * sora_dtype_size (dtype);
  text = (guint64)batch * text_rows * c->inner_dim * sizeof (float);
  if (largest)
    *largest = kv;
  /* each block's frame K and V (and their f32 widening when stored
   * narrower), the key mask; each block's text K and V and the two
   * activations the text is embedded through; a chunk forward */
  return 2 * c->num_layers * stored + (stored < kv ? 2 * kv : 0) +
      batch * keys * sizeof (float) + (2ull * c->num_layers + 2) * text +
      sora_wan_dit_forward_bytes_keys (
          dit, batch, causal->chunk_frames, height, width, text_rows, keys);
}

SoraWanDitCache *
sora_wan_dit_cache_new (SoraWanDit *dit, const SoraWanCausalConfig *causal,
    gsize batch, gsize height, gsize width, gsize max_frames, GError **error)
{
  const SoraWanTransformerConfig *c = sora_wan_dit_get_config (dit);
  SoraWanDitCache *cache;

  if (causal == NULL)
    causal = &c->causal;
  if (!check_settings (c, causal, batch, height, width, max_frames, error))
    return NULL;
  cache = g_new0 (SoraWanDitCache, 1);
  cache->dit = dit;
  cache->causal = *causal;
  cache->layers = c->num_layers;
  cache->batch = batch;
  cache->height = height;
  cache->width = width;
  cache->channels = c->in_channels;
  cache->tokens = height / c->patch_size[1] * (width / c->patch_size[2]);
  cache->dim = c->inner_dim;
  cache->bounded = causal->window_frames == 0;
  cache_layout (causal, max_frames, &cache->sink, &cache->ring, &cache->tail);
  cache->slots = cache->sink + cache->ring;
  cache->frame = g_new (gint64, MAX (cache->slots, 1));
  sora_wan_dit_cache_reset (cache);
  if (!kv_dtype (dit, &cache->dtype, error) || !alloc_buffers (cache, error)) {
    sora_wan_dit_cache_free (cache);
    return NULL;
  }
  return cache;
}

gboolean
sora_wan_dit_cache_set_text (
    SoraWanDitCache *cache, SoraTensor *text, GError **error)
{
  const SoraWanTransformerConfig *c = sora_wan_dit_get_config (cache->dit);
  g_autofree char *t = sora_tensor_describe (text);

  text_free (cache);
  if (text->dtype != SORA_DTYPE_F32 || text->ndim != 3 ||
      text->shape[0] != cache->batch || text->shape[1] == 0 ||
      text->shape[2] != c->text_dim)
    return cache_fail (error,
        "text %s must be f32 [%" G_GSIZE_FORMAT ", S, %u]", t, cache->batch,
        c->text_dim);
  cache->text_k = g_new0 (SoraTensor *, cache->layers);
  cache->text_v = g_new0 (SoraTensor *, cache->layers);
  cache->text_rows = text->shape[1];
  if (!sora_wan_dit_text_kv (
          cache->dit, text, cache->text_k, cache->text_v, error)) {
    text_free (cache);
    return FALSE;
  }
  return TRUE;
}

void
sora_wan_dit_cache_text_kv (
    SoraWanDitCache *cache, guint block, SoraTensor **k, SoraTensor **v)
{
  *k = cache->text_k[block];
  *v = cache->text_v[block];
}

/* The slot of frame @j, or -1 when the cache keeps no such frame. */
static gint64
slot_of (SoraWanDitCache *cache, gsize j)
{
  if (j < cache->sink)
    return j;
  if (cache->bounded)
    return j < cache->slots ? (gint64)j : -1;
  if (cache->ring == 0)
    return -1;
  return cache->sink + (j - cache->sink) % cache->ring;
}

/* Whether the chunk [first, first + frames) attends cached frame @j. */
static gboolean
attends (SoraWanDitCache *cache, gint64 j)
{
  const SoraWanCausalConfig *cc = &cache->causal;
  gint64 e = cache->first + cache->frames;

  return j >= 0 && j < (gint64)cache->first &&
      (j < cc->sink_frames || cc->window_frames == 0 ||
          j >= e - (gint64)cc->window_frames);
}

/* How the chunk attends, and its mask. */
static gboolean
plan_attention (SoraWanDitCache *cache, GError **error)
{
  gsize attended = 0;

  for (gsize s = 0; s < cache->slots; s++) {
    gboolean on = attends (cache, cache->frame[s]);

    mask_frame (cache, s, on);
    attended += on;
  }
  cache->attend = ATTEND_CHUNK;
  if (attended == 0)
    return TRUE;
  /* A shorter chunk's window would reach frames the ring dropped. */
  if (cache->frames != cache->tail)
    return cache_fail (error,
        "a chunk attending cached frames must have chunk_frames "
        "%" G_GSIZE_FORMAT " frames, not %" G_GSIZE_FORMAT,
        cache->tail, cache->frames);
  if (attended == cache->slots) {
    cache->attend = ATTEND_ALL;
    return TRUE;
  }
  cache->attend = ATTEND_MASKED;
  return sora_tensor_write_f32 (cache->mask, cache->host_mask, error);
}

/* Checks the chunk and plans its attention. */
static gboolean
chunk_begin (SoraWanDitCache *cache, SoraWanDit *dit, SoraTensor *latents,
    gsize first_frame, gboolean write, GError **error)
{
  g_autofree char *l = sora_tensor_describe (latents);

  if (dit != cache->dit)
    return cache_fail (error, "made for another transformer");
  if (cache->text_k == NULL)
    return cache_fail (error, "no text (sora_wan_dit_cache_set_text)");
  if (latents->dtype != SORA_DTYPE_F32 || latents->ndim != 5 ||
      latents->shape[0] != cache->batch ||
      latents->shape[1] != cache->channels || latents->shape[2] == 0 ||
      latents->shape[3] != cache->height || latents->shape[4] != cache->width)
    return cache_fail (error,
        "latents %s must be f32 [%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT
        ", F, %" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT "]",
        l, cache->batch, cache->channels, cache->height, cache->width);
  if (write && first_frame < cache->end)
    return cache_fail (error,
        "cannot write frame %" G_GSIZE_FORMAT " before the end %" G_GSIZE_FORMAT
        " of the cached frames",
        first_frame, cache->end);
  if (write && cache->bounded && first_frame + latents->shape[2] > cache->slots)
    return cache_fail (error,
        "full: frames up to %" G_GSIZE_FORMAT
        " do not fit in max_frames %" G_GSIZE_FORMAT " (window_frames 0)",
        first_frame + latents->shape[2], cache->slots);
  cache->first = first_frame;
  cache->frames = latents->shape[2];
  cache->write = write;
  return plan_attention (cache, error);
}

/* The chunk's frames into their slots of @dst, in order (a chunk longer
 * than the ring keeps its last frames). */
static gboolean
write_frames (
    SoraWanDitCache *cache, SoraTensor *src, SoraTensor *dst, GError **error)
{
  gsize row = cache->tokens * cache->dim;

  for (gsize f = 0; f < cache->frames; f++) {
    gint64 slot = slot_of (cache, cache->first + f);

    if (slot >= 0 &&
        !sora_op_copy_slab (src, dst, cache->batch, row, cache->frames, f,
            cache->slots + cache->tail, slot, 1, error))
      return FALSE;
  }
  return TRUE;
}

/* Block @block's K and V in f32 into the wide buffers (the attention reads
 * them, a write narrows them back), where they are kept narrower. */
static gboolean
widen (SoraWanDitCache *cache, guint block, GError **error)
{
  return cache->wide_k == NULL ||
      (cache->attend == ATTEND_CHUNK && !cache->write) ||
      (sora_op_convert (cache->k[block], cache->wide_k, error) &&
          sora_op_convert (cache->v[block], cache->wide_v, error));
}

/* The chunk's @k and @v into their slots of block @block. */
static gboolean
write_block (SoraWanDitCache *cache, guint block, SoraTensor *k, SoraTensor *v,
    SoraTensor *ck, SoraTensor *cv, GError **error)
{
  if (!write_frames (cache, k, ck, error) ||
      !write_frames (cache, v, cv, error))
    return FALSE;
  /* Rounds the chunk's frames; the others were of that dtype already. */
  return cache->wide_k == NULL ||
      (sora_op_convert (ck, cache->k[block], error) &&
          sora_op_convert (cv, cache->v[block], error));
}

gboolean
sora_wan_dit_cache_attend (SoraWanDitCache *cache, guint block, SoraTensor *q,
    SoraTensor *k, SoraTensor *v, SoraTensor *out,
    const SoraAttentionParams *ap, GError **error)
{
  SoraAttentionParams p = *ap;
  gsize row = cache->tokens * cache->dim, frames = cache->slots + cache->tail;
  SoraTensor *ck = cache->wide_k ? cache->wide_k : cache->k[block];
  SoraTensor *cv = cache->wide_v ? cache->wide_v : cache->v[block];

  if (!widen (cache, block, error))
    return FALSE;
  if (cache->attend == ATTEND_CHUNK) {
    if (!sora_op_attention (q, k, v, out, &p, error))
      return FALSE;
  } else {
    p.key_mask = cache->attend == ATTEND_MASKED ? cache->mask : NULL;
    if (!sora_op_copy_slab (k, ck, cache->batch, row, cache->frames, 0, frames,
            cache->slots, cache->frames, error) ||
        !sora_op_copy_slab (v, cv, cache->batch, row, cache->frames, 0, frames,
            cache->slots, cache->frames, error) ||
        !sora_op_attention (q, ck, cv, out, &p, error))
      return FALSE;
  }
  /* After the attention: the slots written may hold frames it attended. */
  return !cache->write || write_block (cache, block, k, v, ck, cv, error);
}

/* A written chunk's frames are in their slots; a failed one left some
 * blocks written and others not, so nothing cached is trusted. */
static void
chunk_end (SoraWanDitCache *cache, gboolean ok)
{
  if (!cache->write)
    return;
  if (!ok) {
    sora_wan_dit_cache_reset (cache);
    return;
  }
  for (gsize f = 0; f < cache->frames; f++) {
    gint64 slot = slot_of (cache, cache->first + f);

    if (slot >= 0)
      cache->frame[slot] = cache->first + f;
  }
  cache->end = cache->first + cache->frames;
}

/* The chunk forward into @into, or into a new output when NULL; returns
 * the output, NULL on error. */
static SoraTensor *
forward_chunk (SoraWanDit *dit, SoraWanDitCache *cache, SoraTensor *latents,
    gsize first_frame, const float *timesteps, gboolean write,
    const SoraProbe *probe, SoraTensor *into, GCancellable *cancellable,
    GError **error)
{
  SoraTensor *out = into;

  if (!chunk_begin (cache, dit, latents, first_frame, write, error))
    return NULL;
  if (into == NULL)
    out = sora_wan_dit_output_new (dit, latents, error);
  else if (!sora_tensor_check_shape (into, "Wan DiT output", 5,
               (gsize[]){ latents->shape[0], dit->cfg.out_channels,
                   latents->shape[2], latents->shape[3], latents->shape[4] },
               error))
    out = NULL;
  if (out &&
      !sora_wan_dit_run (dit, latents, timesteps, NULL, cache, first_frame,
          probe, out, cancellable, error)) {
    if (into == NULL)
      sora_tensor_free (out);
    out = NULL;
  }
  chunk_end (cache, out != NULL);
  return out;
}

SoraTensor *
sora_wan_dit_forward_chunk (SoraWanDit *dit, SoraWanDitCache *cache,
    SoraTensor *latents, gsize first_frame, const float *timesteps,
    gboolean write, const SoraProbe *probe, GCancellable *cancellable,
    GError **error)
{
  return forward_chunk (dit, cache, latents, first_frame, timesteps, write,
      probe, NULL, cancellable, error);
}

gboolean
sora_wan_dit_forward_chunk_into (SoraWanDit *dit, SoraWanDitCache *cache,
    SoraTensor *latents, gsize first_frame, const float *timesteps,
    gboolean write, SoraTensor *out, GCancellable *cancellable, GError **error)
{
  return forward_chunk (dit, cache, latents, first_frame, timesteps, write,
             NULL, out, cancellable, error) != NULL;
}
