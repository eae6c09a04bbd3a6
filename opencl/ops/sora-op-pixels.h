/* gst-sora engine op: decoded frames to 8-bit pixel formats
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_OP_PIXELS_H__
#define __SORA_OP_PIXELS_H__

#include "sora-engine.h"
#include "sora-tensor.h"

G_BEGIN_DECLS

/* @frames: [3, n, H, W] f32 in [-1, 1] (the VAE's output); @dst: a buffer of
 * at least n · sora_pixel_frame_size() bytes on the same device.  YUV
 * formats need even W and H. */
gboolean sora_op_to_pixels (SoraTensor *frames, SoraPixelFormat fmt, cl_mem dst,
    gsize dst_bytes, GError **error);

G_END_DECLS

#endif /* __SORA_OP_PIXELS_H__ */
