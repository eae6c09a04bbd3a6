/* gst-sora tests: live generation with a causal model (sora-stream.c)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * On the tiny causal fixture (tests/fixtures/wan-tiny-causal).  The stream's
 * chunks are checked against the sampling loop of the causal spec written
 * out here on the host (double precision between the DiT's forwards), with
 * its own KV cache; frames against one VAE decode of all the chunks.
 */
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

#include "sora-safetensors.h"
#include "test-stream.h"

/* Chunks 0..N-1 with prompt A, then a switch to B: each chunk equals the
 * spec's loop; chunk 0 runs on the plain forward (the single-chunk path is
 * today's forward), and the switched chunk on a fresh cache built from the
 * attended chunks with B's text (LongLive's re-cache). */
static void
test_reference (void)
{
  const guint n = 4, total = 6;
  SoraGenerateParams p = stream_params ("a red circle");
  GError *error = NULL;
  SoraStream *stream = sora_stream_new_full (causal, &p, TEXT_LENGTH, &error);
  SoraWanDitCache *cache;
  double *x0[6] = { NULL };
  guint cf = causal_config ()->chunk_frames;

  /* positions as made: no RoPE rebase within these chunks */
  g_assert_cmpuint (total * causal_config ()->chunk_frames, <=,
      sora_wan_dit_get_config (sora_engine_get_dit (causal))->rope_max_seq_len);
  g_assert_no_error (error);
  cache = reference_cache ("a red circle");
  for (guint c = 0; c < total; c++) {
    if (c == n)
      sora_stream_set_prompt (stream, "a blue square");
    g_assert_true (
        sora_stream_run_next (stream, NULL, NULL, NULL, NULL, &error));
    g_assert_no_error (error);
    if (c == n) {
      sora_wan_dit_cache_free (cache);
      cache = reference_cache ("a blue square");
      for (guint k = 0; k < c; k++)
        if (attended (k, c))
          reference_context (cache, k, k * cf, x0[k]);
    }
    x0[c] = reference_chunk (c == 0 ? NULL : cache,
        text_of (c < n ? "a red circle" : "a blue square"), c, c * cf);
    assert_chunk (stream, c, x0[c]);
    reference_context (cache, c, c * cf, x0[c]);
  }
  for (guint c = 0; c < total; c++)
    g_free (x0[c]);
  sora_wan_dit_cache_free (cache);
  sora_stream_free (stream);
}

static double *
download_chunk (SoraStream *stream, guint64 chunk)
{
  float *f = sora_test_download (sora_stream_get_latents (stream, chunk));
  double *d = g_new (double, chunk_numel ());

  for (gsize i = 0; i < chunk_numel (); i++)
    d[i] = f[i];
  g_free (f);
  return d;
}

/* The first chunk whose frames pass RoPE's positions is made with the
 * window's chunks moved back next to the sink: the spec's loop on a cache
 * of the sink at its positions and the window's chunks right after it. */
static void
test_rebase (void)
{
  const SoraWanCausalConfig *c = causal_config ();
  guint cf = c->chunk_frames, sink = c->sink_frames / cf;
  guint rope =
      sora_wan_dit_get_config (sora_engine_get_dit (causal))->rope_max_seq_len;
  guint r = rope / cf; /* the first chunk past the positions */
  guint window = (c->window_frames - cf) / cf; /* chunks attended before */
  SoraGenerateParams p = stream_params ("a red circle");
  GError *error = NULL;
  SoraStream *stream = sora_stream_new_full (causal, &p, TEXT_LENGTH, &error);
  SoraWanDitCache *cache = reference_cache ("a red circle");
  double *want;

  g_assert_no_error (error);
  g_assert_cmpuint (c->window_frames, >, 0);
  for (guint k = 0; k < r; k++)
    g_assert_true (
        sora_stream_run_next (stream, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  for (guint k = 0; k < sink; k++) {
    double *x = download_chunk (stream, k);
    reference_context (cache, k, k * cf, x);
    g_free (x);
  }
  for (guint j = 0; j < window; j++) {
    double *x = download_chunk (stream, r - window + j);
    reference_context (cache, r - window + j, (sink + j) * cf, x);
    g_free (x);
  }
  g_assert_true (sora_stream_run_next (stream, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  want = reference_chunk (cache, NULL, r, (sink + window) * cf);
  assert_chunk (stream, r, want);
  g_free (want);
  sora_wan_dit_cache_free (cache);
  sora_stream_free (stream);
}

/* Frames of @chunks chunks of a stream of @seed, and each chunk's clean
 * latents appended to @latents [C, F, h, w] order (when not NULL). */
static Frames
run_stream (guint64 seed, guint chunks, GArray *latents)
{
  SoraGenerateParams p = stream_params ("a red circle");
  Frames f = { g_array_new (FALSE, FALSE, sizeof (float)),
    g_array_new (FALSE, FALSE, sizeof (guint)) };
  GError *error = NULL;
  SoraStream *stream;

  p.seed = seed;
  stream = sora_stream_new_full (causal, &p, TEXT_LENGTH, &error);
  g_assert_no_error (error);
  for (guint c = 0; c < chunks; c++) {
    g_assert_true (
        sora_stream_run_next (stream, NULL, collect, &f, NULL, &error));
    g_assert_no_error (error);
    if (latents) {
      float *x = sora_test_download (sora_stream_get_latents (stream, c));
      g_array_append_vals (latents, x, chunk_numel ());
      g_free (x);
    }
  }
  g_assert_cmpuint (sora_stream_get_chunks (stream), ==, chunks);
  sora_stream_free (stream);
  return f;
}

/* Each chunk's frames come as the streaming decode of its latents from the
 * last chunk's decoder state: the same as one decode of all of them, 1 +
 * 4(n − 1) frames for the first chunk and 4n later. */
static void
test_frames (void)
{
  const SoraWanCausalConfig *c = causal_config ();
  const guint chunks = 3;
  GArray *latents = g_array_new (FALSE, FALSE, sizeof (float));
  Frames f = run_stream (SEED, chunks, latents);
  const SoraWanTransformerConfig *tc =
      sora_wan_dit_get_config (sora_engine_get_dit (causal));
  gsize plane = (SIZE / 8) * (SIZE / 8), fc = c->chunk_frames;
  gsize all = chunks * fc;
  float *video = g_new (float, tc->in_channels *all *plane);
  Frames whole = { g_array_new (FALSE, FALSE, sizeof (float)),
    g_array_new (FALSE, FALSE, sizeof (guint)) };
  SoraTensor *t;
  GError *error = NULL;
  double *want;
  guint total = 0;

  for (guint i = 0; i < f.sizes->len; i++)
    total += g_array_index (f.sizes, guint, i);
  g_assert_cmpuint (total, ==, 1 + 4 * (fc - 1) + 4 * fc * (chunks - 1));
  /* [chunk][C][fc][plane] -> [C][chunk·fc][plane] */
  for (gsize k = 0; k < chunks; k++)
    for (gsize ch = 0; ch < tc->in_channels; ch++)
      memcpy (video + (ch * all + k * fc) * plane,
          &g_array_index (
              latents, float, (k * tc->in_channels + ch) * fc * plane),
          fc * plane * sizeof (float));
  t = upload (video, 4, (gsize[]){ tc->in_channels, all, SIZE / 8, SIZE / 8 });
  g_assert_true (sora_test_vae_decode (
      sora_engine_get_vae (causal), t, collect, &whole, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (whole.frames->len, ==, f.frames->len);
  want = g_new (double, whole.frames->len);
  for (guint i = 0; i < whole.frames->len; i++)
    want[i] = g_array_index (whole.frames, float, i);
  /* one decode split at latent frames makes the same frames */
  sora_assert_close ((float *)f.frames->data, want, f.frames->len, 1e-6,
      "streamed frames against one decode");
  g_free (want);
  sora_tensor_free (t);
  g_free (video);
  g_array_unref (latents);
  frames_clear (&f);
  frames_clear (&whole);
}

/* The same seed gives the same frames; another seed others. */
static void
test_determinism (void)
{
  Frames a = run_stream (SEED, 2, NULL), b = run_stream (SEED, 2, NULL);
  Frames c = run_stream (SEED + 1, 2, NULL);

  g_assert_cmpmem (
      a.frames->data, a.frames->len * 4, b.frames->data, b.frames->len * 4);
  g_assert_cmpint (
      memcmp (a.frames->data, c.frames->data, a.frames->len * 4), !=, 0);
  frames_clear (&a);
  frames_clear (&b);
  frames_clear (&c);
}

typedef struct
{
  GArray *sizes;
  guint total;
  guint step, total_steps; /* the last progress call's */
} SoraCollect;

static gboolean
count_steps (guint step, guint total, double seconds, gpointer user_data)
{
  SoraCollect *c = user_data;

  g_assert_cmpuint (step, ==, c->step + 1);
  c->step = step;
  c->total_steps = total;
  return TRUE;
}

static gboolean
count_frames (const guint8 *pixels, guint n, guint width, guint height,
    gpointer user_data)
{
  SoraCollect *c = user_data;

  g_array_append_val (c->sizes, n);
  c->total += n;
  return TRUE;
}

static gboolean
cancel_at_step (guint step, guint total, double seconds, gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return TRUE;
}

/* A cancel stops the chunk with SORA_ERROR_CANCELLED, and the stream will
 * not go on. */
static void
test_cancel (void)
{
  SoraGenerateParams p = stream_params ("a red circle");
  GCancellable *cancellable = g_cancellable_new ();
  GError *error = NULL;
  SoraStream *stream = sora_stream_new_full (causal, &p, TEXT_LENGTH, &error);

  g_assert_no_error (error);
  g_assert_false (sora_stream_run_next (
      stream, cancel_at_step, NULL, cancellable, cancellable, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpuint (sora_stream_get_chunks (stream), ==, 0);
  g_assert_false (
      sora_stream_run_next (stream, NULL, NULL, NULL, NULL, &error));
  sora_test_assert_error_names (&error, "cannot go on");
  sora_stream_free (stream);
  g_object_unref (cancellable);
}

/* A stream primed with a video goes on from its encoded latents: the
 * attended chunks of the encode are in the cache at positions from 0, and
 * the next chunk is the spec's loop on that cache.  sora_engine_extend
 * with a causal model hands on exactly the frames asked for. */
static void
test_prime (void)
{
  const SoraWanCausalConfig *c = causal_config ();
  SoraGenerateParams p = stream_params ("a red circle");
  guint n_frames = 30, cf = c->chunk_frames;
  gsize frame = SIZE * SIZE * 3, plane = (SIZE / 8) * (SIZE / 8);
  guint8 *video = g_malloc (n_frames * frame);
  GError *error = NULL;
  SoraStream *stream = sora_stream_new_full (causal, &p, TEXT_LENGTH, &error);
  SoraTensor *z;
  SoraWanDitCache *cache;
  float *zh;
  guint m;
  double *want;

  for (gsize i = 0; i < n_frames * frame; i++)
    video[i] = (guint8)g_test_rand_int_range (0, 256);
  g_assert_no_error (error);
  /* too few frames for a chunk */
  g_assert_false (
      sora_stream_prime (stream, video, 1 + 4 * (cf - 1) - 1, NULL, &error));
  sora_test_assert_error_names (&error, "at least");
  g_assert_true (sora_stream_prime (stream, video, n_frames, NULL, &error));
  g_assert_no_error (error);
  /* 30 frames make 8 latent frames: 4 chunks, of which the next attends
   * the sink and its window's */
  m = MIN ((1 + (n_frames - 1) / 4) / cf,
      (c->sink_frames + c->window_frames) / cf - 1);
  g_assert_cmpuint (sora_stream_get_chunks (stream), ==, m);
  g_assert_true (sora_stream_run_next (stream, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  z = sora_engine_encode_context (
      causal, &p, video, n_frames, m * cf, NULL, &error);
  g_assert_no_error (error);
  zh = sora_test_download (z);
  cache = reference_cache ("a red circle");
  for (guint k = 0; k < m; k++) {
    double *x = g_new (double, chunk_numel ());

    /* [C][m·cf][plane] -> chunk k's [C][cf][plane] */
    for (gsize ch = 0; ch < z->shape[0]; ch++)
      for (gsize i = 0; i < cf * plane; i++)
        x[ch * cf * plane + i] = zh[(ch * m * cf + k * cf) * plane + i];
    if (attended (k, m))
      reference_context (cache, k, k * cf, x);
    g_free (x);
  }
  want = reference_chunk (cache, NULL, m, m * cf);
  assert_chunk (stream, m, want);

  /* through sora_engine_extend: 12 and 16 new frames, in chunks of 4·cf
   * (the primed stream's first makes a whole chunk's frames, where a new
   * stream's makes 3 fewer); its steps, those of the chunks, known before
   * it starts */
  for (guint n_new = 12; n_new <= 16; n_new += 4) {
    SoraCollect collected = { g_array_new (FALSE, FALSE, sizeof (guint)) };

    p.frames = n_new;
    g_assert_true (sora_engine_extend (causal, &p, video, n_frames, count_steps,
        count_frames, &collected, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (collected.total, ==, n_new);
    g_assert_cmpuint (collected.step, ==,
        (n_new + 4 * cf - 1) / (4 * cf) * sora_stream_get_steps (stream));
    g_assert_cmpuint (collected.total_steps, ==, collected.step);
    g_assert_cmpuint (
        sora_engine_extend_steps (causal, &p), ==, collected.step);
    g_array_unref (collected.sizes);
  }

  g_free (want);
  g_free (zh);
  sora_tensor_free (z);
  sora_wan_dit_cache_free (cache);
  sora_stream_free (stream);
  g_free (video);
}

static gboolean
append_frames (const guint8 *pixels, guint n, guint width, guint height,
    gpointer user_data)
{
  g_byte_array_append (user_data, pixels, n * width * height * 3);
  return TRUE;
}

/* 12 new frames of sora_engine_extend from @n frames of @video. */
static GByteArray *
extend_from (const guint8 *video, guint n)
{
  SoraGenerateParams p = stream_params ("a red circle");
  GByteArray *out = g_byte_array_new ();
  GError *error = NULL;

  p.frames = 12;
  g_assert_true (sora_engine_extend (
      causal, &p, video, n, NULL, append_frames, out, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out->len, ==, 12 * SIZE * SIZE * 3);
  return out;
}

/* A causal model extends a picture, or a video shorter than a chunk's
 * 1 + 4·(cf − 1) frames, as the video led in by its first frame held: the
 * same frames as from that still start given in full. */
static void
test_extend_short (void)
{
  guint need = 1 + 4 * (causal_config ()->chunk_frames - 1);
  gsize frame = SIZE * SIZE * 3;
  guint8 *video = g_malloc (need * frame), *held = g_malloc (need * frame);

  for (gsize i = 0; i < need * frame; i++)
    video[i] = (guint8)g_test_rand_int_range (0, 256);
  for (guint n = 1; n < need; n += need - 2) {
    GByteArray *got, *want;

    for (guint i = 0; i < need; i++)
      memcpy (held + i * frame,
          video + (i < need - n ? 0 : i - (need - n)) * frame, frame);
    got = extend_from (video, n);
    want = extend_from (held, need);
    g_assert_cmpmem (got->data, got->len, want->data, want->len);
    g_byte_array_unref (got);
    g_byte_array_unref (want);
  }
  g_free (video);
  g_free (held);
}

#define REFERENCE "tiny-causal-stream.safetensors"

/* The prompt taking effect at chunk @c in the reference's "prompts"
 * metadata ({"0": "...", "3": "..."}), or NULL. */
static char *
reference_prompt (JsonObject *prompts, guint c)
{
  char *key = g_strdup_printf ("%u", c);
  char *prompt = json_object_has_member (prompts, key)
      ? g_strdup (json_object_get_string_member (prompts, key))
      : NULL;

  g_free (key);
  return prompt;
}

static JsonObject *
reference_metadata (const char *path, guint64 *seed, guint *chunks,
    guint *width, guint *height, JsonParser *parser)
{
  GError *error = NULL;
  SoraSafetensors *st = sora_safetensors_open (path, &error);

  g_assert_no_error (error);
  *seed =
      g_ascii_strtoull (sora_safetensors_get_metadata (st, "seed"), NULL, 10);
  *chunks = atoi (sora_safetensors_get_metadata (st, "chunks"));
  *width = atoi (sora_safetensors_get_metadata (st, "width"));
  *height = atoi (sora_safetensors_get_metadata (st, "height"));
  g_assert_true (json_parser_load_from_data (
      parser, sora_safetensors_get_metadata (st, "prompts"), -1, &error));
  g_assert_no_error (error);
  sora_safetensors_free (st);
  return json_node_get_object (json_parser_get_root (parser));
}

/* The stream against tools/causal_reference.py (diffusers' transformer
 * under the block-causal mask, the whole loop in PyTorch, a prompt switch
 * included; tests/fixtures/reference/tiny-causal-stream.safetensors): the same
 * clean latents and decoded frames, within f32 rounding summed in another
 * order, carried through every chunk's steps and the VAE. */
static void
test_pytorch_reference (void)
{
  char *rel = g_build_filename ("reference", REFERENCE, NULL);
  char *path = sora_test_fixture (rel);
  JsonParser *parser = json_parser_new ();
  JsonObject *prompts;
  SoraGenerateParams p = { 0 };
  SoraTestCollected got;
  SoraStream *stream;
  GError *error = NULL;
  double *latents, *frames;
  gsize n_latents, n_frames;
  guint chunks;

  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_test_skip ("no " REFERENCE " (python3 tools/make_fixtures.py "
                 "causal-stream writes it)");
    goto out;
  }
  prompts =
      reference_metadata (path, &p.seed, &chunks, &p.width, &p.height, parser);
  p.prompt = reference_prompt (prompts, 0);
  p.format = SORA_PIXEL_RGB;
  stream = sora_stream_new (causal, &p, &error);
  g_assert_no_error (error);
  g_free ((char *)p.prompt);
  sora_test_collected_init (&got, SORA_PIXEL_RGB);
  latents = sora_test_reference (REFERENCE, "latents", &n_latents);
  frames = sora_test_reference (REFERENCE, "frames", &n_frames);
  for (guint c = 0; c < chunks; c++) {
    char *prompt = reference_prompt (prompts, c);
    gsize cf = causal_config ()->chunk_frames;
    gsize plane = (p.height / 8) * (p.width / 8);
    gsize channels = n_latents / (chunks * cf * plane);
    double *want = g_new (double, channels *cf *plane);
    float *x;

    if (prompt && c > 0)
      sora_stream_set_prompt (stream, prompt);
    g_free (prompt);
    g_assert_true (sora_stream_run_next (
        stream, NULL, sora_test_collect_chunk, &got, NULL, &error));
    g_assert_no_error (error);
    /* reference [1, C, chunks·cf, h, w] -> chunk c's [1, C, cf, h, w] */
    for (gsize ch = 0; ch < channels; ch++)
      for (gsize i = 0; i < cf * plane; i++)
        want[ch * cf * plane + i] =
            latents[(ch * chunks * cf + c * cf) * plane + i];
    x = sora_test_download (sora_stream_get_latents (stream, c));
    /* f32 on both sides in other orders, through 4 steps a chunk and the
     * cache: 1e-5 (measured 1.5e-6) */
    sora_assert_close (x, want, channels * cf * plane, 1e-5, "chunk latents");
    g_free (x);
    g_free (want);
  }
  g_assert_cmpuint (got.frames->len, ==, n_frames);
  sora_assert_close (
      (float *)got.frames->data, frames, n_frames, 1e-4, "frames");
  g_free (latents);
  g_free (frames);
  sora_test_collected_clear (&got);
  sora_stream_free (stream);

out:
  g_object_unref (parser);
  g_free (path);
  g_free (rel);
}

static gboolean
append_pixels (const guint8 *pixels, guint n, guint width, guint height,
    gpointer user_data)
{
  g_byte_array_append (user_data, pixels,
      n * sora_pixel_frame_size (SORA_PIXEL_RGB, width, height));
  return TRUE;
}

/* sora_engine_generate with a causal model is a stream's first frames:
 * 9 frames, the second chunk cut. */
static void
test_generate (void)
{
  SoraGenerateParams p = stream_params ("a red circle");
  gsize frame = sora_pixel_frame_size (SORA_PIXEL_RGB, SIZE, SIZE);
  GByteArray *clip = g_byte_array_new (), *streamed = g_byte_array_new ();
  GError *error = NULL;
  SoraStream *stream;

  p.frames = 9;
  g_assert_true (sora_engine_generate (
      causal, &p, NULL, append_pixels, clip, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (clip->len, ==, 9 * frame);
  stream = sora_stream_new (causal, &p, &error);
  g_assert_no_error (error);
  while (streamed->len < clip->len) {
    g_assert_true (
        sora_stream_next (stream, NULL, append_pixels, streamed, NULL, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpmem (clip->data, clip->len, streamed->data, clip->len);
  sora_stream_free (stream);
  g_byte_array_unref (clip);
  g_byte_array_unref (streamed);
}

/* Mean absolute difference of frames @a and @b, in pixel levels. */
static double
frame_step (const guint8 *a, const guint8 *b, gsize frame)
{
  double sum = 0;

  for (gsize i = 0; i < frame; i++)
    sum += ABS ((int)a[i] - (int)b[i]);
  return sum / frame;
}

/* sora_engine_continue with a causal model goes on with the last video's
 * stream: generate 9 frames, then continue by 12, 4 and 8 (the frames of a
 * chunk cut at a count come first in the next continue) gives exactly the
 * first 33 frames of one stream, so no seam jumps more than the stream
 * does.  Without a last video, or at another size, it fails. */
static void
test_continue (void)
{
  static const guint counts[] = { 9, 12, 4, 8 };
  SoraGenerateParams p = stream_params ("a red circle");
  gsize frame = sora_pixel_frame_size (SORA_PIXEL_RGB, SIZE, SIZE);
  GByteArray *made = g_byte_array_new (), *streamed = g_byte_array_new ();
  SoraEngine *fresh = sora_test_open_fixture ("wan-tiny-causal");
  GError *error = NULL;
  SoraStream *stream;
  guint total = 0;

  p.frames = 4;
  g_assert_false (sora_engine_continue (
      fresh, &p, NULL, append_pixels, made, NULL, &error));
  sora_test_assert_error_names (&error, "no previous video");
  sora_engine_free (fresh);
  for (guint i = 0; i < G_N_ELEMENTS (counts); i++) {
    p.frames = counts[i];
    if (i == 0)
      g_assert_true (sora_engine_generate (
          causal, &p, NULL, append_pixels, made, NULL, &error));
    else
      g_assert_true (sora_engine_continue (
          causal, &p, NULL, append_pixels, made, NULL, &error));
    g_assert_no_error (error);
    total += counts[i];
    g_assert_cmpuint (made->len, ==, total * frame);
  }
  stream = sora_stream_new (causal, &p, &error);
  g_assert_no_error (error);
  while (streamed->len < made->len) {
    g_assert_true (
        sora_stream_next (stream, NULL, append_pixels, streamed, NULL, &error));
    g_assert_no_error (error);
  }
  for (guint i = 0, f = 0; i + 1 < G_N_ELEMENTS (counts); i++) {
    f += counts[i];
    g_test_message ("seam after frame %u: mean step %.2f levels, the stream "
                    "%.2f",
        f - 1,
        frame_step (
            made->data + (f - 1) * frame, made->data + f * frame, frame),
        frame_step (streamed->data + (f - 1) * frame,
            streamed->data + f * frame, frame));
  }
  g_assert_cmpmem (made->data, made->len, streamed->data, made->len);

  p.width = 2 * SIZE;
  g_assert_false (sora_engine_continue (
      causal, &p, NULL, append_pixels, made, NULL, &error));
  sora_test_assert_error_names (&error, "Cannot continue a 32x32 video");
  sora_stream_free (stream);
  g_byte_array_unref (made);
  g_byte_array_unref (streamed);
}

/* A model that makes whole clips has no stream. */
static void
test_not_causal (void)
{
  SoraEngine *tiny = sora_test_open_tiny ();
  SoraGenerateParams p = stream_params ("a red circle");
  GError *error = NULL;

  g_assert_false (sora_engine_get_causal (tiny, NULL, NULL, NULL));
  g_assert_null (sora_stream_new (tiny, &p, &error));
  sora_test_assert_error_names (&error, "_sora_causal");
  sora_engine_free (tiny);
}

int
main (int argc, char **argv)
{
  int ret;

  sora_test_init (&argc, &argv);
  causal = sora_test_open_fixture ("wan-tiny-causal");
  g_test_add_func ("/stream/not-causal", test_not_causal);
  g_test_add_func ("/stream/reference", test_reference);
  g_test_add_func ("/stream/frames", test_frames);
  g_test_add_func ("/stream/determinism", test_determinism);
  g_test_add_func ("/stream/cancel", test_cancel);
  g_test_add_func ("/stream/prime", test_prime);
  g_test_add_func ("/stream/extend-short", test_extend_short);
  g_test_add_func ("/stream/generate", test_generate);
  g_test_add_func ("/stream/continue", test_continue);
  g_test_add_func ("/stream/rebase", test_rebase);
  g_test_add_func ("/stream/pytorch-reference", test_pytorch_reference);
  ret = sora_test_run ();
  sora_engine_free (causal);
  return ret;
}
