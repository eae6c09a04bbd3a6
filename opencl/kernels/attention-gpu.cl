/* Fused attention for GPUs: out = softmax (scale·Q·Kᵀ + bias + mask)·V per
 * head, flash-attention style, reading Q, K, V and writing out in their
 * [batch, tokens, heads·HEAD_DIM] layout (no packing).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A work-group owns BQ query rows of one (batch, head) slice, TD work-items
 * per row.  For each tile of BK keys it stages K and V in local memory
 * (coalesced along the channels), the row's TD work-items compute its BK
 * scores into local memory, then each work-item updates the running max and
 * sum of its row (the same on its TD work-items) and its HEAD_DIM / TD
 * output channels, strided by TD so that neighbouring work-items read
 * neighbouring local words.  The scores never leave the work-group.
 *
 * Build options: HEAD_DIM, BQ, TD, BK; HAS_BIAS (bias [heads, nq, nk]) and
 * HAS_MASK (key mask [batch, nk]: adds (1 - mask)·(-FLT_MAX), as HF does,
 * so a row with every key masked averages V) as in attention.cl.  The
 * required work-group is BQ·TD along the first axis.
 */

#define THREADS (BQ * TD)
#define DPT ((HEAD_DIM + TD - 1) / TD)
/* A padding word per staged key: a row's TD work-items read TD keys at
 * once, which would otherwise share a bank. */
#define KS_LD (HEAD_DIM + 1)

/* Grid: [query tiles · THREADS, batch·heads]. */
__kernel __attribute__((reqd_work_group_size (THREADS, 1, 1)))
void
attention_gpu (const __global float *q, const __global float *k,
    const __global float *v, __global float *out,
    const __global float *bias, const __global float *mask, int nq, int nk,
    int heads, float scale)
{
  __local float ks[BK * KS_LD];
  __local float vs[BK * HEAD_DIM];
  __local float ss[BQ * BK];
  int lid = get_local_id (0);
  int r = lid / TD, t = lid % TD;
  int bh = get_global_id (1), b = bh / heads, h = bh % heads;
  int q0 = get_group_id (0) * BQ;
  int row = q0 + r;
  size_t ld = (size_t) heads * HEAD_DIM;
  /* Rows past nq compute on the last row and are not stored. */
  const __global float *qr =
      q + ((size_t) b * nq + min (row, nq - 1)) * ld + h * HEAD_DIM;
  const __global float *kb = k + (size_t) b * nk * ld + h * HEAD_DIM;
  const __global float *vb = v + (size_t) b * nk * ld + h * HEAD_DIM;
  float acc[DPT];
  float m = -INFINITY, l = 0.0f;

  /* The whole work-group leaves together (the range is padded). */
  if (q0 >= nq)
    return;
#pragma unroll
  for (int i = 0; i < DPT; i++)
    acc[i] = 0.0f;

  for (int key0 = 0; key0 < nk; key0 += BK) {
    int nb = min (BK, nk - key0);

    for (int e = lid; e < BK * HEAD_DIM; e += THREADS) {
      int j = e / HEAD_DIM, c = e % HEAD_DIM;
      size_t src = (size_t) (key0 + j) * ld + c;

      ks[j * KS_LD + c] = j < nb ? kb[src] : 0.0f;
      vs[e] = j < nb ? vb[src] : 0.0f;
    }
    barrier (CLK_LOCAL_MEM_FENCE);

    for (int j = t; j < BK; j += TD) {
      float s = 0.0f;

      for (int c = 0; c < HEAD_DIM; c++)
        s = fma (qr[c], ks[j * KS_LD + c], s);
      s *= scale;
      if (j < nb) {
#ifdef HAS_BIAS
        s += bias[((size_t) h * nq + min (row, nq - 1)) * nk + key0 + j];
#endif
#ifdef HAS_MASK
        s += (1.0f - mask[(size_t) b * nk + key0 + j]) * -FLT_MAX;
#endif
      } else {
        s = -INFINITY;
      }
      ss[r * BK + j] = s;
    }
    barrier (CLK_LOCAL_MEM_FENCE);

    {
      /* Online softmax: what was accumulated is rescaled to the new max
       * (key0 = 0 has a real key, so m is finite from then on). */
      float mn = m, corr;

      for (int j = 0; j < nb; j++)
        mn = fmax (mn, ss[r * BK + j]);
      corr = exp (m - mn);
      l *= corr;
#pragma unroll
      for (int i = 0; i < DPT; i++)
        acc[i] *= corr;
      for (int j = 0; j < nb; j++) {
        float pj = exp (ss[r * BK + j] - mn);

        l += pj;
#pragma unroll
        for (int i = 0; i < DPT; i++) {
          int c = t + i * TD;

          if (c < HEAD_DIM)
            acc[i] = fma (pj, vs[j * HEAD_DIM + c], acc[i]);
        }
      }
      m = mn;
    }
    barrier (CLK_LOCAL_MEM_FENCE);
  }

  if (row >= nq)
    return;
#pragma unroll
  for (int i = 0; i < DPT; i++) {
    int c = t + i * TD;

    if (c < HEAD_DIM)
      out[((size_t) b * nq + row) * ld + h * HEAD_DIM + c] = acc[i] / l;
  }
}
