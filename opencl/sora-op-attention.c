/* gst-sora engine op: fused multi-head attention
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-op.h"
#include "sora-op-attention.h"

#define OP "attention"

/* Register blocking (see kernels/attention.cl), as gemm.c picks it: ROWS
 * rows × NVK vectors of the device's preferred width take 12 of AVX2's 16
 * vector registers (width 8) and 24 of AVX-512's 32 (width 16). */
#define ROWS 6
/* Keys per key block, rounded to whole panels: the block's K and V (128 KB
 * at head dim 128) stay in L2 while a work-item's row blocks use them.  On
 * PoCL (Zen 3) 128 beat 32, 64 and 256 keys. */
#define BLOCK_KEYS 128
/* Private output rows, and as many query rows, per work-item, in floats
 * (192 KB in all, in L2): more rows per work-item read K and V fewer
 * times.  On PoCL, 48 -> 192 rows at head dim 128 took N = 32760 from 0.65x
 * to 0.82x of the GEMM rate. */
#define PRIVATE_FLOATS 24576

/* The K and V panels of the slices one launch does stay under this many
 * bytes (at least one slice): all 24 slices of a 480p CFG step at once
 * would take 805 MB. */
#define PACK_BUDGET (96u << 20)

/* Key panels: KT = vw·nvk keys, vw the device's preferred float width. */
typedef struct
{
  gsize vw, nvk, panels;
  gsize slice_bytes; /* K (or V) panels of one slice */
  gsize slices; /* per launch */
} PackPlan;

static PackPlan
pack_plan (SoraDevice *dev, gsize total_slices, gsize nk, gsize dim)
{
  guint width = sora_device_get_info (dev)->preferred_float_width;
  PackPlan plan;

  plan.vw = width >= 16 ? 16 : width >= 8 ? 8 : 4;
  plan.nvk = plan.vw >= 16 ? 4 : 2;
  plan.panels = (nk + plan.vw * plan.nvk - 1) / (plan.vw * plan.nvk);
  plan.slice_bytes = plan.panels * plan.vw * plan.nvk * dim * sizeof (float);
  plan.slices = CLAMP (
      PACK_BUDGET / 2 / MAX (plan.slice_bytes, 1), 1, MAX (total_slices, 1));
  return plan;
}

guint64
sora_op_attention_temp_bytes (
    SoraDevice *dev, gsize batch, guint heads, gsize nk, gsize dim)
{
  PackPlan plan = pack_plan (dev, batch * heads, nk, dim);

  return 2ull * plan.slices * plan.slice_bytes;
}

static gboolean
check_f32_shape (
    const SoraTensor *t, guint ndim, const gsize *shape, GError **error)
{
  return sora_op_check_dtype (t, OP, SORA_DTYPE_F32, error) &&
      sora_tensor_check_shape (t, OP, ndim, shape, error) &&
      sora_op_check_int (t->numel, OP, t, error);
}

gboolean
sora_op_attention (SoraTensor *q, SoraTensor *k, SoraTensor *v, SoraTensor *out,
    const SoraAttentionParams *p, GError **error)
{
  gsize batch, nq, nk, channels, dim, dv, nc, rb, slices, pack_bytes;
  PackPlan plan;
  cl_mem kp, vp;
  /* One work-item per group: each already reuses its K/V tiles from cache,
   * and PoCL's barriers cost more than local memory would save. */
  gsize global[2], local[2] = { 1, 1 };
  char *options;
  gboolean ok = TRUE;

  if (q->ndim != 3 || k->ndim != 3) {
    char *d = sora_tensor_describe (q->ndim != 3 ? q : k);
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "%s: tensor %s should be [batch, tokens, channels]", OP, d);
    g_free (d);
    return FALSE;
  }
  batch = q->shape[0];
  nq = q->shape[1];
  channels = q->shape[2];
  nk = k->shape[1];
  if (p->heads == 0 || channels % p->heads != 0) {
    char *d = sora_tensor_describe (q);
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "%s: tensor %s has channels that %u heads do not divide", OP, d,
        p->heads);
    g_free (d);
    return FALSE;
  }
  dim = channels / p->heads;
  {
    gsize qs[] = { batch, nq, channels }, ks[] = { batch, nk, channels };
    gsize bs[] = { p->heads, nq, nk }, ms[] = { batch, nk };

    if (!check_f32_shape (q, 3, qs, error) ||
        !check_f32_shape (k, 3, ks, error) ||
        !check_f32_shape (v, 3, ks, error) ||
        !check_f32_shape (out, 3, qs, error) ||
        (p->bias && !check_f32_shape (p->bias, 3, bs, error)) ||
        (p->key_mask && !check_f32_shape (p->key_mask, 2, ms, error)))
      return FALSE;
  }
  if (nk == 0) {
    char *d = sora_tensor_describe (k);
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "%s: tensor %s has no keys", OP, d);
    g_free (d);
    return FALSE;
  }
  if (nq == 0 || batch == 0)
    return TRUE;

  slices = batch * p->heads;
  plan = pack_plan (q->dev, slices, nk, dim);
  for (dv = plan.vw; dim % dv != 0; dv /= 2)
    ;
  nc = dim / dv % plan.nvk == 0 ? plan.nvk : dim / dv % 2 == 0 ? 2 : 1;
  /* From the head dim alone: a value from the sequence length would be a
   * kernel to compile for each frame size. */
  rb = CLAMP (PRIVATE_FLOATS / (ROWS * dim), 1, 32);
  global[0] = (nq + rb * ROWS - 1) / (rb * ROWS);
  pack_bytes = plan.slices * plan.slice_bytes;
  if (!sora_op_check_int (pack_bytes / sizeof (float), OP, k, error))
    return FALSE;
  kp = sora_device_alloc (q->dev, pack_bytes, "attention key panels", error);
  if (kp == NULL)
    return FALSE;
  vp = sora_device_alloc (q->dev, pack_bytes, "attention value rows", error);
  if (vp == NULL) {
    sora_device_release (q->dev, kp, pack_bytes);
    return FALSE;
  }

  options = g_strdup_printf ("-DHEAD_DIM=%" G_GSIZE_FORMAT
                             " -DVW=%" G_GSIZE_FORMAT " -DNVK=%" G_GSIZE_FORMAT
                             " -DBK=%" G_GSIZE_FORMAT " -DDV=%" G_GSIZE_FORMAT
                             " -DNC=%" G_GSIZE_FORMAT " -DRB=%" G_GSIZE_FORMAT
                             " -DROWS=%d%s%s",
      dim, plan.vw, plan.nvk,
      MAX (BLOCK_KEYS / (plan.vw * plan.nvk), 1) * plan.vw * plan.nvk, dv, nc,
      rb, ROWS, p->bias ? " -DHAS_BIAS" : "", p->key_mask ? " -DHAS_MASK" : "");
  /* The panels are reused by the next slices once the queue (in order) has
   * run the attention of these. */
  for (gsize bh0 = 0; ok && bh0 < slices; bh0 += plan.slices) {
    gsize n = MIN (plan.slices, slices - bh0);
    gsize pack_global[3] = { dim, plan.panels, n };

    global[1] = n;
    ok = sora_device_run (q->dev, "attention", options, "attention_pack", 3,
             pack_global, NULL, error, SORA_MEM (k->buf), SORA_MEM (v->buf),
             SORA_MEM (kp), SORA_MEM (vp), SORA_INT (nk), SORA_INT (p->heads),
             SORA_INT (plan.panels), SORA_FLOAT (p->scale), SORA_INT (bh0),
             SORA_END) &&
        sora_device_run (q->dev, "attention", options, "attention", 2, global,
            local, error, SORA_MEM (q->buf), SORA_MEM (kp), SORA_MEM (vp),
            SORA_MEM (out->buf), SORA_MEM (p->bias ? p->bias->buf : NULL),
            SORA_MEM (p->key_mask ? p->key_mask->buf : NULL), SORA_INT (nq),
            SORA_INT (nk), SORA_INT (p->heads), SORA_INT (bh0), SORA_END);
  }
  /* OpenCL keeps the buffers until the queued kernels are done with them. */
  sora_device_release (q->dev, kp, pack_bytes);
  sora_device_release (q->dev, vp, pack_bytes);
  g_free (options);
  return ok;
}
