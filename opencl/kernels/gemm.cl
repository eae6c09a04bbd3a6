/* Matrix product Y = X·Wᵀ (+ bias), X [m, k] and Y [m, n] f32 row-major.
 *
 * One work-item computes a TILE_M x TILE_N tile of Y, keeping it in
 * TILE_M * TILE_N / VW accumulators of VW floats over all of K: on CPU
 * cores this register blocking is what reaches BLAS speed, as long as the
 * accumulators fit the vector registers (the host picks the tile, and VW as
 * the device's preferred float width).  The loops over the tile are
 * unrolled so that the arrays become registers.  The first grid dimension
 * walks row tiles and the second the TILE_N-column panels of one block of
 * columns, from panel0 on (the host blocks N and K and sizes work-groups so
 * that both X and W stay in cache).
 *
 * W comes in one of two layouts:
 * - packed (default): a Linear's weight, stored once as TILE_N-column panels
 *   [ceil(n / TILE_N)][k][TILE_N], zero padded, in its storage dtype;
 * - W_STRIDED: a runtime f32 matrix [n, k] with leading dimension ldw, read
 *   one column per lane (simple, not fast).
 *
 * Built with -DTILE_M=... -DTILE_N=... -DVW=... (VW 4, 8 or 16 dividing
 * TILE_N). */

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define floatv CAT (float, VW)
#define uintv CAT (uint, VW)
#define as_floatv CAT (as_float, VW)
#define convert_uintv CAT (convert_uint, VW)
#define vloadv CAT (vload, VW)
#define vstorev CAT (vstore, VW)
#define vload_halfv CAT (vload_half, VW)
#define NV (TILE_N / VW)

#if defined(W_STRIDED)
inline floatv
load_w_strided (const __global float *w, int ldw, int col, int n, int kk)
{
  float t[VW];

  /* Columns past n are clamped; their results are never stored. */
#pragma unroll
  for (int e = 0; e < VW; e++)
    t[e] = w[(size_t) min (col + e, n - 1) * ldw + kk];
  return vloadv (0, t);
}

#define LOAD_W(kk, v) load_w_strided (w, ldw, col0 + (v) * VW, n, (kk))
#elif defined(STORAGE_F16)
#define LOAD_W(kk, v) \
  vload_halfv ((kk) * NV + (v), (const __global half *) w)
#elif defined(STORAGE_BF16)
/* bf16 is the top half of an f32. */
#define LOAD_W(kk, v) \
  as_floatv (convert_uintv (vloadv ((kk) * NV + (v), w)) << 16)
#else
#define LOAD_W(kk, v) vloadv ((kk) * NV + (v), w)
#endif

/* Grid: [ceil(m / TILE_M), panels of a block of columns, batch].  Batch
 * strides and leading dimensions are in elements; for packed panels ldw is
 * the panel's rows.  Only the panels from panel0 on and the slice
 * [k0, k0 + k) of K are done: large products run in blocks of columns and
 * K that stay in cache, the later K slices adding to Y (accumulate).
 * Packed panels are read from panel w_panel0 and row w_k0 on: (0, k0) in
 * the weight itself, (panel0, 0) in a block that gemm_widen made. */
__kernel void
gemm (const __global float *x, int x_bs, int ldx,
    const __global stored_t * w, int w_bs, int ldw, int w_panel0, int w_k0,
    const __global float *bias, int has_bias,
    __global float *y, int y_bs, int ldy, int m, int panel0, int n, int k0,
    int k, int accumulate)
{
  int row0 = get_global_id (0) * TILE_M;
  int panel = panel0 + get_global_id (1);
  int col0 = panel * TILE_N;
  size_t b = get_global_id (2);
  const __global float *xr[TILE_M];
  floatv acc[TILE_M][NV];

  if (row0 >= m || col0 >= n)
    return;
  x += b * x_bs + k0;
  y += b * y_bs;
#if defined(W_STRIDED)
  w += b * w_bs + k0;
#else
  w += ((size_t) (panel - w_panel0) * ldw + w_k0) * TILE_N;
#endif

  /* Rows past m read the last row (in bounds) and are not stored. */
#pragma unroll
  for (int r = 0; r < TILE_M; r++) {
    xr[r] = x + (size_t) min (row0 + r, m - 1) * ldx;
#pragma unroll
    for (int v = 0; v < NV; v++)
      acc[r][v] = 0.0f;
  }

  for (int kk = 0; kk < k; kk++) {
    floatv wv[NV];

#pragma unroll
    for (int v = 0; v < NV; v++)
      wv[v] = LOAD_W (kk, v);
#pragma unroll
    for (int r = 0; r < TILE_M; r++) {
      float xv = xr[r][kk];
#pragma unroll
      for (int v = 0; v < NV; v++)
        acc[r][v] = fma (xv, wv[v], acc[r][v]);
    }
  }

#pragma unroll
  for (int r = 0; r < TILE_M; r++) {
    __global float *yr = y + (size_t) (row0 + r) * ldy;

    if (row0 + r >= m)
      break;
#pragma unroll
    for (int v = 0; v < NV; v++) {
      int c = col0 + v * VW;
      float t[VW];

      if (c + VW <= n) {
        floatv o = acc[r][v];
        if (has_bias)
          o += vloadv (0, bias + c);
        if (accumulate)
          o += vloadv (0, yr + c);
        vstorev (o, 0, yr + c);
        continue;
      }
      vstorev (acc[r][v], 0, t);
      for (int e = 0; e < VW && c + e < n; e++)
        yr[c + e] = t[e] + (has_bias ? bias[c + e] : 0.0f)
            + (accumulate ? yr[c + e] : 0.0f);
    }
  }
}

#if !defined(W_STRIDED)
/* Widens rows [k0, k0 + k) of the packed panels from panel0 on (the
 * second grid axis; those from panels_end on do not exist) to f32, into
 * wide [panels][k][TILE_N] for the f32 build of gemm: f16 and bf16 weights
 * are then converted once per cache block instead of once per row tile,
 * where the conversions took a quarter of the FMA issue slots. */
__kernel void
gemm_widen (const __global stored_t * w, int ldw, int panel0, int panels_end,
    int k0, int k, __global float *wide)
{
  int i = get_global_id (0);
  int p = get_global_id (1);

  if (i >= k * NV || panel0 + p >= panels_end)
    return;
  w += ((size_t) (panel0 + p) * ldw + k0) * TILE_N;
  vstorev (LOAD_W (0, i), i, wide + (size_t) p * k * TILE_N);
}
#endif

/* y[i, j] += bias[j] over y [rows, n], after a GEMM library's product. */
__kernel void
gemm_add_bias (__global float *y, const __global float *bias, int n,
    int total)
{
  int i = get_global_id (0);

  if (i < total)
    y[i] += bias[i % n];
}
