/* Direct 3-D convolution over channel-first activations [C, T, H, W].
 *
 * Built with -DKT/KH/KW (kernel size) and -DST/SH/SW (strides) so the tap
 * loops unroll with constant indices, and -DCO_TILE (output channels per
 * work-item).  Work-item (ox / 8, ot·H' + oy, co / CO_TILE) computes 8
 * neighbouring output pixels of one row for CO_TILE channels, as CO_TILE
 * float8 sums in registers: each input row segment is loaded once per tap
 * row and each weight once per 8 pixels.
 *
 * Time: input frame ti of the padded sequence is zero for ti < pad_t, then
 * the tc frames of @cache, then the frames of @x.  Space: pad_top/pad_left
 * zeros in front; the bottom/right padding is implied by the output size.
 * Weights [Cout, Cin, KT, KH, KW] are stored_t; bias is f32 or NULL. */

#ifndef CO_TILE
#define CO_TILE 8
#endif

/* Input columns that 8 output pixels read along one row. */
#define SEG (7 * SW + KW)

__kernel void
conv3d (const __global float *x, const __global float *cache,
    const __global stored_t *w, const __global float *bias, __global float *y,
    int cin, int t_x, int tc, int h, int wd, int cout, int h_out, int w_out,
    int t_out, int pad_t, int pad_top, int pad_left)
{
  int ox0 = get_global_id (0) * 8;
  int oy = get_global_id (1) % h_out;
  int ot = get_global_id (1) / h_out;
  int co0 = get_global_id (2) * CO_TILE;
  /* Rows of weights past cout repeat the last one; their sums are dropped. */
  size_t wrow[CO_TILE];
  float8 acc[CO_TILE];
  int ix0 = ox0 * SW - pad_left;
  size_t plane = (size_t)h * wd;

  if (ox0 >= w_out)
    return;
#pragma unroll
  for (int j = 0; j < CO_TILE; j++) {
    wrow[j] = (size_t)min (co0 + j, cout - 1) * cin * (KT * KH * KW);
    acc[j] = 0.0f;
  }

  for (int ci = 0; ci < cin; ci++) {
    size_t wci = (size_t)ci * (KT * KH * KW);
    for (int dt = 0; dt < KT; dt++) {
      int ti = ot * ST + dt - pad_t;
      const __global float *src;

      if (ti < 0)
        continue;
      src = ti < tc ? cache + ((size_t)ci * tc + ti) * plane
                    : x + ((size_t)ci * t_x + (ti - tc)) * plane;
      for (int dy = 0; dy < KH; dy++) {
        int iy = oy * SH + dy - pad_top;
        const __global float *row = src + (size_t)iy * wd;
        float seg[SEG];

        if (iy < 0 || iy >= h)
          continue;
#pragma unroll
        for (int k = 0; k < SEG; k++) {
          int ix = ix0 + k;
          float v = row[clamp (ix, 0, wd - 1)];
          seg[k] = ix >= 0 && ix < wd ? v : 0.0f;
        }
#pragma unroll
        for (int dx = 0; dx < KW; dx++) {
          size_t tap = wci + (dt * KH + dy) * KW + dx;
          float8 v = (float8)(seg[dx], seg[dx + SW], seg[dx + 2 * SW],
              seg[dx + 3 * SW], seg[dx + 4 * SW], seg[dx + 5 * SW],
              seg[dx + 6 * SW], seg[dx + 7 * SW]);

#pragma unroll
          for (int j = 0; j < CO_TILE; j++)
            acc[j] = fma (v, (float8)LOAD_S (w, wrow[j] + tap), acc[j]);
        }
      }
    }
  }

  for (int j = 0; j < CO_TILE && co0 + j < cout; j++) {
    float b = bias ? bias[co0 + j] : 0.0f;
    __global float *dst =
        y + (((size_t)(co0 + j) * t_out + ot) * h_out + oy) * w_out + ox0;
    float8 r = acc[j] + b;

    if (ox0 + 8 <= w_out) {
      vstore8 (r, 0, dst);
    } else {
      float v[8];

      vstore8 (r, 0, v);
      for (int k = 0; ox0 + k < w_out; k++)
        dst[k] = v[k];
    }
  }
}
