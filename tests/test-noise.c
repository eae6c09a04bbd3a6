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

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/noise/philox-known-answers", test_known_answers);
  g_test_add_func ("/noise/normal", test_normal);
  return sora_test_run ();
}
