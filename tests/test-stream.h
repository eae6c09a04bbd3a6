/* gst-sora tests: what test-stream.c and test-stream-memory.c share: the
 * causal fixture, its stream parameters, the sampling loop of the causal
 * spec on the host (test-stream-util.c) and a frame collector
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __TEST_STREAM_H__
#define __TEST_STREAM_H__

#include "sora-test-engine.h"
#include "sora-wan-dit-cache.h"

G_BEGIN_DECLS

#define TEXT_LENGTH 16
#define SIZE 32
#define SEED 11

/* The engine on wan-tiny-causal the helpers run on (main opens it). */
extern SoraEngine *causal;

SoraGenerateParams stream_params (const char *prompt);
const SoraWanCausalConfig *causal_config (void);
gsize chunk_numel (void);
SoraTensor *upload (const float *host, guint ndim, const gsize *shape);
double *reference_chunk (
    SoraWanDitCache *cache, SoraTensor *text, guint64 chunk, gsize pos);
void reference_context (
    SoraWanDitCache *cache, guint64 chunk, gsize pos, const double *x0);
SoraTensor *text_of (const char *prompt);
SoraWanDitCache *reference_cache (const char *prompt);
gboolean attended (guint64 k, guint64 next);
void assert_chunk (SoraStream *stream, guint64 chunk, const double *want);

typedef struct
{
  GArray *frames; /* f32 frames as the sink hands them */
  GArray *sizes; /* frames per call */
} Frames;

gboolean collect (SoraTensor *frames, const guint8 *pixels, guint n,
    guint width, guint height, gpointer user_data);
void frames_clear (Frames *f);

G_END_DECLS

#endif /* __TEST_STREAM_H__ */
