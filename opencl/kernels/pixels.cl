/* Decoded frames [3, n, H, W] f32 in [-1, 1] to packed 8-bit frames.
 * v = clamp((x + 1) / 2, 0, 1), as diffusers' video post-processing does,
 * then round(v * 255) for RGB, or BT.709 limited-range Y'CbCr for I420 and
 * NV12 (chroma from the mean of each 2x2 block).
 * Build with -DFORMAT_RGB, -DFORMAT_RGBA, -DFORMAT_I420 or -DFORMAT_NV12. */

inline float
unit (float x)
{
  return clamp ((x + 1.0f) * 0.5f, 0.0f, 1.0f);
}

inline uchar
to_byte (float v)
{
  return (uchar) clamp (floor (v + 0.5f), 0.0f, 255.0f);
}

inline float
luma (float3 c)
{
  return 16.0f + 219.0f * dot (c, (float3) (0.2126f, 0.7152f, 0.0722f));
}

#if defined(FORMAT_RGB) || defined(FORMAT_RGBA)
#ifdef FORMAT_RGB
#define CHANNELS 3
#else
#define CHANNELS 4
#endif

/* One work-item per pixel: (x, y, frame). */
__kernel void
to_pixels (const __global float *src, __global uchar * dst, int n, int height,
    int width)
{
  int x = get_global_id (0), y = get_global_id (1), f = get_global_id (2);
  size_t plane = (size_t) n * height * width;
  size_t i = ((size_t) f * height + y) * width + x;
  __global uchar *p = dst + i * CHANNELS;

  if (x >= width || y >= height || f >= n)
    return;
  p[0] = to_byte (unit (src[i]) * 255.0f);
  p[1] = to_byte (unit (src[plane + i]) * 255.0f);
  p[2] = to_byte (unit (src[2 * plane + i]) * 255.0f);
#if CHANNELS == 4
  p[3] = 255;
#endif
}

#else

/* One work-item per 2x2 block: (bx, by, frame). */
__kernel void
to_pixels (const __global float *src, __global uchar * dst, int n, int height,
    int width)
{
  int bx = get_global_id (0), by = get_global_id (1), f = get_global_id (2);
  size_t plane = (size_t) n * height * width;
  size_t frame_bytes = (size_t) width * height * 3 / 2;
  __global uchar *y_plane = dst + f * frame_bytes;
  __global uchar *uv = y_plane + (size_t) width * height;
  float3 sum = (float3) (0.0f);
  float cb, cr, ys;

  if (bx >= width / 2 || by >= height / 2 || f >= n)
    return;
  for (int dy = 0; dy < 2; dy++) {
    for (int dx = 0; dx < 2; dx++) {
      int x = 2 * bx + dx, y = 2 * by + dy;
      size_t i = ((size_t) f * height + y) * width + x;
      float3 c = (float3) (unit (src[i]), unit (src[plane + i]),
          unit (src[2 * plane + i]));
      y_plane[(size_t) y * width + x] = to_byte (luma (c));
      sum += c;
    }
  }
  sum *= 0.25f;
  ys = dot (sum, (float3) (0.2126f, 0.7152f, 0.0722f));
  cb = 128.0f + 224.0f * (sum.z - ys) / 1.8556f;
  cr = 128.0f + 224.0f * (sum.x - ys) / 1.5748f;
#ifdef FORMAT_NV12
  uv[((size_t) by * (width / 2) + bx) * 2] = to_byte (cb);
  uv[((size_t) by * (width / 2) + bx) * 2 + 1] = to_byte (cr);
#else
  uv[(size_t) by * (width / 2) + bx] = to_byte (cb);
  uv[(size_t) (width / 2) * (height / 2) + by * (width / 2) + bx] =
      to_byte (cr);
#endif
}
#endif
