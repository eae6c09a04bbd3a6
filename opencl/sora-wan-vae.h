/* gst-sora engine: the Wan2.1 causal 3D VAE (AutoencoderKLWan)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_WAN_VAE_H__
#define __SORA_WAN_VAE_H__

#include "sora-diffusers.h"
#include "sora-engine.h"
#include "sora-tensor.h"

G_BEGIN_DECLS

typedef struct _SoraWanVae SoraWanVae;

/* Uploads the VAE of @folder (validated by the caller). */
SoraWanVae *sora_wan_vae_new (
    SoraDevice *dev, const SoraModelFolder *folder, GError **error);
void sora_wan_vae_free (SoraWanVae *vae);

/* Spatial tiling of the decode, in latent pixels: tiles of
 * @tile_h x @tile_w overlapping by @overlap, each decoded with its own
 * causal caches and blended linearly over the overlap (8·overlap video
 * pixels), as diffusers' tiled_decode.  A tile must exceed twice the
 * overlap, so that at most two tiles meet along an axis.  0 for all three
 * (the default): tiles only when the decode would not fit the device. */
gboolean sora_wan_vae_set_tiling (
    SoraWanVae *vae, guint tile_h, guint tile_w, guint overlap, GError **error);

/* Called for each decoded chunk as soon as it exists: @frames [3, n, H, W]
 * f32 clamped to [-1, 1] and @pixels the same n frames in the decode's
 * format (sora_op_to_pixels: RGB values round ((x + 1) / 2 · 255), as
 * diffusers' numpy_to_pil rounds; export_to_video would truncate), each
 * sora_pixel_frame_size() bytes; both are valid during the call.  Return
 * FALSE to cancel. */
typedef gboolean (*SoraVaeChunkFunc) (SoraTensor *frames, const guint8 *pixels,
    guint n_frames, guint width, guint height, gpointer user_data);

/* Decodes @latents [z_dim, F, h, w] f32, normalised as the DiT makes them,
 * one latent frame at a time with fixed-size caches: @func sees 1 frame for
 * the first latent frame and 2^(temporal upsamplers) for each later one (4
 * for Wan2.1), of 8h x 8w.  A FALSE from @func, or @cancellable (when
 * given: checked at kernel launches, sora_device_set_cancellable) cancelled,
 * ends the decode with SORA_ERROR_CANCELLED. */
gboolean sora_wan_vae_decode (SoraWanVae *vae, SoraTensor *latents,
    SoraPixelFormat fmt, SoraVaeChunkFunc func, gpointer user_data,
    GCancellable *cancellable, GError **error);

/* Encodes @video [3, T, H, W] f32 in [-1, 1] with T = 1 + 4k, in the
 * reference's chunks (frame 0, then 4 at a time): the latent mean
 * [z_dim, 1 + k, H/8, W/8], normalised ((μ − mean) / std) when
 * @normalise. */
SoraTensor *sora_wan_vae_encode (
    SoraWanVae *vae, SoraTensor *video, gboolean normalise, GError **error);

G_END_DECLS

#endif /* __SORA_WAN_VAE_H__ */
