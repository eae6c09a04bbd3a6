/* gst-sora engine: what the DiT (sora-wan-dit.c), its weights
 * (sora-wan-dit-weights.c) and its KV cache (sora-wan-dit-cache.c) share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_WAN_DIT_PRIVATE_H__
#define __SORA_WAN_DIT_PRIVATE_H__

#include "sora-ops.h"
#include "sora-wan-dit-cache.h"

G_BEGIN_DECLS

typedef struct
{
  SoraTensor *table; /* scale_shift_table [1, 6, d] */
  SoraLinear *q1, *k1, *v1, *o1;
  SoraTensor *norm_q1, *norm_k1;
  SoraTensor *norm2_w, *norm2_b; /* NULL without cross_attn_norm */
  SoraLinear *q2, *k2, *v2, *o2;
  SoraTensor *norm_q2, *norm_k2;
  SoraLinear *ffn0, *ffn2;
} Block;

/* The activations of one forward, shared by every block: the model's
 * workspace. */
typedef struct
{
  SoraTensor *in_item, *in_tokens, *patches;
  SoraTensor *sinusoid, *time_hidden, *temb, *temb_act, *tproj;
  SoraTensor *mod, *head_mod;
  SoraTensor *text_hidden, *ctx, *ck, *cv;
  SoraTensor *x, *y, *q, *k, *v, *ffn;
  /* Row chunks of the FFN's input and output, NULL when it runs whole. */
  SoraTensor *ffn_in, *ffn_out;
  SoraTensor *proj, *out_tokens, *out_item;
} Acts;

struct _SoraWanDit
{
  SoraDevice *dev;
  SoraWanTransformerConfig cfg;
  SoraLinear *patch, *time1, *time2, *time_proj, *text1, *text2, *proj_out;
  SoraTensor *table; /* the head's scale_shift_table [1, 2, d] */
  Block *blocks;
  /* The RoPE table of the last latent grid (patches per axis) and its
   * first frame's position. */
  SoraTensor *rope;
  gsize rope_grid[3], rope_first;
  /* The activations of the last forward's shape (batch, frames, height,
   * width, text rows; all 0 while there are none), kept for the next. */
  Acts ws;
  gsize ws_shape[5];
};

/* The forward of sora_wan_dit_forward into @out (checked by the caller);
 * with @cache (whose chunk is checked and begun) the self-attention goes
 * through sora_wan_dit_cache_attend, the cross-attention takes the cache's
 * text K/V (@text unused) and the RoPE frames start at @first_frame. */
gboolean sora_wan_dit_run (SoraWanDit *dit, SoraTensor *latents,
    const float *timesteps, SoraTensor *text, SoraWanDitCache *cache,
    gsize first_frame, const SoraProbe *probe, SoraTensor *out,
    GCancellable *cancellable, GError **error);

/* sora_wan_dit_forward_bytes for a self-attention over @keys key tokens
 * (a chunk's own and those of the cache it attends). */
guint64 sora_wan_dit_forward_bytes_keys (SoraWanDit *dit, gsize batch,
    gsize frames, gsize height, gsize width, gsize seq, gsize keys);

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
