/* gst-sora tests: helpers for engine-level tests on the tiny fixture model
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_TEST_ENGINE_H__
#define __SORA_TEST_ENGINE_H__

#include "sora-engine-test.h"
#include "sora-test-util.h"

G_BEGIN_DECLS

/* The call tools/make_fixtures.py makes (pipeline_run) on the tiny model,
 * with 32 text rows and tiny-pipeline.safetensors' initial latents. */
extern const SoraGenerateParams sora_test_pipeline_params;

/* tests/fixtures/NAME on the device under test. */
SoraEngine *sora_test_open_fixture (const char *name);
/* tests/fixtures/wan-tiny on it. */
SoraEngine *sora_test_open_tiny (void);
/* The demo model $SORA_DEMO_MODEL, opened (call after g_test_init); NULL,
 * with a test /@suite/model added that skips saying why, when it is unset
 * or not a folder. */
SoraEngine *sora_test_open_demo_model (const char *suite);
/* The same for the model folder in $@variable. */
SoraEngine *sora_test_open_model (const char *suite, const char *variable);

/* What a run hands its callbacks: the f32 frames as diffusers' "np" output
 * ([n, H, W, 3] in [0, 1]), the pixels as they came, the chunk sizes and
 * the steps seen.  With @cancel_at_step set, step 1 cancels it. */
typedef struct
{
  GArray *frames;
  GByteArray *pixels;
  GArray *chunk_sizes;
  guint steps;
  GCancellable *cancel_at_step;
  SoraPixelFormat format;
} SoraTestCollected;

void sora_test_collected_init (SoraTestCollected *c, SoraPixelFormat format);
void sora_test_collected_clear (SoraTestCollected *c);
/* SoraProgressFunc and SoraChunkFunc filling a SoraTestCollected. */
gboolean sora_test_collect_progress (
    guint step, guint total, double seconds, gpointer user_data);
gboolean sora_test_collect_chunk (SoraTensor *frames, const guint8 *pixels,
    guint n, guint width, guint height, gpointer user_data);

/* sora_wan_vae_decode of @latents with its chunks in RGB for @func, through
 * the pipeline's frame sink as the engine's decode takes them. */
gboolean sora_test_vae_decode (SoraWanVae *vae, SoraTensor *latents,
    SoraChunkFunc func, gpointer user_data, GCancellable *cancellable,
    GError **error);

/* The continuity of an extension: the first new latent frame against the
 * clean last context latent frame, for the extension of @context by @p and
 * for an unconditioned run of @p on the same noise (@n_context_latents
 * context latent frames, all of them conditioning). */
typedef struct
{
  double d_cond; /* conditioned first new frame to last context frame */
  double d_uncond; /* unconditioned first new frame to it */
  double change; /* conditioned to unconditioned first new frame */
  double norm; /* of the unconditioned first new frame */
} SoraTestContinuity;

SoraTestContinuity sora_test_continuity (SoraEngine *engine,
    const SoraGenerateParams *p, guint text_length, const guint8 *context,
    guint n_context_frames, guint n_context_latents);

G_END_DECLS

#endif /* __SORA_TEST_ENGINE_H__ */
