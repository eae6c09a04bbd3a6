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
  gsize batch, nq, nk, channels, dim, dv, nc, rb, width, vw, nvk, panels;
  gsize pack_global[3], pack_bytes;
  cl_mem kp, vp;
  /* One work-item per group: each already reuses its K/V tiles from cache,
   * and PoCL's barriers cost more than local memory would save. */
  gsize global[2], local[2] = { 1, 1 };
  char *options;
  gboolean ok;

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

  width = sora_device_get_info (q->dev)->preferred_float_width;
  vw = width >= 16 ? 16 : width >= 8 ? 8 : 4;
  nvk = vw >= 16 ? 4 : 2;
  panels = (nk + vw * nvk - 1) / (vw * nvk);
  for (dv = vw; dim % dv != 0; dv /= 2)
    ;
  nc = dim / dv % nvk == 0 ? nvk : dim / dv % 2 == 0 ? 2 : 1;
  rb = CLAMP (PRIVATE_FLOATS / (ROWS * dim), 1, 32);
  rb = MIN (rb, (nq + ROWS - 1) / ROWS);
  global[0] = (nq + rb * ROWS - 1) / (rb * ROWS);
  global[1] = batch * p->heads;
  pack_global[0] = dim;
  pack_global[1] = panels;
  pack_global[2] = batch * p->heads;
  pack_bytes = batch * p->heads * panels * vw * nvk * dim * sizeof (float);
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

  options =
      g_strdup_printf ("-DHEAD_DIM=%" G_GSIZE_FORMAT " -DVW=%" G_GSIZE_FORMAT
                       " -DNVK=%" G_GSIZE_FORMAT " -DBK=%" G_GSIZE_FORMAT
                       " -DDV=%" G_GSIZE_FORMAT " -DNC=%" G_GSIZE_FORMAT
                       " -DRB=%" G_GSIZE_FORMAT " -DROWS=%d%s%s",
          dim, vw, nvk, MAX (BLOCK_KEYS / (vw * nvk), 1) * vw * nvk, dv, nc, rb,
          ROWS, p->bias ? " -DHAS_BIAS" : "", p->key_mask ? " -DHAS_MASK" : "");
  ok = sora_device_run (q->dev, "attention", options, "attention_pack", 3,
           pack_global, NULL, error, SORA_MEM (k->buf), SORA_MEM (v->buf),
           SORA_MEM (kp), SORA_MEM (vp), SORA_INT (nk), SORA_INT (p->heads),
           SORA_INT (panels), SORA_FLOAT (p->scale), SORA_END) &&
      sora_device_run (q->dev, "attention", options, "attention", 2, global,
          local, error, SORA_MEM (q->buf), SORA_MEM (kp), SORA_MEM (vp),
          SORA_MEM (out->buf), SORA_MEM (p->bias ? p->bias->buf : NULL),
          SORA_MEM (p->key_mask ? p->key_mask->buf : NULL), SORA_INT (nq),
          SORA_INT (nk), SORA_INT (p->heads), SORA_END);
  /* OpenCL keeps the buffers until the queued kernels are done with them. */
  sora_device_release (q->dev, kp, pack_bytes);
  sora_device_release (q->dev, vp, pack_bytes);
  g_free (options);
  return ok;
}
