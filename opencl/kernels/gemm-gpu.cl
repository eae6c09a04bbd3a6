/* Matrix product Y = X·Wᵀ (+ bias) for GPUs, X [m, k] and Y [m, n] f32
 * row-major, W [n, k] row-major in its storage dtype (a Linear's weight as
 * stored, or a runtime f32 matrix), per batch.
 *
 * A work-group of THREADS work-items computes a WG_M x WG_N tile of Y.  K
 * passes in slices of WG_K: the work-group stages the X and W slices in
 * local memory, k-major, with 4-wide loads along K (coalesced: the
 * WG_K / 4 work-items of a row read it contiguously), then each work-item
 * accumulates an RM x RN register block, its rows and columns strided by
 * the work-group's row and column counts so that neighbouring work-items
 * read neighbouring local words (no bank conflicts) and a row is a
 * broadcast.  f16 and bf16 weights are widened as they are loaded.
 *
 * Built with -DWG_M, -DWG_N, -DWG_K (a multiple of 4), -DRM, -DRN (dividing
 * WG_M and WG_N); THREADS = (WG_M / RM) * (WG_N / RN) is the required
 * work-group, along the first axis.
 *
 * -DCONV3D builds conv3d_gpu instead of gemm_gpu: the GPU form of conv.cl's
 * convolution, this product with X the input's implicit im2col matrix,
 * gathered as it is staged. */

#if defined(MMA)
#define THREADS (MMA_WAVE * WARPS_M * WARPS_N)
#else
#define TM (WG_M / RM)
#define TN (WG_N / RN)
#define THREADS (TM * TN)
#endif
#define KV (WG_K / 4)
/* One word of padding per k row: the staging stores walk K within a row
 * and would otherwise hit one bank. */
#define XS_LD (WG_M + 1)
#define WS_LD (WG_N + 1)

#if defined(STORAGE_F16)
#define LOAD_W4(p) vload_half4 (0, (const __global half *) (p))
#define LOAD_W1(p) vload_half (0, (const __global half *) (p))
#elif defined(STORAGE_BF16)
#define LOAD_W4(p) as_float4 (convert_uint4 (vload4 (0, (p))) << 16)
#define LOAD_W1(p) as_float ((uint) * (p) << 16)
#else
#define LOAD_W4(p) vload4 (0, (p))
#define LOAD_W1(p) (*(p))
#endif

/* Four elements of row @row from column @col of a [rows, ld] matrix, zero
 * past @rows or @cols; the X and W forms differ only in the load. */
#define LOAD_SLICE(type, load4, load1)                                      \
  inline float4 load_slice_##type (const __global type * a, int ld,         \
      int row, int rows, int col, int cols)                                 \
  {                                                                         \
    const __global type *p = a + (size_t) row * ld + col;                   \
    float t[4];                                                             \
                                                                            \
    if (row >= rows)                                                        \
      return (float4) (0.0f);                                               \
    if (col + 4 <= cols)                                                    \
      return load4 (p);                                                     \
    for (int e = 0; e < 4; e++)                                             \
      t[e] = col + e < cols ? load1 (p + e) : 0.0f;                         \
    return vload4 (0, t);                                                   \
  }

#define LOAD_X4(p) vload4 (0, (p))
#define LOAD_X1(p) (*(p))
LOAD_SLICE (float, LOAD_X4, LOAD_X1)
#if defined(STORAGE_F16) || defined(STORAGE_BF16)
LOAD_SLICE (ushort, LOAD_W4, LOAD_W1)
#define load_slice_w load_slice_ushort
#else
#define load_slice_w load_slice_float
#endif

/* Stores the rows x WG_K slice at (@row0, @k0) of @a k-major into @s. */
#define STAGE(s, ld_s, rows_tile, load, a, lda, row0, rows, k0, k, lid)     \
  for (int e = (lid); e < (rows_tile) * KV; e += THREADS) {                 \
    int r = e / KV, kv = e % KV;                                            \
    float4 v = load ((a), (lda), (row0) + r, (rows), (k0) + 4 * kv, (k));   \
    s[(4 * kv + 0) * (ld_s) + r] = v.s0;                                    \
    s[(4 * kv + 1) * (ld_s) + r] = v.s1;                                    \
    s[(4 * kv + 2) * (ld_s) + r] = v.s2;                                    \
    s[(4 * kv + 3) * (ld_s) + r] = v.s3;                                    \
  }

#if defined(MMA)

/* -DMMA builds gemm_mma instead: the same product on matrix units
 * (common.cl's MMA section).  Each warp (AMD's wave, Intel's sub-group)
 * computes a WG_M / WARPS_M x WG_N / WARPS_N block of the tile in
 * 16 x FRAG_N fragments; WG_K is a multiple of 16. */
#define WARP_M (WG_M / WARPS_M)
#define WARP_N (WG_N / WARPS_N)
#define FM (WARP_M / 16)
#define FN (WARP_N / FRAG_N)
/* Operand rows k-contiguous, padded by 8 elements: the rows stay 16-byte
 * aligned for ldmatrix, and its 8 rows fall in different banks. */
#define OP_LD (WG_K + 8)

#if WARP_M % 16 != 0 || WARP_N % 16 != 0 || WG_K % 16 != 0
#error "gemm_mma needs 16 to divide the warp's block and WG_K"
#endif

/* Stages the rows x WG_K slice at (@row0, @k0) of @a row-major (k
 * contiguous) as operand bits into @s. */
#define STAGE_OP(s, rows_tile, load, a, lda, row0, rows, k0, k, lid)        \
  for (int e = (lid); e < (rows_tile) * KV; e += THREADS) {                 \
    int r = e / KV, kv = e % KV;                                            \
    float4 v = load ((a), (lda), (row0) + r, (rows), (k0) + 4 * kv, (k));   \
    vstore4 ((ushort4) (OP_BITS (v.s0), OP_BITS (v.s1), OP_BITS (v.s2),     \
            OP_BITS (v.s3)), 0, (s) + r * OP_LD + 4 * kv);                  \
  }

/* @acc += the warp's block of the staged slices' product, columns @kk to
 * @kk + 15 of them. */
__attribute__ ((always_inline)) inline void
warp_step (const __local ushort * xs, const __local ushort * ws, int wm0,
    int wn0, int kk, float acc[FM][FN][ACC], __local uint * xchg, int warp,
    int lane)
{
#if defined(MMA_DIRECT)
  /* The fewer of the A and B fragments stay live, the others are loaded
   * one at a time: WMMA's are 8 registers a lane, and all of both spilled
   * on gfx1100. */
#if FN <= FM
  b_frag b[FN];

MMA_UNROLL
  for (int j = 0; j < FN; j++)
    b[j] = load_b (ws, wn0 + FRAG_N * j, kk, lane, OP_LD);
MMA_UNROLL
  for (int i = 0; i < FM; i++) {
    a_frag a = load_a (xs, wm0 + 16 * i, kk, lane, OP_LD);

MMA_UNROLL
    for (int j = 0; j < FN; j++)
      mma_frag (acc[i][j], a, b[j], xchg, warp, lane);
  }
#else
  a_frag a[FM];

MMA_UNROLL
  for (int i = 0; i < FM; i++)
    a[i] = load_a (xs, wm0 + 16 * i, kk, lane, OP_LD);
MMA_UNROLL
  for (int j = 0; j < FN; j++) {
    b_frag b = load_b (ws, wn0 + FRAG_N * j, kk, lane, OP_LD);

MMA_UNROLL
    for (int i = 0; i < FM; i++)
      mma_frag (acc[i][j], a[i], b, xchg, warp, lane);
  }
#endif
#else
  uint a[FM][4], bw[FN][2];

MMA_UNROLL
  for (int i = 0; i < FM; i++)
    load_matrix_x4 (xs, a_offset (wm0 + 16 * i, kk, lane, OP_LD), a[i], xchg,
        warp, lane);
MMA_UNROLL
  for (int j = 0; j < FN; j += 2) {
    uint r[4];

    load_matrix_x4 (ws, b_offset (wn0 + 8 * j, kk, lane, OP_LD), r, xchg,
        warp, lane);
    bw[j][0] = r[0];
    bw[j][1] = r[1];
    bw[j + 1][0] = r[2];
    bw[j + 1][1] = r[3];
  }
MMA_UNROLL
  for (int i = 0; i < FM; i++)
MMA_UNROLL
    for (int j = 0; j < FN; j++)
      mma_16x8x16 (acc[i][j], a[i], bw[j], xchg, warp, lane);
#endif
}

/* Grid and arguments as gemm_gpu's. */
__kernel __attribute__((reqd_work_group_size (THREADS, 1, 1))) MMA_KERNEL_ATTR
void
gemm_mma (const __global float *x, int x_bs, int ldx,
    const __global stored_t * w, int w_bs, int ldw,
    const __global float *bias, int has_bias, __global float *y, int y_bs, int ldy,
    int m, int n, int k)
{
  __local ushort xs[WG_M * OP_LD] __attribute__ ((aligned (16)));
  __local ushort ws[WG_N * OP_LD] __attribute__ ((aligned (16)));
  __local uint xchg[XCHG_WORDS];
  int lid = get_local_id (0);
  int lane = lid % MMA_WAVE, warp = lid / MMA_WAVE;
  int wm0 = warp / WARPS_N * WARP_M, wn0 = warp % WARPS_N * WARP_N;
  int m0 = get_group_id (1) * WG_M, n0 = get_group_id (0) * WG_N;
  size_t b = get_global_id (2);
  float acc[FM][FN][ACC];

  /* The whole work-group leaves together (the range is padded). */
  if (n0 >= n || m0 >= m)
    return;
  x += b * x_bs;
  w += b * w_bs;
  y += b * y_bs;
  for (int i = 0; i < FM; i++)
    for (int j = 0; j < FN; j++)
      for (int e = 0; e < ACC; e++)
        acc[i][j][e] = 0.0f;
  for (int k0 = 0; k0 < k; k0 += WG_K) {
    STAGE_OP (xs, WG_M, load_slice_float, x, ldx, m0, m, k0, k, lid);
    STAGE_OP (ws, WG_N, load_slice_w, w, ldw, n0, n, k0, k, lid);
    barrier (CLK_LOCAL_MEM_FENCE);
MMA_UNROLL
    for (int kk = 0; kk < WG_K; kk += 16)
      warp_step (xs, ws, wm0, wn0, kk, acc, xchg, warp, lane);
    barrier (CLK_LOCAL_MEM_FENCE);
  }

#pragma unroll
  for (int i = 0; i < FM; i++)
#pragma unroll
    for (int j = 0; j < FN; j++)
#pragma unroll
      for (int e = 0; e < ACC; e++) {
        int row = m0 + wm0 + 16 * i + acc_row (lane, e);
        int col = n0 + wn0 + FRAG_N * j + acc_col (lane, e);

        if (row < m && col < n)
          y[(size_t) row * ldy + col] =
              acc[i][j][e] + (has_bias ? bias[col] : 0.0f);
      }
}

#else

/* acc += the staged slices' product, for the work-item whose block has
 * rows tm + i·TM and columns tn + j·TN. */
__attribute__ ((always_inline)) inline void
multiply_slice (const __local float *xs, const __local float *ws, int tm,
    int tn, float acc[RM][RN])
{
#pragma unroll 4
  for (int kk = 0; kk < WG_K; kk++) {
    float a[RM], c[RN];

#pragma unroll
    for (int i = 0; i < RM; i++)
      a[i] = xs[kk * XS_LD + tm + i * TM];
#pragma unroll
    for (int j = 0; j < RN; j++)
      c[j] = ws[kk * WS_LD + tn + j * TN];
#pragma unroll
    for (int i = 0; i < RM; i++)
#pragma unroll
      for (int j = 0; j < RN; j++)
        acc[i][j] = fma (a[i], c[j], acc[i][j]);
  }
}

__attribute__ ((always_inline)) inline void
zero_block (float acc[RM][RN])
{
#pragma unroll
  for (int i = 0; i < RM; i++)
#pragma unroll
    for (int j = 0; j < RN; j++)
      acc[i][j] = 0.0f;
}

#if !defined(CONV3D)

/* Grid: [column tiles * THREADS, row tiles, batch], work-group [THREADS, 1,
 * 1].  Strides and leading dimensions are in elements. */
__kernel __attribute__((reqd_work_group_size (THREADS, 1, 1)))
void
gemm_gpu (const __global float *x, int x_bs, int ldx,
    const __global stored_t * w, int w_bs, int ldw,
    const __global float *bias, int has_bias, __global float *y, int y_bs, int ldy,
    int m, int n, int k)
{
  __local float xs[WG_K * XS_LD];
  __local float ws[WG_K * WS_LD];
  int lid = get_local_id (0);
  int tm = lid / TN, tn = lid % TN;
  int m0 = get_group_id (1) * WG_M, n0 = get_group_id (0) * WG_N;
  size_t b = get_global_id (2);
  float acc[RM][RN];

  /* The whole work-group leaves together (the range is padded). */
  if (n0 >= n || m0 >= m)
    return;
  x += b * x_bs;
  w += b * w_bs;
  y += b * y_bs;
  zero_block (acc);
  for (int k0 = 0; k0 < k; k0 += WG_K) {
    STAGE (xs, XS_LD, WG_M, load_slice_float, x, ldx, m0, m, k0, k, lid);
    STAGE (ws, WS_LD, WG_N, load_slice_w, w, ldw, n0, n, k0, k, lid);
    barrier (CLK_LOCAL_MEM_FENCE);
    multiply_slice (xs, ws, tm, tn, acc);
    barrier (CLK_LOCAL_MEM_FENCE);
  }

#pragma unroll
  for (int i = 0; i < RM; i++) {
    int row = m0 + tm + i * TM;

#pragma unroll
    for (int j = 0; j < RN; j++) {
      int col = n0 + tn + j * TN;

      if (row < m && col < n)
        y[(size_t) row * ldy + col] =
            acc[i][j] + (has_bias ? bias[col] : 0.0f);
    }
  }
}

#else

/* The convolution of conv.cl (channel-first [C, T, H, W] activations, the
 * same padding: zero frames, then the cache's frames, then x's in time;
 * pad_top / pad_left zeros in front in space), built with -DKT/KH/KW and
 * -DST/SH/SW as there.  M = output pixels, N = Cout, K = Cin·KT·KH·KW in
 * PyTorch's order, so that W is the weight [Cout, Cin, KT, KH, KW] as a
 * [Cout, K] matrix.  Indices fit int: the op checks every tensor's size. */
#define TAPS (KT * KH * KW)

/* Each work-item gathers the X slice's values of one pixel, so that its
 * position is worked out once. */
#if THREADS % WG_M != 0
#error "conv3d_gpu needs WG_M to divide the work-group"
#endif

/* Stores X's slice at @k0 for row @r, its columns @q, @q + THREADS / WG_M,
 * ...: pixel (ti0, iy0, ix0) is the input position of its first tap (in
 * the padded sequence, less the zero frames), @live is FALSE past M.
 * Taps in the padding, and columns past @k, are zero. */
__attribute__ ((always_inline)) inline void
stage_patches (__local float *xs, const __global float *x,
    const __global float *cache, int t_x, int tc, int h, int wd, int k0,
    int k, int r, int q, bool live, int ti0, int iy0, int ix0)
{
  for (int kk = q; kk < WG_K; kk += THREADS / WG_M) {
    int kg = k0 + kk;
    int ci = kg / TAPS, tap = kg % TAPS;
    int ti = ti0 + tap / (KH * KW);
    int iy = iy0 + tap / KW % KH;
    int ix = ix0 + tap % KW;
    float v = 0.0f;

    if (live && kg < k && ti >= 0 && iy >= 0 && iy < h && ix >= 0 && ix < wd)
      v = ti < tc ? cache[((ci * tc + ti) * h + iy) * wd + ix]
          : x[((ci * t_x + ti - tc) * h + iy) * wd + ix];
    xs[kk * XS_LD + r] = v;
  }
}

/* Grid: [pixel tiles * THREADS, channel tiles], work-group [THREADS, 1].
 * @w is the weight as [Cout, K] rows in its storage dtype; @bias NULL or
 * [Cout]. */
__kernel __attribute__((reqd_work_group_size (THREADS, 1, 1)))
void
conv3d_gpu (const __global float *x, const __global float *cache,
    const __global stored_t * w, const __global float *bias,
    __global float *y, int cin, int t_x, int tc, int h, int wd, int cout,
    int h_out, int w_out, int t_out, int pad_t, int pad_top, int pad_left)
{
  __local float xs[WG_K * XS_LD];
  __local float ws[WG_K * WS_LD];
  int lid = get_local_id (0);
  /* Neighbouring work-items hold neighbouring pixels: Y's rows are output
   * channels, so that its stores are coalesced. */
  int tm = lid % TM, tn = lid / TM;
  int m = t_out * h_out * w_out, k = cin * TAPS;
  int m0 = get_group_id (0) * WG_M, n0 = get_group_id (1) * WG_N;
  int r = lid % WG_M, pixel = m0 + r;
  int ox = pixel % w_out, oy = pixel / w_out % h_out;
  int ot = pixel / w_out / h_out;
  float acc[RM][RN];

  /* The whole work-group leaves together (the range is padded). */
  if (n0 >= cout || m0 >= m)
    return;
  zero_block (acc);
  for (int k0 = 0; k0 < k; k0 += WG_K) {
    stage_patches (xs, x, cache, t_x, tc, h, wd, k0, k, r, lid / WG_M,
        pixel < m, ot * ST - pad_t, oy * SH - pad_top, ox * SW - pad_left);
    STAGE (ws, WS_LD, WG_N, load_slice_w, w, k, n0, cout, k0, k, lid);
    barrier (CLK_LOCAL_MEM_FENCE);
    multiply_slice (xs, ws, tm, tn, acc);
    barrier (CLK_LOCAL_MEM_FENCE);
  }

#pragma unroll
  for (int j = 0; j < RN; j++) {
    int co = n0 + tn + j * TN;

#pragma unroll
    for (int i = 0; i < RM; i++) {
      int p = m0 + tm + i * TM;

      if (p < m && co < cout)
        y[co * m + p] = acc[i][j] + (bias ? bias[co] : 0.0f);
    }
  }
}

#endif

#endif /* MMA */
