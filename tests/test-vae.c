/* gst-sora tests: the Wan VAE against diffusers' AutoencoderKLWan on the
 * tiny fixture model (tools/make_fixtures.py) in f32, f16 and bf16 storage;
 * constant memory over the clip's length, spatial tiling, cancellation and
 * errors.  SORA_VAE_BENCH=H,W,F adds /vae/bench (test-vae-bench.c).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "sora-op-pixels.h"
#include "sora-test-engine.h"
#include "sora-wan-vae.h"
#include "test-vae.h"

/* RGB from one f32 value the way the conversion is documented. */
static guint8
to_byte (float x)
{
  return (guint8)floor ((CLAMP (x, -1.0f, 1.0f) + 1.0f) * 0.5f * 255.0f + 0.5f);
}

gboolean
collect (SoraTensor *frames, const guint8 *pixels, guint n, guint width,
    guint height, gpointer user_data)
{
  Collect *c = user_data;
  float *f = sora_test_download (frames);
  gsize plane = (gsize)n * width * height, frame = (gsize)width * height;
  guint off_by_one = 0;

  g_assert_cmpuint (frames->shape[1], ==, n);
  c->seconds[MIN (c->chunks, 63)] = (g_get_monotonic_time () - c->start) / 1e6;
  c->cpu[MIN (c->chunks, 63)] = (double)clock () / CLOCKS_PER_SEC;
  c->chunk_frames[MIN (c->chunks, 63)] = n;
  c->chunks++;
  if (c->video == NULL) {
    c->h = height;
    c->w = width;
  }
  c->video = g_renew (float, c->video, 3 * (c->t + n) * frame);
  /* Channel planes grow: move the earlier frames of channels 1 and 2. */
  for (int ch = 2; ch >= 0; ch--) {
    memmove (c->video + ch * (c->t + n) * frame, c->video + ch * c->t * frame,
        c->t * frame * sizeof (float));
    memcpy (c->video + (ch * (c->t + n) + c->t) * frame, f + ch * plane,
        plane * sizeof (float));
  }
  c->t += n;
  for (gsize i = 0; i < plane; i++)
    for (int ch = 0; ch < 3; ch++) {
      float v = f[ch * plane + i];
      int d = (int)pixels[i * 3 + ch] - to_byte (v);

      g_assert_cmpfloat (v, >=, -1.0f); /* clamped */
      g_assert_cmpfloat (v, <=, 1.0f);
      /* Exact but where (x + 1) / 2 · 255 lies on a rounding tie within
       * f32 error, which the device may round either way. */
      if (d != 0) {
        double u = (v + 1.0) * 0.5 * 255.0;
        g_assert_cmpint (ABS (d), ==, 1);
        g_assert_cmpfloat (fabs (u - floor (u) - 0.5), <, 1e-3);
        off_by_one++;
      }
    }
  if (off_by_one)
    g_test_message ("%u values rounded the other way at a tie", off_by_one);
  g_free (f);
  if (c->cancel && c->chunks == c->cancel_after)
    g_cancellable_cancel (c->cancel);
  return c->stop_after == 0 || c->chunks < c->stop_after;
}

static SoraWanVae *
open_vae (const char *folder_name, SoraModelFolder **folder)
{
  GError *error = NULL;
  char *dir = sora_test_fixture (folder_name);
  SoraWanVae *vae;

  *folder = sora_model_folder_open (dir, &error);
  g_assert_no_error (error);
  g_assert_true (sora_model_folder_validate (*folder, &error));
  g_assert_no_error (error);
  vae = sora_wan_vae_new (sora_test_device (), *folder, &error);
  g_assert_no_error (error);
  g_free (dir);
  return vae;
}

static SoraTensor *
reference_input (const char *ref, const char *name)
{
  gsize n;
  float *v = sora_test_reference_f32 (ref, name, &n);
  /* [1, C, T, H, W] in the file; batch 1 dropped. */
  SoraTensor *t = NULL;
  char *path = sora_test_fixture ("reference");
  char *file = g_build_filename (path, ref, NULL);
  SoraSafetensors *st = sora_safetensors_open (file, NULL);
  const SoraSafetensor *info = sora_safetensors_find (st, name);

  g_assert_nonnull (info);
  g_assert_cmpuint (info->ndim, ==, 5);
  t = sora_test_upload (name, SORA_DTYPE_F32, v, 4, info->shape + 1);
  sora_safetensors_free (st);
  g_free (file);
  g_free (path);
  g_free (v);
  return t;
}

/* Video frames per latent frame after the first: each temporal
 * upsampler (temperal_downsample reversed) doubles them. */
static guint
frames_per_chunk (const SoraModelFolder *folder)
{
  const SoraWanVaeConfig *cfg = sora_model_folder_get_vae_config (folder);
  guint n = 1;

  for (guint i = 0; i + 1 < cfg->n_levels; i++)
    n *= cfg->temperal_downsample[i] ? 2 : 1;
  return n;
}

/* One chunk per latent frame: 1 video frame, then @per_chunk each. */
static void
assert_chunks (const Collect *c, guint latent_frames, guint per_chunk)
{
  g_assert_cmpuint (c->chunks, ==, latent_frames);
  for (guint i = 0; i < c->chunks; i++)
    g_assert_cmpuint (c->chunk_frames[i], ==, i == 0 ? 1 : per_chunk);
  g_assert_cmpuint (c->t, ==, 1 + per_chunk * (latent_frames - 1));
}

void
decode (SoraWanVae *vae, SoraTensor *latents, Collect *c, GError **error)
{
  memset (c, 0, sizeof (*c));
  c->start = g_get_monotonic_time ();
  sora_test_vae_decode (vae, latents, collect, c, NULL, error);
}

static void
check_decode (const char *folder_name, const char *ref)
{
  SoraModelFolder *folder;
  SoraWanVae *vae = open_vae (folder_name, &folder);

  for (guint f = 1; f <= 5; f++) {
    char *lname = g_strdup_printf ("latents%u", f);
    char *vname = g_strdup_printf ("video%u", f);
    SoraTensor *z;
    GError *error = NULL;
    Collect c;
    gsize n;
    double *want;

    if (f == 3 || f == 4)
      goto next;
    z = reference_input (ref, lname);
    decode (vae, z, &c, &error);
    g_assert_no_error (error);
    assert_chunks (&c, f, frames_per_chunk (folder));
    want = sora_test_reference (ref, vname, &n);
    g_assert_cmpuint (n, ==, 3 * c.t * c.h * c.w);
    /* fp32 through ~40 convs: 1e-4 (the task's bound); the chunked decode
     * equals the reference's whole-clip one up to f32 rounding. */
    sora_assert_close (c.video, want, n, 1e-4, vname);
    g_free (want);
    g_free (c.video);
    sora_tensor_free (z);
  next:
    g_free (lname);
    g_free (vname);
  }
  sora_wan_vae_free (vae);
  sora_model_folder_free (folder);
}

/* The f16/bf16 references are the f32 model on the rounded weights, so
 * only our f32 activations differ: 1e-4 everywhere. */
static void
test_decode_f32 (void)
{
  check_decode ("wan-tiny", "tiny-vae.safetensors");
}

static void
test_decode_f16 (void)
{
  check_decode ("wan-tiny-f16", "tiny-f16-vae.safetensors");
}

static void
test_decode_bf16 (void)
{
  check_decode ("wan-tiny-bf16", "tiny-bf16-vae.safetensors");
}

static void
check_encode (const char *folder_name, const char *ref)
{
  SoraModelFolder *folder;
  SoraWanVae *vae = open_vae (folder_name, &folder);
  SoraTensor *video = reference_input (ref, "encode_input");
  const char *names[2] = { "encode_mean", "encode_normalized" };

  for (guint i = 0; i < 2; i++) {
    GError *error = NULL;
    SoraTensor *mu = sora_wan_vae_encode (vae, video, i == 1, &error);
    gsize n;
    double *want;
    float *got;

    g_assert_no_error (error);
    want = sora_test_reference (ref, names[i], &n);
    g_assert_cmpuint (n, ==, mu->numel);
    got = sora_test_download (mu);
    /* fp32 through ~30 convs: 1e-4, as the decode. */
    sora_assert_close (got, want, n, 1e-4, names[i]);
    g_free (got);
    g_free (want);
    sora_tensor_free (mu);
  }
  sora_tensor_free (video);
  sora_wan_vae_free (vae);
  sora_model_folder_free (folder);
}

static void
test_encode_f32 (void)
{
  check_encode ("wan-tiny", "tiny-vae.safetensors");
}

static void
test_encode_f16 (void)
{
  check_encode ("wan-tiny-f16", "tiny-f16-vae.safetensors");
}

static void
test_encode_bf16 (void)
{
  check_encode ("wan-tiny-bf16", "tiny-bf16-vae.safetensors");
}

SoraTensor *
random_latents (guint f, guint h, guint w)
{
  gsize n = (gsize)16 * f * h * w;
  float *v = sora_test_random (n, -2.0f, 2.0f);
  SoraTensor *t = sora_test_upload (
      "latents", SORA_DTYPE_F32, v, 4, (gsize[]){ 16, f, h, w });

  g_free (v);
  return t;
}

static guint64
decode_peak (SoraWanVae *vae, guint per_chunk, guint frames)
{
  SoraDevice *dev = sora_test_device ();
  SoraTensor *z = random_latents (frames, 4, 6);
  GError *error = NULL;
  guint64 before = sora_device_bytes_current (dev), peak;
  guint64 held = sora_test_bytes_held (dev);
  Collect c;

  sora_device_reset_peak (dev);
  decode (vae, z, &c, &error);
  g_assert_no_error (error);
  assert_chunks (&c, frames, per_chunk);
  peak = sora_device_bytes_peak (dev) - before;
  /* Nothing stays behind. */
  g_assert_cmpuint (sora_test_bytes_held (dev), ==, held);
  g_free (c.video);
  sora_tensor_free (z);
  return peak;
}

static void
test_memory (void)
{
  SoraModelFolder *folder;
  SoraWanVae *vae = open_vae ("wan-tiny", &folder);
  guint per_chunk = frames_per_chunk (folder);
  guint64 p5 = decode_peak (vae, per_chunk, 2);
  guint64 p81 = decode_peak (vae, per_chunk, 21);

  g_test_message ("decode peak above the weights: %" G_GUINT64_FORMAT
                  " bytes for 5 frames, %" G_GUINT64_FORMAT " for 81",
      p5, p81);
  /* The caches are full from the second chunk on and each chunk frees its
   * activations: 81 frames need what 5 need (the 1.2 leaves room for
   * allocation order). */
  g_assert_cmpuint (p81, <=, p5 * 1.2);
  sora_wan_vae_free (vae);
  sora_model_folder_free (folder);
}

/* Latents [16, F, h, w] on the host cut to rows [y0, y0 + lh) and columns
 * [x0, x0 + lw), uploaded. */
static SoraTensor *
latent_region (const float *z, guint f, guint h, guint w, guint y0, guint x0,
    guint lh, guint lw)
{
  float *r = g_new (float, 16 * f * lh * lw);
  SoraTensor *t;

  for (guint p = 0; p < 16 * f; p++)
    for (guint y = 0; y < lh; y++)
      memcpy (r + (p * lh + y) * lw, z + ((gsize)p * h + y0 + y) * w + x0,
          lw * sizeof (float));
  t = sora_test_upload (
      "latent tile", SORA_DTYPE_F32, r, 4, (gsize[]){ 16, f, lh, lw });
  g_free (r);
  return t;
}

/* The blend weight of a tile's row or column @i of @n (vae.cl's ramp). */
static double
ramp (guint i, guint n, guint in, guint out)
{
  if (i < in)
    return (double)i / in;
  if (i >= n - out)
    return (double)(n - i) / out;
  return 1.0;
}

/* 5x5 tiles overlapping by 2 over 6x8 latents: tiles at rows {0, 3} and
 * columns {0, 3}, each seam blended over 16 video pixels.  The tiled decode
 * must equal, on the host, the blend of the four regions decoded alone
 * over the same 3 latent frames (which checks that each tile keeps its own
 * causal caches). */
static void
test_tiling (void)
{
  const guint f = 3, h = 6, w = 8, tile = 5, ov = 2, starts[2] = { 0, 3 };
  SoraModelFolder *folder;
  SoraWanVae *vae = open_vae ("wan-tiny", &folder);
  gsize n = (gsize)16 * f * h * w, frame = (gsize)64 * h * w, t;
  float *zh = sora_test_random (n, -2.0f, 2.0f);
  SoraTensor *z = sora_test_upload (
      "latents", SORA_DTYPE_F32, zh, 4, (gsize[]){ 16, f, h, w });
  double *want;
  gboolean *exact;
  GError *error = NULL;
  Collect whole, tiled, part;
  gsize compared = 0;

  decode (vae, z, &whole, &error);
  g_assert_no_error (error);
  t = whole.t;
  want = g_new0 (double, 3 * t * frame);
  exact = g_new (gboolean, 3 * t * frame);
  for (gsize i = 0; i < 3 * t * frame; i++)
    exact[i] = TRUE;
  for (guint iy = 0; iy < 2; iy++)
    for (guint ix = 0; ix < 2; ix++) {
      guint lh = MIN (tile, h - starts[iy]), lw = MIN (tile, w - starts[ix]);
      SoraTensor *zt =
          latent_region (zh, f, h, w, starts[iy], starts[ix], lh, lw);
      guint th = 8 * lh, tw = 8 * lw, b = 8 * ov;

      decode (vae, zt, &part, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (part.t, ==, t);
      for (gsize p = 0; p < 3 * t; p++)
        for (guint y = 0; y < th; y++)
          for (guint x = 0; x < tw; x++) {
            gsize o =
                (p * 8 * h + 8 * starts[iy] + y) * 8 * w + 8 * starts[ix] + x;
            float v = part.video[(p * th + y) * tw + x];
            double wt = ramp (y, th, iy ? b : 0, iy ? 0 : b) *
                ramp (x, tw, ix ? b : 0, ix ? 0 : b);

            want[o] += wt * v;
            /* Where a tile's clamp cuts, blending clamped tiles differs
             * from clamping the blend, which is what the decode does. */
            if (wt > 0 && fabsf (v) >= 1.0f)
              exact[o] = FALSE;
          }
      g_free (part.video);
      sora_tensor_free (zt);
    }

  g_assert_true (sora_wan_vae_set_tiling (vae, tile, tile, ov, &error));
  decode (vae, z, &tiled, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tiled.chunks, ==, f);
  g_assert_cmpuint (tiled.t, ==, t);
  for (gsize i = 0; i < 3 * t * frame; i++) {
    if (!exact[i])
      continue;
    /* f32 blending of f32 values: a few ulps. */
    g_assert_cmpfloat (fabs (tiled.video[i] - want[i]), <=, 1e-5);
    compared++;
  }
  g_test_message (
      "tiled decode = blend of the tiles decoded alone at %" G_GSIZE_FORMAT
      " of %" G_GSIZE_FORMAT " values (the rest "
      "clamped)",
      compared, 3 * t * frame);
  g_assert_cmpuint (compared, >, 3 * t * frame / 2);
  for (gsize i = 0; i < 3 * t * frame; i++)
    want[i] = whole.video[i];
  /* Not a bound: the tiny model's mid-block attention spans the whole
   * frame, so its tiles differ from the whole decode by O(1); diffusers'
   * own tiled_decode gives 0.87 on this model and setup. */
  g_test_message ("tiled vs whole decode: relative L2 %.3g",
      sora_test_rel_l2 (tiled.video, want, 3 * t * frame));

  /* Back to automatic (one tile at this size): the whole decode again. */
  g_assert_true (sora_wan_vae_set_tiling (vae, 0, 0, 0, &error));
  g_free (tiled.video);
  decode (vae, z, &tiled, &error);
  g_assert_no_error (error);
  sora_assert_close (tiled.video, want, 3 * t * frame, 0.0, "untiled again");

  /* A tile must exceed twice the overlap. */
  g_assert_false (sora_wan_vae_set_tiling (vae, 4, 4, 2, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_free (want);
  g_free (exact);
  g_free (zh);
  g_free (whole.video);
  g_free (tiled.video);
  sora_tensor_free (z);
  sora_wan_vae_free (vae);
  sora_model_folder_free (folder);
}

static void
test_cancel (void)
{
  SoraModelFolder *folder;
  SoraWanVae *vae = open_vae ("wan-tiny", &folder);
  SoraDevice *dev = sora_test_device ();
  SoraTensor *z = random_latents (4, 3, 5);
  guint64 before = sora_test_bytes_held (dev);
  GError *error = NULL;
  Collect c = { 0 };

  c.stop_after = 2;
  g_assert_false (sora_test_vae_decode (vae, z, collect, &c, NULL, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_CANCELLED);
  g_assert_cmpuint (c.chunks, ==, 2);
  g_assert_cmpuint (sora_test_bytes_held (dev), ==, before);
  g_clear_error (&error);
  g_free (c.video);
  sora_tensor_free (z);
  sora_wan_vae_free (vae);
  sora_model_folder_free (folder);
}

/* The cancellable stops a decode inside a chunk, at the next kernel launch,
 * while the callback would go on: no second chunk, nothing left held. */
static void
test_cancel_in_chunk (void)
{
  SoraModelFolder *folder;
  SoraWanVae *vae = open_vae ("wan-tiny", &folder);
  SoraDevice *dev = sora_test_device ();
  SoraTensor *z = random_latents (4, 3, 5);
  guint64 before = sora_test_bytes_held (dev);
  GError *error = NULL;
  Collect c = { 0 };

  c.cancel = g_cancellable_new ();
  c.cancel_after = 1;
  g_assert_false (sora_test_vae_decode (vae, z, collect, &c, c.cancel, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_CANCELLED);
  g_assert_cmpuint (c.chunks, ==, 1);
  g_assert_cmpuint (sora_test_bytes_held (dev), ==, before);
  g_clear_error (&error);
  g_object_unref (c.cancel);
  g_free (c.video);
  sora_tensor_free (z);
  sora_wan_vae_free (vae);
  sora_model_folder_free (folder);
}

static void
test_errors (void)
{
  SoraModelFolder *folder;
  SoraWanVae *vae = open_vae ("wan-tiny", &folder);
  SoraTensor *z = sora_tensor_new_v (sora_test_device (), "z8", SORA_DTYPE_F32,
      NULL, 4, (gsize)8, (gsize)1, (gsize)3, (gsize)5);
  SoraTensor *v = sora_tensor_new_v (sora_test_device (), "video4",
      SORA_DTYPE_F32, NULL, 4, (gsize)3, (gsize)4, (gsize)16, (gsize)16);
  GError *error = NULL;
  Collect c = { 0 };

  g_assert_false (sora_test_vae_decode (vae, z, collect, &c, NULL, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "z8"));
  g_clear_error (&error);
  g_assert_cmpuint (c.chunks, ==, 0);

  g_assert_null (sora_wan_vae_encode (vae, v, FALSE, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  sora_tensor_free (z);
  sora_tensor_free (v);
  sora_wan_vae_free (vae);
  sora_model_folder_free (folder);
}

/* --- folders with another VAE config and random weights ---------------- */

char *
write_vae_folder (const char *json)
{
  GError *error = NULL;
  char *tmp = g_dir_make_tmp ("sora-vae-bench-XXXXXX", &error);
  char *tiny = sora_test_fixture ("wan-tiny");
  const char *copy[] = { "model_index.json", "text_encoder/config.json",
    "text_encoder/model.safetensors", "transformer/config.json",
    "transformer/diffusion_pytorch_model.safetensors",
    "tokenizer/tokenizer.json", "tokenizer/tokenizer_config.json",
    "tokenizer/special_tokens_map.json", "scheduler/scheduler_config.json" };
  SoraWanVaeConfig cfg;
  GPtrArray *expected;
  SoraSafetensor *tensors;
  char *path;

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (copy); i++) {
    char *from = g_build_filename (tiny, copy[i], NULL);
    char *to = g_build_filename (tmp, copy[i], NULL);
    char *dir = g_path_get_dirname (to), *data;
    gsize len;

    g_mkdir_with_parents (dir, 0755);
    g_assert_true (g_file_get_contents (from, &data, &len, &error));
    g_assert_true (g_file_set_contents (to, data, len, &error));
    g_free (data);
    g_free (dir);
    g_free (from);
    g_free (to);
  }
  g_assert_true (
      sora_wan_vae_config_parse (json, strlen (json), "bench", &cfg, &error));
  path = g_build_filename (tmp, "vae", NULL);
  g_mkdir_with_parents (path, 0755);
  g_free (path);
  path = g_build_filename (tmp, "vae", "config.json", NULL);
  g_assert_true (g_file_set_contents (path, json, -1, &error));
  g_free (path);

  /* Random f16 weights of about 1/sqrt(fan-in): gains 1. */
  expected = sora_wan_vae_expected_tensors (&cfg);
  tensors = g_new0 (SoraSafetensor, expected->len);
  for (guint i = 0; i < expected->len; i++) {
    SoraExpectedTensor *e = expected->pdata[i];
    SoraSafetensor *t = &tensors[i];
    gsize n = 1, fan_in = 1;
    guint16 *data;

    t->name = e->name;
    t->dtype = SORA_SAFE_F16;
    t->ndim = e->ndim;
    for (guint d = 0; d < e->ndim; d++) {
      t->shape[d] = e->shape[d];
      n *= e->shape[d];
      fan_in *= d > 0 ? e->shape[d] : 1;
    }
    data = g_new (guint16, n);
    for (gsize k = 0; k < n; k++)
      data[k] = sora_f32_to_f16 (g_str_has_suffix (e->name, "gamma")
              ? 1.0f
              : (float)g_test_rand_double_range (-1, 1) / sqrtf (fan_in));
    t->data = (const guint8 *)data;
  }
  path = g_build_filename (
      tmp, "vae", "diffusion_pytorch_model.safetensors", NULL);
  g_assert_true (sora_safetensors_write (path, tensors, expected->len, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < expected->len; i++)
    g_free ((gpointer)tensors[i].data);
  g_free (tensors);
  g_free (path);
  g_ptr_array_unref (expected);
  g_free (tiny);
  return tmp;
}

/* Every chunk's f32 frames, and the device allocations made for each. */
typedef struct
{
  GByteArray *frames;
  GArray *allocations; /* guint64 per chunk */
  guint64 last;
} Replayed;

static gboolean
keep_frames (SoraTensor *frames, gpointer user_data, GError **error)
{
  Replayed *r = user_data;
  float *f = sora_test_download (frames);
  guint64 now = sora_device_get_counts (frames->dev).allocations, n;

  n = now - r->last;
  r->last = now;
  g_array_append_val (r->allocations, n);
  g_byte_array_append (r->frames, (guint8 *)f, frames->nbytes);
  g_free (f);
  return TRUE;
}

/* Decodes @z whole (@per_frame FALSE) or one latent frame per run with the
 * decoder parked between runs, which frees its arena: every chunk then
 * allocates its own buffers and none replays a plan. */
static void
decode_replayed (
    SoraWanVae *vae, SoraTensor *z, gboolean per_frame, Replayed *r)
{
  SoraWanVaeDecoder *d =
      sora_wan_vae_decoder_new (vae, z->shape[2], z->shape[3]);
  gsize f = z->shape[1];
  GError *error = NULL;

  r->frames = g_byte_array_new ();
  r->allocations = g_array_new (FALSE, FALSE, sizeof (guint64));
  r->last = sora_device_get_counts (z->dev).allocations;
  for (gsize k = 0; k < f; k += per_frame ? 1 : f) {
    gsize n = per_frame ? 1 : f;
    SoraTensor *part = sora_tensor_new_v (z->dev, "part", SORA_DTYPE_F32,
        &error, 4, z->shape[0], n, z->shape[2], z->shape[3]);

    g_assert_no_error (error);
    g_assert_true (sora_op_slice (z, 1, k, n, part, &error));
    g_assert_true (
        sora_wan_vae_decoder_run (d, part, keep_frames, r, NULL, &error));
    g_assert_true (sora_wan_vae_decoder_park (d, &error));
    g_assert_no_error (error);
    sora_tensor_free (part);
    r->last = sora_device_get_counts (z->dev).allocations;
  }
  sora_wan_vae_decoder_free (d);
}

/* The decoder plans a chunk's activations and replays the plan on the
 * next chunks (sora-arena.h): from the sixth chunk on (the first four
 * differ while the causal slots fill, the fifth replays the fourth's plan
 * made after its delivery) a chunk allocates nothing on the device, whole
 * or in tiles, and its frames are bit for bit those of a decode that
 * never replays. */
static void
test_arena (void)
{
  SoraModelFolder *folder;
  SoraWanVae *vae = open_vae ("wan-tiny", &folder);
  SoraTensor *z = random_latents (7, 6, 8);
  GError *error = NULL;

  for (guint tiled = 0; tiled < 2; tiled++) {
    Replayed whole, alone;

    g_assert_true (sora_wan_vae_set_tiling (
        vae, tiled ? 5 : 0, tiled ? 5 : 0, tiled ? 2 : 0, &error));
    decode_replayed (vae, z, FALSE, &whole);
    decode_replayed (vae, z, TRUE, &alone);
    g_assert_cmpuint (whole.allocations->len, ==, 7);
    for (guint i = 0; i < 7; i++)
      g_test_message ("%s chunk %u: %" G_GUINT64_FORMAT
                      " device allocations, %" G_GUINT64_FORMAT
                      " with each chunk a run of its own",
          tiled ? "tiled" : "whole", i,
          g_array_index (whole.allocations, guint64, i),
          g_array_index (alone.allocations, guint64, i));
    for (guint i = 5; i < 7; i++) {
      g_assert_cmpuint (g_array_index (whole.allocations, guint64, i), ==, 0);
      g_assert_cmpuint (g_array_index (alone.allocations, guint64, i), >, 0);
    }
    g_assert_cmpuint (whole.frames->len, ==, alone.frames->len);
    g_assert_true (memcmp (whole.frames->data, alone.frames->data,
                       whole.frames->len) == 0);
    g_byte_array_unref (whole.frames);
    g_byte_array_unref (alone.frames);
    g_array_unref (whole.allocations);
    g_array_unref (alone.allocations);
  }
  sora_tensor_free (z);
  sora_wan_vae_free (vae);
  sora_model_folder_free (folder);
}

/* A VAE with one temporal upsampler instead of Wan2.1's two decodes 2
 * frames per latent frame after the first. */
static void
test_temporal_pattern (void)
{
  const char *json =
      "{\"_class_name\": \"AutoencoderKLWan\", \"base_dim\": 4, "
      "\"z_dim\": 16, \"dim_mult\": [1, 1, 1, 1], \"num_res_blocks\": 1, "
      "\"attn_scales\": [], \"temperal_downsample\": [false, false, true]}";
  char *dir = write_vae_folder (json);
  GError *error = NULL;
  SoraModelFolder *folder = sora_model_folder_open (dir, &error);
  SoraWanVae *vae;
  SoraTensor *z = random_latents (3, 2, 3);
  Collect c;

  g_assert_no_error (error);
  g_assert_cmpuint (frames_per_chunk (folder), ==, 2);
  vae = sora_wan_vae_new (sora_test_device (), folder, &error);
  g_assert_no_error (error);
  decode (vae, z, &c, &error);
  g_assert_no_error (error);
  assert_chunks (&c, 3, frames_per_chunk (folder));
  g_free (c.video);
  sora_tensor_free (z);
  sora_wan_vae_free (vae);
  sora_model_folder_free (folder);
  g_assert_true (sora_test_remove_tree (dir));
  g_free (dir);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/vae/decode/f32", test_decode_f32);
  g_test_add_func ("/vae/decode/f16", test_decode_f16);
  g_test_add_func ("/vae/decode/bf16", test_decode_bf16);
  g_test_add_func ("/vae/encode/f32", test_encode_f32);
  g_test_add_func ("/vae/encode/f16", test_encode_f16);
  g_test_add_func ("/vae/encode/bf16", test_encode_bf16);
  g_test_add_func ("/vae/memory", test_memory);
  g_test_add_func ("/vae/arena", test_arena);
  g_test_add_func ("/vae/decode/temporal-pattern", test_temporal_pattern);
  g_test_add_func ("/vae/tiling", test_tiling);
  g_test_add_func ("/vae/cancel", test_cancel);
  g_test_add_func ("/vae/cancel-in-chunk", test_cancel_in_chunk);
  g_test_add_func ("/vae/errors", test_errors);
  if (g_getenv ("SORA_VAE_BENCH"))
    g_test_add_func ("/vae/bench", test_bench);
  return sora_test_run ();
}
