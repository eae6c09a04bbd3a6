/* gst-sora engine op: fused multi-head attention
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_OP_ATTENTION_H__
#define __SORA_OP_ATTENTION_H__

#include "sora-tensor.h"

G_BEGIN_DECLS

typedef struct
{
  guint heads;
  /* Multiplies Q·Kᵀ: 1/sqrt(head_dim) for the DiT and the VAE, 1 for umT5. */
  float scale;
  /* Optional f32 [heads, Nq, Nk] added to the scaled scores, the same for
   * every batch item (umT5's relative position bias). */
  SoraTensor *bias;
  /* Optional f32 [B, Nk]: 1 attends, 0 masks the key by adding -FLT_MAX to
   * its score, as HF does with finfo.min (a row with every key masked thus
   * averages all of V). */
  SoraTensor *key_mask;
} SoraAttentionParams;

/* out = softmax (scale·Q·Kᵀ + bias + mask)·V for each head, where q and out
 * are f32 [B, Nq, heads·D], k and v f32 [B, Nk, heads·D], and channel c of a
 * token belongs to head c / D.  A few (batch, head) slices at a time, K and
 * V are repacked by head into temporary device buffers, then one fused
 * kernel does the rest: the scores are never stored. */
gboolean sora_op_attention (SoraTensor *q, SoraTensor *k, SoraTensor *v,
    SoraTensor *out, const SoraAttentionParams *p, GError **error);

/* The bytes of those temporaries on @dev for @batch·@heads slices of @nk
 * keys of @dim channels. */
guint64 sora_op_attention_temp_bytes (
    SoraDevice *dev, gsize batch, guint heads, gsize nk, gsize dim);

/* The kernel's register tile on @dev, "ROWSxNVKxBK" (query rows x key
 * vectors of the device's preferred width, keys per block):
 * $SORA_ATTENTION_TILE when set, else the one stored for this device and
 * driver, else the fastest of a fixed set timed on first use (self-attention
 * of 1024 tokens, 2 heads of 128) and stored (sora-tune.h).  A string to
 * g_free. */
char *sora_attention_tile_name (SoraDevice *dev);
/* The fixed set timed on @dev; a NULL-terminated array to g_strfreev. */
char **sora_attention_tile_candidates (SoraDevice *dev);

/* The GPU form's tile (attention-gpu.cl, taken where
 * sora_tune_gpu_kernels() says so), "BQxTD" (query rows per work-group,
 * work-items per row): $SORA_ATTENTION_GPU_TILE when set, else stored or
 * timed as above.  A string to g_free. */
char *sora_attention_gpu_tile_name (SoraDevice *dev);
/* The GPU tiles a device may get; a NULL-terminated array to g_strfreev. */
char **sora_attention_gpu_tile_candidates (void);
/* The matrix-unit form's tile for @op_dtype operands (bf16 or f16),
 * "BQxBK" (query rows a work-group, 16 a warp; keys a step, halved for wide
 * heads until the operands fit the local memory): $SORA_ATTENTION_MMA_TILE
 * when set, else stored or timed as above.  The matrix units are taken
 * where $SORA_PRECISION forces them, or, where it is "auto", on a device
 * given the GPU forms whose matrix units (sora_tune_mma_form) were measured
 * correct and faster (sora_tune_precision, "attention-precision"); head
 * dims that 16 does not divide, or too wide for the local memory (the
 * VAE's 384), stay on the f32 forms.  A string to g_free. */
char *sora_attention_mma_tile_name (SoraDevice *dev, SoraDType op_dtype);
/* Those tiles; a NULL-terminated array to g_strfreev. */
char **sora_attention_mma_tile_candidates (void);
/* The dtype sora_op_attention rounds K and V to on @dev for heads of
 * @head_dim, in @dtype: bf16 or f16 where the matrix-unit form runs them
 * (as above), else f32 (nothing is rounded).  Fails as sora_op_attention
 * would: a bad $SORA_PRECISION, or one forcing matrix units @dev lacks. */
gboolean sora_attention_operand_dtype (
    SoraDevice *dev, gsize head_dim, SoraDType *dtype, GError **error);
/* The build options of every GPU variant (program "attention-gpu") for the
 * models' head dims, for offline resource checks; to g_strfreev. */
char **sora_attention_gpu_variants (void);

G_END_DECLS

#endif /* __SORA_OP_ATTENTION_H__ */
