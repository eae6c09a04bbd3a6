/* Layout ops: element moves with no arithmetic, for any dtype.  Built with
 * -DELEM=uint (4-byte elements) or -DELEM=ushort (2-byte). */

/* y = x permuted, up to 5 dimensions.  y's shape is (n0..n4) (leading ones
 * for fewer dimensions) and s0..s4 are the strides in x of y's axes. */
__kernel void
permute (const __global ELEM *x, __global ELEM *y, int n1, int n2, int n3,
    int n4, int s0, int s1, int s2, int s3, int s4, int total)
{
  int i = get_global_id (0);
  int r = i;
  int i4 = r % n4;
  int i3 = (r /= n4) % n3;
  int i2 = (r /= n3) % n2;
  int i1 = (r /= n2) % n1;
  int i0 = r / n1;

  if (i < total)
    y[i] = x[i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3 + i4 * s4];
}

/* Nearest 2x along the last two axes: x [planes, H, W] -> y [planes, 2H,
 * 2W], one input element per work-item. */
__kernel void
upsample_nearest2x (const __global ELEM *x, __global ELEM *y, int w, int n)
{
  int i = get_global_id (0);
  int row = i / w, col = i % w;
  size_t o = (size_t)row * 4 * w + 2 * col;
  ELEM v;

  if (i >= n)
    return;
  v = x[i];
  y[o] = v;
  y[o + 1] = v;
  y[o + 2 * w] = v;
  y[o + 2 * w + 1] = v;
}
