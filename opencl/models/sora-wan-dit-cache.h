/* gst-sora engine: the KV cache of a block-causal Wan transformer
 * (Self-Forcing, LongLive): chunk-by-chunk forwards over an endless stream
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_WAN_DIT_CACHE_H__
#define __SORA_WAN_DIT_CACHE_H__

#include "sora-wan-dit.h"

G_BEGIN_DECLS

/* Per block: the self-attention K (after norm_k and RoPE) and V of the
 * frames later chunks attend, and the cross-attention K/V of one text. */
typedef struct _SoraWanDitCache SoraWanDitCache;

/* A cache for @batch items of a latent grid @height x @width (latent
 * pixels) under @causal (NULL: the model's own cfg->causal; chunk_frames 0
 * is SORA_ERROR_INVALID_ARGUMENT).  It holds the sink_frames and the last
 * window_frames - chunk_frames frames, or, when window_frames is 0, the
 * frames [0, @max_frames) (writing past them is an error); @max_frames is
 * ignored with a window.  Every buffer is allocated here: memory and time per
 * chunk stay the same however long the stream (with window_frames 0, each
 * chunk attends all max_frames slots, the empty ones masked: the time of a
 * full cache from the first chunk on).  The frames' K and V are kept in
 * the dtype the attention rounds them to (sora_attention_operand_dtype, as
 * $SORA_PRECISION stands now): bf16 or f16 halve the bytes, with the same
 * numbers as f32.  SORA_ERROR_INVALID_ARGUMENT
 * for a grid that is not a multiple of the patch, a buffer over the device's
 * max_alloc, or a window 0 with @max_frames 0; sora_op_attention's error
 * for a $SORA_PRECISION it refuses. */
SoraWanDitCache *sora_wan_dit_cache_new (SoraWanDit *dit,
    const SoraWanCausalConfig *causal, gsize batch, gsize height, gsize width,
    gsize max_frames, GError **error);
void sora_wan_dit_cache_free (SoraWanDitCache *cache);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SoraWanDitCache, sora_wan_dit_cache_free);

/* @text [batch, S, text_dim] f32: each block's cross-attention K/V,
 * computed once and kept until the next call.  The self-attention frames
 * stay (LongLive's re-cache resets them itself). */
gboolean sora_wan_dit_cache_set_text (
    SoraWanDitCache *cache, SoraTensor *text, GError **error);

/* Forgets every frame (the text stays). */
void sora_wan_dit_cache_reset (SoraWanDitCache *cache);

/* The end of the last written chunk (0 when empty): the smallest
 * first_frame a chunk may have. */
gsize sora_wan_dit_cache_get_end (SoraWanDitCache *cache);

/* The device bytes the cache holds (what sora_wan_dit_cache_new allocates
 * for the frames, with the f32 K and V of one block where the frames are
 * kept narrower; the text K/V come on top: 2·layers·batch·S·dim·4). */
guint64 sora_wan_dit_cache_bytes (SoraWanDitCache *cache);

/* The device bytes a cache of sora_wan_dit_cache_new's arguments holds with
 * a text of @text_rows rows, and its chunk forwards allocate while they run
 * (workspace, attention temporaries over the cached keys, output); in
 * @largest (may be NULL) its largest buffer, a block's K in f32.  Nothing is
 * allocated: a caller can refuse a size that does not fit first. */
guint64 sora_wan_dit_cache_estimate (SoraWanDit *dit,
    const SoraWanCausalConfig *causal, gsize batch, gsize height, gsize width,
    gsize max_frames, gsize text_rows, guint64 *largest);

/* One chunk: @latents [batch, C, F, height, width] f32 at the absolute
 * latent frames [@first_frame, @first_frame + F) (also their RoPE
 * positions), @timesteps [batch] on the host, the text of the last
 * sora_wan_dit_cache_set_text.  F is chunk_frames; any other F only when
 * the chunk attends no cached frame.  The queries attend the cached frames
 * the rule of SoraWanCausalConfig allows (with e = @first_frame + F) plus
 * the chunk itself; a chunk that attends no cached frame is
 * sora_wan_dit_forward (the same numbers) with the RoPE frames moved by
 * @first_frame.  With @write, the chunk's K/V then go into the cache
 * (@first_frame must not be before sora_wan_dit_cache_get_end; gaps are
 * allowed; a failed write forward empties the cache).  Without, the cache
 * is left as it was.  Returns the prediction [batch, out_channels, F, H, W]
 * f32 like sora_wan_dit_forward, with the same @probe points but
 * "text_embedded".  SORA_ERROR_INVALID_ARGUMENT for latents of another
 * shape or another number of frames, no text, a @first_frame before the end
 * with @write, or a full cache (window_frames 0, past max_frames). */
SoraTensor *sora_wan_dit_forward_chunk (SoraWanDit *dit, SoraWanDitCache *cache,
    SoraTensor *latents, gsize first_frame, const float *timesteps,
    gboolean write, const SoraProbe *probe, GCancellable *cancellable,
    GError **error);

/* sora_wan_dit_forward_chunk into @out [batch, out_channels, F, H, W], made
 * once by the caller (sora_wan_dit_output_new): a stream's steps allocate
 * nothing. */
gboolean sora_wan_dit_forward_chunk_into (SoraWanDit *dit,
    SoraWanDitCache *cache, SoraTensor *latents, gsize first_frame,
    const float *timesteps, gboolean write, SoraTensor *out,
    GCancellable *cancellable, GError **error);

G_END_DECLS

#endif /* __SORA_WAN_DIT_CACHE_H__ */
