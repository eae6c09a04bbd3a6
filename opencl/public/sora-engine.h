/* gst-sora engine: the public API, the only engine header the elements use
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_ENGINE_H__
#define __SORA_ENGINE_H__

#include <gio/gio.h>

#include "sora-error.h"
#include "sora-rules.h"

G_BEGIN_DECLS

/* Errors come in SORA_ERROR (sora-error.h): SORA_ERROR_DEVICE (no such
 * device), SORA_ERROR_MODEL / SORA_ERROR_FORMAT (an unusable model folder,
 * naming the file), SORA_ERROR_OUT_OF_MEMORY, SORA_ERROR_CANCELLED,
 * SORA_ERROR_INVALID_ARGUMENT (sizes, steps), others for failed runs. */

typedef enum {
  SORA_PIXEL_RGB, /* packed 8-bit R, G, B */
  SORA_PIXEL_RGBA, /* packed 8-bit R, G, B, A = 255 */
  SORA_PIXEL_I420, /* planar Y, U, V at 2x2 chroma, BT.709 limited */
  SORA_PIXEL_NV12, /* planar Y, interleaved UV, BT.709 limited */
} SoraPixelFormat;

/* Bytes of one frame in @fmt, planes packed without padding (for widths
 * that are multiples of 16 this is also GStreamer's default layout). */
gsize sora_pixel_frame_size (SoraPixelFormat fmt, guint width, guint height);

typedef struct _SoraEngine SoraEngine;

/* Opens the model folder (diffusers layout) on the device chosen by
 * @device (see sora_device_open: "auto", "gpu", "cpu", "P:D", a name part;
 * NULL uses $SORA_DEVICE, else auto) and uploads its weights.  Slow: call it
 * off any UI or state-change thread. */
/* Checks, without loading any weight, that @model_dir is a model folder the
 * engine can run (configs, tensor names and shapes): the quick part of
 * sora_engine_open, for callers that must fail at once. */
gboolean sora_engine_check_model (const char *model_dir, GError **error);

SoraEngine *sora_engine_open (const char *model_dir, const char *device,
    GCancellable *cancellable, GError **error);
void sora_engine_free (SoraEngine *engine);

const char *sora_engine_get_device_name (SoraEngine *engine);
/* The size and frame count the model is made for. */
void sora_engine_get_native_size (
    SoraEngine *engine, guint *width, guint *height, guint *frames);

/* Whether the model is block-causal (its transformer config has
 * "_sora_causal": it makes latent frames chunk by chunk), with its chunk,
 * attention window (0: every past frame) and sink in latent frames; the
 * NULL pointers are skipped and a clip model leaves the others alone. */
gboolean sora_engine_get_causal (SoraEngine *engine, guint *chunk_frames,
    guint *window_frames, guint *sink_frames);

/* The largest width, height and frame count the model's RoPE covers (the
 * device's memory may allow less: generation checks it before the first
 * step). */
void sora_engine_get_max_size (
    SoraEngine *engine, guint *width, guint *height, guint *frames);

/* The tokens @text (a prompt) encodes to, special tokens included, in
 * *@n_tokens, and in *@max_tokens how many the text encoder reads: a longer
 * prompt is cut to its first *@max_tokens.  FALSE when the tokenizer
 * fails. */
gboolean sora_engine_count_tokens (SoraEngine *engine, const char *text,
    guint *n_tokens, guint *max_tokens, GError **error);

/* Width and height must be multiples of 16 and frames 4k+1: otherwise FALSE
 * and an error that gives the nearest valid values. */
gboolean sora_engine_check_size (
    guint width, guint height, guint frames, GError **error);

typedef struct
{
  const char *prompt;
  const char *negative_prompt; /* NULL: "" */
  guint64 seed;
  guint steps;
  double guidance_scale; /* ≤ 1: no classifier-free guidance */
  double flow_shift; /* ≤ 0: the model's scheduler config */
  SoraSchedulerKind scheduler;
  guint width, height, frames;
  SoraPixelFormat format;
} SoraGenerateParams;

/* After each denoising step.  Return FALSE to cancel. */
typedef gboolean (*SoraProgressFunc) (
    guint step, guint total_steps, double seconds_per_step, gpointer user_data);

/* For each decoded chunk (1 frame, then 4 per latent frame), as soon as it
 * exists: @n_frames frames of sora_pixel_frame_size() bytes each, valid
 * during the call.  Return FALSE to cancel. */
typedef gboolean (*SoraFramesFunc) (const guint8 *pixels, guint n_frames,
    guint width, guint height, gpointer user_data);

/* Text to video: tokenize, encode the text (cached per prompt), noise from
 * @seed (a counter-based generator: the same seed gives the same frames on
 * the same device), denoise with classifier-free guidance (both branches in
 * one batched forward), decode chunk by chunk.  Cancellation is honoured
 * between steps and chunks (the callbacks) and at every kernel launch
 * (@cancellable): a stop waits for at most the kernel running and the one
 * queued behind it.  With a causal model (sora_engine_get_causal) it is a
 * stream (sora_stream_new) making chunks until params->frames are out, at
 * the model's steps without guidance. */
gboolean sora_engine_generate (SoraEngine *engine,
    const SoraGenerateParams *params, SoraProgressFunc progress,
    SoraFramesFunc frames, gpointer user_data, GCancellable *cancellable,
    GError **error);

/* --- Video extension (docs/extension.md) --- */

/* The new-frame count sora_engine_extend makes for @requested: new frames
 * come 4 per latent frame, so the nearest multiple of 4, at least 4. */
guint sora_engine_extend_round_frames (guint requested);

/* Continues a clip: @context holds @n_context_frames ≥ 1 frames of packed
 * 8-bit RGB (whatever params->format says) of params->width x
 * params->height, oldest first; the last 1 + 4k of them (k < 4, as many as
 * there are) condition a generation as in sora_engine_generate, whose
 * params->frames (a multiple of 4) NEW frames @frames receives in
 * params->format, in chunks of 4.  Wan2.1 T2V has no image input: the
 * context latents are re-imposed, noised to the current noise level, before
 * every step, so continuity is close but not exact (see
 * docs/extension.md).  With a causal model (sora_engine_get_causal) it is a
 * stream primed with @context (sora_stream_prime; a context shorter than a
 * chunk's frames, a picture, is led in by its first frame held) making
 * chunks until params->frames new frames are out, at the model's steps
 * without guidance. */
gboolean sora_engine_extend (SoraEngine *engine,
    const SoraGenerateParams *params, const guint8 *context,
    guint n_context_frames, SoraProgressFunc progress, SoraFramesFunc frames,
    gpointer user_data, GCancellable *cancellable, GError **error);

/* The denoising steps sora_engine_extend takes with @params, known before
 * it starts: the total_steps its progress callback gets (params->steps; a
 * causal model's steps over the chunks that make params->frames). */
guint sora_engine_extend_steps (
    SoraEngine *engine, const SoraGenerateParams *params);

/* Continues the last clip this engine made (by generate, extend or
 * continue), params->width/height its size: as sora_engine_extend, but
 * conditioned on that clip's last latent frames as they were decoded (no
 * VAE round trip) and decoded on from its decoder's causal state, so the
 * seam is as smooth as the model makes it (docs/extension.md).  With a
 * causal model the last video's stream goes on instead: the frames are
 * those one longer stream would have made (params->seed is not used).
 * SORA_ERROR_INVALID_ARGUMENT when there is no such clip. */
gboolean sora_engine_continue (SoraEngine *engine,
    const SoraGenerateParams *params, SoraProgressFunc progress,
    SoraFramesFunc frames, gpointer user_data, GCancellable *cancellable,
    GError **error);

/* --- end of video extension --- */

/* --- Live generation with a causal model (docs/elements.md, "Live
 * generation") --- */

/* An endless video made chunk by chunk with a causal model
 * (sora_engine_get_causal): each chunk is
 * denoised at the model's steps while attending the chunks before it
 * through a KV cache (a window of the latest plus the first as a sink),
 * then decoded on from the last chunk's decoder state.  Memory and time
 * per chunk stay constant however long it plays. */
typedef struct _SoraStream SoraStream;

/* A stream of params->width x params->height in params->format from
 * params->prompt and params->seed; steps, guidance_scale, flow_shift,
 * scheduler, negative_prompt and frames are not used: the model's step list
 * and shift are, without classifier-free guidance.  Nothing runs before the
 * first sora_stream_next.  SORA_ERROR_INVALID_ARGUMENT for a model that is
 * not causal or a size it cannot make; SORA_ERROR_OUT_OF_MEMORY, before
 * anything is allocated, for a stream whose KV cache, chunk forward, kept
 * latents and VAE decode do not fit the device. */
SoraStream *sora_stream_new (
    SoraEngine *engine, const SoraGenerateParams *params, GError **error);
void sora_stream_free (SoraStream *stream);

/* Makes the next chunk, going on from the last: @progress after each
 * denoising step, @frames with the chunk's frames as soon as they are
 * decoded (the first chunk 1 + 4(n − 1) for n latent frames per chunk,
 * later ones 4n).  Cancellable as sora_engine_generate.  After a FALSE the
 * stream cannot go on: free it. */
gboolean sora_stream_next (SoraStream *stream, SoraProgressFunc progress,
    SoraFramesFunc frames, gpointer user_data, GCancellable *cancellable,
    GError **error);

/* Starts @stream from the end of a video instead of noise: @context holds
 * @n_context_frames frames of packed 8-bit RGB at the stream's size, oldest
 * first; its last frames, as many whole chunks as the next chunk attends
 * (at least one: 1 + 4(n − 1) frames for n latent frames per chunk), are
 * encoded by the VAE, written into the KV cache as the stream's first
 * chunks and decoded for the decoder's state only (their frames are not
 * handed on).  The next sora_stream_next continues them.  Only before the
 * first chunk; SORA_ERROR_INVALID_ARGUMENT for too few frames. */
gboolean sora_stream_prime (SoraStream *stream, const guint8 *context,
    guint n_context_frames, GCancellable *cancellable, GError **error);

/* Steers the stream: from the next chunk on, it is made with @prompt.  The
 * KV cache is recomputed from the kept clean latents with the new text
 * (LongLive's re-cache), so the switch costs the next chunk a context pass
 * per chunk it attends.  The same prompt again changes nothing. */
void sora_stream_set_prompt (SoraStream *stream, const char *prompt);

/* The chunks made so far. */
guint64 sora_stream_get_chunks (SoraStream *stream);
/* The denoising steps of each chunk (the model's step list): the
 * total_steps its progress callback gets. */
guint sora_stream_get_steps (SoraStream *stream);

/* --- end of live generation --- */

G_END_DECLS

#endif /* __SORA_ENGINE_H__ */
