/* Fused attention: out = softmax (scale·Q·Kᵀ + bias + mask)·V per head, with
 * online softmax so the Nq×Nk scores never exist in memory.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Both products are register-tiled the way gemm.cl is, which is what makes
 * them run near GEMM speed on CPU cores:
 * - Q·Kᵀ reads K as key panels [batch·heads][panels][HEAD_DIM][KT] that
 *   attention_pack writes once per call (times scale, zero padded), so a
 *   ROWS × KT score tile accumulates over the head dim in ROWS × NVK vectors
 *   from one broadcast query value and NVK panel loads per step;
 * - P·V accumulates ROWS × CW output channels (CW = NC·DV) over the keys
 *   from one broadcast probability and NC loads of a V row per step, from V
 *   that attention_pack copies to
 *   [batch·heads][HEAD_DIM / CW][panels·KT][CW], zero padded: each pass
 *   over a block's keys reads one contiguous stream (rows of HEAD_DIM,
 *   read CW channels at a time, cost 20% more).
 * Products use fma (): PoCL compiles mad () as a multiply and an add.
 *
 * Build options:
 *   HEAD_DIM  channels per head (any value)
 *   VW, NVK   key panels are KT = VW·NVK keys wide, in NVK vectors of VW
 *             (4, 8 or 16)
 *   BK        keys per block (a multiple of KT)
 *   DV        vector width along the head dim, dividing HEAD_DIM (1, 2, 4,
 *             8 or 16)
 *   NC        DV-wide output chunks per P·V pass (dividing HEAD_DIM / DV)
 *   ROWS      query rows per register block
 *   RB        register blocks per work-item
 *   HAS_BIAS  add bias [heads, nq, nk]
 *   HAS_MASK  key mask [batch, nk]: adds (1 - mask)·(-FLT_MAX), as HF does
 *
 * Both kernels do the batch·heads slices from bh0 on, one per index of the
 * last grid dimension; the panels hold just those slices (the host runs a
 * few at a time, so that the panels stay small).  Work-item (i, g) of
 * attention owns RB·ROWS consecutive query rows of slice bh = bh0 + g,
 * batch bh / heads, head bh % heads, with their running max, running sum
 * and output rows in private memory.  For each block of BK keys it runs all
 * its row blocks, so the block's K panels and V rows are read from memory
 * once and then from cache: the reuse a work-group would get from local
 * memory, without the barriers that cost PoCL more than they save.
 */

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_ (a, b)
#define KT (VW * NVK)
#define NDV (HEAD_DIM / DV)
#define CW (NC * DV)
#define floatk CAT (float, VW)
#define vloadk CAT (vload, VW)
#define vstorek CAT (vstore, VW)

#if DV == 1
#define floatv float
#define vloadv(i, p) ((p)[i])
#define vstorev(x, i, p) ((p)[i] = (x))
#else
#define floatv CAT (float, DV)
#define vloadv CAT (vload, DV)
#define vstorev CAT (vstore, DV)
#endif

/* Grid [HEAD_DIM, panels, slices]: one panel row of KT keys, times scale,
 * and the same keys' channel d of V; keys past nk as zeros (their scores
 * are masked in attention). */
__kernel void
attention_pack (const __global float *k, const __global float *v,
    __global float *kp, __global float *vp, int nk, int heads, int panels,
    float scale, int bh0)
{
  const int d = get_global_id (0), panel = get_global_id (1);
  const int g = get_global_id (2), b = (bh0 + g) / heads;
  const int h = (bh0 + g) % heads;
  const size_t src = (size_t) b * nk * heads * HEAD_DIM + h * HEAD_DIM + d;
  const size_t key0 = (size_t) g * panels * KT + panel * KT;
  const int chunk = g * (HEAD_DIM / CW) + d / CW;
  __global float *vc = vp + (size_t) chunk * panels * KT * CW + d % CW;
  float t[KT];

  if (d >= HEAD_DIM)
    return;

#pragma unroll
  for (int j = 0; j < KT; j++) {
    int key = panel * KT + j;
    size_t i = src + (size_t) key * heads * HEAD_DIM;
    t[j] = key < nk ? k[i] * scale : 0.0f;
    vc[(size_t) key * CW] = key < nk ? v[i] : 0.0f;
  }
#pragma unroll
  for (int c = 0; c < NVK; c++)
    vstorek (vloadk (c, t), (key0 * HEAD_DIM + d * KT) / VW + c, kp);
}

/* max, not fmax: scores are never NaN, and fmax's NaN checks cost as much
 * as the comparisons. */
inline float
hmax (floatk x)
{
#if VW == 16
  float8 x8 = max (x.lo, x.hi);
#elif VW == 8
  float8 x8 = x;
#endif
#if VW >= 8
  float4 x4 = max (x8.lo, x8.hi);
#else
  float4 x4 = x;
#endif
  float2 x2 = max (x4.lo, x4.hi);
  return max (x2.x, x2.y);
}

inline float
hsum (floatk x)
{
#if VW == 16
  float8 x8 = x.lo + x.hi;
#elif VW == 8
  float8 x8 = x;
#endif
#if VW >= 8
  float4 x4 = x8.lo + x8.hi;
#else
  float4 x4 = x;
#endif
  float2 x2 = x4.lo + x4.hi;
  return x2.x + x2.y;
}

__kernel void
attention (const __global float *q, const __global float *kp,
    const __global float *vp, __global float *out,
    const __global float *bias, const __global float *mask, int nq, int nk,
    int heads, int bh0)
{
  const int g = get_global_id (1), b = (bh0 + g) / heads;
  const int h = (bh0 + g) % heads;
  const int ld = heads * HEAD_DIM;
  const int row0 = get_global_id (0) * RB * ROWS;
  const int panels = (nk + KT - 1) / KT;
  const __global float *qb = q + (size_t) b * nq * ld + h * HEAD_DIM;
  const __global float *kb = kp + (size_t) g * panels * KT * HEAD_DIM;
  const __global float *vb = vp + (size_t) g * panels * KT * HEAD_DIM;
  float o[RB * ROWS][HEAD_DIM], qrows[RB * ROWS][HEAD_DIM];
  float m[RB * ROWS], l[RB * ROWS];

  if (row0 >= nq)
    return;
  /* The query rows are copied next to each other: read in place, one
   * head's rows lie heads·HEAD_DIM apart, which cost 15% at 12 heads.
   * Rows past nq copy the last row; they compute and store nothing. */
  for (int r = 0; r < RB * ROWS; r++) {
    const __global float *qr = qb + (size_t) min (row0 + r, nq - 1) * ld;

    for (int d = 0; d < HEAD_DIM; d++) {
      o[r][d] = 0.0f;
      qrows[r][d] = qr[d];
    }
    m[r] = -INFINITY;
    l[r] = 0.0f;
  }

  for (int key0 = 0; key0 < nk; key0 += BK) {
    const int nb = min (BK, nk - key0);

    /* Row groups wholly past nq are skipped: RB is fixed per head dim, so
     * short sequences leave most of them empty. */
    for (int r0 = 0; r0 < RB * ROWS && row0 + r0 < nq; r0 += ROWS) {
      float s[ROWS][BK];
      float alpha[ROWS];

      /* Scores: ROWS × KT tiles over the head dim. */
      for (int j0 = 0; j0 < nb; j0 += KT) {
        const __global float *kt = kb + (size_t) (key0 + j0) * HEAD_DIM;
        floatk acc[ROWS][NVK];

#pragma unroll
        for (int r = 0; r < ROWS; r++)
#pragma unroll
          for (int c = 0; c < NVK; c++)
            acc[r][c] = 0.0f;
        for (int d = 0; d < HEAD_DIM; d++) {
          floatk kv[NVK];
#pragma unroll
          for (int c = 0; c < NVK; c++)
            kv[c] = vloadk (d * NVK + c, kt);
#pragma unroll
          for (int r = 0; r < ROWS; r++) {
            float x = qrows[r0 + r][d];
#pragma unroll
            for (int c = 0; c < NVK; c++)
              acc[r][c] = fma (x, kv[c], acc[r][c]);
          }
        }
#pragma unroll
        for (int r = 0; r < ROWS; r++)
#pragma unroll
          for (int c = 0; c < NVK; c++)
            vstorek (acc[r][c], 0, s[r] + j0 + c * VW);
      }

#if defined(HAS_BIAS) || defined(HAS_MASK)
      for (int j = 0; j < nb; j++) {
        float add = 0.0f;
#ifdef HAS_MASK
        add = (1.0f - mask[(size_t) b * nk + key0 + j]) * -FLT_MAX;
#endif
#pragma unroll
        for (int r = 0; r < ROWS; r++) {
#ifdef HAS_BIAS
          s[r][j] += bias[((size_t) h * nq + min (row0 + r0 + r, nq - 1)) * nk
              + key0 + j];
#endif
          s[r][j] += add;
        }
      }
#endif
      /* Keys past nk in the last block take no weight. */
      for (int j = nb; j < BK; j++)
#pragma unroll
        for (int r = 0; r < ROWS; r++)
          s[r][j] = -INFINITY;

      /* Online softmax: what was accumulated is rescaled to the new max. */
#pragma unroll
      for (int r = 0; r < ROWS; r++) {
        floatk mx = vloadk (0, s[r]), sum = 0.0f;
        float mnew;

        for (int c = 1; c < BK / VW; c++)
          mx = max (mx, vloadk (c, s[r]));
        mnew = max (m[r0 + r], hmax (mx));
        for (int c = 0; c < BK / VW; c++) {
          floatk p = exp (vloadk (c, s[r]) - mnew);
          vstorek (p, c, s[r]);
          sum += p;
        }
        alpha[r] = exp (m[r0 + r] - mnew);
        l[r0 + r] = l[r0 + r] * alpha[r] + hsum (sum);
        m[r0 + r] = mnew;
      }

      /* o = o·alpha + P·V, NC vectors of each row at a time. */
      for (int c = 0; c < NDV; c += NC) {
        floatv a[ROWS][NC];
#pragma unroll
        for (int r = 0; r < ROWS; r++)
#pragma unroll
          for (int cc = 0; cc < NC; cc++)
            a[r][cc] = vloadv (c + cc, o[r0 + r]) * alpha[r];
        const __global float *vc =
            vb + (size_t) (c / NC) * panels * KT * CW + (size_t) key0 * CW;

        for (int j = 0; j < nb; j++) {
          floatv vv[NC];
#pragma unroll
          for (int cc = 0; cc < NC; cc++)
            vv[cc] = vloadv (j * NC + cc, vc);
#pragma unroll
          for (int r = 0; r < ROWS; r++) {
            float p = s[r][j];
#pragma unroll
            for (int cc = 0; cc < NC; cc++)
              a[r][cc] = fma (p, vv[cc], a[r][cc]);
          }
        }
#pragma unroll
        for (int r = 0; r < ROWS; r++)
#pragma unroll
          for (int cc = 0; cc < NC; cc++)
            vstorev (a[r][cc], c + cc, o[r0 + r]);
      }
    }
  }

  for (int r = 0; r < RB * ROWS && row0 + r < nq; r++) {
    __global float *dst = out + (size_t) b * nq * ld + h * HEAD_DIM
        + (size_t) (row0 + r) * ld;
    float inv = 1.0f / l[r];
    for (int d = 0; d < HEAD_DIM; d++)
      dst[d] = o[r][d] * inv;
  }
}
