/* gst-sora engine: entry points for tests and tools
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_ENGINE_PRIVATE_H__
#define __SORA_ENGINE_PRIVATE_H__

#include "sora-engine.h"
#include "sora-wan-vae.h"

G_BEGIN_DECLS

/* What sora_engine_generate does, with the knobs parity tests need: the
 * text length (Wan uses 512), initial latents instead of seeded noise
 * ([in_channels, F, h, w] f32 on the host, or NULL), and the decoded chunks
 * as the VAE hands them over (f32 frames and pixels). */
gboolean sora_engine_run (SoraEngine *engine, const SoraGenerateParams *params,
    guint text_length, const float *initial_latents, SoraProgressFunc progress,
    SoraVaeChunkFunc chunk, gpointer user_data, GCancellable *cancellable,
    GError **error);

/* Wan's prompt_clean without ftfy: HTML-unescape twice, collapse runs of
 * whitespace to one space, strip. */
char *sora_prompt_clean (const char *text);

G_END_DECLS

#endif /* __SORA_ENGINE_PRIVATE_H__ */
