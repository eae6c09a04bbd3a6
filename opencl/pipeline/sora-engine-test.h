/* gst-sora engine: the entry points tests call
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Generation and extension with the knobs parity tests need, and switches
 * and estimates tests check, on top of the engine steps tests also drive
 * (sora-engine-internal.h).  Only tests include this, and the two files
 * that define it.
 */
#ifndef __SORA_ENGINE_TEST_H__
#define __SORA_ENGINE_TEST_H__

#include "sora-engine-internal.h"

G_BEGIN_DECLS

/* What sora_engine_generate does, with the knobs parity tests need: the
 * text length (Wan uses 512), initial latents instead of seeded noise
 * ([in_channels, F, h, w] f32 on the host, or NULL), and the decoded chunks
 * as the VAE hands them over (f32 frames and pixels). */
gboolean sora_engine_run (SoraEngine *engine, const SoraGenerateParams *params,
    guint text_length, const float *initial_latents, SoraProgressFunc progress,
    SoraChunkFunc chunk, gpointer user_data, GCancellable *cancellable,
    GError **error);

/* What sora_engine_extend does, with the knobs tests need: the text length,
 * the most context latent frames (≥ 1), initial latents
 * ([in_channels, F, h, w] f32 on the host, F = context latents + new ones,
 * or NULL for seeded noise), only the new frames' chunks as the VAE hands
 * them over, and a host copy of the final latents in @final_latents
 * (g_free it; NULL: not wanted). */
gboolean sora_engine_extend_run (SoraEngine *engine,
    const SoraGenerateParams *params, guint text_length, const guint8 *context,
    guint n_context_frames, guint max_context_latents,
    const float *initial_latents, SoraProgressFunc progress,
    SoraChunkFunc chunk, gpointer user_data, float **final_latents,
    GCancellable *cancellable, GError **error);

/* What sora_engine_continue does, with the knobs of
 * sora_engine_extend_run; the context is the last clip's last
 * @max_context_latents (at least 1, at most as many as it keeps) latent
 * frames. */
gboolean sora_engine_continue_run (SoraEngine *engine,
    const SoraGenerateParams *params, guint text_length,
    guint max_context_latents, const float *initial_latents,
    SoraProgressFunc progress, SoraChunkFunc chunk, gpointer user_data,
    float **final_latents, GCancellable *cancellable, GError **error);

/* Reloads umT5 to stream its layers through the device at each encoding
 * (sora_umt5_new), or to keep them.  The engine streams when umT5 takes
 * over a quarter of the device's memory. */
gboolean sora_engine_set_text_encoder_streaming (
    SoraEngine *engine, gboolean stream, GError **error);

/* The device bytes the denoising of @n_latent_frames at @params's size
 * allocates beside the weights: a DiT forward with @text_length text rows,
 * the latents, the guidance batch, the predictions and the scheduler's
 * history.  new_latents refuses a run whose estimate does not fit the
 * device. */
guint64 sora_engine_denoise_bytes (SoraEngine *engine,
    const SoraGenerateParams *params, guint n_latent_frames, guint text_length);

/* The device bytes a stream at @params' size with @text_length text rows
 * allocates beside what the engine holds: the KV cache (sink, window and
 * the running chunk's slots, self and cross K/V, every block), a chunk
 * forward's workspace, the kept clean latents, the streaming VAE decoder
 * and a chunk's pixels.  sora_stream_new refuses a stream whose estimate
 * does not fit the device. */
guint64 sora_stream_bytes (
    SoraEngine *engine, const SoraGenerateParams *params, guint text_length);

/* sora_stream_new with the text length (Wan uses 512). */
SoraStream *sora_stream_new_full (SoraEngine *engine,
    const SoraGenerateParams *params, guint text_length, GError **error);

/* What sora_stream_next does, with the chunks as the VAE hands them over
 * (f32 frames and pixels). */
gboolean sora_stream_run_next (SoraStream *stream, SoraProgressFunc progress,
    SoraChunkFunc chunk, gpointer user_data, GCancellable *cancellable,
    GError **error);

/* The clean latents [1, C, chunk_frames, h, w] of chunk @chunk, while the
 * stream keeps them (a later chunk attends them); else NULL. */
SoraTensor *sora_stream_get_latents (SoraStream *stream, guint64 chunk);

G_END_DECLS

#endif /* __SORA_ENGINE_TEST_H__ */
