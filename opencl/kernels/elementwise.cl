/* Element-wise ops: activations, broadcast add/mul, AdaLN modulation,
 * the gated residual, linear combinations and blending tiles. */

/* The values of SoraActivation and of the binary ops in
 * sora-op-elementwise.[ch]. */
#define ACT_SILU 0
#define ACT_GELU_TANH 1
#define ACT_CLAMP_UNIT 2
#define OP_ADD 0
#define OP_MUL 1

__kernel void
activate (const __global float *x, __global float *y, int n, int act)
{
  int i = get_global_id (0);
  float v;

  if (i >= n)
    return;
  v = x[i];
  /* GELU's 0.5 (1 + tanh (z)) is written as the equal 1 / (1 + exp (-2z)),
   * which keeps its digits where tanh (z) rounds to -1 (x < -5). */
  if (act == ACT_SILU)
    y[i] = v / (1.0f + exp (-v));
  else if (act == ACT_GELU_TANH)
    y[i] = v / (1.0f + exp (-1.5957691216057308f * (v + 0.044715f * v * v *
                v)));
  else
    y[i] = clamp (v, -1.0f, 1.0f);
}

/* y = a op b, b broadcast to a's shape [n0, n1, n2, n3, n4] (n0 implied by
 * n) through b's element strides s0..s4, 0 along broadcast dims. */
__kernel void
binary (const __global float *a, const __global stored_t * b,
    __global float *y, int n, int op, int n1, int n2, int n3, int n4, int s0,
    int s1, int s2, int s3, int s4)
{
  int i = get_global_id (0), t = i, bi;
  float bv;

  if (i >= n)
    return;
  bi = t % n4 * s4;
  t /= n4;
  bi += t % n3 * s3;
  t /= n3;
  bi += t % n2 * s2;
  t /= n2;
  bi += t % n1 * s1;
  bi += t / n1 * s0;
  bv = LOAD_S (b, bi);
  y[i] = op == OP_MUL ? a[i] * bv : a[i] + bv;
}

/* x, y [B, L, C]; mod holds rows of C values, batch b's at
 * mod + b * mod_stride (0: shared by every batch).  The AdaLN modulation is
 * y = x * (1 + mod[scale_row]) + mod[shift_row]. */
__kernel void
modulate (const __global float *x, const __global float *mod,
    __global float *y, int C, int L, int mod_stride, int scale_row,
    int shift_row)
{
  int c = get_global_id (0), l = get_global_id (1), b = get_global_id (2);
  const __global float *m = mod + (size_t) b * mod_stride;
  size_t i = ((size_t) b * L + l) * C + c;

  if (c < C)
    y[i] = x[i] * (1.0f + m[(size_t) scale_row * C + c])
        + m[(size_t) shift_row * C + c];
}

/* The gated residual x += y * mod[gate_row], with the layout of modulate. */
__kernel void
add_gated (__global float *x, const __global float *y,
    const __global float *mod, int C, int L, int mod_stride, int gate_row)
{
  int c = get_global_id (0), l = get_global_id (1), b = get_global_id (2);
  const __global float *m = mod + (size_t) b * mod_stride;
  size_t i = ((size_t) b * L + l) * C + c;

  if (c < C)
    x[i] += y[i] * m[(size_t) gate_row * C + c];
}

/* y = c0 x0 + ... over the first n of four terms (the rest are unused
 * arguments).  y may alias any x: each item reads its inputs before its
 * single write, so no restrict. */
__kernel void
lincomb (__global float *y, const __global float *x0,
    const __global float *x1, const __global float *x2,
    const __global float *x3, float c0, float c1, float c2, float c3, int n,
    int terms)
{
  int i = get_global_id (0);
  float acc;

  if (i >= n)
    return;
  acc = c0 * x0[i];
  if (terms > 1)
    acc += c1 * x1[i];
  if (terms > 2)
    acc += c2 * x2[i];
  if (terms > 3)
    acc += c3 * x3[i];
  y[i] = acc;
}

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
blend_tile (const __global float *tile, __global float *frame, int th,
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
