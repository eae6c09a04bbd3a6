/* gst-sora tests: the KV-cached chunk forward of a block-causal Wan DiT
 * (sora-wan-dit-cache.h) against diffusers' full-sequence forward under the
 * block-causal attention mask (tools/make_fixtures.py causal,
 * tools/causal_attention.py): chunk by chunk equals the masked forward;
 * one chunk over the clip is sora_wan_dit_forward; the window and the sink
 * attend the frames they should and no other; bad calls; a bf16 cache
 * (SORA_PRECISION=bf16) bit for bit an f32 one; the time of a chunk over a
 * long stream (printed only).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "sora-op-attention.h"
#include "sora-recipe.h"
#include "sora-safetensors.h"
#include "sora-test-util.h"
#include "sora-wan-dit-cache.h"

#define REF "tiny-causal-dit.safetensors"
/* The fixture's latents: [1, C, FRAMES, H, W], chunks of CHUNK frames. */
#define FRAMES 8
#define CHUNK 2

typedef struct
{
  SoraModelFolder *folder;
  SoraWanDit *dit;
  /* The fixture's "_sora_causal" (chunk 2, window 4, sink 2), filled here
   * until the folder's parser reads it (helper causal-config); once it
   * does, fixture_open checks that they agree. */
  SoraWanCausalConfig causal;
  float *latents; /* the reference's, on the host */
  gsize channels, height, width;
  gsize batch; /* items, each the reference's */
  SoraTensor *text;
  float t[2];
} Fixture;

/* The model folder @dir and the reference's inputs, for @batch (1 or 2)
 * items. */
static void
fixture_open_folder (Fixture *fx, const char *dir, gsize batch)
{
  GError *error = NULL;
  gsize n, shape[3];
  float *t, *text;
  const SoraWanCausalConfig *parsed;

  fx->folder = sora_model_folder_open (dir, &error);
  g_assert_no_error (error);
  g_assert_true (sora_model_folder_validate (fx->folder, &error));
  g_assert_no_error (error);
  fx->dit = sora_wan_dit_new (sora_test_device (), fx->folder, &error);
  g_assert_no_error (error);
  fx->causal = (SoraWanCausalConfig){ .chunk_frames = CHUNK,
    .window_frames = 4,
    .sink_frames = 2,
    .n_steps = 4,
    .steps = { 1000, 750, 500, 250 },
    .shift = 5.0 };
  parsed = &sora_wan_dit_get_config (fx->dit)->causal;
  if (parsed->chunk_frames) {
    g_assert_cmpuint (parsed->chunk_frames, ==, fx->causal.chunk_frames);
    g_assert_cmpuint (parsed->window_frames, ==, fx->causal.window_frames);
    g_assert_cmpuint (parsed->sink_frames, ==, fx->causal.sink_frames);
  }
  fx->latents = sora_test_reference_f32 (REF, "hidden_states", &n);
  fx->channels = sora_wan_dit_get_config (fx->dit)->in_channels;
  fx->height = 6;
  fx->width = 10;
  g_assert_cmpuint (n, ==, fx->channels * FRAMES * fx->height * fx->width);
  text = sora_test_reference_f32 (REF, "encoder_hidden_states", &n);
  fx->batch = batch;
  text = g_realloc (text, batch * n * sizeof (float));
  for (gsize b = 1; b < batch; b++)
    memcpy (text + b * n, text, n * sizeof (float));
  shape[0] = batch;
  shape[2] = sora_wan_dit_get_config (fx->dit)->text_dim;
  shape[1] = n / shape[2];
  fx->text = sora_test_upload ("text", SORA_DTYPE_F32, text, 3, shape);
  t = sora_test_reference_f32 (REF, "timestep", &n);
  fx->t[0] = fx->t[1] = t[0];
  g_free (t);
  g_free (text);
}

static void
fixture_open_batch (Fixture *fx, gsize batch)
{
  char *dir = sora_test_fixture ("wan-tiny-causal");

  fixture_open_folder (fx, dir, batch);
  g_free (dir);
}

static void
fixture_open (Fixture *fx)
{
  fixture_open_batch (fx, 1);
}

static void
fixture_close (Fixture *fx)
{
  sora_tensor_free (fx->text);
  g_free (fx->latents);
  sora_wan_dit_free (fx->dit);
  sora_model_folder_free (fx->folder);
}

static SoraWanDitCache *
cache_new (Fixture *fx, const SoraWanCausalConfig *causal, gsize max_frames)
{
  GError *error = NULL;
  SoraWanDitCache *cache = sora_wan_dit_cache_new (
      fx->dit, causal, fx->batch, fx->height, fx->width, max_frames, &error);

  g_assert_no_error (error);
  g_assert_true (sora_wan_dit_cache_set_text (cache, fx->text, &error));
  g_assert_no_error (error);
  return cache;
}

/* Frames [first, first + n) of @host [1, C, FRAMES, H, W] for each item
 * as a device tensor. */
static SoraTensor *
chunk_of (Fixture *fx, const float *host, gsize first, gsize n)
{
  gsize plane = fx->height * fx->width, rows = fx->batch * fx->channels;
  float *chunk = g_new (float, rows *n *plane);
  gsize shape[5] = { fx->batch, fx->channels, n, fx->height, fx->width };
  SoraTensor *t;

  for (gsize r = 0; r < rows; r++)
    for (gsize f = 0; f < n; f++)
      memcpy (chunk + (r * n + f) * plane,
          host + ((r % fx->channels) * FRAMES + first + f) * plane,
          plane * sizeof (float));
  t = sora_test_upload ("chunk", SORA_DTYPE_F32, chunk, 5, shape);
  g_free (chunk);
  return t;
}

/* A probe keeping "after_block0" in *@user_data. */
static void
capture_block0 (const char *point, SoraTensor *t, gpointer user_data)
{
  if (strcmp (point, "after_block0") == 0)
    *(float **)user_data = sora_test_download (t);
}

/* The chunk at @first of @host through @cache: its prediction on the host
 * (and its "after_block0" in @block0 when given). */
static float *
run_chunk (Fixture *fx, SoraWanDitCache *cache, const float *host, gsize first,
    gsize n, gboolean write, float **block0)
{
  GError *error = NULL;
  SoraTensor *latents = chunk_of (fx, host, first, n);
  SoraTensor *out;
  SoraProbe probe = { capture_block0, block0 };
  float *got;

  out = sora_wan_dit_forward_chunk (fx->dit, cache, latents, first, fx->t,
      write, block0 ? &probe : NULL, NULL, &error);
  g_assert_no_error (error);
  got = sora_test_download (out);
  sora_tensor_free (out);
  sora_tensor_free (latents);
  return got;
}

/* Chunk by chunk with write equals the masked full forward of @tensor,
 * for each item. */
static void
check_stream (Fixture *fx, SoraWanDitCache *cache, const char *tensor)
{
  gsize plane = fx->height * fx->width, n;
  double *want = sora_test_reference (REF, tensor, &n);
  double *unmasked = sora_test_reference (REF, "output_unmasked", &n);
  gsize rows = fx->batch * fx->channels,
        bytes = fx->batch * n / FRAMES * CHUNK * sizeof (float);
  float *got = g_new (float, fx->batch *n);

  for (gsize first = 0; first < FRAMES; first += CHUNK) {
    /* Denoising (no write) and writing see the same keys. */
    float *noisy = run_chunk (fx, cache, fx->latents, first, CHUNK, FALSE, 0);
    float *out = run_chunk (fx, cache, fx->latents, first, CHUNK, TRUE, 0);

    g_assert_cmpmem (noisy, bytes, out, bytes);
    for (gsize r = 0; r < rows; r++)
      memcpy (got + (r * FRAMES + first) * plane, out + r * CHUNK * plane,
          CHUNK * plane * sizeof (float));
    g_free (noisy);
    g_free (out);
  }
  g_assert_cmpuint (sora_wan_dit_cache_get_end (cache), ==, FRAMES);
  for (gsize b = 0; b < fx->batch; b++) {
    char *what = g_strdup_printf ("chunk by chunk, %s, item %" G_GSIZE_FORMAT
                                  " of %" G_GSIZE_FORMAT,
        tensor, b, fx->batch);

    /* 1e-5 relative L2: the same f32 operations in another order (the
     * keys of the cache come before the chunk's, the softmax runs over
     * other blocks); measured 1.2e-6.  The unmasked forward is 5e-2 away,
     * the one without window 2e-2: both fail it. */
    sora_assert_close (got + b * n, want, n, 1e-5, what);
    g_assert_cmpfloat (sora_test_rel_l2 (got + b * n, unmasked, n), >, 1e-3);
    g_free (what);
  }
  g_free (got);
  g_free (unmasked);
  g_free (want);
}

static void
test_parity_window (void)
{
  Fixture fx = { 0 };
  SoraWanDitCache *cache;

  for (gsize batch = 1; batch <= 2; batch++) {
    fixture_open_batch (&fx, batch);
    cache = cache_new (&fx, &fx.causal, 0);
    check_stream (&fx, cache, "output");
    sora_wan_dit_cache_free (cache);
    fixture_close (&fx);
  }
}

/* window_frames 0: every past frame, up to max_frames.  Twice, each with
 * its own cache: the second gives the device back all it took. */
static void
test_parity_no_window (void)
{
  Fixture fx = { 0 };
  SoraWanDitCache *cache;
  SoraWanCausalConfig causal;
  guint64 held = 0;

  fixture_open (&fx);
  causal = fx.causal;
  causal.window_frames = 0;
  causal.sink_frames = 0;
  for (guint run = 0; run < 2; run++) {
    if (run == 1)
      held = sora_test_bytes_held (sora_test_device ());
    cache = cache_new (&fx, &causal, FRAMES);
    check_stream (&fx, cache, "output_no_window");
    sora_wan_dit_cache_free (cache);
  }
  g_assert_cmpuint (sora_test_bytes_held (sora_test_device ()), ==, held);
  fixture_close (&fx);
}

/* One chunk over the whole clip, nothing cached: sora_wan_dit_forward's
 * very numbers (the same kernels on the same shapes). */
static void
test_single_chunk (void)
{
  GError *error = NULL;
  Fixture fx = { 0 };
  SoraWanDitCache *cache;
  SoraTensor *latents, *out;
  float *want, *got;

  fixture_open (&fx);
  cache = cache_new (&fx, &fx.causal, 0);
  latents = chunk_of (&fx, fx.latents, 0, FRAMES);
  out =
      sora_wan_dit_forward (fx.dit, latents, fx.t, fx.text, NULL, NULL, &error);
  g_assert_no_error (error);
  want = sora_test_download (out);
  got = run_chunk (&fx, cache, fx.latents, 0, FRAMES, FALSE, NULL);
  g_assert_cmpmem (got, out->nbytes, want, out->nbytes);
  g_free (got);
  g_free (want);
  sora_tensor_free (out);
  sora_tensor_free (latents);
  sora_wan_dit_cache_free (cache);
  fixture_close (&fx);
}

/* "after_block0" of the chunk at @last after writing the chunks at
 * @firsts, on the fixture's latents with frame @changed moved (none:
 * FRAMES).  Block 0's keys are each frame's own latents, so its output
 * depends on exactly the frames the chunk attends. */
static float *
block0_after (
    Fixture *fx, const gsize *firsts, guint n, gsize last, gsize changed)
{
  SoraWanDitCache *cache = cache_new (fx, &fx->causal, 0);
  gsize plane = fx->height * fx->width;
  float *host =
      g_memdup2 (fx->latents, fx->channels * FRAMES * plane * sizeof (float));
  float *block0 = NULL;

  if (changed < FRAMES)
    for (gsize i = 0; i < plane; i++)
      host[changed * plane + i] += 1.0f;
  for (guint i = 0; i < n; i++)
    g_free (run_chunk (fx, cache, host, firsts[i], CHUNK, TRUE, NULL));
  g_free (run_chunk (fx, cache, host, last, CHUNK, FALSE, &block0));
  g_assert_nonnull (block0);
  sora_wan_dit_cache_free (cache);
  g_free (host);
  return block0;
}

/* Compares block 0 of the chunk at @last, frame @changed moved or not. */
static void
check_attends (Fixture *fx, const gsize *firsts, guint n, gsize last,
    gsize changed, gboolean attended)
{
  gsize bytes = CHUNK * fx->height * fx->width / 4 *
      sora_wan_dit_get_config (fx->dit)->inner_dim * sizeof (float);
  float *base = block0_after (fx, firsts, n, last, FRAMES);
  float *moved = block0_after (fx, firsts, n, last, changed);

  g_test_message ("chunk at %" G_GSIZE_FORMAT ", frame %" G_GSIZE_FORMAT
                  " moved: %s",
      last, changed, attended ? "attended" : "not attended");
  if (attended)
    g_assert_true (memcmp (base, moved, bytes) != 0);
  else
    g_assert_cmpmem (base, bytes, moved, bytes);
  g_free (base);
  g_free (moved);
}

/* Window 4 and sink 2 over chunks of 2: the chunk at 6 attends 0, 1 (sink)
 * and 4, 5 (window), never 2, 3: overwritten in the ring after the chunk at
 * 4, or still there but masked when the stream skipped 4, 5. */
static void
test_window_drops (void)
{
  Fixture fx = { 0 };
  const gsize stream[] = { 0, 2, 4 }, gap[] = { 0, 2 };

  fixture_open (&fx);
  check_attends (&fx, stream, 3, 6, 2, FALSE);
  check_attends (&fx, stream, 3, 6, 3, FALSE);
  check_attends (&fx, stream, 3, 6, 4, TRUE);
  check_attends (&fx, stream, 3, 6, 0, TRUE);
  check_attends (&fx, stream, 3, 6, 1, TRUE);
  check_attends (&fx, gap, 2, 6, 2, FALSE);
  check_attends (&fx, gap, 2, 6, 1, TRUE);
  /* The chunk at 4 has 2, 3 in its window. */
  check_attends (&fx, gap, 2, 4, 3, TRUE);
  fixture_close (&fx);
}

static void
expect_cache_error (Fixture *fx, const SoraWanCausalConfig *causal,
    gsize height, gsize max_frames, const char *what)
{
  GError *error = NULL;

  g_assert_null (sora_wan_dit_cache_new (
      fx->dit, causal, 1, height, fx->width, max_frames, &error));
  sora_test_assert_error_names (&error, what);
}

static void
expect_chunk_error (Fixture *fx, SoraWanDitCache *cache, gsize first,
    gsize frames, gboolean write, const char *what)
{
  GError *error = NULL;
  SoraTensor *latents = chunk_of (fx, fx->latents, first, frames);

  g_assert_null (sora_wan_dit_forward_chunk (
      fx->dit, cache, latents, first, fx->t, write, NULL, NULL, &error));
  sora_test_assert_error_names (&error, what);
  sora_tensor_free (latents);
}

static void
test_errors (void)
{
  GError *error = NULL;
  Fixture fx = { 0 };
  SoraWanCausalConfig causal;
  SoraWanDitCache *cache;
  SoraTensor *bad_text, *latents;
  gsize shape[3] = { 1, 3, 31 };
  float zeros[93] = { 0 };

  fixture_open (&fx);
  causal = fx.causal;
  causal.chunk_frames = 0;
  expect_cache_error (&fx, &causal, fx.height, 0, "not causal");
  causal = fx.causal;
  causal.window_frames = 3;
  expect_cache_error (&fx, &causal, fx.height, 0, "window_frames 3");
  causal.window_frames = 0;
  expect_cache_error (&fx, &causal, fx.height, 0, "max_frames is 0");
  expect_cache_error (&fx, &fx.causal, 5, 0, "multiples of the patch");

  /* No text yet, then text of the wrong width. */
  cache = sora_wan_dit_cache_new (
      fx.dit, &fx.causal, 1, fx.height, fx.width, 0, &error);
  g_assert_no_error (error);
  expect_chunk_error (&fx, cache, 0, CHUNK, FALSE, "no text");
  bad_text = sora_test_upload ("bad text", SORA_DTYPE_F32, zeros, 3, shape);
  g_assert_false (sora_wan_dit_cache_set_text (cache, bad_text, &error));
  sora_test_assert_error_names (&error, "bad text");
  sora_tensor_free (bad_text);
  g_assert_true (sora_wan_dit_cache_set_text (cache, fx.text, &error));
  g_assert_no_error (error);

  /* Latents of another grid. */
  latents = sora_test_new_f32 ("odd latents", 5,
      (gsize[]){ 1, fx.channels, CHUNK, fx.height + 2, fx.width });
  g_assert_null (sora_wan_dit_forward_chunk (
      fx.dit, cache, latents, 0, fx.t, FALSE, NULL, NULL, &error));
  sora_test_assert_error_names (&error, "odd latents");
  sora_tensor_free (latents);

  /* Backwards; longer or shorter than a chunk with frames (the sink) to
   * attend. */
  g_free (run_chunk (&fx, cache, fx.latents, 0, CHUNK, TRUE, NULL));
  g_free (run_chunk (&fx, cache, fx.latents, 2, CHUNK, TRUE, NULL));
  expect_chunk_error (&fx, cache, 0, CHUNK, TRUE, "before the end 4");
  expect_chunk_error (&fx, cache, 4, 2 * CHUNK, FALSE, "not 4");
  expect_chunk_error (&fx, cache, 4, 1, FALSE, "must have chunk_frames 2");
  /* A refused chunk leaves the cache as it was. */
  g_assert_cmpuint (sora_wan_dit_cache_get_end (cache), ==, 4);
  sora_wan_dit_cache_reset (cache);
  g_assert_cmpuint (sora_wan_dit_cache_get_end (cache), ==, 0);
  sora_wan_dit_cache_free (cache);

  /* Full: no window, room for 4 frames. */
  causal = fx.causal;
  causal.window_frames = 0;
  cache = cache_new (&fx, &causal, 4);
  g_free (run_chunk (&fx, cache, fx.latents, 0, CHUNK, TRUE, NULL));
  g_free (run_chunk (&fx, cache, fx.latents, 2, CHUNK, TRUE, NULL));
  expect_chunk_error (&fx, cache, 4, CHUNK, TRUE, "full");
  sora_wan_dit_cache_free (cache);
  fixture_close (&fx);
}

/* Tensor @t of wan-tiny-causal under @name (taken) with each width of 24
 * (2 heads of 12) made 32 (and time_proj's 6·24 6·32), of recipe values
 * (sora_recipe_values: weights scaled by 1/sqrt (fan-in), norms about 1). */
static SoraSafetensor
heads16_tensor (const SoraSafetensor *t, char *name)
{
  gboolean norm = t->ndim == 1 && strstr (name, "norm") != NULL;
  SoraSafetensor st = {
    .name = name, .dtype = SORA_SAFE_F32, .ndim = t->ndim, .numel = 1
  };
  float *v;

  for (guint k = 0; k < t->ndim; k++) {
    st.shape[k] = t->shape[k] % 24 ? t->shape[k] : t->shape[k] / 24 * 32;
    st.numel *= st.shape[k];
  }
  v = g_new (float, st.numel);
  sora_recipe_values (name,
      t->ndim > 1 ? 1.0f / sqrtf (st.numel / st.shape[0]) : 0.1f,
      norm ? 1.0f : 0.0f, v, st.numel);
  st.data = (const guint8 *)v;
  return st;
}

/* wan-tiny-causal with heads of 16, which the matrix-unit attention takes
 * (the fixture's 12 stay f32), and 4 blocks (blocks 2 and 3 named after 0
 * and 1): the blocks' K/V outweigh the f32 pair a narrower cache adds. */
static char *
heads16_folder (void)
{
  GError *error = NULL;
  char *base = sora_test_fixture ("wan-tiny-causal");
  char *dir = sora_test_folder_with_config (
      base, "\"attention_head_dim\": 16, \"num_layers\": 4");
  char *from = g_build_filename (
      base, "transformer", "diffusion_pytorch_model.safetensors", NULL);
  char *to = g_build_filename (
      dir, "transformer", "diffusion_pytorch_model.safetensors", NULL);
  SoraSafetensors *file = sora_safetensors_open (from, &error);
  GArray *st = g_array_new (FALSE, FALSE, sizeof (SoraSafetensor));
  guint block;

  g_assert_no_error (error);
  for (guint i = 0; i < sora_safetensors_get_n_tensors (file); i++) {
    const SoraSafetensor *t = sora_safetensors_get_tensor (file, i);
    SoraSafetensor one = heads16_tensor (t, g_strdup (t->name));

    g_array_append_val (st, one);
    if (sscanf (t->name, "blocks.%u.", &block) == 1) {
      one = heads16_tensor (t,
          g_strdup_printf ("blocks.%u.%s", block + 2,
              strchr (t->name + strlen ("blocks."), '.') + 1));
      g_array_append_val (st, one);
    }
  }
  /* The copy's weights: a link to the fixture's until here. */
  g_assert_cmpint (g_remove (to), ==, 0);
  g_assert_true (
      sora_safetensors_write (to, (SoraSafetensor *)st->data, st->len, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < st->len; i++) {
    g_free ((gpointer)g_array_index (st, SoraSafetensor, i).name);
    g_free ((gpointer)g_array_index (st, SoraSafetensor, i).data);
  }
  g_array_free (st, TRUE);
  sora_safetensors_free (file);
  g_free (to);
  g_free (from);
  g_free (base);
  return dir;
}

/* sora_wan_dit_cache_estimate of a cache_new (@fx, &@fx->causal, 0). */
static guint64
cache_estimate (Fixture *fx)
{
  return sora_wan_dit_cache_estimate (fx->dit, &fx->causal, fx->batch,
      fx->height, fx->width, 0, fx->text->shape[1], NULL);
}

/* With SORA_PRECISION=bf16 the attention rounds K and V to bf16, so the
 * cache keeps them so: chunk by chunk (nothing cached, then the sink
 * masked, then every slot, the ring turning) its predictions are bit for
 * bit those of an f32 cache (made before bf16 is on: a cache's dtype is
 * fixed when it is made), with the frames' K/V in half the bytes (with
 * the f32 pair of one block: 6/8 of the f32 cache's over 4 blocks). */
static void
test_half_cache (void)
{
  GError *error = NULL;
  Fixture fx = { 0 };
  char *dir = heads16_folder ();
  SoraWanDitCache *f32, *half;
  SoraDType dtype;
  guint64 kv, mask, estimate[2];
  gsize bytes;

  sora_test_bf16_on ();
  fixture_open_folder (&fx, dir, 1);
  g_assert_true (
      sora_attention_operand_dtype (sora_test_device (), 16, &dtype, &error));
  g_assert_no_error (error);
  g_assert_cmpint (dtype, ==, SORA_DTYPE_BF16);
  g_unsetenv ("SORA_PRECISION");
  f32 = cache_new (&fx, &fx.causal, 0);
  estimate[0] = cache_estimate (&fx);
  g_setenv ("SORA_PRECISION", "bf16", TRUE);
  half = cache_new (&fx, &fx.causal, 0);
  estimate[1] = cache_estimate (&fx);
  /* A block's K: 6 frames (sink 2, ring 2, tail 2) of 15 tokens of 32
   * channels; the mask: a float a key. */
  kv = 6 * 15 * 32 * sizeof (float);
  mask = 6 * 15 * sizeof (float);
  g_test_message ("cache bytes: f32 %" G_GUINT64_FORMAT
                  ", bf16 %" G_GUINT64_FORMAT
                  " (of which one block's f32 K and V %" G_GUINT64_FORMAT ")",
      sora_wan_dit_cache_bytes (f32), sora_wan_dit_cache_bytes (half), 2 * kv);
  /* 4 blocks' K and V: 8 kv in f32, 4 kv in bf16 plus the f32 pair. */
  g_assert_cmpuint (sora_wan_dit_cache_bytes (f32), ==, 8 * kv + mask);
  g_assert_cmpuint (
      sora_wan_dit_cache_bytes (half), ==, 4 * kv + 2 * kv + mask);
  /* The estimate follows: the rest of it (the forward) is the same. */
  g_assert_cmpuint (estimate[0] - estimate[1], ==, 2 * kv);
  bytes = fx.channels * CHUNK * fx.height * fx.width * sizeof (float);
  for (gsize first = 0; first < FRAMES; first += CHUNK)
    for (guint write = 0; write < 2; write++) {
      float *want = run_chunk (&fx, f32, fx.latents, first, CHUNK, write, 0);
      float *got = run_chunk (&fx, half, fx.latents, first, CHUNK, write, 0);

      g_assert_cmpmem (got, bytes, want, bytes);
      g_free (got);
      g_free (want);
    }
  sora_wan_dit_cache_free (half);
  sora_wan_dit_cache_free (f32);
  fixture_close (&fx);
  sora_test_bf16_off ();
  sora_test_remove_config_folder (dir);
  g_free (dir);
}

/* The time of each chunk (write pass, result on the host) over a stream
 * ten times the window, on a grid of 720 tokens a frame: printed, not
 * asserted (from the fifth chunk on every slot is attended, and the ring
 * turns). */
static void
test_chunk_time (void)
{
  GError *error = NULL;
  Fixture fx = { 0 };
  SoraWanDitCache *cache;
  gsize shape[5] = { 1, 0, CHUNK, 48, 60 };
  GString *line = g_string_new (NULL);
  double sums[2] = { 0, 0 };
  SoraTensor *latents;
  float *host;

  fixture_open (&fx);
  shape[1] = fx.channels;
  host = sora_test_random (fx.channels * CHUNK * 48 * 60, -1, 1);
  latents = sora_test_upload ("latents", SORA_DTYPE_F32, host, 5, shape);
  cache = sora_wan_dit_cache_new (fx.dit, &fx.causal, 1, 48, 60, 0, &error);
  g_assert_no_error (error);
  g_assert_true (sora_wan_dit_cache_set_text (cache, fx.text, &error));
  g_assert_no_error (error);
  for (guint c = 0; c < 20; c++) {
    gint64 start = g_get_monotonic_time ();
    SoraTensor *out = sora_wan_dit_forward_chunk (
        fx.dit, cache, latents, c * CHUNK, fx.t, TRUE, NULL, NULL, &error);
    double ms;

    g_assert_no_error (error);
    g_free (sora_test_download (out));
    sora_tensor_free (out);
    ms = (g_get_monotonic_time () - start) / 1e3;
    g_string_append_printf (line, " %.0f", ms);
    if ((c >= 5 && c < 10) || c >= 15)
      sums[c >= 15] += ms;
  }
  g_test_message ("ms per chunk of 2x48x60 latents over 20 chunks (cache "
                  "%" G_GUINT64_FORMAT " bytes):%s; mean of chunks 5-9 %.1f, "
                  "of 15-19 %.1f",
      sora_wan_dit_cache_bytes (cache), line->str, sums[0] / 5, sums[1] / 5);
  g_string_free (line, TRUE);
  sora_wan_dit_cache_free (cache);
  sora_tensor_free (latents);
  g_free (host);
  fixture_close (&fx);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/dit-causal/parity-window", test_parity_window);
  g_test_add_func ("/dit-causal/parity-no-window", test_parity_no_window);
  g_test_add_func ("/dit-causal/single-chunk", test_single_chunk);
  g_test_add_func ("/dit-causal/window-drops", test_window_drops);
  g_test_add_func ("/dit-causal/errors", test_errors);
  g_test_add_func ("/dit-causal/half-cache", test_half_cache);
  g_test_add_func ("/dit-causal/chunk-time", test_chunk_time);
  return sora_test_run ();
}
