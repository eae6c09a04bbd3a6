/* gst-sora engine: decoded frames on their way out
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-frames.h"

#include "sora-op-pixels.h"

gboolean
sora_frame_sink_take (SoraTensor *frames, gpointer user_data, GError **error)
{
  SoraFrameSink *sink = user_data;
  SoraDevice *dev = frames->dev;
  gsize n = frames->shape[1], h = frames->shape[2], w = frames->shape[3];
  gsize bytes = n * sora_pixel_frame_size (sink->format, w, h);
  cl_mem buf;
  guint8 *pixels;
  gboolean ok;

  if (g_cancellable_is_cancelled (sink->cancellable))
    return FALSE;
  if (sink->skip > 0) {
    sink->skip--;
    return TRUE;
  }
  if (sink->func == NULL)
    return TRUE;
  buf = sora_device_alloc (dev, bytes, "decoded pixels", error);
  if (buf == NULL)
    return FALSE;
  pixels = g_malloc (bytes);
  ok = sora_op_to_pixels (frames, sink->format, buf, bytes, error) &&
      sora_device_read (dev, buf, bytes, pixels, "decoded pixels", error);
  sora_device_release (dev, buf, bytes);
  ok = ok && sink->func (frames, pixels, n, w, h, sink->user_data);
  g_free (pixels);
  return ok;
}
