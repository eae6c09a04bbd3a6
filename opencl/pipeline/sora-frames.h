/* gst-sora engine: decoded frames on their way out
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_FRAMES_H__
#define __SORA_FRAMES_H__

#include "sora-engine.h"
#include "sora-tensor.h"

G_BEGIN_DECLS

/* A decoded chunk as the pipeline hands it on: @frames [3, n, H, W] f32 on
 * the device, clamped to [-1, 1], and @pixels the same n frames in the
 * consumer's format (sora_op_to_pixels: RGB values round ((x + 1) / 2 ·
 * 255), as diffusers' numpy_to_pil rounds; export_to_video would
 * truncate), each sora_pixel_frame_size() bytes; both valid during the
 * call.  Return FALSE to cancel. */
typedef gboolean (*SoraChunkFunc) (SoraTensor *frames, const guint8 *pixels,
    guint n_frames, guint width, guint height, gpointer user_data);

/* Where the VAE's chunks go: the first @skip dropped unconverted (latent
 * frames decoded only for the decoder's causal state), the others
 * converted to @format and read back, once per chunk, for @func.  The
 * pixels pass through buffers the sink keeps, grown to the largest chunk,
 * so that chunks after it allocate nothing (sora_frame_sink_clear frees
 * them; zero-initialised, it has none). */
typedef struct
{
  SoraPixelFormat format;
  guint skip;
  GCancellable *cancellable;
  SoraChunkFunc func; /* NULL: none wanted */
  gpointer user_data;
  SoraDevice *dev; /* of buf */
  cl_mem buf;
  guint8 *pixels;
  gsize size; /* bytes of buf and pixels */
} SoraFrameSink;

/* A SoraVaeChunkFunc taking a SoraFrameSink as @sink: the one step from the
 * VAE's float frames to what the consumer asked for.  FALSE once the
 * sink's cancellable is cancelled. */
gboolean sora_frame_sink_take (
    SoraTensor *frames, gpointer sink, GError **error);
void sora_frame_sink_clear (SoraFrameSink *sink);

G_END_DECLS

#endif /* __SORA_FRAMES_H__ */
