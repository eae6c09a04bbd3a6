/* gst-sora engine op: fused multi-head attention
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-op.h"
#include "sora-op-attention.h"

#define OP "attention"

/* Register blocking (see kernels/attention.cl), measured on PoCL with
 * AVX2: 4 rows × 2 keys of 8-wide dot products and 4 rows × 16 output
 * channels fill 8 of the 16 vector registers each. */
#define ROWS 4
#define KB 2
#define BN 32
/* Private rows per work-item (q and o, in floats): sized to stay in L2. */
#define PRIVATE_FLOATS 8192

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
  gsize batch, nq, nk, channels, dim, dv, nc, rb;
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

  dv = dim % 8 == 0 ? 8 : dim % 4 == 0 ? 4 : dim % 2 == 0 ? 2 : 1;
  nc = dim / dv % 2 == 0 ? 2 : 1;
  rb = CLAMP (PRIVATE_FLOATS / (2 * ROWS * dim), 1, 8);
  rb = MIN (rb, (nq + ROWS - 1) / ROWS);
  global[0] = (nq + rb * ROWS - 1) / (rb * ROWS);
  global[1] = batch * p->heads;

  options =
      g_strdup_printf ("-DHEAD_DIM=%" G_GSIZE_FORMAT " -DDV=%" G_GSIZE_FORMAT
                       " -DNC=%" G_GSIZE_FORMAT " -DRB=%" G_GSIZE_FORMAT
                       " -DROWS=%d -DKB=%d -DBN=%d%s%s",
          dim, dv, nc, rb, ROWS, KB, BN, p->bias ? " -DHAS_BIAS" : "",
          p->key_mask ? " -DHAS_MASK" : "");
  ok = sora_device_run (q->dev, "attention", options, "attention", 2, global,
      local, error, SORA_MEM (q->buf), SORA_MEM (k->buf), SORA_MEM (v->buf),
      SORA_MEM (out->buf), SORA_MEM (p->bias ? p->bias->buf : NULL),
      SORA_MEM (p->key_mask ? p->key_mask->buf : NULL), SORA_INT (nq),
      SORA_INT (nk), SORA_INT (p->heads), SORA_FLOAT (p->scale), SORA_END);
  g_free (options);
  return ok;
}
