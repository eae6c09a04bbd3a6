/* gst-sora engine: the Wan2.1 causal 3D VAE (AutoencoderKLWan)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_WAN_VAE_H__
#define __SORA_WAN_VAE_H__

#include "sora-diffusers.h"
#include "sora-model.h"
#include "sora-tensor.h"
#include "sora-weights.h"

G_BEGIN_DECLS

typedef struct _SoraWanVae SoraWanVae;

/* The modules of a VAE of @cfg, in the order of the module tree (a
 * GPtrArray of SoraModuleUse), and the tensors they name. */
GPtrArray *sora_wan_vae_modules (const SoraWanVaeConfig *cfg);
GPtrArray *sora_wan_vae_expected_tensors (const SoraWanVaeConfig *cfg);

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

/* Called for each decoded chunk as soon as it exists, with @frames
 * [3, n, H, W] f32 clamped to [-1, 1] on the device, valid during the
 * call: what becomes of them (pixels, nothing) is the caller's.  Return
 * FALSE to end the decode: with @error set when something failed, else it
 * is cancelled. */
typedef gboolean (*SoraVaeChunkFunc) (
    SoraTensor *frames, gpointer user_data, GError **error);

/* Decodes @latents [z_dim, F, h, w] f32, normalised as the DiT makes them,
 * one latent frame at a time with fixed-size caches: @func sees 1 frame for
 * the first latent frame and 2^(temporal upsamplers) for each later one (4
 * for Wan2.1), of 8h x 8w.  A FALSE from @func without an error, or
 * @cancellable (when given: checked at kernel launches,
 * sora_device_set_cancellable) cancelled, ends the decode with
 * SORA_ERROR_CANCELLED. */
gboolean sora_wan_vae_decode (SoraWanVae *vae, SoraTensor *latents,
    SoraVaeChunkFunc func, gpointer user_data, GCancellable *cancellable,
    GError **error);

/* The causal state of a decode that may go on: a decode split at latent
 * frame boundaries over several calls of sora_wan_vae_decoder_run makes
 * the frames one call over all of them makes (the first latent frame of
 * the first call gives 1 frame).  It holds the decoder's caches, for
 * latents of @h x @w. */
typedef struct _SoraWanVaeDecoder SoraWanVaeDecoder;

SoraWanVaeDecoder *sora_wan_vae_decoder_new (SoraWanVae *vae, gsize h, gsize w);
/* The device bytes a decoder of @h x @w latents holds while it decodes:
 * every tile's causal caches and its activations (the tiling it chooses). */
guint64 sora_wan_vae_decoder_bytes (SoraWanVae *vae, gsize h, gsize w);
void sora_wan_vae_decoder_free (SoraWanVaeDecoder *decoder);
/* Moves @decoder's caches to host memory until its next run, which moves
 * them back: a decode waiting for the next clip need not hold device
 * memory (GBs at 832x480) while that clip is denoised. */
gboolean sora_wan_vae_decoder_park (SoraWanVaeDecoder *decoder, GError **error);
/* sora_wan_vae_decode, going on from the latent frames @decoder has
 * decoded; @latents must be of its h x w. */
gboolean sora_wan_vae_decoder_run (SoraWanVaeDecoder *decoder,
    SoraTensor *latents, SoraVaeChunkFunc func, gpointer user_data,
    GCancellable *cancellable, GError **error);

/* Encodes @video [3, T, H, W] f32 in [-1, 1] with T = 1 + 4k, in the
 * reference's chunks (frame 0, then 4 at a time): the latent mean
 * [z_dim, 1 + k, H/8, W/8], normalised ((μ − mean) / std) when
 * @normalise. */
SoraTensor *sora_wan_vae_encode (
    SoraWanVae *vae, SoraTensor *video, gboolean normalise, GError **error);

G_END_DECLS

#endif /* __SORA_WAN_VAE_H__ */
