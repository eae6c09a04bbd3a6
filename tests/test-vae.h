/* gst-sora tests: what test-vae.c and test-vae-bench.c (one executable,
 * test-vae) share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __TEST_VAE_H__
#define __TEST_VAE_H__

#include "sora-test-engine.h"
#include "sora-wan-vae.h"

G_BEGIN_DECLS

typedef struct
{
  float *video; /* [3, T, H, W] as the chunks arrive */
  gsize t, h, w;
  guint chunks;
  guint chunk_frames[64];
  guint stop_after; /* 0: never */
  GCancellable *cancel; /* cancelled after cancel_after chunks, if set */
  guint cancel_after;
  double seconds[64], cpu[64]; /* since the decode began, per chunk */
  gint64 start;
} Collect;

/* The frames callback that fills a Collect (test-vae.c). */
gboolean collect (SoraTensor *frames, const guint8 *pixels, guint n,
    guint width, guint height, gpointer user_data);
/* Decodes @latents into *@c, cleared first. */
void decode (SoraWanVae *vae, SoraTensor *latents, Collect *c, GError **error);
/* Random latents [16, @f, @h, @w] in [-2, 2). */
SoraTensor *random_latents (guint f, guint h, guint w);
/* A copy of wan-tiny with the VAE of config @json and random weights. */
char *write_vae_folder (const char *json);

/* /vae/bench (test-vae-bench.c). */
void test_bench (void);

G_END_DECLS

#endif /* __TEST_VAE_H__ */
