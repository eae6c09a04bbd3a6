/* gst-sora tests: Wan2.1's real sizes on a model of Wan's extents with tiny
 * widths (tests/fixtures/wan-tiny-real-extents, tools/make_fixtures.py):
 * one-step generation at 832x480x81, 1280x720x17, 1920x1088x5 and a
 * 16x1088 strip, and a VAE decode at 832x480, each against diffusers on
 * the same inputs.  The outputs are too big to commit, so the references
 * keep every stride-th value (make_fixtures.py's sampled); every value is
 * checked to be finite and clamped.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include "sora-recipe.h"
#include "sora-test-engine.h"

#define PIPELINE_REF "real-extents-pipeline.safetensors"
#define VAE_REF "real-extents-vae.safetensors"
/* make_fixtures.py REAL_SCALE: unit-variance uniform inputs */
#define INPUT_SCALE 1.75f

static SoraEngine *engine;

static SoraEngine *
real_engine (void)
{
  if (engine == NULL)
    engine = sora_test_open_fixture ("wan-tiny-real-extents");
  return engine;
}

/* A decode's output as it streams by, in chunks of [3, n, H, W] f32 and
 * their RGB pixels: every value checked to be clamped and its pixel to be
 * its rounding (within 1, for ties), so no part of a big frame is left
 * unwritten, and the values at the reference's sample positions kept
 * (flat positions in diffusers' layout: [F, H, W, 3] in [0, 1] for the
 * pipeline's "np" frames, [3, F, H, W] in [-1, 1] for the VAE's). */
typedef struct
{
  gboolean np;
  guint width, height, frames; /* expected */
  guint seen, chunks, steps;
  gsize stride;
  float *samples;
} Sampler;

static gsize
flat_index (const Sampler *s, guint ch, guint t, gsize yx)
{
  gsize plane = (gsize)s->width * s->height;

  return s->np ? ((gsize)t * plane + yx) * 3 + ch
               : ((gsize)ch * s->frames + t) * plane + yx;
}

static gboolean
sample_chunk (SoraTensor *frames, const guint8 *pixels, guint n, guint width,
    guint height, gpointer user_data)
{
  Sampler *s = user_data;
  gsize plane = (gsize)width * height;
  float *f = sora_test_download (frames);

  g_assert_cmpuint (width, ==, s->width);
  g_assert_cmpuint (height, ==, s->height);
  /* 1 frame, then 4 per latent frame */
  g_assert_cmpuint (n, ==, s->chunks == 0 ? 1 : 4);
  g_assert_cmpuint (s->seen + n, <=, s->frames);
  for (guint ch = 0; ch < 3; ch++)
    for (guint t = 0; t < n; t++)
      for (gsize yx = 0; yx < plane; yx++) {
        float v = f[((gsize)ch * n + t) * plane + yx];
        gsize i = flat_index (s, ch, s->seen + t, yx);
        int byte = pixels[((gsize)t * plane + yx) * 3 + ch];

        if (!(v >= -1.0f && v <= 1.0f) ||
            ABS (byte - floor ((v + 1.0) * 0.5 * 255.0 + 0.5)) > 1)
          g_error ("frame %u channel %u pixel %" G_GSIZE_FORMAT
                   ": %g as %d, not a clamped value and its byte",
              s->seen + t, ch, yx, v, byte);
        if (i % s->stride == 0)
          s->samples[i / s->stride] = s->np ? v / 2 + 0.5f : v;
      }
  s->seen += n;
  s->chunks++;
  g_free (f);
  return TRUE;
}

static gboolean
count_step (guint step, guint total, double seconds, gpointer user_data)
{
  Sampler *s = user_data;

  g_assert_cmpuint (step, ==, s->steps + 1);
  s->steps = step;
  return TRUE;
}

/* The reference's samples of @key, @s set up to take the same ones. */
static double *
sampler_init (Sampler *s, const char *file, const char *key, gboolean np,
    guint width, guint height, guint frames, gsize *n)
{
  char *name = g_strdup_printf ("%s/stride", key);
  gsize one;
  double *stride = sora_test_reference (file, name, &one), *want;

  memset (s, 0, sizeof (*s));
  s->np = np;
  s->width = width;
  s->height = height;
  s->frames = frames;
  s->stride = (gsize)stride[0];
  g_free (name);
  name = g_strdup_printf ("%s/samples", key);
  want = sora_test_reference (file, name, n);
  g_assert_cmpuint (
      *n, ==, ((gsize)3 * width * height * frames + s->stride - 1) / s->stride);
  s->samples = g_new0 (float, *n);
  g_free (name);
  g_free (stride);
  return want;
}

/* make_fixtures.py recipe_tensor: @n inputs named @name. */
static float *
recipe_input (const char *name, gsize n)
{
  float *v = g_new (float, n);

  sora_recipe_values (name, INPUT_SCALE, 0.0f, v, n);
  return v;
}

typedef struct
{
  guint width, height, frames;
} Size;

/* WanPipeline's frames at @size, one UniPC step without guidance from the
 * recipe's latents, against the engine's: 1e-4 relative L2 (f32 on both
 * sides; one step and one block add little to the VAE's ~40 convs, so the
 * bound of /vae/decode; ~1e-6 on PoCL). */
static void
test_generate (gconstpointer data)
{
  const Size *size = data;
  SoraGenerateParams p = {
    .prompt = "a red fox in snow",
    .steps = 1,
    .guidance_scale = 1.0,
    .scheduler = SORA_SCHEDULER_UNIPC,
    .width = size->width,
    .height = size->height,
    .frames = size->frames,
    .format = SORA_PIXEL_RGB,
  };
  char *key = g_strdup_printf ("%ux%ux%u", p.width, p.height, p.frames);
  char *name = g_strdup_printf ("real/%s", key);
  guint latent_frames = (p.frames - 1) / 4 + 1;
  gsize n_latents = (gsize)16 * latent_frames * (p.height / 8) * (p.width / 8);
  float *latents = recipe_input (name, n_latents);
  GError *error = NULL;
  gint64 start;
  Sampler s;
  gsize n;
  double *want = sampler_init (
      &s, PIPELINE_REF, key, TRUE, p.width, p.height, p.frames, &n);

  start = g_get_monotonic_time ();
  g_assert_true (sora_engine_run (real_engine (), &p, 16, latents, count_step,
      sample_chunk, &s, NULL, &error));
  g_assert_no_error (error);
  g_test_message (
      "%s: generated in %.1f s", key, (g_get_monotonic_time () - start) / 1e6);
  g_assert_cmpuint (s.steps, ==, 1);
  g_assert_cmpuint (s.seen, ==, p.frames);
  g_assert_cmpuint (s.chunks, ==, latent_frames);
  sora_assert_close (s.samples, want, n, 1e-4, "frames against WanPipeline");

  g_free (s.samples);
  g_free (want);
  g_free (latents);
  g_free (name);
  g_free (key);
}

/* AutoencoderKLWan's decode of 2 latent frames at 832x480 against the
 * engine's: 1e-4 relative L2 (the f32 bound of /vae/decode). */
static void
test_vae_decode (void)
{
  const guint width = 832, height = 480, frames = 5;
  SoraEngine *e = real_engine ();
  gsize n_latents = (gsize)16 * 2 * (height / 8) * (width / 8), n;
  float *latents = recipe_input ("real/vae/832x480x5", n_latents);
  GError *error = NULL;
  SoraTensor *z =
      sora_tensor_new_v (sora_engine_get_device (e), "latents", SORA_DTYPE_F32,
          &error, 4, (gsize)16, (gsize)2, (gsize)height / 8, (gsize)width / 8);
  Sampler s;
  double *want =
      sampler_init (&s, VAE_REF, "832x480x5", FALSE, width, height, frames, &n);

  g_assert_no_error (error);
  g_assert_true (sora_tensor_write (z, latents, &error));
  g_assert_true (sora_test_vae_decode (
      sora_engine_get_vae (e), z, sample_chunk, &s, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (s.seen, ==, frames);
  sora_assert_close (s.samples, want, n, 1e-4, "decode against diffusers");

  sora_tensor_free (z);
  g_free (s.samples);
  g_free (want);
  g_free (latents);
}

static const Size sizes[] = {
  { 832, 480, 81 },
  { 1280, 720, 17 },
  { 1920, 1088, 5 },
  { 16, 1088, 5 },
};

int
main (int argc, char **argv)
{
  int ret;

  sora_test_init (&argc, &argv);
  g_test_add_func ("/real-extents/vae-decode/832x480x5", test_vae_decode);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
    char *path = g_strdup_printf ("/real-extents/generate/%ux%ux%u",
        sizes[i].width, sizes[i].height, sizes[i].frames);

    g_test_add_data_func (path, &sizes[i], test_generate);
    g_free (path);
  }
  ret = g_test_run ();
  g_clear_pointer (&engine, sora_engine_free);
  return ret;
}
