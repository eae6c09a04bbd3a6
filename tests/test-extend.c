/* gst-sora tests: video extension on the tiny fixture model: parity with a
 * diffusers reference of the conditioned denoise (tools/make_fixtures.py
 * extend_reference), continuity against an unconditioned run on the same
 * noise, argument errors, cancellation, the public entry point.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-test-engine.h"

#define REFERENCE "tiny-extend.safetensors"

/* The call extend_reference makes: 8 new frames after 7 context frames of
 * 48x32, of which the last 5 (2 latent frames) condition. */
static SoraGenerateParams
reference_params (void)
{
  SoraGenerateParams p = sora_test_pipeline_params;

  p.frames = 8;
  return p;
}

/* The fixture's context frames [7, 32, 48, 3] as packed RGB. */
static guint8 *
reference_context (guint *n_frames)
{
  gsize n;
  float *f = sora_test_reference_f32 (REFERENCE, "context", &n);
  guint8 *rgb = g_new (guint8, n);

  for (gsize i = 0; i < n; i++)
    rgb[i] = (guint8)f[i];
  *n_frames = n / (32 * 48 * 3);
  g_free (f);
  return rgb;
}

/* Final latents and new frames against the diffusers reference on the same
 * initial noise: 1e-3 relative L2 (the bound; f32 on both sides,
 * as tests/test-generate.c: three UniPC steps, the VAE encode and decode
 * compound op-level errors of ~1e-6).  The context part, z_ctx exactly
 * after the last step, is checked on its own first: it isolates the
 * encoder path. */
static void
test_parity (void)
{
  GError *error = NULL;
  SoraEngine *engine = sora_test_open_tiny ();
  gsize n_noise, n_latents, n_frames, n_ctx;
  float *noise = sora_test_reference_f32 (REFERENCE, "noise", &n_noise);
  double *want_latents = sora_test_reference (REFERENCE, "latents", &n_latents);
  double *want_ctx = sora_test_reference (REFERENCE, "z_ctx", &n_ctx);
  double *want_frames =
      sora_test_reference (REFERENCE, "new_frames", &n_frames);
  guint n_context;
  guint8 *context = reference_context (&n_context);
  SoraGenerateParams ref = reference_params ();
  float *latents = NULL, *ctx_part;
  gsize plane = 4 * 6, f = 4, k = 2;
  SoraTestCollected c;

  g_assert_cmpuint (n_context, ==, 7);
  sora_test_collected_init (&c, SORA_PIXEL_RGB);
  g_assert_true (sora_engine_extend_run (engine, &ref, 32, context, n_context,
      SORA_EXTEND_CONTEXT_LATENTS, noise, sora_test_collect_progress,
      sora_test_collect_chunk, &c, &latents, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (c.steps, ==, 3);
  g_assert_cmpuint (n_latents, ==, n_noise);

  ctx_part = g_new (float, n_ctx);
  for (gsize ch = 0; ch < 16; ch++)
    memcpy (ctx_part + ch * k * plane, latents + ch * f * plane,
        k * plane * sizeof (float));
  sora_assert_close (ctx_part, want_ctx, n_ctx, 1e-3,
      "context latents (VAE encode) against diffusers");
  sora_assert_close (latents, want_latents, n_latents, 1e-3,
      "final latents against diffusers");

  /* Only the new frames, 4 per latent frame. */
  g_assert_cmpuint (c.chunk_sizes->len, ==, 2);
  g_assert_cmpuint (g_array_index (c.chunk_sizes, guint, 0), ==, 4);
  g_assert_cmpuint (g_array_index (c.chunk_sizes, guint, 1), ==, 4);
  g_assert_cmpuint (c.frames->len, ==, n_frames);
  sora_assert_close ((float *)c.frames->data, want_frames, n_frames, 1e-3,
      "new frames against diffusers");

  sora_test_collected_clear (&c);
  g_free (ctx_part);
  g_free (latents);
  g_free (context);
  g_free (noise);
  g_free (want_latents);
  g_free (want_ctx);
  g_free (want_frames);
  sora_engine_free (engine);
}

/* Continuity needs a model that has learnt it: with the tiny model's random
 * weights the first new latent frame is no closer to the last context frame
 * conditioned than unconditioned (measured here 51.42 vs 50.74, ratio
 * 1.013; a diffusers run of the same rule gives 1.01 to 1.03 for seeds 0-3
 * at 3, 6 and 10 steps, 0.99 to 1.00 without guidance), so those distances
 * are only reported.  What any model must show is that the context reaches
 * the new frames through attention: the first new latent frame moves by a
 * measured 5.7% of its norm against the same noise denoised without the
 * context.  1% clears that comfortably and still fails when the context is
 * not imposed before the model calls (0%). */
static void
test_continuity (void)
{
  SoraEngine *engine = sora_test_open_tiny ();
  SoraGenerateParams p = reference_params ();
  guint n_context;
  guint8 *context = reference_context (&n_context);
  SoraTestContinuity c;

  p.seed = 3;
  p.steps = 6;
  c = sora_test_continuity (engine, &p, 16, context, n_context, 2);
  g_test_message ("first new latent frame to last context frame: %.4f "
                  "conditioned, %.4f unconditioned (ratio %.3f)",
      c.d_cond, c.d_uncond, c.d_cond / c.d_uncond);
  g_test_message ("first new latent frame moved by %.4f (%.2f%% of %.4f) "
                  "by the context",
      c.change, 100 * c.change / c.norm, c.norm);
  g_assert_cmpfloat (c.change, >, 0.01 * c.norm);
  g_free (context);
  sora_engine_free (engine);
}

static void
expect_error (SoraEngine *engine, const SoraGenerateParams *p,
    const guint8 *context, guint n_context, const char *message)
{
  GError *error = NULL;
  float *latents = (float *)1;

  g_assert_false (sora_engine_extend_run (engine, p, 16, context, n_context,
      SORA_EXTEND_CONTEXT_LATENTS, NULL, NULL, NULL, NULL, &latents, NULL,
      &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, message));
  g_assert_null (latents);
  g_clear_error (&error);
}

static void
test_errors (void)
{
  SoraEngine *engine = sora_test_open_tiny ();
  SoraGenerateParams p = reference_params ();
  guint n_context;
  guint8 *context = reference_context (&n_context);

  g_assert_cmpuint (sora_engine_extend_round_frames (0), ==, 4);
  g_assert_cmpuint (sora_engine_extend_round_frames (5), ==, 4);
  g_assert_cmpuint (sora_engine_extend_round_frames (6), ==, 8);
  g_assert_cmpuint (sora_engine_extend_round_frames (16), ==, 16);

  expect_error (engine, &p, context, 0, "at least 1 context frame");
  expect_error (engine, &p, NULL, 3, "at least 1 context frame");
  p.frames = 6;
  expect_error (engine, &p, context, n_context, "nearest valid count is 8");
  p.frames = 0;
  expect_error (engine, &p, context, n_context, "nearest valid count is 4");
  p = reference_params ();
  p.width = 40; /* 7 context frames of 48x32 read as 40x32: also too few */
  expect_error (engine, &p, context, n_context, "multiples of 16");
  p = reference_params ();
  p.steps = 0;
  expect_error (engine, &p, context, n_context, "step");

  g_free (context);
  sora_engine_free (engine);
}

/* Cancelled during step 1: the run stops before step 2, nothing decoded. */
static void
test_cancel (void)
{
  GError *error = NULL;
  SoraEngine *engine = sora_test_open_tiny ();
  GCancellable *cancellable = g_cancellable_new ();
  SoraGenerateParams p = reference_params ();
  guint n_context;
  guint8 *context = reference_context (&n_context);
  SoraTestCollected c;

  p.steps = 4;
  sora_test_collected_init (&c, SORA_PIXEL_RGB);
  c.cancel_at_step = cancellable;
  g_assert_false (sora_engine_extend_run (engine, &p, 16, context, n_context,
      SORA_EXTEND_CONTEXT_LATENTS, NULL, sora_test_collect_progress,
      sora_test_collect_chunk, &c, NULL, cancellable, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_CANCELLED);
  g_assert_cmpuint (c.steps, ==, 1);
  g_assert_cmpuint (c.chunk_sizes->len, ==, 0);
  g_clear_error (&error);
  sora_test_collected_clear (&c);
  g_object_unref (cancellable);
  g_free (context);
  sora_engine_free (engine);
}

typedef struct
{
  guint chunks, frames;
  gsize bytes;
} Counted;

static gboolean
count_frames (const guint8 *pixels, guint n, guint width, guint height,
    gpointer user_data)
{
  Counted *c = user_data;

  c->chunks++;
  c->frames += n;
  c->bytes += n * sora_pixel_frame_size (SORA_PIXEL_I420, width, height);
  return TRUE;
}

/* The public call: seeded, a single context frame (k = 0), I420 out; only
 * the new frames arrive, 4 per chunk. */
static void
test_public (void)
{
  GError *error = NULL;
  SoraEngine *engine = sora_test_open_tiny ();
  SoraGenerateParams p = reference_params ();
  guint n_context;
  guint8 *context = reference_context (&n_context);
  Counted c = { 0 };

  p.seed = 11;
  p.steps = 2;
  p.frames = 12;
  p.format = SORA_PIXEL_I420;
  g_assert_true (
      sora_engine_extend (engine, &p, context + (n_context - 1) * 32 * 48 * 3,
          1, NULL, count_frames, &c, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (c.chunks, ==, 3);
  g_assert_cmpuint (c.frames, ==, 12);
  g_assert_cmpuint (c.bytes, ==, 12 * 48 * 32 * 3 / 2);
  /* a clip model's extension takes the steps asked for */
  g_assert_cmpuint (sora_engine_extend_steps (engine, &p), ==, 2);
  g_free (context);
  sora_engine_free (engine);
}

/* Clips that continue each other: nothing to continue on a fresh engine;
 * after a generate of 17 frames (5 latent frames, all of which condition)
 * continue's new frames are exactly those of one decode of the clip's
 * latents followed by the new ones (the decode goes on from the clip's
 * causal state instead of re-encoding its frames), and the clip's own
 * frames are that decode's first 17; a continuation continues too; another
 * size is refused. */
static void
test_continue (void)
{
  GError *error = NULL;
  SoraEngine *engine = sora_test_open_tiny ();
  SoraGenerateParams p = reference_params ();
  gsize clip_bytes = 17 * 48 * 32 * 3, new_bytes = 8 * 48 * 32 * 3;
  SoraTestCollected clip, cont, whole;
  Counted c = { 0 };
  float *latents = NULL;
  SoraTensor *z;

  sora_test_collected_init (&clip, SORA_PIXEL_RGB);
  sora_test_collected_init (&cont, SORA_PIXEL_RGB);
  sora_test_collected_init (&whole, SORA_PIXEL_RGB);
  p.seed = 5;
  p.steps = 2;
  p.frames = 8;
  g_assert_false (
      sora_engine_continue (engine, &p, NULL, count_frames, &c, NULL, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  p.frames = 17;
  g_assert_true (sora_engine_run (engine, &p, 16, NULL, NULL,
      sora_test_collect_chunk, &clip, NULL, &error));
  g_assert_no_error (error);
  p.frames = 8;
  p.seed = 6;
  g_assert_true (
      sora_engine_continue_run (engine, &p, 16, SORA_CONTINUE_CONTEXT_LATENTS,
          NULL, NULL, sora_test_collect_chunk, &cont, &latents, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (clip.pixels->len, ==, clip_bytes);
  g_assert_cmpuint (cont.pixels->len, ==, new_bytes);

  z = sora_tensor_new_v (sora_engine_get_device (engine), "latents",
      SORA_DTYPE_F32, &error, 4, 16, 5 + 2, 4, 6);
  g_assert_no_error (error);
  g_assert_true (sora_tensor_write (z, latents, &error));
  g_assert_true (sora_test_vae_decode (sora_engine_get_vae (engine), z,
      sora_test_collect_chunk, &whole, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (whole.pixels->len, ==, clip_bytes + new_bytes);
  g_assert_cmpmem (
      whole.pixels->data, clip_bytes, clip.pixels->data, clip_bytes);
  g_assert_cmpmem (
      whole.pixels->data + clip_bytes, new_bytes, cont.pixels->data, new_bytes);

  p.format = SORA_PIXEL_I420;
  g_assert_true (
      sora_engine_continue (engine, &p, NULL, count_frames, &c, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (c.frames, ==, 8);

  p.width = 64;
  g_assert_false (
      sora_engine_continue (engine, &p, NULL, count_frames, &c, NULL, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  sora_tensor_free (z);
  g_free (latents);
  sora_test_collected_clear (&clip);
  sora_test_collected_clear (&cont);
  sora_test_collected_clear (&whole);
  sora_engine_free (engine);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/extend/parity", test_parity);
  g_test_add_func ("/extend/continuity", test_continuity);
  g_test_add_func ("/extend/errors", test_errors);
  g_test_add_func ("/extend/cancel", test_cancel);
  g_test_add_func ("/extend/public", test_public);
  g_test_add_func ("/extend/continue", test_continue);
  return sora_test_run ();
}
