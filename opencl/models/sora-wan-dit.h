/* gst-sora engine: the Wan2.1 diffusion transformer (WanTransformer3DModel)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_WAN_DIT_H__
#define __SORA_WAN_DIT_H__

#include "sora-diffusers.h"
#include "sora-model.h"
#include "sora-weights.h"

G_BEGIN_DECLS

typedef struct _SoraWanDit SoraWanDit;

/* The modules of a transformer of @cfg, in the order of the module tree
 * (a GPtrArray of SoraModuleUse), and the tensors they name. */
GPtrArray *sora_wan_dit_modules (const SoraWanTransformerConfig *cfg);
GPtrArray *sora_wan_transformer_expected_tensors (
    const SoraWanTransformerConfig *cfg);

/* Uploads the transformer of @folder (validated by the caller), each weight
 * in its stored dtype.  Text-to-video only: a config with image inputs
 * (image_dim, added_kv_proj_dim) is SORA_ERROR_MODEL. */
SoraWanDit *sora_wan_dit_new (
    SoraDevice *dev, const SoraModelFolder *folder, GError **error);
void sora_wan_dit_free (SoraWanDit *dit);
const SoraWanTransformerConfig *sora_wan_dit_get_config (SoraWanDit *dit);

/* One forward pass: @latents [B, in_channels, F, H, W] f32, @timesteps [B]
 * on the host, @text [B, S, text_dim] f32 (padding rows as the pipeline
 * hands them: zeros, attended without a mask).  Returns the prediction
 * [B, out_channels, F, H, W] f32; batch items are independent, so both
 * classifier-free-guidance branches can run in one call.  @probe sees
 * "patch_embedding" [B, L, d], "temb" [B, d], "timestep_proj" [B, 6, d],
 * "text_embedded" [B, S, d], "after_block0".. [B, L, d], "before_head"
 * [B, L, d] (the modulated input of proj_out) and "output".  A
 * @cancellable, when given, throttles and stops the forward at kernel
 * launches (sora_device_set_cancellable): SORA_ERROR_CANCELLED. */
SoraTensor *sora_wan_dit_forward (SoraWanDit *dit, SoraTensor *latents,
    const float *timesteps, SoraTensor *text, const SoraProbe *probe,
    GCancellable *cancellable, GError **error);
/* The same into @out [B, out_channels, F, H, W] f32, which allocates
 * nothing once the workspace has the shape. */
gboolean sora_wan_dit_forward_into (SoraWanDit *dit, SoraTensor *latents,
    const float *timesteps, SoraTensor *text, const SoraProbe *probe,
    SoraTensor *out, GCancellable *cancellable, GError **error);
/* A prediction tensor (for sora_wan_dit_forward_into) for @latents: [B,
 * out_channels, F, H, W] f32. */
SoraTensor *sora_wan_dit_output_new (
    SoraWanDit *dit, SoraTensor *latents, GError **error);

/* The model's workspace: the activations of a forward, allocated for the
 * first forward of a shape (batch, frames, height, width, text rows) and
 * reused by the next ones of that shape, for the denoising steps of a run
 * or the chunks of a chunked one; a new shape replaces them.  This frees
 * them (as sora_wan_dit_free does): the pipeline does so once its steps
 * are done, leaving their memory to the decode. */
void sora_wan_dit_release_workspace (SoraWanDit *dit);

/* The device bytes a forward of latents [@batch, C, @frames, @height,
 * @width] with @seq text rows allocates while it runs (its workspace, from
 * the list that allocates it, the attention temporaries, the output). */
guint64 sora_wan_dit_forward_bytes (SoraWanDit *dit, gsize batch, gsize frames,
    gsize height, gsize width, gsize seq);

G_END_DECLS

#endif /* __SORA_WAN_DIT_H__ */
