/* gst-sora tests: the noise generator against Random123's known answers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include "sora-noise.h"
#include "sora-test-util.h"

/* Random123 kat_vectors, "philox4x32 10" lines. */
static void
test_known_answers (void)
{
  static const guint32 cases[3][10] = {
    { 0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 },
    { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
        0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd },
    { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
        0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    guint32 out[4];
    sora_philox4x32_10 (cases[i], cases[i] + 4, out);
    for (int j = 0; j < 4; j++)
      g_assert_cmphex (out[j], ==, cases[i][6 + j]);
  }
}

static void
test_normal (void)
{
  gsize n = 1000003; /* not a multiple of 4 */
  float *a = g_new (float, n), *b = g_new (float, n), *c = g_new (float, n);
  double mean = 0, var = 0;

  sora_noise_normal (42, a, n);
  sora_noise_normal (42, b, n);
  sora_noise_normal (43, c, n);
  g_assert_cmpmem (a, n * 4, b, n * 4);
  g_assert_cmpint (memcmp (a, c, n * 4), !=, 0);
  for (gsize i = 0; i < n; i++)
    mean += a[i];
  mean /= n;
  for (gsize i = 0; i < n; i++)
    var += (a[i] - mean) * (a[i] - mean);
  var /= n - 1;
  g_test_message (
      "mean %.5f, variance %.5f over %" G_GSIZE_FORMAT, mean, var, n);
  /* 6 standard errors: 6/sqrt(n) for the mean, 6*sqrt(2/n) for the
   * variance; a wrong transform misses by far more. */
  g_assert_cmpfloat (fabs (mean), <, 6.0 / sqrt (n));
  g_assert_cmpfloat (fabs (var - 1.0), <, 6.0 * sqrt (2.0 / n));
  g_free (a);
  g_free (b);
  g_free (c);
}

/* Element 4i+j of draw @draw of chunk @chunk as the stream's counter layout
 * says, computed here from the Philox block and Box-Muller directly. */
static double
stream_value (guint64 seed, guint32 chunk, guint32 draw, guint64 e)
{
  guint64 i = e / 4;
  guint32 counter[4] = { (guint32)i, (guint32)(i >> 32), chunk, draw };
  guint32 key[2] = { (guint32)seed, (guint32)(seed >> 32) }, w[4];
  guint pair = (e % 4) / 2;
  double u1, u2;

  sora_philox4x32_10 (counter, key, w);
  u1 = (w[2 * pair] + 0.5) / 4294967296.0;
  u2 = (w[2 * pair + 1] + 0.5) / 4294967296.0;
  return sqrt (-2.0 * log (u1)) *
      (e % 2 ? sin (2.0 * G_PI * u2) : cos (2.0 * G_PI * u2));
}

/* Draw 0 of chunk 0 is sora_noise_normal; every (chunk, draw) follows the
 * counter layout {i, i >> 32, chunk, draw} (to float rounding: the value is
 * computed in double, then rounded once), and two draws differ.  Prints a
 * few values for the PyTorch reference to check its copy against. */
static void
test_stream (void)
{
  const guint64 seed = 0x123456789abcdefull;
  const guint32 pairs[][2] = { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 7, 3 },
    { 0xffffffffu, 0xffffffffu } };
  gsize n = 4099;
  float *a = g_new (float, n), *b = g_new (float, n);

  sora_noise_normal (seed, a, n);
  sora_noise_normal_stream (seed, 0, 0, b, n);
  g_assert_cmpmem (a, n * 4, b, n * 4);
  for (guint p = 0; p < G_N_ELEMENTS (pairs); p++) {
    sora_noise_normal_stream (seed, pairs[p][0], pairs[p][1], b, n);
    for (gsize e = 0; e < n; e++)
      g_assert_cmpfloat (
          b[e], ==, (float)stream_value (seed, pairs[p][0], pairs[p][1], e));
    g_test_message ("seed %" G_GUINT64_FORMAT " chunk %u draw %u: %.9g %.9g "
                    "%.9g %.9g %.9g",
        seed, pairs[p][0], pairs[p][1], b[0], b[1], b[2], b[3], b[n - 1]);
    if (p > 0)
      g_assert_cmpint (memcmp (a, b, n * 4), !=, 0);
  }
  /* the numpy copy of tools/causal_reference.py (noise (42, 1, 2, 4)) */
  {
    const float want[4] = { 0.2511565387248993f, -0.1855919063091278f,
      2.0740761756896973f, -1.569115400314331f };

    sora_noise_normal_stream (42, 1, 2, b, 4);
    for (int e = 0; e < 4; e++)
      g_assert_cmpfloat (b[e], ==, want[e]);
  }
  /* chunk and draw are different words: (1, 0) is not (0, 1) */
  sora_noise_normal_stream (seed, 1, 0, a, n);
  sora_noise_normal_stream (seed, 0, 1, b, n);
  g_assert_cmpint (memcmp (a, b, n * 4), !=, 0);
  g_free (a);
  g_free (b);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/noise/philox-known-answers", test_known_answers);
  g_test_add_func ("/noise/normal", test_normal);
  g_test_add_func ("/noise/stream", test_stream);
  return sora_test_run ();
}
