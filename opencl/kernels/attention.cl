/* Fused attention: out = softmax (scale·Q·Kᵀ + bias + mask)·V per head, with
 * online softmax so the Nq×Nk scores never exist in memory.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Build options:
 *   HEAD_DIM  channels per head (any value)
 *   DV        vector width along the head dim, dividing HEAD_DIM (1, 2, 4,
 *             8 or 16)
 *   BN        keys per tile (a multiple of 16 and of KB)
 *   KB        keys per score block: ROWS × KB dot products run at once
 *   NC        DV-wide output chunks per P·V pass (dividing HEAD_DIM / DV)
 *   ROWS      query rows per register block
 *   RB        register blocks per work-item
 *   HAS_BIAS  add bias [heads, nq, nk]
 *   HAS_MASK  key mask [batch, nk]: adds (1 - mask)·(-FLT_MAX), as HF does
 *
 * Work-item (i, bh) owns RB·ROWS consecutive query rows of batch bh / heads,
 * head bh % heads, with their running max, running sum and output rows in
 * private memory.  For each tile of BN keys it runs all its row blocks, so
 * the tile's K and V rows are read from memory once and then from cache:
 * the reuse a work-group would get from local memory, without the barriers
 * that cost PoCL more than they save.
 */

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_ (a, b)
#define NDV (HEAD_DIM / DV)

#if DV == 1
#define floatv float
#define vloadv(i, p) ((p)[i])
#define vstorev(x, i, p) ((p)[i] = (x))
#else
#define floatv CAT (float, DV)
#define vloadv CAT (vload, DV)
#define vstorev CAT (vstore, DV)
#endif

inline float
hsum (floatv x)
{
#if DV == 16
  float8 x8 = x.lo + x.hi;
#elif DV == 8
  float8 x8 = x;
#endif
#if DV >= 8
  float4 x4 = x8.lo + x8.hi;
#elif DV == 4
  float4 x4 = x;
#endif
#if DV >= 4
  float2 x2 = x4.lo + x4.hi;
#elif DV == 2
  float2 x2 = x;
#endif
#if DV >= 2
  return x2.x + x2.y;
#else
  return x;
#endif
}

inline float
max16 (float16 x)
{
  float8 a = fmax (x.lo, x.hi);
  float4 b = fmax (a.lo, a.hi);
  float2 c = fmax (b.lo, b.hi);
  return fmax (c.x, c.y);
}

inline float
sum16 (float16 x)
{
  float8 a = x.lo + x.hi;
  float4 b = a.lo + a.hi;
  float2 c = b.lo + b.hi;
  return c.x + c.y;
}

__kernel void
attention (const __global float *q, const __global float *k,
    const __global float *v, __global float *out,
    const __global float *bias, const __global float *mask, int nq, int nk,
    int heads, float scale)
{
  const int bh = get_global_id (1), b = bh / heads, h = bh % heads;
  const int ld = heads * HEAD_DIM;
  const int row0 = get_global_id (0) * RB * ROWS;
  const __global float *qb = q + (size_t) b * nq * ld + h * HEAD_DIM;
  const __global float *kb = k + (size_t) b * nk * ld + h * HEAD_DIM;
  const __global float *vb = v + (size_t) b * nk * ld + h * HEAD_DIM;
  float qr[RB * ROWS][HEAD_DIM];
  float o[RB * ROWS][HEAD_DIM];
  float m[RB * ROWS], l[RB * ROWS];

  if (row0 >= nq)
    return;
  /* Rows past nq compute a copy of the last row and store nothing. */
  for (int r = 0; r < RB * ROWS; r++) {
    const __global float *src = qb + (size_t) min (row0 + r, nq - 1) * ld;
    for (int d = 0; d < HEAD_DIM; d++) {
      qr[r][d] = src[d] * scale;
      o[r][d] = 0.0f;
    }
    m[r] = -INFINITY;
    l[r] = 0.0f;
  }

  for (int key0 = 0; key0 < nk; key0 += BN) {
    for (int r0 = 0; r0 < RB * ROWS; r0 += ROWS) {
      float s[ROWS][BN];
      float alpha[ROWS];

      /* Scores, ROWS × KB dot products at a time. */
      for (int j = 0; j < BN; j += KB) {
        const __global float *kr[KB];
        floatv acc[ROWS][KB];
#pragma unroll
        for (int jj = 0; jj < KB; jj++)
          kr[jj] = kb + (size_t) min (key0 + j + jj, nk - 1) * ld;
#pragma unroll
        for (int r = 0; r < ROWS; r++)
#pragma unroll
          for (int jj = 0; jj < KB; jj++)
            acc[r][jj] = 0.0f;
        for (int c = 0; c < NDV; c++) {
          floatv kv[KB];
#pragma unroll
          for (int jj = 0; jj < KB; jj++)
            kv[jj] = vloadv (c, kr[jj]);
#pragma unroll
          for (int r = 0; r < ROWS; r++) {
            floatv qv = vloadv (c, qr[r0 + r]);
#pragma unroll
            for (int jj = 0; jj < KB; jj++)
              acc[r][jj] = fma (qv, kv[jj], acc[r][jj]);
          }
        }
#pragma unroll
        for (int jj = 0; jj < KB; jj++) {
          int key = key0 + j + jj;
          float add = key < nk ? 0.0f : -INFINITY;
#ifdef HAS_MASK
          if (key < nk)
            add = (1.0f - mask[(size_t) b * nk + key]) * -FLT_MAX;
#endif
#pragma unroll
          for (int r = 0; r < ROWS; r++) {
            float sc = hsum (acc[r][jj]);
#ifdef HAS_BIAS
            sc += bias[((size_t) h * nq + min (row0 + r0 + r, nq - 1)) * nk
                + min (key, nk - 1)];
#endif
            s[r][j + jj] = sc + add;
          }
        }
      }

      /* Online softmax: what was accumulated is rescaled to the new max. */
#pragma unroll
      for (int r = 0; r < ROWS; r++) {
        float16 mx = vload16 (0, s[r]), sum = 0.0f;
        float mnew;
        for (int c = 1; c < BN / 16; c++)
          mx = fmax (mx, vload16 (c, s[r]));
        mnew = fmax (m[r0 + r], max16 (mx));
        for (int c = 0; c < BN / 16; c++) {
          float16 p = exp (vload16 (c, s[r]) - mnew);
          vstore16 (p, c, s[r]);
          sum += p;
        }
        alpha[r] = exp (m[r0 + r] - mnew);
        l[r0 + r] = l[r0 + r] * alpha[r] + sum16 (sum);
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
        for (int j = 0; j < BN; j++) {
          const __global float *vr = vb + (size_t) min (key0 + j,
              nk - 1) * ld;
          floatv vv[NC];
#pragma unroll
          for (int cc = 0; cc < NC; cc++)
            vv[cc] = vloadv (c + cc, vr);
#pragma unroll
          for (int r = 0; r < ROWS; r++)
#pragma unroll
            for (int cc = 0; cc < NC; cc++)
              a[r][cc] = fma ((floatv) s[r][j], vv[cc], a[r][cc]);
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
