/* gst-sora engine op: what the attention files share (sora-op-attention.c,
 * -attention-gpu.c), for them only
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_OP_ATTENTION_PRIVATE_H__
#define __SORA_OP_ATTENTION_PRIVATE_H__

#include "sora-op-attention.h"
#include "sora-tune.h"

G_BEGIN_DECLS

/* attention-gpu.cl's tile: BQ query rows per work-group, TD work-items per
 * row ("BQxTD"), TD a power of two: on PoCL 3.1, a TD that does not divide
 * the keys per tile (3 or 6 of 32) gave wrong results when the keys span
 * several tiles, while Oclgrind ran the same kernel correctly and without
 * findings. */
typedef struct
{
  int bq, td;
} GpuAttnTile;

/* The GPU form's tiles, the tuning candidates. */
extern const char *const sora_attention_gpu_tiles[];

gboolean sora_attention_parse_gpu_tile (const char *s, GpuAttnTile *t);
gboolean sora_attention_valid_gpu_tile (SoraDevice *dev, const char *value);

/* attention-gpu.cl's matrix-unit form (-DMMA): BQ query rows a
 * work-group, 16 a warp, and BK keys a step ("BQxBK", BK 16 times a power
 * of two); BK is halved for wide heads until the staged operands fit. */
typedef struct
{
  int bq, bk;
} MmaAttnTile;

/* The matrix-unit form's tiles, the tuning candidates. */
extern const char *const sora_attention_mma_tiles[];

gboolean sora_attention_parse_mma_tile (const char *s, MmaAttnTile *t);
gboolean sora_attention_valid_mma_tile (SoraDevice *dev, const char *value);

/* *@t with BK halved, down to 16, until it fits @local_mem at head dim
 * @dim; FALSE when it never does or 16 does not divide @dim (the VAE's
 * 384 channels, or 5), which then stay on the f32 forms. */
gboolean sora_attention_mma_fit (
    MmaAttnTile *t, gsize dim, SoraMmaForm form, guint64 local_mem);

/* The local memory the GPU forms may stage in on @dev. */
guint64 sora_attention_gpu_local_mem (SoraDevice *dev);

/* The GPU form with @tile, on shapes checked by the caller. */
gboolean sora_attention_run_gpu (SoraTensor *q, SoraTensor *k, SoraTensor *v,
    SoraTensor *out, const SoraAttentionParams *p, GpuAttnTile tile,
    gsize batch, gsize nq, gsize nk, gsize dim, GError **error);

/* The matrix-unit form, @t fitted to @dim. */
gboolean sora_attention_run_mma (SoraTensor *q, SoraTensor *k, SoraTensor *v,
    SoraTensor *out, const SoraAttentionParams *p, MmaAttnTile t,
    SoraDType op_dtype, SoraMmaForm form, gsize batch, gsize nq, gsize nk,
    gsize dim, GError **error);

G_END_DECLS

#endif /* __SORA_OP_ATTENTION_PRIVATE_H__ */
