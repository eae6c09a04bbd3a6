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
 *
 * -DMMA builds attention_mma instead: both products on matrix units
 * (common.cl's MMA section), with the same arguments and grid.
 */

#if defined(MMA)

/* attention_mma: BQ query rows per work-group, 16 per warp, each warp's
 * rows done alone.  For each tile of BK keys, the work-group stages K and
 * V as operands next to Q (staged once); a warp computes its 16 x BK
 * scores S = Q·Kᵀ in m16n8k16 fragments (K's rows are B's columns), takes
 * the online softmax on them in registers in fp32 (a row's maximum over
 * the 4 lanes that hold it), and adds P·V to its 16 x HEAD_DIM output
 * fragments: S's fp32 fragments are, pairwise, P's operand fragments
 * (flash-attention 2's layout), and V's rows, keys along K, are loaded
 * transposed.  HEAD_DIM, BQ and BK are multiples of 16. */
#define WARPS (BQ / 16)
#define THREADS (32 * WARPS)
/* Operand rows padded by 8 (as gemm_mma's): 16-byte aligned rows whose 8
 * ldmatrix rows fall in different banks. */
#define OP_LD (HEAD_DIM + 8)
#define FD (HEAD_DIM / 8) /* output fragments of a warp */
#define FK (BK / 8) /* score fragments of a warp */

#if HEAD_DIM % 16 != 0 || BQ % 16 != 0 || BK % 16 != 0
#error "attention_mma needs 16 to divide HEAD_DIM, BQ and BK"
#endif

/* Stores @rows rows of @src (rows @ld floats apart) from @row0 into @s as
 * operands, zero from row @n on. */
__attribute__ ((always_inline)) inline void
stage_rows (__local ushort * s, const __global float *src, size_t ld,
    int row0, int n, int rows, int lid)
{
  for (int e = lid; e < rows * (HEAD_DIM / 4); e += THREADS) {
    int r = e / (HEAD_DIM / 4), c = e % (HEAD_DIM / 4) * 4;
    float4 v = row0 + r < n ? vload4 (0, src + (size_t) (row0 + r) * ld + c)
        : (float4) (0.0f);

    vstore4 ((ushort4) (OP_BITS (v.s0), OP_BITS (v.s1), OP_BITS (v.s2),
            OP_BITS (v.s3)), 0, s + r * OP_LD + c);
  }
}

/* @s = the warp's 16 rows of Q (at @qs's row @row0) times the staged keys'
 * rows, transposed. */
__attribute__ ((always_inline)) inline void
scores (const __local ushort * qs, const __local ushort * ks, int row0,
    float s[FK][4], __local uint * xchg, int warp, int lane)
{
#pragma unroll
  for (int j = 0; j < FK; j++)
#pragma unroll
    for (int e = 0; e < 4; e++)
      s[j][e] = 0.0f;
MMA_UNROLL
  for (int kk = 0; kk < HEAD_DIM; kk += 16) {
    uint a[4];

    load_matrix_x4 (qs, a_offset (row0, kk, lane, OP_LD), a, xchg, warp,
        lane);
MMA_UNROLL
    for (int j = 0; j < FK; j += 2) {
      uint b[4];

      load_matrix_x4 (ks, b_offset (8 * j, kk, lane, OP_LD), b, xchg, warp,
          lane);
      mma_16x8x16 (s[j], a, b, xchg, warp, lane);
      mma_16x8x16 (s[j + 1], a, b + 2, xchg, warp, lane);
    }
  }
}

/* @o += P (@p's fragments as operands) · the staged V. */
__attribute__ ((always_inline)) inline void
add_pv (const __local ushort * vs, float p[FK][4], float o[FD][4],
    __local uint * xchg, int warp, int lane)
{
MMA_UNROLL
  for (int kk = 0; kk < BK; kk += 16) {
    int j = kk / 8;
    uint a[4] = { op_pair (p[j][0], p[j][1]), op_pair (p[j][2], p[j][3]),
      op_pair (p[j + 1][0], p[j + 1][1]), op_pair (p[j + 1][2], p[j + 1][3])
    };

MMA_UNROLL
    for (int n = 0; n < FD; n += 2) {
      uint b[4];

      /* Keys kk.. as rows, channels 8n..: .trans gives B's fragments. */
      load_matrix_x4_trans (vs, a_offset (kk, 8 * n, lane, OP_LD), b, xchg,
          warp, lane);
      mma_16x8x16 (o[n], a, b, xchg, warp, lane);
      mma_16x8x16 (o[n + 1], a, b + 2, xchg, warp, lane);
    }
  }
}

/* The maximum, or sum, of @v over the 4 lanes of a row. */
__attribute__ ((always_inline)) inline float
row_max (float v, __local uint * xchg, int warp, int lane)
{
  v = fmax (v, lane_xor (v, 1, xchg, warp, lane));
  return fmax (v, lane_xor (v, 2, xchg, warp, lane));
}

__attribute__ ((always_inline)) inline float
row_sum (float v, __local uint * xchg, int warp, int lane)
{
  v += lane_xor (v, 1, xchg, warp, lane);
  return v + lane_xor (v, 2, xchg, warp, lane);
}

/* Grid: [query tiles · THREADS, batch·heads]. */
__kernel __attribute__((reqd_work_group_size (THREADS, 1, 1)))
void
attention_mma (const __global float *q, const __global float *k,
    const __global float *v, __global float *out,
    const __global float *bias, const __global float *mask, int nq, int nk,
    int heads, float scale)
{
  __local ushort qs[BQ * OP_LD] __attribute__ ((aligned (16)));
  __local ushort ks[BK * OP_LD] __attribute__ ((aligned (16)));
  __local ushort vs[BK * OP_LD] __attribute__ ((aligned (16)));
  __local uint xchg[XCHG_WORDS];
  int lid = get_local_id (0);
  int lane = lid % 32, warp = lid / 32;
  int bh = get_global_id (1), b = bh / heads, h = bh % heads;
  int q0 = get_group_id (0) * BQ;
  size_t ld = (size_t) heads * HEAD_DIM;
  const __global float *kb = k + (size_t) b * nk * ld + h * HEAD_DIM;
  const __global float *vb = v + (size_t) b * nk * ld + h * HEAD_DIM;
  /* This lane's rows: the fragments' g and g + 8 (c[e] is row e / 2). */
  int rows[2] = { q0 + 16 * warp + lane / 4, q0 + 16 * warp + lane / 4 + 8 };
  float o[FD][4], s[FK][4];
  float m[2] = { -INFINITY, -INFINITY }, l[2] = { 0.0f, 0.0f };

  /* The whole work-group leaves together (the range is padded). */
  if (q0 >= nq)
    return;
#pragma unroll
  for (int n = 0; n < FD; n++)
#pragma unroll
    for (int e = 0; e < 4; e++)
      o[n][e] = 0.0f;
  stage_rows (qs, q + (size_t) b * nq * ld + h * HEAD_DIM, ld, q0, nq, BQ,
      lid);

  for (int key0 = 0; key0 < nk; key0 += BK) {
    stage_rows (ks, kb, ld, key0, nk, BK, lid);
    stage_rows (vs, vb, ld, key0, nk, BK, lid);
    barrier (CLK_LOCAL_MEM_FENCE);
    scores (qs, ks, 16 * warp, s, xchg, warp, lane);

    /* Online softmax: what was accumulated is rescaled to the new max
     * (key0 = 0 has a real key, so m is finite from then on). */
#pragma unroll
    for (int r = 0; r < 2; r++) {
      int row = min (rows[r], nq - 1);
      float mn = m[r], corr;

#pragma unroll
      for (int j = 0; j < FK; j++)
#pragma unroll
        for (int e = 2 * r; e < 2 * r + 2; e++) {
          int key = key0 + 8 * j + 2 * (lane % 4) + e % 2;
          float x = s[j][e] * scale;

          if (key < nk) {
#ifdef HAS_BIAS
            x += bias[((size_t) h * nq + row) * nk + key];
#endif
#ifdef HAS_MASK
            x += (1.0f - mask[(size_t) b * nk + key]) * -FLT_MAX;
#endif
          } else {
            x = -INFINITY;
          }
          s[j][e] = x;
          mn = fmax (mn, x);
        }
      mn = row_max (mn, xchg, warp, lane);
      corr = exp (m[r] - mn);
      l[r] *= corr;
#pragma unroll
      for (int n = 0; n < FD; n++) {
        o[n][2 * r] *= corr;
        o[n][2 * r + 1] *= corr;
      }
      /* Each lane sums its own columns; the row's lanes add up at the end. */
#pragma unroll
      for (int j = 0; j < FK; j++)
#pragma unroll
        for (int e = 2 * r; e < 2 * r + 2; e++) {
          s[j][e] = exp (s[j][e] - mn);
          l[r] += s[j][e];
        }
      m[r] = mn;
    }
    add_pv (vs, s, o, xchg, warp, lane);
    barrier (CLK_LOCAL_MEM_FENCE);
  }

#pragma unroll
  for (int r = 0; r < 2; r++) {
    float sum = row_sum (l[r], xchg, warp, lane);

    if (rows[r] < nq)
#pragma unroll
      for (int n = 0; n < FD; n++)
#pragma unroll
        for (int e = 0; e < 2; e++)
          out[((size_t) b * nq + rows[r]) * ld + h * HEAD_DIM + 8 * n +
              2 * (lane % 4) + e] = o[n][2 * r + e] / sum;
  }
}

#else

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

#endif /* MMA */
