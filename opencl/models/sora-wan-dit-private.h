/* gst-sora engine: what the DiT (sora-wan-dit.c) and its KV cache
 * (sora-wan-dit-cache.c) share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_WAN_DIT_PRIVATE_H__
#define __SORA_WAN_DIT_PRIVATE_H__

#include "sora-ops.h"
#include "sora-wan-dit-cache.h"

G_BEGIN_DECLS

/* The forward of sora_wan_dit_forward; with @cache (whose chunk is checked
 * and begun) the self-attention goes through sora_wan_dit_cache_attend, the
 * cross-attention takes the cache's text K/V (@text unused) and the RoPE
 * frames start at @first_frame. */
SoraTensor *sora_wan_dit_run (SoraWanDit *dit, SoraTensor *latents,
    const float *timesteps, SoraTensor *text, SoraWanDitCache *cache,
    gsize first_frame, const SoraProbe *probe, GCancellable *cancellable,
    GError **error);

/* Each block's cross-attention K (after norm_k) and V of @text into
 * @k[i], @v[i] [B, S, dim] f32, allocated here. */
gboolean sora_wan_dit_text_kv (SoraWanDit *dit, SoraTensor *text,
    SoraTensor **k, SoraTensor **v, GError **error);

SoraDevice *sora_wan_dit_get_device (SoraWanDit *dit);

/* Block @block's self-attention of the chunk's @q, @k, @v [B, L, dim] into
 * @out, over the cached frames it attends and the chunk; then, when the
 * chunk writes, its @k and @v go into the cache. */
gboolean sora_wan_dit_cache_attend (SoraWanDitCache *cache, guint block,
    SoraTensor *q, SoraTensor *k, SoraTensor *v, SoraTensor *out,
    const SoraAttentionParams *ap, GError **error);

/* Block @block's text K and V. */
void sora_wan_dit_cache_text_kv (
    SoraWanDitCache *cache, guint block, SoraTensor **k, SoraTensor **v);

G_END_DECLS

#endif /* __SORA_WAN_DIT_PRIVATE_H__ */
