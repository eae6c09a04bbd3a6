/* gst-sora tests: the generate pipeline end to end on the tiny fixture
 * model: parity with diffusers' WanPipeline on the same initial noise,
 * seeded determinism, size checks, cancellation.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include "sora-test-engine.h"
#include "sora-umt5.h"

/* The tiny model's frames against WanPipeline's on the same initial
 * latents: 1e-3 relative L2 (the bound; f32 on both sides, three
 * UniPC steps and the VAE compound op-level errors of ~1e-6). */
static void
test_pipeline_parity (void)
{
  GError *error = NULL;
  SoraEngine *engine = sora_test_open_tiny ();
  gsize n_latents, n_frames;
  float *latents = sora_test_reference_f32 (
      "tiny-pipeline.safetensors", "latents", &n_latents);
  double *want =
      sora_test_reference ("tiny-pipeline.safetensors", "frames", &n_frames);
  SoraTestCollected c;

  sora_test_collected_init (&c, SORA_PIXEL_RGB);
  g_assert_true (sora_engine_run (engine, &sora_test_pipeline_params, 32,
      latents, sora_test_collect_progress, sora_test_collect_chunk, &c, NULL,
      &error));
  g_assert_no_error (error);
  g_assert_cmpuint (c.steps, ==, 3);
  g_assert_cmpuint (c.chunk_sizes->len, ==, 3); /* 1 + 4 + 4 frames */
  g_assert_cmpuint (g_array_index (c.chunk_sizes, guint, 0), ==, 1);
  g_assert_cmpuint (g_array_index (c.chunk_sizes, guint, 1), ==, 4);
  g_assert_cmpuint (c.frames->len, ==, n_frames);
  sora_assert_close ((float *)c.frames->data, want, n_frames, 1e-3,
      "frames against WanPipeline");

  sora_test_collected_clear (&c);
  g_free (latents);
  g_free (want);
  sora_engine_free (engine);
}

/* The device's allocations and reads back since the last callback, one
 * SoraDeviceCounts per denoising step and per delivered chunk. */
typedef struct
{
  SoraDevice *dev;
  SoraDeviceCounts last;
  GArray *steps, *chunks;
} Counted;

static void
count_since (Counted *c, GArray *into)
{
  SoraDeviceCounts now = sora_device_get_counts (c->dev);
  SoraDeviceCounts n = { now.allocations - c->last.allocations,
    now.reads - c->last.reads };

  g_array_append_val (into, n);
  c->last = now;
}

static gboolean
count_step (guint step, guint total, double seconds, gpointer user_data)
{
  Counted *c = user_data;

  count_since (c, c->steps);
  return TRUE;
}

static gboolean
count_chunk (SoraTensor *frames, const guint8 *pixels, guint n, guint width,
    guint height, gpointer user_data)
{
  Counted *c = user_data;

  count_since (c, c->chunks);
  return TRUE;
}

#define COUNTS(array, i) (&g_array_index (array, SoraDeviceCounts, i))

/* Once the first step has made the model's workspace, the predictions and
 * the scheduler's history, a denoising step allocates nothing on the
 * device; each delivered chunk is read back once (its pixels).  The VAE
 * plans a chunk's activations and replays the plan on the next chunk: its
 * first four chunks differ (the first decodes 1 frame, the next ones fill
 * the causal slots, those of the temporal upsamplers' time convs a chunk
 * late).  The plan of the fourth is made after its delivery, so it counts
 * with the fifth; from the sixth on a chunk allocates nothing (its pixels
 * go through the buffer the second chunk, the first of 4 frames, made). */
static void
test_allocations (void)
{
  SoraEngine *engine = sora_test_open_tiny ();
  SoraGenerateParams p = sora_test_pipeline_params;
  Counted c = { sora_engine_get_device (engine) };
  GError *error = NULL;

  p.steps = 4;
  p.frames = 25;
  c.steps = g_array_new (FALSE, FALSE, sizeof (SoraDeviceCounts));
  c.chunks = g_array_new (FALSE, FALSE, sizeof (SoraDeviceCounts));
  c.last = sora_device_get_counts (c.dev);
  sora_engine_run (
      engine, &p, 16, NULL, count_step, count_chunk, &c, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (c.steps->len, ==, 4);
  g_assert_cmpuint (c.chunks->len, ==, 7);
  for (guint i = 0; i < 4; i++)
    g_test_message ("step %u: %" G_GUINT64_FORMAT " device allocations", i,
        COUNTS (c.steps, i)->allocations);
  for (guint i = 0; i < 7; i++)
    g_test_message ("chunk %u: %" G_GUINT64_FORMAT
                    " device allocations, %" G_GUINT64_FORMAT " reads back",
        i, COUNTS (c.chunks, i)->allocations, COUNTS (c.chunks, i)->reads);
  for (guint i = 1; i < 4; i++)
    g_assert_cmpuint (COUNTS (c.steps, i)->allocations, ==, 0);
  for (guint i = 0; i < 7; i++)
    g_assert_cmpuint (COUNTS (c.chunks, i)->reads, ==, 1);
  for (guint i = 5; i < 7; i++)
    g_assert_cmpuint (COUNTS (c.chunks, i)->allocations, ==, 0);
  g_array_unref (c.steps);
  g_array_unref (c.chunks);
  sora_engine_free (engine);
}

#undef COUNTS

/* Replaces sora_test_pipeline_params.prompt in generate_pixels when set. */
static const char *reference_prompt;

static GBytes *
generate_pixels (SoraEngine *engine, guint64 seed)
{
  GError *error = NULL;
  SoraGenerateParams p = sora_test_pipeline_params;
  SoraTestCollected c;
  GBytes *bytes;

  p.seed = seed;
  p.steps = 2;
  if (reference_prompt)
    p.prompt = reference_prompt;
  sora_test_collected_init (&c, SORA_PIXEL_RGB);
  g_assert_true (sora_engine_run (
      engine, &p, 16, NULL, NULL, sora_test_collect_chunk, &c, NULL, &error));
  g_assert_no_error (error);
  bytes = g_bytes_new (c.pixels->data, c.pixels->len);
  sora_test_collected_clear (&c);
  return bytes;
}

static void
test_seed_determinism (void)
{
  SoraEngine *engine = sora_test_open_tiny ();
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

/* Streaming umT5's layers (what the engine does when umT5 would take over a
 * quarter of the device) keeps its weights off the device between
 * encodings and changes nothing in the frames, also for a new prompt. */
static void
test_text_encoder_streaming (void)
{
  SoraEngine *keep = sora_test_open_tiny ();
  SoraEngine *stream = sora_test_open_tiny ();
  char *dir = sora_test_fixture ("wan-tiny");
  SoraModelFolder *folder = sora_model_folder_open (dir, NULL);
  guint64 umt5 = sora_umt5_weight_bytes (folder);
  GError *error = NULL;
  GBytes *a, *b;

  /* the tiny umT5 is far under a quarter of the device: kept */
  g_assert_true (sora_engine_set_text_encoder_streaming (stream, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (umt5, >, 0);
  for (guint i = 0; i < 2; i++) {
    if (i == 1)
      reference_prompt = "a blue square moving up on a white background";
    a = generate_pixels (keep, 5);
    b = generate_pixels (stream, 5);
    g_assert_true (g_bytes_equal (a, b));
    g_assert_cmpuint (
        sora_device_bytes_current (sora_engine_get_device (stream)) + umt5 / 2,
        <=, sora_device_bytes_current (sora_engine_get_device (keep)));
    g_bytes_unref (a);
    g_bytes_unref (b);
  }
  reference_prompt = NULL;
  sora_model_folder_free (folder);
  g_free (dir);
  sora_engine_free (keep);
  sora_engine_free (stream);
}

static gboolean
stop_before_decode (SoraScheduler *scheduler, guint step, SoraTensor *latents,
    gpointer user_data, GError **error)
{
  if (step < sora_scheduler_get_n_steps (scheduler))
    return TRUE;
  g_set_error (error, SORA_ERROR, SORA_ERROR_CANCELLED, "stop before decode");
  return FALSE;
}

/* The denoising memory estimate covers what a run allocates (the VAE decode
 * tiles itself and is not in it), and a size no device here can hold fails
 * before anything is allocated, naming the size and the device. */
static void
test_memory_check (void)
{
  SoraEngine *engine = sora_test_open_tiny ();
  SoraDevice *dev = sora_engine_get_device (engine);
  SoraGenerateParams p = sora_test_pipeline_params;
  GError *error = NULL;
  guint64 held, estimate, used;
  SoraTensor *x;

  p.steps = 2;
  /* one untimed run builds the kernels and caches the text */
  g_bytes_unref (generate_pixels (engine, 1));
  held = sora_device_bytes_current (dev);
  sora_device_reset_peak (dev);
  x = sora_engine_new_latents (engine, &p, 3, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (sora_engine_denoise_decode (engine, &p, 16, x,
      stop_before_decode, NULL, 0, 0, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_CANCELLED);
  g_clear_error (&error);
  used = sora_device_bytes_peak (dev) - held;
  estimate = sora_engine_denoise_bytes (engine, &p, 3, 16);
  g_test_message ("denoising peak %" G_GUINT64_FORMAT
                  " bytes, estimate %" G_GUINT64_FORMAT,
      used, estimate);
  sora_tensor_free (x);
  /* covers it, without asking for much more than it takes */
  g_assert_cmpuint (used, <=, estimate);
  g_assert_cmpuint (estimate, <=, 2 * used);

  p.width = p.height = 16384;
  p.frames = 81;
  x = sora_engine_new_latents (engine, &p, 21, NULL, &error);
  g_assert_null (x);
  g_assert_error (error, SORA_ERROR, SORA_ERROR_OUT_OF_MEMORY);
  g_assert_nonnull (strstr (error->message, "16384x16384 with 81 frames"));
  g_assert_nonnull (
      strstr (error->message, sora_engine_get_device_name (engine)));
  g_assert_nonnull (strstr (error->message, "the nearest"));
  g_clear_error (&error);

  /* The tiny model's RoPE has 32 positions per axis: 512 pixels. */
  p.width = 1024;
  p.height = 768;
  p.frames = 25;
  x = sora_engine_new_latents (engine, &p, 5, NULL, &error);
  g_assert_null (x);
  g_assert_nonnull (strstr (error->message, "RoPE range of 32 positions"));
  g_assert_nonnull (
      strstr (error->message, "the nearest size that fits is 512x384"));
  g_clear_error (&error);
  sora_engine_free (engine);
}

/* After one clip, a new width, height or frame count builds nothing new:
 * no program, and no kernel at a new work-group size (which PoCL compiles
 * again).  Before launches had fixed work-groups, every size added some. */
static void
test_compile_once (void)
{
  static const guint sizes[][3] = { { 48, 32, 9 }, { 320, 240, 5 },
    { 128, 496, 13 }, { 512, 64, 1 } };
  SoraEngine *engine = sora_test_open_tiny ();
  SoraDevice *dev = sora_engine_get_device (engine);
  guint variants = 0;

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
    SoraGenerateParams p = sora_test_pipeline_params;
    SoraTestCollected c;
    GError *error = NULL;

    p.steps = 1;
    p.width = sizes[i][0];
    p.height = sizes[i][1];
    p.frames = sizes[i][2];
    sora_test_collected_init (&c, SORA_PIXEL_RGB);
    g_assert_true (sora_engine_run (
        engine, &p, 16, NULL, NULL, sora_test_collect_chunk, &c, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (
        c.pixels->len, ==, (gsize)p.width * p.height * 3 * p.frames);
    sora_test_collected_clear (&c);
    g_test_message ("%ux%u, %u frames: %u kernel variants", p.width, p.height,
        p.frames, sora_device_variants (dev));
    if (i == 0)
      variants = sora_device_variants (dev);
    g_assert_cmpuint (sora_device_variants (dev), ==, variants);
  }
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
  /* the rules the elements take from the engine: ties round up, and the
   * smallest values are 16 and 1 */
  g_assert_cmpuint (sora_engine_nearest_side (0), ==, 16);
  g_assert_cmpuint (sora_engine_nearest_side (24), ==, 32);
  g_assert_cmpuint (sora_engine_nearest_side (23), ==, 16);
  g_assert_cmpuint (sora_engine_nearest_frames (0), ==, 1);
  g_assert_cmpuint (sora_engine_nearest_frames (11), ==, 13);
  g_assert_cmpuint (sora_engine_nearest_frames (10), ==, 9);
}

/* Cancelled during step 1: the run stops before step 2 with CANCELLED. */
static void
test_cancel (void)
{
  GError *error = NULL;
  SoraEngine *engine = sora_test_open_tiny ();
  GCancellable *cancellable = g_cancellable_new ();
  SoraGenerateParams p = sora_test_pipeline_params;
  SoraTestCollected c;

  p.steps = 4;
  sora_test_collected_init (&c, SORA_PIXEL_RGB);
  c.cancel_at_step = cancellable;
  g_assert_false (
      sora_engine_run (engine, &p, 16, NULL, sora_test_collect_progress,
          sora_test_collect_chunk, &c, cancellable, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_CANCELLED);
  g_assert_cmpuint (c.steps, ==, 1);
  g_assert_cmpuint (c.chunk_sizes->len, ==, 0);
  g_clear_error (&error);
  sora_test_collected_clear (&c);
  g_object_unref (cancellable);
  sora_engine_free (engine);
}

/* sora_engine_get_causal: nothing for a clip model, the config's chunk,
 * window and sink for a causal one. */
static void
test_causal_settings (void)
{
  g_autofree char *base = sora_test_fixture ("wan-tiny");
  g_autofree char *dir = sora_test_folder_with_config (base,
      "\"_sora_causal\": {\"chunk_frames\": 2, \"window_frames\": 6, "
      "\"sink_frames\": 4, \"steps\": [1000, 500]}");
  SoraEngine *clip = sora_test_open_tiny ();
  GError *error = NULL;
  SoraEngine *causal = sora_engine_open (dir, NULL, NULL, &error);
  guint chunk = 0, window = 0, sink = 0;

  g_assert_no_error (error);
  g_assert_false (sora_engine_get_causal (clip, &chunk, &window, &sink));
  g_assert_cmpuint (chunk, ==, 0);
  g_assert_true (sora_engine_get_causal (causal, &chunk, &window, &sink));
  g_assert_cmpuint (chunk, ==, 2);
  g_assert_cmpuint (window, ==, 6);
  g_assert_cmpuint (sink, ==, 4);
  g_assert_true (sora_engine_get_causal (causal, NULL, NULL, NULL));
  sora_engine_free (clip);
  sora_engine_free (causal);
  sora_test_remove_config_folder (dir);
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
  g_test_add_func ("/generate/compile-once", test_compile_once);
  g_test_add_func ("/generate/memory-check", test_memory_check);
  g_test_add_func ("/generate/allocations", test_allocations);
  g_test_add_func (
      "/generate/text-encoder-streaming", test_text_encoder_streaming);
  g_test_add_func ("/generate/cancel", test_cancel);
  g_test_add_func ("/generate/missing-model", test_missing_model);
  g_test_add_func ("/generate/causal-settings", test_causal_settings);
  return sora_test_run ();
}
