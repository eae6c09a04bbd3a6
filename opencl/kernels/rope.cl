/* Wan's 3-axis rotary position embedding on interleaved pairs. */

/* x, y [B, L, heads · 2·half_d]; table [L, half_d, 2] holds (cos, sin) of
 * each token's angle for each pair of a head.  Each work-item rotates one
 * pair, (x0 + i·x1) · e^{iφ}, so y may be x. */
__kernel void
rope (const __global float *x, const __global float *table,
    __global float *y, int half_d, int pairs, int L)
{
  int j = get_global_id (0), l = get_global_id (1), b = get_global_id (2);
  size_t i = (((size_t) b * L + l) * pairs + j) * 2;
  const __global float *cs = table + ((size_t) l * half_d + j % half_d) * 2;
  float x0, x1;

  if (j >= pairs)
    return;
  x0 = x[i];
  x1 = x[i + 1];
  y[i] = x0 * cs[0] - x1 * cs[1];
  y[i + 1] = x0 * cs[1] + x1 * cs[0];
}
