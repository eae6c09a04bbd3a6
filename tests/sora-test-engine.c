/* gst-sora tests: helpers for engine-level tests on the tiny fixture model
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include "sora-test-engine.h"

const SoraGenerateParams sora_test_pipeline_params = {
  .prompt = "a red circle moving left on a black background",
  .negative_prompt = "blurry",
  .steps = 3,
  .guidance_scale = 5.0,
  .scheduler = SORA_SCHEDULER_UNIPC,
  .width = 48,
  .height = 32,
  .frames = 9,
  .format = SORA_PIXEL_RGB,
};

SoraEngine *
sora_test_open_fixture (const char *name)
{
  GError *error = NULL;
  char *dir = sora_test_fixture (name);
  SoraEngine *engine = sora_engine_open (dir, NULL, NULL, &error);

  g_assert_no_error (error);
  g_free (dir);
  return engine;
}

SoraEngine *
sora_test_open_tiny (void)
{
  return sora_test_open_fixture ("wan-tiny");
}

static void
skip_no_model (gconstpointer why)
{
  g_test_skip (why);
}

SoraEngine *
sora_test_open_model (const char *suite, const char *variable)
{
  const char *model = g_getenv (variable);
  SoraEngine *engine;
  GError *error = NULL;
  char *path;

  if (model == NULL || !g_file_test (model, G_FILE_TEST_IS_DIR)) {
    path = g_strdup_printf ("/%s/model", suite);
    g_test_add_data_func_full (path,
        g_strdup_printf (
            "%s (%s) is not a model folder", variable, model ? model : "unset"),
        skip_no_model, g_free);
    g_free (path);
    return NULL;
  }
  engine = sora_engine_open (model, NULL, NULL, &error);
  g_assert_no_error (error);
  return engine;
}

SoraEngine *
sora_test_open_demo_model (const char *suite)
{
  return sora_test_open_model (suite, "SORA_DEMO_MODEL");
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

gboolean
sora_test_vae_decode (SoraWanVae *vae, SoraTensor *latents, SoraChunkFunc func,
    gpointer user_data, GCancellable *cancellable, GError **error)
{
  SoraFrameSink sink = { SORA_PIXEL_RGB, 0, cancellable, func, user_data };
  gboolean ok = sora_wan_vae_decode (
      vae, latents, sora_frame_sink_take, &sink, cancellable, error);

  sora_frame_sink_clear (&sink);
  return ok;
}

static gboolean
keep_final (SoraScheduler *scheduler, guint step, SoraTensor *latents,
    gpointer user_data, GError **error)
{
  float **final = user_data;

  if (step < sora_scheduler_get_n_steps (scheduler))
    return TRUE;
  *final = g_new (float, latents->numel);
  return sora_tensor_read (latents, *final, error);
}

static gboolean
ignore_chunk (SoraTensor *frames, const guint8 *pixels, guint n, guint width,
    guint height, gpointer user_data)
{
  return TRUE;
}

/* L2 distance between latent frame @a of @x (or 0 when NULL) and frame @b
 * of @y, both [channels, @f, plane]. */
static double
frame_distance (const float *x, gsize a, const float *y, gsize b,
    gsize channels, gsize f, gsize plane)
{
  double sum = 0;

  for (gsize ch = 0; ch < channels; ch++)
    for (gsize i = 0; i < plane; i++) {
      double d =
          (x ? x[(ch * f + a) * plane + i] : 0.0) - y[(ch * f + b) * plane + i];
      sum += d * d;
    }
  return sqrt (sum);
}

SoraTestContinuity
sora_test_continuity (SoraEngine *engine, const SoraGenerateParams *p,
    guint text_length, const guint8 *context, guint n_context_frames,
    guint n_context_latents)
{
  GError *error = NULL;
  gsize k = n_context_latents, f = k + p->frames / 4, channels, plane;
  float *cond = NULL, *uncond = NULL;
  SoraTestContinuity r;
  SoraTensor *x;

  g_assert_true (sora_engine_extend_run (engine, p, text_length, context,
      n_context_frames, SORA_EXTEND_CONTEXT_LATENTS, NULL, NULL, NULL, NULL,
      &cond, NULL, &error));
  g_assert_no_error (error);
  x = sora_engine_new_latents (engine, p, f, NULL, &error);
  g_assert_no_error (error);
  channels = x->shape[1];
  plane = x->shape[3] * x->shape[4];
  g_assert_true (sora_engine_denoise_decode (engine, p, text_length, x,
      keep_final, &uncond, 0, 0, NULL, ignore_chunk, NULL, NULL, &error));
  g_assert_no_error (error);
  r.d_cond = frame_distance (cond, k, cond, k - 1, channels, f, plane);
  r.d_uncond = frame_distance (uncond, k, cond, k - 1, channels, f, plane);
  r.change = frame_distance (cond, k, uncond, k, channels, f, plane);
  r.norm = frame_distance (NULL, k, uncond, k, channels, f, plane);
  sora_tensor_free (x);
  g_free (cond);
  g_free (uncond);
  return r;
}
