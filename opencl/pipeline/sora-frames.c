/* gst-sora engine: decoded frames on their way out
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-frames.h"

#include "sora-op-pixels.h"

void
sora_frame_sink_clear (SoraFrameSink *sink)
{
  if (sink->buf)
    sora_device_release (sink->dev, sink->buf, sink->size);
  g_free (sink->pixels);
  sink->buf = NULL;
  sink->pixels = NULL;
  sink->size = 0;
}

/* Grows @sink's buffers to @bytes on @dev. */
static gboolean
frame_sink_reserve (
    SoraFrameSink *sink, SoraDevice *dev, gsize bytes, GError **error)
{
  if (bytes <= sink->size)
    return TRUE;
  sora_frame_sink_clear (sink);
  sink->buf = sora_device_alloc (dev, bytes, "decoded pixels", error);
  if (sink->buf == NULL)
    return FALSE;
  sink->dev = dev;
  sink->pixels = g_malloc (bytes);
  sink->size = bytes;
  return TRUE;
}

gboolean
sora_frame_sink_take (SoraTensor *frames, gpointer user_data, GError **error)
{
  SoraFrameSink *sink = user_data;
  SoraDevice *dev = frames->dev;
  gsize n = frames->shape[1], h = frames->shape[2], w = frames->shape[3];
  gsize bytes = n * sora_pixel_frame_size (sink->format, w, h);

  if (g_cancellable_is_cancelled (sink->cancellable))
    return FALSE;
  if (sink->skip > 0) {
    sink->skip--;
    return TRUE;
  }
  return sink->func == NULL ||
      (frame_sink_reserve (sink, dev, bytes, error) &&
          sora_op_to_pixels (frames, sink->format, sink->buf, bytes, error) &&
          sora_device_read (
              dev, sink->buf, bytes, sink->pixels, "decoded pixels", error) &&
          sink->func (frames, sink->pixels, n, w, h, sink->user_data));
}
