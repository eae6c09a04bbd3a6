/* gst-sora engine: what sora-engine.c and sora-extend.c share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Only pipeline/ includes this, and sora-engine-test.h, as the tests drive
 * the same steps; nothing here is API.
 */
#ifndef __SORA_ENGINE_INTERNAL_H__
#define __SORA_ENGINE_INTERNAL_H__

#include "sora-engine.h"
#include "sora-frames.h"
#include "sora-scheduler.h"
#include "sora-umt5.h"
#include "sora-wan-dit.h"
#include "sora-wan-vae.h"

G_BEGIN_DECLS

/* The public callbacks behind the internal ones: sora_engine_public_progress
 * and sora_engine_public_pixels take a SoraPublicCallbacks as user data. */
typedef struct
{
  SoraProgressFunc progress;
  SoraFramesFunc frames;
  gpointer user_data;
} SoraPublicCallbacks;

gboolean sora_engine_public_progress (
    guint step, guint total_steps, double seconds_per_step, gpointer user_data);
gboolean sora_engine_public_pixels (SoraTensor *frames, const guint8 *pixels,
    guint n_frames, guint width, guint height, gpointer user_data);

SoraDevice *sora_engine_get_device (SoraEngine *engine);
SoraWanVae *sora_engine_get_vae (SoraEngine *engine);
SoraWanDit *sora_engine_get_dit (SoraEngine *engine);

/* Text states [batch, @text_length, d]: @prompt, then (with @guided) the
 * @negative prompt.  The engine keeps the last pair's (umT5-XXL costs
 * seconds): the tensor is the engine's, valid until the next call. */
SoraTensor *sora_engine_encode_text (SoraEngine *engine, const char *prompt,
    const char *negative, gboolean guided, guint text_length, GError **error);

/* Latents [1, in_channels, @n_latent_frames, height/8, width/8] for
 * @params's size: @initial ([in_channels, F, h, w] f32 on the host) or,
 * when NULL, noise from params->seed. */
SoraTensor *sora_engine_new_latents (SoraEngine *engine,
    const SoraGenerateParams *params, guint n_latent_frames,
    const float *initial, GError **error);

/* Called before the model call of step @step (< n_steps) and once more after
 * the last step (@step = n_steps) with the latents, which it may change in
 * place; FALSE (with @error set) ends the run. */
typedef gboolean (*SoraDenoiseHook) (SoraScheduler *scheduler, guint step,
    SoraTensor *latents, gpointer user_data, GError **error);

/* The rest of sora_engine_run from the latents @x (denoised in place, then
 * viewed as [C, F, h, w]): text encode, the denoising loop with @hook, the
 * streaming decode of its latent frames from @n_decoded on, whose first
 * @n_hidden are decoded for the decoder's causal state only (their frames
 * are neither converted nor handed on).  @n_decoded > 0 says that x's
 * first @n_decoded latent frames are the last clip's
 * (sora_engine_get_last_clip): the decode goes on from that clip's causal
 * state instead of decoding them again.  Once decoded, the clip is the
 * last one; after a failed decode there is none. */
gboolean sora_engine_denoise_decode (SoraEngine *engine,
    const SoraGenerateParams *params, guint text_length, SoraTensor *x,
    SoraDenoiseHook hook, gpointer hook_data, guint n_decoded, guint n_hidden,
    SoraProgressFunc progress, SoraChunkFunc chunk, gpointer user_data,
    GCancellable *cancellable, GError **error);

/* The most context latent frames sora_engine_extend conditions on: 4, the
 * last 13 context frames (0.8 s at Wan's 16 fps). */
#define SORA_EXTEND_CONTEXT_LATENTS 4

/* The normalised VAE latents [C, K, h, w] of the last 1 + 4(K − 1) of the
 * @n_context_frames ≥ 1 frames of packed RGB @context at @params' size,
 * with K the most latent frames they make, at most @max_latents (≥ 1). */
SoraTensor *sora_engine_encode_context (SoraEngine *engine,
    const SoraGenerateParams *params, const guint8 *context,
    guint n_context_frames, guint max_latents, GCancellable *cancellable,
    GError **error);

/* sora_engine_generate for a causal model: a stream makes chunks until
 * params->frames frames are out; the last chunk's frames past them are not
 * handed on. */
gboolean sora_stream_generate (SoraEngine *engine,
    const SoraGenerateParams *params, SoraProgressFunc progress,
    SoraFramesFunc frames, gpointer user_data, GCancellable *cancellable,
    GError **error);

/* sora_engine_extend for a causal model: as sora_stream_generate, the
 * stream primed with the context (sora_stream_prime).
 * sora_stream_extend_steps: the steps it takes (sora_engine_extend_steps). */
gboolean sora_stream_extend (SoraEngine *engine,
    const SoraGenerateParams *params, const guint8 *context,
    guint n_context_frames, SoraProgressFunc progress, SoraFramesFunc frames,
    gpointer user_data, GCancellable *cancellable, GError **error);
guint sora_stream_extend_steps (
    SoraEngine *engine, const SoraGenerateParams *params);

/* The most latent frames of the last clip sora_engine_continue conditions
 * on. */
#define SORA_CONTINUE_CONTEXT_LATENTS 5

/* The last SORA_CONTINUE_CONTEXT_LATENTS latent frames [C, K, h, w] of the
 * last clip decoded by generate, extend or continue, as they were decoded,
 * and its size; NULL when there is none (none yet, or its decode failed). */
SoraTensor *sora_engine_get_last_clip (
    SoraEngine *engine, guint *width, guint *height);

/* The stream of the last video sora_stream_generate, sora_stream_extend or
 * sora_stream_continue made (a causal model), its KV cache on the device
 * and its decoder parked, which sora_stream_continue goes on; NULL when there
 * is none (none yet, or its run failed).  take hands it over (the engine then
 * has none); keep gives the engine @stream (may be NULL), freeing the one it
 * had. */
SoraStream *sora_engine_get_last_stream (SoraEngine *engine);
SoraStream *sora_engine_take_last_stream (SoraEngine *engine);
void sora_engine_keep_last_stream (SoraEngine *engine, SoraStream *stream);

/* sora_engine_continue for a causal model: the last stream goes on from
 * where the last video stopped, the frames its last chunk made past it
 * first, then chunks until params->frames frames are out, as if the videos
 * were one stream.  params->prompt switches the stream's prompt at its next
 * chunk; params->seed is not used (the stream's noise goes on by chunk).
 * SORA_ERROR_INVALID_ARGUMENT without a last stream, or at another size or
 * pixel format. */
gboolean sora_stream_continue (SoraEngine *engine,
    const SoraGenerateParams *params, SoraProgressFunc progress,
    SoraFramesFunc frames, gpointer user_data, GCancellable *cancellable,
    GError **error);

G_END_DECLS

#endif /* __SORA_ENGINE_INTERNAL_H__ */
