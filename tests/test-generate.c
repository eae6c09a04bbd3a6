/* gst-sora tests: the generate pipeline end to end on the tiny fixture
 * model: parity with diffusers' WanPipeline on the same initial noise,
 * seeded determinism, size checks, cancellation.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include "sora-engine-private.h"
#include "sora-test-util.h"

static SoraEngine *
open_tiny (void)
{
  GError *error = NULL;
  char *dir = sora_test_fixture ("wan-tiny");
  SoraEngine *engine = sora_engine_open (dir, NULL, NULL, &error);

  g_assert_no_error (error);
  g_free (dir);
  return engine;
}

/* The call tools/make_fixtures.py makes (pipeline_reference). */
static const SoraGenerateParams reference_params = {
  .prompt = "a red circle moving left on a black background",
  .negative_prompt = "blurry",
  .steps = 3,
  .guidance_scale = 5.0,
  .sampler = SORA_SAMPLER_UNIPC,
  .width = 48,
  .height = 32,
  .frames = 9,
  .format = SORA_PIXEL_RGB,
};

typedef struct
{
  GArray *frames; /* f32 [n, H, W, 3] in [0, 1] as diffusers */
  GByteArray *pixels;
  GArray *chunk_sizes;
  guint steps;
  GCancellable *cancel_at_step;
} Collected;

static gboolean
on_progress (guint step, guint total, double seconds, gpointer user_data)
{
  Collected *c = user_data;

  g_assert_cmpuint (step, ==, c->steps + 1);
  c->steps = step;
  if (c->cancel_at_step && step == 1)
    g_cancellable_cancel (c->cancel_at_step);
  return TRUE;
}

static gboolean
on_chunk (SoraTensor *frames, const guint8 *pixels, guint n, guint width,
    guint height, gpointer user_data)
{
  Collected *c = user_data;
  float *f = sora_test_download (frames);
  gsize plane = (gsize)n * height * width;

  g_array_append_val (c->chunk_sizes, n);
  for (gsize i = 0; i < plane; i++)
    for (int ch = 0; ch < 3; ch++) {
      float v = CLAMP (f[ch * plane + i] / 2 + 0.5f, 0.0f, 1.0f);
      g_array_append_val (c->frames, v);
    }
  g_byte_array_append (c->pixels, pixels, n * width * height * 3);
  g_free (f);
  return TRUE;
}

static void
collected_init (Collected *c)
{
  memset (c, 0, sizeof (*c));
  c->frames = g_array_new (FALSE, FALSE, sizeof (float));
  c->pixels = g_byte_array_new ();
  c->chunk_sizes = g_array_new (FALSE, FALSE, sizeof (guint));
}

static void
collected_clear (Collected *c)
{
  g_array_unref (c->frames);
  g_byte_array_unref (c->pixels);
  g_array_unref (c->chunk_sizes);
}

/* The tiny model's frames against WanPipeline's on the same initial
 * latents: 1e-3 relative L2 (the bound; f32 on both sides, three
 * UniPC steps and the VAE compound op-level errors of ~1e-6). */
static void
test_pipeline_parity (void)
{
  GError *error = NULL;
  SoraEngine *engine = open_tiny ();
  gsize n_latents, n_frames;
  float *latents = sora_test_reference_f32 (
      "tiny-pipeline.safetensors", "latents", &n_latents);
  double *want =
      sora_test_reference ("tiny-pipeline.safetensors", "frames", &n_frames);
  Collected c;

  collected_init (&c);
  g_assert_true (sora_engine_run (engine, &reference_params, 32, latents,
      on_progress, on_chunk, &c, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (c.steps, ==, 3);
  g_assert_cmpuint (c.chunk_sizes->len, ==, 3); /* 1 + 4 + 4 frames */
  g_assert_cmpuint (g_array_index (c.chunk_sizes, guint, 0), ==, 1);
  g_assert_cmpuint (g_array_index (c.chunk_sizes, guint, 1), ==, 4);
  g_assert_cmpuint (c.frames->len, ==, n_frames);
  sora_assert_close ((float *)c.frames->data, want, n_frames, 1e-3,
      "frames against WanPipeline");

  collected_clear (&c);
  g_free (latents);
  g_free (want);
  sora_engine_free (engine);
}

static GBytes *
generate_pixels (SoraEngine *engine, guint64 seed)
{
  GError *error = NULL;
  SoraGenerateParams p = reference_params;
  Collected c;
  GBytes *bytes;

  p.seed = seed;
  p.steps = 2;
  collected_init (&c);
  g_assert_true (
      sora_engine_run (engine, &p, 16, NULL, NULL, on_chunk, &c, NULL, &error));
  g_assert_no_error (error);
  bytes = g_bytes_new (c.pixels->data, c.pixels->len);
  collected_clear (&c);
  return bytes;
}

static void
test_seed_determinism (void)
{
  SoraEngine *engine = open_tiny ();
  GBytes *a = generate_pixels (engine, 7), *b = generate_pixels (engine, 7);
  GBytes *c = generate_pixels (engine, 8);

  g_assert_cmpuint (g_bytes_get_size (a), ==, 9 * 32 * 48 * 3);
  g_assert_true (g_bytes_equal (a, b));
  g_assert_false (g_bytes_equal (a, c));
  g_bytes_unref (a);
  g_bytes_unref (b);
  g_bytes_unref (c);
  sora_engine_free (engine);
}

static void
test_size_errors (void)
{
  GError *error = NULL;

  g_assert_true (sora_engine_check_size (832, 480, 81, &error));
  g_assert_false (sora_engine_check_size (50, 50, 9, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "48x48 with 9 frames"));
  g_clear_error (&error);
  g_assert_false (sora_engine_check_size (64, 48, 10, &error));
  g_assert_nonnull (strstr (error->message, "64x48 with 9 frames"));
  g_clear_error (&error);
  g_assert_false (sora_engine_check_size (64, 48, 12, &error));
  g_assert_nonnull (strstr (error->message, "with 13 frames"));
  g_clear_error (&error);
}

/* Cancelled during step 1: the run stops before step 2 with CANCELLED. */
static void
test_cancel (void)
{
  GError *error = NULL;
  SoraEngine *engine = open_tiny ();
  GCancellable *cancellable = g_cancellable_new ();
  SoraGenerateParams p = reference_params;
  Collected c;

  p.steps = 4;
  collected_init (&c);
  c.cancel_at_step = cancellable;
  g_assert_false (sora_engine_run (
      engine, &p, 16, NULL, on_progress, on_chunk, &c, cancellable, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_CANCELLED);
  g_assert_cmpuint (c.steps, ==, 1);
  g_assert_cmpuint (c.chunk_sizes->len, ==, 0);
  g_clear_error (&error);
  collected_clear (&c);
  g_object_unref (cancellable);
  sora_engine_free (engine);
}

static void
test_prompt_clean (void)
{
  char *s = sora_prompt_clean ("  a &amp;amp; b\t\n c\xe3\x80\x80 ");

  g_assert_cmpstr (s, ==, "a & b c");
  g_free (s);
}

static void
test_missing_model (void)
{
  GError *error = NULL;

  g_assert_null (sora_engine_open ("/nonexistent/model", NULL, NULL, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "/nonexistent/model"));
  g_clear_error (&error);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/generate/pipeline-parity", test_pipeline_parity);
  g_test_add_func ("/generate/seed-determinism", test_seed_determinism);
  g_test_add_func ("/generate/size-errors", test_size_errors);
  g_test_add_func ("/generate/cancel", test_cancel);
  g_test_add_func ("/generate/prompt-clean", test_prompt_clean);
  g_test_add_func ("/generate/missing-model", test_missing_model);
  return g_test_run ();
}
