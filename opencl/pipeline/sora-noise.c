/* gst-sora engine: seeded Gaussian noise (Philox4x32-10 + Box-Muller)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include "sora-noise.h"

static inline guint32
mulhilo (guint32 a, guint32 b, guint32 *hi)
{
  guint64 p = (guint64)a * b;

  *hi = (guint32)(p >> 32);
  return (guint32)p;
}

void
sora_philox4x32_10 (
    const guint32 counter[4], const guint32 key[2], guint32 out[4])
{
  guint32 c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
  guint32 k0 = key[0], k1 = key[1];

  for (int round = 0; round < 10; round++) {
    guint32 hi0, hi1;
    guint32 lo0 = mulhilo (0xD2511F53u, c0, &hi0);
    guint32 lo1 = mulhilo (0xCD9E8D57u, c2, &hi1);

    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

void
sora_noise_normal_stream (
    guint64 seed, guint32 chunk, guint32 draw, float *out, gsize n)
{
  const guint32 key[2] = { (guint32)seed, (guint32)(seed >> 32) };

  for (gsize block = 0; block * 4 < n; block++) {
    guint32 counter[4] = { (guint32)block, (guint32)((guint64)block >> 32),
      chunk, draw };
    guint32 w[4];
    double z[4];

    sora_philox4x32_10 (counter, key, w);
    for (int p = 0; p < 2; p++) {
      double u1 = (w[2 * p] + 0.5) / 4294967296.0;
      double u2 = (w[2 * p + 1] + 0.5) / 4294967296.0;
      double r = sqrt (-2.0 * log (u1));
      z[2 * p] = r * cos (2.0 * G_PI * u2);
      z[2 * p + 1] = r * sin (2.0 * G_PI * u2);
    }
    for (int j = 0; j < 4 && block * 4 + j < n; j++)
      out[block * 4 + j] = (float)z[j];
  }
}

void
sora_noise_normal (guint64 seed, float *out, gsize n)
{
  sora_noise_normal_stream (seed, 0, 0, out, n);
}
