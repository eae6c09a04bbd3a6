/* gst-sora tests: what the stream tests share (test-stream.h): the causal
 * fixture, and the sampling loop of the causal spec written out on the host
 * (double precision between the DiT's forwards) with its own KV cache
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-stream.h"

#include "sora-noise.h"

SoraEngine *causal;

SoraGenerateParams
stream_params (const char *prompt)
{
  SoraGenerateParams p = { 0 };

  p.prompt = prompt;
  p.seed = SEED;
  p.width = p.height = SIZE;
  p.format = SORA_PIXEL_RGB;
  return p;
}

const SoraWanCausalConfig *
causal_config (void)
{
  return &sora_wan_dit_get_config (sora_engine_get_dit (causal))->causal;
}

/* Latent elements of one chunk. */
gsize
chunk_numel (void)
{
  const SoraWanTransformerConfig *tc =
      sora_wan_dit_get_config (sora_engine_get_dit (causal));

  return (gsize)tc->in_channels * tc->causal.chunk_frames * (SIZE / 8) *
      (SIZE / 8);
}

/* @host on the engine's device. */
SoraTensor *
upload (const float *host, guint ndim, const gsize *shape)
{
  GError *error = NULL;
  SoraTensor *t = sora_tensor_new (sora_engine_get_device (causal),
      "test latents", SORA_DTYPE_F32, ndim, shape, &error);

  g_assert_no_error (error);
  g_assert_true (sora_tensor_write (t, host, &error));
  g_assert_no_error (error);
  return t;
}

static SoraTensor *
upload_chunk (const double *x)
{
  const SoraWanTransformerConfig *tc =
      sora_wan_dit_get_config (sora_engine_get_dit (causal));
  gsize n = chunk_numel ();
  float *f = g_new (float, n);
  gsize shape[5] = { 1, tc->in_channels, tc->causal.chunk_frames, SIZE / 8,
    SIZE / 8 };
  SoraTensor *t;

  for (gsize i = 0; i < n; i++)
    f[i] = (float)x[i];
  t = upload (f, 5, shape);
  g_free (f);
  return t;
}

/* The DiT's prediction for @x at timestep @t: the plain forward when
 * @cache is NULL, else the chunk forward at @pos (writing with @write). */
static double *
predict (SoraWanDitCache *cache, SoraTensor *text, const double *x, gsize pos,
    double t, gboolean write)
{
  SoraWanDit *dit = sora_engine_get_dit (causal);
  SoraTensor *in = upload_chunk (x), *v;
  float ts[1] = { (float)t };
  GError *error = NULL;
  float *f;
  double *out;
  gsize n = chunk_numel ();

  if (cache)
    v = sora_wan_dit_forward_chunk (
        dit, cache, in, pos, ts, write, NULL, NULL, &error);
  else
    v = sora_wan_dit_forward (dit, in, ts, text, NULL, NULL, &error);
  g_assert_no_error (error);
  f = sora_test_download (v);
  out = g_new (double, n);
  for (gsize i = 0; i < n; i++)
    out[i] = f[i];
  g_free (f);
  sora_tensor_free (v);
  sora_tensor_free (in);
  return out;
}

static double *
noise (guint64 chunk, guint draw)
{
  gsize n = chunk_numel ();
  float *f = g_new (float, n);
  double *d = g_new (double, n);

  sora_noise_normal_stream (SEED, chunk, draw, f, n);
  for (gsize i = 0; i < n; i++)
    d[i] = f[i];
  g_free (f);
  return d;
}

static double
sigma_of (double step)
{
  double shift = causal_config ()->shift, u = step / 1000.0;

  return shift * u / (1.0 + (shift - 1.0) * u);
}

/* Chunk @chunk's clean latents by the spec: noise draw 0, then at each step
 * x0 = x − σ·v, re-noised with the next draw to the next σ. */
double *
reference_chunk (
    SoraWanDitCache *cache, SoraTensor *text, guint64 chunk, gsize pos)
{
  const SoraWanCausalConfig *c = causal_config ();
  gsize n = chunk_numel ();
  double *x = noise (chunk, 0);

  for (guint i = 0; i < c->n_steps; i++) {
    double sigma = sigma_of (c->steps[i]);
    double *v = predict (cache, text, x, pos, 1000 * sigma, FALSE);

    for (gsize e = 0; e < n; e++)
      x[e] -= sigma * v[e];
    g_free (v);
    if (i + 1 < c->n_steps) {
      double next = sigma_of (c->steps[i + 1]);
      double *z = noise (chunk, i + 1);

      for (gsize e = 0; e < n; e++)
        x[e] = (1 - next) * x[e] + next * z[e];
      g_free (z);
    }
  }
  return x;
}

/* Writes chunk @chunk's K/V from its clean latents @x0 at the context
 * timestep (noised with draw n_steps above 0). */
void
reference_context (
    SoraWanDitCache *cache, guint64 chunk, gsize pos, const double *x0)
{
  const SoraWanCausalConfig *c = causal_config ();
  double t = c->context_timestep, s = t / 1000.0;
  double *z = noise (chunk, c->n_steps), *x = g_new (double, chunk_numel ());

  for (gsize e = 0; e < chunk_numel (); e++)
    x[e] = (1 - s) * x0[e] + s * z[e];
  g_free (predict (cache, NULL, x, pos, t, TRUE));
  g_free (z);
  g_free (x);
}

SoraTensor *
text_of (const char *prompt)
{
  GError *error = NULL;
  SoraTensor *text =
      sora_engine_encode_text (causal, prompt, "", FALSE, TEXT_LENGTH, &error);

  g_assert_no_error (error);
  return text;
}

SoraWanDitCache *
reference_cache (const char *prompt)
{
  GError *error = NULL;
  SoraWanDitCache *cache = sora_wan_dit_cache_new (
      sora_engine_get_dit (causal), NULL, 1, SIZE / 8, SIZE / 8, 64, &error);

  g_assert_no_error (error);
  g_assert_true (sora_wan_dit_cache_set_text (cache, text_of (prompt), &error));
  g_assert_no_error (error);
  return cache;
}

/* Whether chunk @k is attended by chunk @next (the sink, or in the
 * window). */
gboolean
attended (guint64 k, guint64 next)
{
  const SoraWanCausalConfig *c = causal_config ();

  return k * c->chunk_frames < c->sink_frames || c->window_frames == 0 ||
      k * c->chunk_frames + c->window_frames >= (next + 1) * c->chunk_frames;
}

/* The chunk just made is always kept. */
void
assert_chunk (SoraStream *stream, guint64 chunk, const double *want)
{
  float *got = sora_test_download (sora_stream_get_latents (stream, chunk));
  char *what = g_strdup_printf ("chunk %" G_GUINT64_FORMAT, chunk);

  /* f32 on the device against double between forwards: rounding of the
   * lincombs, amplified by the following forwards of the tiny model. */
  sora_assert_close (got, want, chunk_numel (), 1e-5, what);
  g_free (what);
  g_free (got);
}

gboolean
collect (SoraTensor *frames, const guint8 *pixels, guint n, guint width,
    guint height, gpointer user_data)
{
  Frames *f = user_data;
  float *host = sora_test_download (frames);

  g_array_append_vals (f->frames, host, frames->numel);
  g_array_append_val (f->sizes, n);
  g_free (host);
  return TRUE;
}

void
frames_clear (Frames *f)
{
  g_array_unref (f->frames);
  g_array_unref (f->sizes);
}
