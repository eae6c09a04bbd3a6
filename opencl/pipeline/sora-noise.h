/* gst-sora engine: seeded Gaussian noise
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_NOISE_H__
#define __SORA_NOISE_H__

#include <glib.h>

G_BEGIN_DECLS

/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
 * 3", SC'11): one block of 4 words from a 4-word counter and 2-word key. */
void sora_philox4x32_10 (
    const guint32 counter[4], const guint32 key[2], guint32 out[4]);

/* Fills @out with @n standard normal floats for @seed: element 4i+j comes
 * from block counter {i, i >> 32, 0, 0}, key {seed, seed >> 32}, by the
 * Box-Muller transform of word pairs (u = (word + 0.5) / 2^32), computed in
 * double on the host.  The same seed gives the same noise everywhere. */
void sora_noise_normal (guint64 seed, float *out, gsize n);

/* As sora_noise_normal, from block counter {i, i >> 32, @chunk, @draw}: the
 * independent noise draws of a causal stream (draw 0 of chunk 0 is
 * sora_noise_normal's), one per chunk and denoising step, each a function of
 * the seed alone so a chunk's noise does not depend on what came before. */
void sora_noise_normal_stream (
    guint64 seed, guint32 chunk, guint32 draw, float *out, gsize n);

G_END_DECLS

#endif /* __SORA_NOISE_H__ */
