/* Row reductions: LayerNorm, RMSNorm, softmax (one work-group per row of a
 * [rows, C] tensor) and the VAE's channel-first RMS norm. */

#define REDUCE_SUM 0
#define REDUCE_MAX 1

/* Sum or max of @v over the work-group, whose size must be a power of two;
 * every work-item gets the result.  @scratch holds one float per item. */
inline float
group_reduce (float v, int op, __local float *scratch)
{
  int lid = get_local_id (0);
  float r;

  scratch[lid] = v;
  barrier (CLK_LOCAL_MEM_FENCE);
  for (int s = get_local_size (0) / 2; s > 0; s /= 2) {
    if (lid < s) {
      float o = scratch[lid + s];
      scratch[lid] = op == REDUCE_MAX ? fmax (scratch[lid], o)
          : scratch[lid] + o;
    }
    barrier (CLK_LOCAL_MEM_FENCE);
  }
  r = scratch[0];
  /* The next call overwrites scratch. */
  barrier (CLK_LOCAL_MEM_FENCE);
  return r;
}

/* center != 0: LayerNorm, y = (x - mean) / sqrt (var + eps);
 * center == 0: RMSNorm, y = x / sqrt (mean (x²) + eps);
 * then y = y * w (has_w) + b (has_b).  For LayerNorm the row is first
 * shifted by its first element and the variance is taken around the mean
 * in a second pass: both keep the sums small, so rows whose mean is far
 * larger than their spread keep their digits. */
__kernel void
row_norm (const __global float *x, const __global float *w,
    const __global float *b, __global float *y, int C, float eps, int center,
    int has_w, int has_b, __local float *scratch)
{
  int lid = get_local_id (0), n = get_local_size (0);
  size_t row = get_group_id (1);
  const __global float *xr = x + row * C;
  __global float *yr = y + row * C;
  float shift = center ? xr[0] : 0.0f, mean = 0.0f, ss = 0.0f, r;

  if (center) {
    float s = 0.0f;
    for (int i = lid; i < C; i += n)
      s += xr[i] - shift;
    mean = group_reduce (s, REDUCE_SUM, scratch) / C;
  }
  /* From here, mean is that of x - shift. */
  for (int i = lid; i < C; i += n) {
    float d = xr[i] - shift - mean;
    ss += d * d;
  }
  r = rsqrt (group_reduce (ss, REDUCE_SUM, scratch) / C + eps);
  for (int i = lid; i < C; i += n) {
    float v = (xr[i] - shift - mean) * r;
    if (has_w)
      v *= w[i];
    if (has_b)
      v += b[i];
    yr[i] = v;
  }
}

/* Softmax over each row, shifted by the row's maximum so exp never
 * overflows. */
__kernel void
softmax_rows (const __global float *x, __global float *y, int C,
    __local float *scratch)
{
  int lid = get_local_id (0), n = get_local_size (0);
  size_t row = get_group_id (1);
  const __global float *xr = x + row * C;
  __global float *yr = y + row * C;
  float m = -INFINITY, s = 0.0f, inv;

  for (int i = lid; i < C; i += n)
    m = fmax (m, xr[i]);
  m = group_reduce (m, REDUCE_MAX, scratch);
  for (int i = lid; i < C; i += n)
    s += exp (xr[i] - m);
  inv = 1.0f / group_reduce (s, REDUCE_SUM, scratch);
  for (int i = lid; i < C; i += n)
    yr[i] = exp (xr[i] - m) * inv;
}

/* WanRMS_norm on x [B, C, P]: at every position p,
 * y[c] = x[c] / max (||x[:, p]||, 1e-12) * sqrt (C) * gamma[c] (+ bias[c]).
 * One work-item per (p, batch); neighbouring items read neighbouring p. */
__kernel void
channel_rms_norm (const __global float *x, const __global float *gamma,
    const __global float *bias, __global float *y, int C, int P, int has_bias)
{
  int p = get_global_id (0);
  size_t base = (size_t) get_global_id (1) * C * P + p;
  float ss = 0.0f, r;

  if (p >= P)
    return;
  for (int c = 0; c < C; c++) {
    float v = x[base + (size_t) c * P];
    ss += v * v;
  }
  r = sqrt ((float) C) / fmax (sqrt (ss), 1e-12f);
  for (int c = 0; c < C; c++) {
    size_t i = base + (size_t) c * P;
    y[i] = x[i] * r * gamma[c] + (has_bias ? bias[c] : 0.0f);
  }
}
