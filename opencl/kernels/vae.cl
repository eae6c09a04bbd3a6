/* The VAE decode's output side: blending spatial tiles and the final clamp
 * (the op library has neither). */

/* Weight of a tile's row or column @i of @n: a linear ramp up over the first
 * @in (where the previous tile fades out) and down over the last @out, so
 * that two overlapping tiles' weights sum to 1 as in diffusers' blend_h/v. */
inline float
ramp (int i, int n, int in, int out)
{
  if (i < in)
    return (float) i / (float) in;
  if (i >= n - out)
    return (float) (n - i) / (float) out;
  return 1.0f;
}

/* frame[p, y0 + y, x0 + x] += w(y)·w(x)·tile[p, y, x] for the planes p of
 * tile [planes, th, tw] and frame [planes, h, w]. */
__kernel void
vae_blend_tile (const __global float *tile, __global float *frame, int th,
    int tw, int h, int w, int y0, int x0, int top, int bottom, int left,
    int right, int planes)
{
  int x = get_global_id (0), y = get_global_id (1), p = get_global_id (2);
  float weight;

  if (x >= tw || y >= th || p >= planes)
    return;
  weight = ramp (y, th, top, bottom) * ramp (x, tw, left, right);
  frame[((size_t) p * h + y0 + y) * w + x0 + x] +=
      weight * tile[((size_t) p * th + y) * tw + x];
}

/* x = clamp (x, -1, 1) in place, as the reference's _decode ends. */
__kernel void
vae_clamp (__global float *x, int n)
{
  int i = get_global_id (0);

  if (i < n)
    x[i] = clamp (x[i], -1.0f, 1.0f);
}
