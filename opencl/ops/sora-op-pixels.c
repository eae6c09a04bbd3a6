/* gst-sora engine op: decoded frames to 8-bit pixel formats
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-op.h"
#include "sora-op-pixels.h"

gsize
sora_pixel_frame_size (SoraPixelFormat fmt, guint width, guint height)
{
  gsize pixels = (gsize)width * height;

  switch (fmt) {
    case SORA_PIXEL_RGB:
      return pixels * 3;
    case SORA_PIXEL_RGBA:
      return pixels * 4;
    case SORA_PIXEL_I420:
    case SORA_PIXEL_NV12:
      return pixels + 2 * ((gsize)(width / 2) * (height / 2));
  }
  return 0;
}

gboolean
sora_op_to_pixels (SoraTensor *frames, SoraPixelFormat fmt, cl_mem dst,
    gsize dst_bytes, GError **error)
{
  static const char *options[] = {
    [SORA_PIXEL_RGB] = "-DFORMAT_RGB",
    [SORA_PIXEL_RGBA] = "-DFORMAT_RGBA",
    [SORA_PIXEL_I420] = "-DFORMAT_I420",
    [SORA_PIXEL_NV12] = "-DFORMAT_NV12",
  };
  gsize n = frames->shape[1], h = frames->shape[2], w = frames->shape[3];
  gboolean yuv = fmt == SORA_PIXEL_I420 || fmt == SORA_PIXEL_NV12;
  gsize global[3] = { yuv ? w / 2 : w, yuv ? h / 2 : h, n };
  gsize local[3] = { 16, 1, 1 };

  if (!sora_op_check_dtype (frames, "to_pixels", SORA_DTYPE_F32, error))
    return FALSE;
  if (frames->ndim != 4 || frames->shape[0] != 3 || (yuv && (w % 2 || h % 2))) {
    char *d = sora_tensor_describe (frames);
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "to_pixels: tensor %s must be [3, frames, height, width]%s", d,
        yuv ? " with even height and width" : "");
    g_free (d);
    return FALSE;
  }
  if (dst_bytes < n * sora_pixel_frame_size (fmt, w, h)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "to_pixels: %" G_GSIZE_FORMAT " bytes cannot hold %" G_GSIZE_FORMAT
        " frames of %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT,
        dst_bytes, n, w, h);
    return FALSE;
  }
  return sora_device_run (frames->dev, "pixels", options[fmt], "to_pixels", 3,
      global, local, error, SORA_MEM (frames->buf), SORA_MEM (dst),
      SORA_INT (n), SORA_INT (h), SORA_INT (w), SORA_END);
}
