/* 3-D convolution over channel-first activations [C, T, H, W], as an
 * implicit GEMM: M = output pixels, N = Cout, K = Cin·KT·KH·KW.
 *
 * Time: input frame ti of the padded sequence is zero for ti < pad_t, then
 * the tc frames of @cache, then the frames of @x.  Space: pad_top/pad_left
 * zeros in front; the bottom/right padding is implied by the output size.
 * Both are index logic: no im2col copy is made.
 *
 * A program built with -DCONV_PACK has the weight packer, others the
 * convolution. */

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

#if defined(CONV_PACK)

/* Weights [Cout, K] (K = Cin·KT·KH·KW, PyTorch order) into TILE_N-column
 * panels [ceil(Cout / TILE_N)][K][TILE_N], zero padded past Cout, so that
 * the convolution reads each tap's TILE_N weights as contiguous vectors.
 * -DPACK_F32 widens f16/bf16 to f32; otherwise the bits are copied.
 * Grid: [K, panels · TILE_N]. */
#if defined(PACK_F32)
typedef float packed_t;
#define PACK_LOAD(p, i) LOAD_S (p, i)
#else
typedef stored_t packed_t;
#define PACK_LOAD(p, i) ((p)[(i)])
#endif

__kernel void
conv3d_pack (const __global stored_t *w, __global packed_t *packed, int cout,
    int k)
{
  int kk = get_global_id (0);
  int co = get_global_id (1);
  size_t dst = ((size_t) (co / TILE_N) * k + kk) * TILE_N + co % TILE_N;

  if (kk < k)
    packed[dst] = co < cout ? PACK_LOAD (w, (size_t) co * k + kk) : 0;
}

#else

/* Built with -DKT/KH/KW (kernel size) and -DST/SH/SW (strides) so the tap
 * loops unroll with constant indices, and -DTILE_M, -DTILE_N, -DVW: as in
 * gemm.cl, one work-item keeps a TILE_M x TILE_N tile of the output in
 * TILE_M · TILE_N / VW vector accumulators over all of K, which is what
 * reaches BLAS speed on CPU cores.  The TILE_M pixels are neighbours along
 * a row, so each tap's inputs are TILE_M loads from one input row; the
 * TILE_N output channels are one packed weight panel (see CONV_PACK), read
 * as NV vectors per tap.  Weights are stored_t (f32, f16 or bf16). */

#define floatv CAT (float, VW)
#define uintv CAT (uint, VW)
#define as_floatv CAT (as_float, VW)
#define convert_uintv CAT (convert_uint, VW)
#define vloadv CAT (vload, VW)
#define vstorev CAT (vstore, VW)
#define vload_halfv CAT (vload_half, VW)
#define NV (TILE_N / VW)
#define TAPS (KT * KH * KW)
/* Input columns a tile reads along one row. */
#define SEG ((TILE_M - 1) * SW + KW)

#if defined(STORAGE_F16)
#define LOAD_W(w, v) vload_halfv ((v), (const __global half *) (w))
#elif defined(STORAGE_BF16)
/* bf16 is the top half of an f32. */
#define LOAD_W(w, v) as_floatv (convert_uintv (vloadv ((v), (w))) << 16)
#else
#define LOAD_W(w, v) vloadv ((v), (w))
#endif

/* The tile's sums over all of K.  @interior: every column the tile reads
 * is inside the row, so no column needs a bounds check; the caller passes
 * a constant, which makes two copies of the loop, the common one without
 * checks. */
__attribute__ ((always_inline)) inline void
accumulate (floatv acc[TILE_M][NV], const __global float *x,
    const __global float *cache, const __global stored_t *w, int cin,
    int t_x, int tc, int h, int wd, int ti0, int iy0, int ix0,
    const int interior)
{
  size_t plane = (size_t) h * wd;

  for (int ci = 0; ci < cin; ci++, w += TAPS * TILE_N) {
#pragma unroll
    for (int dt = 0; dt < KT; dt++) {
      int ti = ti0 + dt;
      const __global float *src;

      if (ti < 0)
        continue;
      src = ti < tc ? cache + ((size_t) ci * tc + ti) * plane
          : x + ((size_t) ci * t_x + (ti - tc)) * plane;
#pragma unroll
      for (int dy = 0; dy < KH; dy++) {
        int iy = iy0 + dy;
        const __global float *row = src + (size_t) iy * wd + ix0;
        float seg[SEG];

        if (iy < 0 || iy >= h)
          continue;
#pragma unroll
        for (int c = 0; c < SEG; c++) {
          if (interior) {
            seg[c] = row[c];
          } else {
            int ix = ix0 + c;
            /* Clamped so that the load stays in bounds; then zeroed. */
            float v = row[clamp (ix, 0, wd - 1) - ix0];
            seg[c] = ix >= 0 && ix < wd ? v : 0.0f;
          }
        }
#pragma unroll
        for (int dx = 0; dx < KW; dx++) {
          const __global stored_t *wt =
              w + ((dt * KH + dy) * KW + dx) * TILE_N;
          floatv wv[NV];

#pragma unroll
          for (int v = 0; v < NV; v++)
            wv[v] = LOAD_W (wt, v);
#pragma unroll
          for (int r = 0; r < TILE_M; r++) {
            float xv = seg[r * SW + dx];
#pragma unroll
            for (int v = 0; v < NV; v++)
              acc[r][v] = fma (xv, wv[v], acc[r][v]);
          }
        }
      }
    }
  }
}

/* Grid: [tiles_w · H' · T', ceil(Cout / TILE_N)], tiles_w = ceil(W' /
 * TILE_M).  The first dimension walks pixels, so that neighbouring
 * work-groups read the same weight panel while it is in cache.  @w is the
 * packed panels. */
__kernel void
conv3d_panel (const __global float *x, const __global float *cache,
    const __global stored_t *w, const __global float *bias, __global float *y,
    int cin, int t_x, int tc, int h, int wd, int cout, int h_out, int w_out,
    int t_out, int pad_t, int pad_top, int pad_left, int tiles_w)
{
  int tile = get_global_id (0) % tiles_w;
  int oy = get_global_id (0) / tiles_w % h_out;
  int ot = get_global_id (0) / tiles_w / h_out;
  int panel = get_global_id (1);
  int ox0 = tile * TILE_M;
  int ix0 = ox0 * SW - pad_left;
  floatv acc[TILE_M][NV];

  if (ot >= t_out)
    return;
#pragma unroll
  for (int r = 0; r < TILE_M; r++)
#pragma unroll
    for (int v = 0; v < NV; v++)
      acc[r][v] = 0.0f;

  w += (size_t) panel * cin * TAPS * TILE_N;
  if (ix0 >= 0 && ix0 + SEG <= wd)
    accumulate (acc, x, cache, w, cin, t_x, tc, h, wd, ot * ST - pad_t,
        oy * SH - pad_top, ix0, 1);
  else
    accumulate (acc, x, cache, w, cin, t_x, tc, h, wd, ot * ST - pad_t,
        oy * SH - pad_top, ix0, 0);

#pragma unroll
  for (int v = 0; v < NV; v++) {
    float lane[TILE_M][VW];

#pragma unroll
    for (int r = 0; r < TILE_M; r++)
      vstorev (acc[r][v], 0, lane[r]);
    for (int e = 0; e < VW; e++) {
      int co = panel * TILE_N + v * VW + e;
      float b = bias && co < cout ? bias[co] : 0.0f;
      __global float *dst =
          y + (((size_t) co * t_out + ot) * h_out + oy) * w_out + ox0;

      if (co >= cout)
        break;
#pragma unroll
      for (int r = 0; r < TILE_M; r++)
        if (ox0 + r < w_out)
          dst[r] = lane[r][e] + b;
    }
  }
}

#endif
