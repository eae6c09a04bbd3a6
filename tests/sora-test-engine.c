/* gst-sora tests: helpers for engine-level tests on the tiny fixture model
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sora-test-engine.h"

SoraEngine *
sora_test_open_tiny (void)
{
  GError *error = NULL;
  char *dir = sora_test_fixture ("wan-tiny");
  SoraEngine *engine = sora_engine_open (dir, NULL, NULL, &error);

  g_assert_no_error (error);
  g_free (dir);
  return engine;
}

void
sora_test_collected_init (SoraTestCollected *c, SoraPixelFormat format)
{
  memset (c, 0, sizeof (*c));
  c->frames = g_array_new (FALSE, FALSE, sizeof (float));
  c->pixels = g_byte_array_new ();
  c->chunk_sizes = g_array_new (FALSE, FALSE, sizeof (guint));
  c->format = format;
}

void
sora_test_collected_clear (SoraTestCollected *c)
{
  g_array_unref (c->frames);
  g_byte_array_unref (c->pixels);
  g_array_unref (c->chunk_sizes);
}

gboolean
sora_test_collect_progress (
    guint step, guint total, double seconds, gpointer user_data)
{
  SoraTestCollected *c = user_data;

  g_assert_cmpuint (step, ==, c->steps + 1);
  c->steps = step;
  if (c->cancel_at_step && step == 1)
    g_cancellable_cancel (c->cancel_at_step);
  return TRUE;
}

gboolean
sora_test_collect_chunk (SoraTensor *frames, const guint8 *pixels, guint n,
    guint width, guint height, gpointer user_data)
{
  SoraTestCollected *c = user_data;
  float *f = sora_test_download (frames);
  gsize plane = (gsize)n * height * width;

  g_array_append_val (c->chunk_sizes, n);
  for (gsize i = 0; i < plane; i++)
    for (int ch = 0; ch < 3; ch++) {
      float v = CLAMP (f[ch * plane + i] / 2 + 0.5f, 0.0f, 1.0f);
      g_array_append_val (c->frames, v);
    }
  g_byte_array_append (
      c->pixels, pixels, n * sora_pixel_frame_size (c->format, width, height));
  g_free (f);
  return TRUE;
}
