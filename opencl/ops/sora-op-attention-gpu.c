/* gst-sora engine op: fused multi-head attention's GPU and matrix-unit
 * forms (attention-gpu.cl): their tiles, build options and launch
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "sora-op.h"
#include "sora-op-attention-private.h"

/* 256 work-items each (a multiple of every GPU's SIMD width). */
const char *const sora_attention_gpu_tiles[] = { "32x8", "64x4", "16x16",
  NULL };

/* The head dims the engine's models use (DiT, umT5, VAE), for
 * sora_attention_gpu_variants. */
static const guint gpu_head_dims[] = { 128, 64, 384 };

#define GPU_MAX_CHANNELS 32 /* output channels per work-item */

gboolean
sora_attention_parse_gpu_tile (const char *s, GpuAttnTile *t)
{
  *t = (GpuAttnTile){ 0 };
  return s[strspn (s, "0123456789x")] == '\0' &&
      sscanf (s, "%dx%d", &t->bq, &t->td) == 2 && t->bq > 0 && t->td > 0 &&
      (t->td & (t->td - 1)) == 0 && t->bq * t->td <= 1024;
}

gboolean
sora_attention_valid_gpu_tile (SoraDevice *dev, const char *value)
{
  GpuAttnTile t;

  return sora_attention_parse_gpu_tile (value, &t) &&
      (gsize)t.bq * t.td <= sora_device_get_info (dev)->max_work_group;
}

/* @t for head dim @dim: more work-items per row (as many fewer rows) while
 * a work-item would hold over GPU_MAX_CHANNELS outputs. */
static GpuAttnTile
gpu_fit (GpuAttnTile t, gsize dim)
{
  while ((dim + t.td - 1) / t.td > GPU_MAX_CHANNELS && t.bq > 1) {
    t.td *= 2;
    t.bq /= 2;
  }
  return t;
}

/* The build options of fitted tile @t: up to 32 keys per tile, fewer while
 * the staged K, V and scores (attention-gpu.cl) exceed @local_mem bytes. */
static char *
gpu_options (
    GpuAttnTile t, gsize dim, gboolean bias, gboolean mask, guint64 local_mem)
{
  int bk = 32;

  while (
      bk > 1 && (guint64)bk * (2 * dim + 1 + t.bq) * sizeof (float) > local_mem)
    bk /= 2;
  return g_strdup_printf (
      "-DHEAD_DIM=%" G_GSIZE_FORMAT " -DBQ=%d -DTD=%d -DBK=%d%s%s", dim, t.bq,
      t.td, bk, bias ? " -DHAS_BIAS" : "", mask ? " -DHAS_MASK" : "");
}

/* 4 or 8 warps; at head dim 128, 64x64 stages 52 KB, over every GPU's
 * budget, and runs as 64x32 (ptxas: 166 registers on sm_80). */
const char *const sora_attention_mma_tiles[] = { "64x64", "64x32", "128x32",
  NULL };

gboolean
sora_attention_parse_mma_tile (const char *s, MmaAttnTile *t)
{
  *t = (MmaAttnTile){ 0 };
  return s[strspn (s, "0123456789x")] == '\0' &&
      sscanf (s, "%dx%d", &t->bq, &t->bk) == 2 && t->bq > 0 && t->bk > 0 &&
      t->bq % 16 == 0 && t->bk % 16 == 0 && (t->bk & (t->bk - 1)) == 0 &&
      t->bq <= 256 && t->bk <= 128;
}

gboolean
sora_attention_valid_mma_tile (SoraDevice *dev, const char *value)
{
  MmaAttnTile t;

  return sora_attention_parse_mma_tile (value, &t) &&
      (gsize)t.bq * 2 <= sora_device_get_info (dev)->max_work_group;
}

/* Bytes attention_mma stages: Q, K and V as 16-bit operands in rows padded
 * by 8, and the stand-in's exchange (6 words a work-item). */
static guint64
mma_local (MmaAttnTile t, gsize dim, SoraMmaForm form)
{
  return (guint64)(t.bq + 2 * t.bk) * (dim + 8) * 2 +
      (form == SORA_MMA_EMULATE ? (guint64)t.bq * 2 * 6 * 4 : 0);
}

gboolean
sora_attention_mma_fit (
    MmaAttnTile *t, gsize dim, SoraMmaForm form, guint64 local_mem)
{
  if (dim == 0 || dim % 16 != 0)
    return FALSE;
  while (t->bk > 16 && mma_local (*t, dim, form) > local_mem)
    t->bk /= 2;
  return mma_local (*t, dim, form) <= local_mem;
}

static char *
mma_options (MmaAttnTile t, gsize dim, gboolean bias, gboolean mask,
    SoraDType op_dtype, SoraMmaForm form)
{
  char *mma = sora_tune_mma_options (op_dtype, form);
  char *options = g_strdup_printf (
      "%s -DHEAD_DIM=%" G_GSIZE_FORMAT " -DBQ=%d -DBK=%d%s%s", mma, dim, t.bq,
      t.bk, bias ? " -DHAS_BIAS" : "", mask ? " -DHAS_MASK" : "");

  g_free (mma);
  return options;
}

/* Adds @o (freed) unless there: wide heads fit several tiles to one. */
static void
add_variant (GPtrArray *all, char *o)
{
  if (g_ptr_array_find_with_equal_func (all, o, g_str_equal, NULL))
    g_free (o);
  else
    g_ptr_array_add (all, o);
}

char **
sora_attention_gpu_variants (void)
{
  GPtrArray *all = g_ptr_array_new ();

  for (guint d = 0; d < G_N_ELEMENTS (gpu_head_dims); d++)
    for (guint i = 0; sora_attention_gpu_tiles[i]; i++)
      for (int extra = 0; extra < 2; extra++) {
        GpuAttnTile t;

        sora_attention_parse_gpu_tile (sora_attention_gpu_tiles[i], &t);
        t = gpu_fit (t, gpu_head_dims[d]);
        char *o = gpu_options (
            t, gpu_head_dims[d], extra, extra, SORA_GPU_LOCAL_BUDGET);

        add_variant (all, o);
      }
  /* The matrix-unit form's NVIDIA build (the stand-in is for tests). */
  for (guint d = 0; d < G_N_ELEMENTS (gpu_head_dims); d++)
    for (guint i = 0; sora_attention_mma_tiles[i]; i++)
      for (int extra = 0; extra < 2; extra++)
        for (int op = 0; op < 2; op++) {
          MmaAttnTile t;

          sora_attention_parse_mma_tile (sora_attention_mma_tiles[i], &t);
          if (sora_attention_mma_fit (
                  &t, gpu_head_dims[d], SORA_MMA_PTX, SORA_GPU_LOCAL_BUDGET))
            add_variant (all,
                mma_options (t, gpu_head_dims[d], extra, extra,
                    op ? SORA_DTYPE_F16 : SORA_DTYPE_BF16, SORA_MMA_PTX));
        }
  g_ptr_array_add (all, NULL);
  return (char **)g_ptr_array_free (all, FALSE);
}

char **
sora_attention_gpu_tile_candidates (void)
{
  return g_strdupv ((char **)sora_attention_gpu_tiles);
}

/* Runs @kernel of attention-gpu.cl built with @options, @bq query rows a
 * work-group of @threads, on the checked shapes: one launch. */
static gboolean
launch_gpu (SoraTensor *q, SoraTensor *k, SoraTensor *v, SoraTensor *out,
    const SoraAttentionParams *p, const char *options, const char *kernel,
    gsize bq, gsize threads, gsize batch, gsize nq, gsize nk, GError **error)
{
  gsize global[2] = { (nq + bq - 1) / bq * threads, batch * p->heads };
  gsize local[2] = { threads, 1 };

  return sora_device_run (q->dev, "attention-gpu", options, kernel, 2, global,
      local, error, SORA_MEM (q->buf), SORA_MEM (k->buf), SORA_MEM (v->buf),
      SORA_MEM (out->buf), SORA_MEM (p->bias ? p->bias->buf : NULL),
      SORA_MEM (p->key_mask ? p->key_mask->buf : NULL), SORA_INT (nq),
      SORA_INT (nk), SORA_INT (p->heads), SORA_FLOAT (p->scale), SORA_END);
}

guint64
sora_attention_gpu_local_mem (SoraDevice *dev)
{
  return MIN (sora_device_get_info (dev)->local_mem, SORA_GPU_LOCAL_BUDGET);
}

/* The GPU form. */
gboolean
sora_attention_run_gpu (SoraTensor *q, SoraTensor *k, SoraTensor *v,
    SoraTensor *out, const SoraAttentionParams *p, GpuAttnTile tile,
    gsize batch, gsize nq, gsize nk, gsize dim, GError **error)
{
  GpuAttnTile t = gpu_fit (tile, dim);
  char *options = gpu_options (t, dim, p->bias != NULL, p->key_mask != NULL,
      sora_attention_gpu_local_mem (q->dev));
  gboolean ok = launch_gpu (q, k, v, out, p, options, "attention_gpu", t.bq,
      (gsize)t.bq * t.td, batch, nq, nk, error);

  g_free (options);
  return ok;
}

gboolean
sora_attention_run_mma (SoraTensor *q, SoraTensor *k, SoraTensor *v,
    SoraTensor *out, const SoraAttentionParams *p, MmaAttnTile t,
    SoraDType op_dtype, SoraMmaForm form, gsize batch, gsize nq, gsize nk,
    gsize dim, GError **error)
{
  char *options = mma_options (
      t, dim, p->bias != NULL, p->key_mask != NULL, op_dtype, form);
  gboolean ok = launch_gpu (q, k, v, out, p, options, "attention_mma", t.bq,
      (gsize)t.bq * 2, batch, nq, nk, error);

  g_free (options);
  return ok;
}
