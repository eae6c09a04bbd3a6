/* gst-sora tests: the Wan DiT against diffusers' WanTransformer3DModel
 * (tools/make_fixtures.py): the tiny model in f32, f16 and bf16 storage and
 * the wide one (1.3B widths, 2 blocks) rebuilt from its weight recipe, at
 * every saved intermediate point; batching; a perturbed model; bad inputs.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sora-recipe.h"
#include "sora-safetensors.h"
#include "sora-test-util.h"
#include "sora-wan-dit.h"
#include "test-dit.h"

/* Every probe point of a forward compared with the reference file. */
typedef struct
{
  const char *ref;
  double tol; /* 0: measure only */
  double worst;
  guint checked;
} Parity;

static void
check_point (const char *point, SoraTensor *t, gpointer user_data)
{
  Parity *p = user_data;
  gsize n;
  double *want = sora_test_reference (p->ref, point, &n);
  float *got = sora_test_download (t);
  char *what = g_strdup_printf ("%s %s", p->ref, point);
  double err;

  g_assert_cmpuint (n, ==, t->numel);
  err = sora_test_rel_l2 (got, want, n);
  p->worst = MAX (p->worst, err);
  if (p->tol > 0)
    sora_assert_close (got, want, n, p->tol, what);
  else
    g_test_message ("%s: relative L2 error %.3g", what, err);
  p->checked++;
  g_free (what);
  g_free (got);
  g_free (want);
}

/* A tensor of the reference file uploaded with its shape. */
static SoraTensor *
reference_input (const char *ref, const char *name)
{
  GError *error = NULL;
  char *rel = g_build_filename ("reference", ref, NULL);
  char *path = sora_test_fixture (rel);
  SoraSafetensors *st = sora_safetensors_open (path, &error);
  const SoraSafetensor *t;
  gsize shape[SORA_MAX_DIMS];
  float *host;
  SoraTensor *out;

  g_assert_no_error (error);
  t = sora_safetensors_find (st, name);
  g_assert_nonnull (t);
  g_assert_cmpint (t->dtype, ==, SORA_SAFE_F32);
  g_assert_cmpuint (t->ndim, <=, SORA_MAX_DIMS);
  for (guint i = 0; i < t->ndim; i++)
    shape[i] = t->shape[i];
  host = g_new (float, t->numel);
  memcpy (host, t->data, t->nbytes);
  out = sora_test_upload (name, SORA_DTYPE_F32, host, t->ndim, shape);
  g_free (host);
  sora_safetensors_free (st);
  g_free (path);
  g_free (rel);
  return out;
}

static SoraWanDit *
open_dit (const char *dir, SoraModelFolder **folder)
{
  GError *error = NULL;
  SoraWanDit *dit;

  *folder = sora_model_folder_open (dir, &error);
  g_assert_no_error (error);
  g_assert_true (sora_model_folder_validate (*folder, &error));
  g_assert_no_error (error);
  dit = sora_wan_dit_new (sora_test_device (), *folder, &error);
  g_assert_no_error (error);
  return dit;
}

/* Runs the model in @dir on the inputs saved in @ref and returns the
 * largest relative L2 error over the probe points, asserting each against
 * @tol unless it is 0. */
double
parity (const char *dir, const char *ref, double tol)
{
  GError *error = NULL;
  SoraModelFolder *folder;
  SoraWanDit *dit = open_dit (dir, &folder);
  SoraTensor *latents = reference_input (ref, "hidden_states");
  SoraTensor *text = reference_input (ref, "encoder_hidden_states");
  gsize n;
  float *t = sora_test_reference_f32 (ref, "timestep", &n);
  Parity p = { ref, tol, 0, 0 };
  SoraProbe probe = { check_point, &p };
  SoraTensor *out;
  gint64 start = g_get_monotonic_time ();
  clock_t cpu = clock ();

  out = sora_wan_dit_forward (dit, latents, t, text, &probe, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("%s: first forward, with probes and building kernels: "
                  "%.2f s (process CPU %.2f s)",
      ref, (g_get_monotonic_time () - start) / 1e6,
      (double)(clock () - cpu) / CLOCKS_PER_SEC);
  sora_tensor_free (out);

  /* The forward's own time: kernels built, no probes, up to the result on
   * the host. */
  start = g_get_monotonic_time ();
  cpu = clock ();
  out = sora_wan_dit_forward (dit, latents, t, text, NULL, NULL, &error);
  g_assert_no_error (error);
  g_free (sora_test_download (out));
  g_test_message ("%s: forward %.3f s (process CPU %.3f s)", ref,
      (g_get_monotonic_time () - start) / 1e6,
      (double)(clock () - cpu) / CLOCKS_PER_SEC);
  /* patch_embedding, temb, timestep_proj, text_embedded, the blocks,
   * before_head, output */
  g_assert_cmpuint (
      p.checked, ==, 6 + sora_wan_dit_get_config (dit)->num_layers);

  g_free (t);
  sora_tensor_free (out);
  sora_tensor_free (latents);
  sora_tensor_free (text);
  sora_wan_dit_free (dit);
  sora_model_folder_free (folder);
  return p.worst;
}

float *
dit_output (const char *dir, const char *ref, gsize *numel)
{
  GError *error = NULL;
  SoraModelFolder *folder;
  SoraWanDit *dit = open_dit (dir, &folder);
  SoraTensor *latents = reference_input (ref, "hidden_states");
  SoraTensor *text = reference_input (ref, "encoder_hidden_states");
  float *t = sora_test_reference_f32 (ref, "timestep", numel);
  SoraTensor *out =
      sora_wan_dit_forward (dit, latents, t, text, NULL, NULL, &error);
  float *values;

  g_assert_no_error (error);
  values = sora_test_download (out);
  *numel = out->numel;
  g_free (t);
  sora_tensor_free (out);
  sora_tensor_free (latents);
  sora_tensor_free (text);
  sora_wan_dit_free (dit);
  sora_model_folder_free (folder);
  return values;
}

static void
check_fixture (const char *folder_name, const char *ref)
{
  char *dir = sora_test_fixture (folder_name);

  /* 1e-4: the f32 bound; a few hundred f32 ops (sums over at most
   * 256 terms) measure ~1e-6.  The f16/bf16 references are the f32 model
   * on the rounded weights, so they take the same bound (the issue allows
   * 1e-2 there). */
  parity (dir, ref, 1e-4);
  g_free (dir);
}

static void
test_tiny_f32 (void)
{
  check_fixture ("wan-tiny", "tiny-dit.safetensors");
}

static void
test_tiny_f16 (void)
{
  check_fixture ("wan-tiny-f16", "tiny-f16-dit.safetensors");
}

static void
test_tiny_bf16 (void)
{
  check_fixture ("wan-tiny-bf16", "tiny-bf16-dit.safetensors");
}

/* An output tensor for tiny_forward. */
static SoraTensor *
tiny_output (SoraWanDit *dit)
{
  GError *error = NULL;
  SoraTensor *latents =
      reference_input ("tiny-dit.safetensors", "hidden_states");
  gsize shape[5];
  SoraTensor *out;

  memcpy (shape, latents->shape, sizeof (shape));
  shape[1] = sora_wan_dit_get_config (dit)->out_channels;
  out = sora_tensor_new (
      sora_test_device (), "output", SORA_DTYPE_F32, 5, shape, &error);
  g_assert_no_error (error);
  sora_tensor_free (latents);
  return out;
}

/* The reference forward of the tiny model into @out: the device's
 * allocations it made. */
static guint64
tiny_forward (SoraWanDit *dit, SoraTensor *out)
{
  const char *ref = "tiny-dit.safetensors";
  GError *error = NULL;
  SoraTensor *latents = reference_input (ref, "hidden_states");
  SoraTensor *text = reference_input (ref, "encoder_hidden_states");
  gsize n;
  float *t = sora_test_reference_f32 (ref, "timestep", &n);
  guint64 before = sora_device_get_counts (sora_test_device ()).allocations;

  g_assert_true (sora_wan_dit_forward_into (
      dit, latents, t, text, NULL, out, NULL, &error));
  g_assert_no_error (error);
  before = sora_device_get_counts (sora_test_device ()).allocations - before;
  g_free (t);
  sora_tensor_free (latents);
  sora_tensor_free (text);
  return before;
}

/* A forward of the workspace's shape allocates nothing on the device and
 * gives the same output; releasing the workspace gives its memory back. */
static void
test_workspace (void)
{
  SoraDevice *dev = sora_test_device ();
  char *dir = sora_test_fixture ("wan-tiny");
  SoraModelFolder *folder;
  SoraWanDit *dit = open_dit (dir, &folder);
  guint64 held = sora_test_bytes_held (dev);
  SoraTensor *a = tiny_output (dit);
  SoraTensor *b = tiny_output (dit);
  const SoraWanTransformerConfig *c = sora_wan_dit_get_config (dit);
  gsize tokens = a->shape[2] / c->patch_size[0] *
      (a->shape[3] / c->patch_size[1]) * (a->shape[4] / c->patch_size[2]);
  float *got_a, *got_b;

  tiny_forward (dit, a);
  g_assert_cmpuint (sora_test_bytes_held (dev), >, held + 2 * a->nbytes);
  g_assert_cmpuint (tiny_forward (dit, b), ==, 0);
  got_a = sora_test_download (a);
  got_b = sora_test_download (b);
  g_assert_cmpmem (got_a, a->nbytes, got_b, b->nbytes);
  /* what stays: the outputs and the RoPE table of the grid (a cos and a
   * sin per token and pair of head channels) */
  sora_wan_dit_release_workspace (dit);
  g_assert_cmpuint (sora_test_bytes_held (dev), ==,
      held + 2 * a->nbytes + tokens * c->attention_head_dim * 4);

  g_free (got_a);
  g_free (got_b);
  sora_tensor_free (a);
  sora_tensor_free (b);
  sora_wan_dit_free (dit);
  sora_model_folder_free (folder);
  g_free (dir);
}

/* The named lifetimes of the scratch tensors y and q (sora_tensor_lease in
 * sora-wan-dit.c) hold: with each ended role's tensor filled with NaN, the
 * output is the same bit for bit, where an op reading y or q outside a
 * role's life would bring the NaN in (test-device's /device/lease shows
 * such a read caught). */
static void
test_lifetimes (void)
{
  SoraDevice *dev = sora_test_device ();
  char *dir = sora_test_fixture ("wan-tiny");
  SoraModelFolder *folder;
  SoraWanDit *dit = open_dit (dir, &folder);
  SoraTensor *plain = tiny_output (dit);
  SoraTensor *poisoned = tiny_output (dit);
  float *want, *got;

  tiny_forward (dit, plain);
  sora_device_set_lease_poison (dev, TRUE);
  tiny_forward (dit, poisoned);
  sora_device_set_lease_poison (dev, FALSE);
  want = sora_test_download (plain);
  got = sora_test_download (poisoned);
  for (gsize i = 0; i < plain->numel; i++)
    g_assert_false (isnan (want[i]));
  g_assert_cmpmem (want, plain->nbytes, got, poisoned->nbytes);

  g_free (want);
  g_free (got);
  sora_tensor_free (plain);
  sora_tensor_free (poisoned);
  sora_wan_dit_free (dit);
  sora_model_folder_free (folder);
  g_free (dir);
}

/* Two items (other text, other timestep for the second) in one forward
 * equal two single forwards. */
static void
test_batched (void)
{
  const char *ref = "tiny-dit.safetensors";
  GError *error = NULL;
  char *dir = sora_test_fixture ("wan-tiny");
  SoraModelFolder *folder;
  SoraWanDit *dit = open_dit (dir, &folder);
  SoraTensor *latents = reference_input (ref, "hidden_states");
  SoraTensor *text = reference_input (ref, "encoder_hidden_states");
  gsize ln = latents->numel, tn = text->numel, n;
  float *t_ref = sora_test_reference_f32 (ref, "timestep", &n);
  float ts[2] = { t_ref[0], 301.0f };
  float *lat_host = sora_test_download (latents);
  float *text_host = g_new0 (float, 2 * tn);
  float *lat2 = g_new (float, 2 * ln);
  gsize lshape[5], tshape[3];
  SoraTensor *single[2], *texts[2], *lat_b, *text_b, *out_b;
  float *got_b;

  memcpy (lat2, lat_host, ln * sizeof (float));
  memcpy (lat2 + ln, lat_host, ln * sizeof (float));
  sora_tensor_read_f32 (text, text_host, &error);
  g_assert_no_error (error);
  memcpy (lshape, latents->shape, sizeof (lshape));
  memcpy (tshape, text->shape, sizeof (tshape));
  lshape[0] = tshape[0] = 2;
  lat_b = sora_test_upload ("latents", SORA_DTYPE_F32, lat2, 5, lshape);
  /* the second item's text is all zeros (the padding-only prompt) */
  text_b = sora_test_upload ("text", SORA_DTYPE_F32, text_host, 3, tshape);
  out_b = sora_wan_dit_forward (dit, lat_b, ts, text_b, NULL, NULL, &error);
  g_assert_no_error (error);
  got_b = sora_test_download (out_b);

  texts[0] = text;
  texts[1] = sora_test_upload (
      "zero text", SORA_DTYPE_F32, text_host + tn, 3, text->shape);
  for (guint b = 0; b < 2; b++) {
    float *want_f;
    double *want = g_new (double, ln);
    char *what = g_strdup_printf ("batch item %u vs alone", b);

    single[b] = sora_wan_dit_forward (
        dit, latents, &ts[b], texts[b], NULL, NULL, &error);
    g_assert_no_error (error);
    want_f = sora_test_download (single[b]);
    for (gsize i = 0; i < ln; i++)
      want[i] = want_f[i];
    /* 1e-6: the same f32 arithmetic per item; only the products' tiling
     * may follow the row count. */
    sora_assert_close (got_b + b * ln, want, ln, 1e-6, what);
    g_free (what);
    g_free (want);
    g_free (want_f);
    sora_tensor_free (single[b]);
  }
  /* The two items do differ: the second's text and time matter. */
  {
    double *item1 = g_new (double, ln);

    for (gsize i = 0; i < ln; i++)
      item1[i] = got_b[ln + i];
    g_assert_cmpfloat (sora_test_rel_l2 (got_b, item1, ln), >, 1e-3);
    g_free (item1);
  }

  g_free (got_b);
  g_free (lat_host);
  g_free (text_host);
  g_free (lat2);
  g_free (t_ref);
  sora_tensor_free (out_b);
  sora_tensor_free (lat_b);
  sora_tensor_free (text_b);
  sora_tensor_free (texts[1]);
  sora_tensor_free (latents);
  sora_tensor_free (text);
  sora_wan_dit_free (dit);
  sora_model_folder_free (folder);
  g_free (dir);
}

char *
make_tmp_dir (void)
{
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("sora-test-dit-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

/* Inputs of the wrong shape are errors naming the tensor. */
static void
test_bad_inputs (void)
{
  const char *ref = "tiny-dit.safetensors";
  GError *error = NULL;
  char *dir = sora_test_fixture ("wan-tiny");
  SoraModelFolder *folder;
  SoraWanDit *dit = open_dit (dir, &folder);
  SoraTensor *text = reference_input (ref, "encoder_hidden_states");
  SoraTensor *latents = reference_input (ref, "hidden_states");
  float *zeros = g_new0 (float, 15 * 3 * 6 * 10);
  SoraTensor *bad = sora_test_upload ("latents with 15 channels",
      SORA_DTYPE_F32, zeros, 5, (gsize[]){ 1, 15, 3, 6, 10 });
  SoraTensor *bad_text = sora_test_upload (
      "text of width 31", SORA_DTYPE_F32, zeros, 3, (gsize[]){ 1, 32, 31 });
  float t = 500.0f;

  g_assert_null (sora_wan_dit_forward (dit, bad, &t, text, NULL, NULL, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "latents with 15 channels"));
  g_clear_error (&error);

  g_assert_null (
      sora_wan_dit_forward (dit, latents, &t, bad_text, NULL, NULL, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "text of width 31"));
  g_clear_error (&error);

  g_free (zeros);
  sora_tensor_free (bad);
  sora_tensor_free (bad_text);
  sora_tensor_free (latents);
  sora_tensor_free (text);
  sora_wan_dit_free (dit);
  sora_model_folder_free (folder);
  g_free (dir);
}

/* Cancels after the first block and records the last point reached. */
static void
cancel_after_block0 (const char *point, SoraTensor *t, gpointer user_data)
{
  GCancellable *cancellable = user_data;

  g_object_set_data_full (
      G_OBJECT (cancellable), "last-point", g_strdup (point), g_free);
  if (strcmp (point, "after_block0") == 0)
    g_cancellable_cancel (cancellable);
}

/* A cancellation stops the forward at the next block's end: the tiny
 * model's second block is the last to run, and no head follows. */
static void
test_cancel_between_blocks (void)
{
  const char *ref = "tiny-dit.safetensors";
  GError *error = NULL;
  char *dir = sora_test_fixture ("wan-tiny");
  SoraModelFolder *folder;
  SoraWanDit *dit = open_dit (dir, &folder);
  SoraTensor *text = reference_input (ref, "encoder_hidden_states");
  SoraTensor *latents = reference_input (ref, "hidden_states");
  GCancellable *cancellable = g_cancellable_new ();
  SoraProbe probe = { cancel_after_block0, cancellable };
  gsize n;
  float *t = sora_test_reference_f32 (ref, "timestep", &n);

  g_assert_cmpuint (sora_wan_dit_get_config (dit)->num_layers, ==, 2);
  g_assert_null (sora_wan_dit_forward (
      dit, latents, t, text, &probe, cancellable, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_CANCELLED);
  g_assert_cmpstr (g_object_get_data (G_OBJECT (cancellable), "last-point"), ==,
      "after_block0");
  g_clear_error (&error);

  g_free (t);
  g_object_unref (cancellable);
  sora_tensor_free (latents);
  sora_tensor_free (text);
  sora_wan_dit_free (dit);
  sora_model_folder_free (folder);
  g_free (dir);
}

/* A forward cancelled from another thread: the last probe point it
 * reached and when (monotonic µs). */
typedef struct
{
  GMutex lock;
  GCond cond;
  GCancellable *cancellable;
  char *last;
  gint64 text_us, block0_us, cancel_us;
} MidStep;

static void
mid_step_point (const char *point, SoraTensor *t, gpointer user_data)
{
  MidStep *m = user_data;
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&m->lock);
  g_free (m->last);
  m->last = g_strdup (point);
  if (strcmp (point, "text_embedded") == 0)
    m->text_us = now;
  if (strcmp (point, "after_block0") == 0) {
    m->block0_us = now;
    g_cond_signal (&m->cond);
  }
  g_mutex_unlock (&m->lock);
}

/* Cancels halfway through block 1: half of block 0's time after it. */
static gpointer
mid_step_cancel (gpointer data)
{
  MidStep *m = data;
  gint64 wait;

  g_mutex_lock (&m->lock);
  while (m->block0_us == 0)
    g_cond_wait (&m->cond, &m->lock);
  wait = (m->block0_us - m->text_us) / 2;
  g_mutex_unlock (&m->lock);
  g_usleep (wait);
  g_mutex_lock (&m->lock);
  m->cancel_us = g_get_monotonic_time ();
  g_mutex_unlock (&m->lock);
  g_cancellable_cancel (m->cancellable);
  return NULL;
}

/* An f32 tensor of recipe values (make_fixtures.py recipe_tensor). */
static SoraTensor *
recipe_tensor (const char *name, guint ndim, const gsize *shape)
{
  gsize n = 1;
  float *v;
  SoraTensor *t;

  for (guint i = 0; i < ndim; i++)
    n *= shape[i];
  v = g_new (float, n);
  sora_recipe_values (name, 1.0f, 0.0f, v, n);
  t = sora_test_upload (name, SORA_DTYPE_F32, v, ndim, shape);
  g_free (v);
  return t;
}

/* The 1.3B-shaped transformer (30 blocks of the recipe, f16 weights) on a
 * CFG step at 832x480, one frame (1560 tokens, 512 text rows), cancelled
 * from another thread halfway through block 1: the forward stops with
 * SORA_ERROR_CANCELLED long before its last block.  How long the stop took
 * is printed, not asserted (docs/obs.md quotes it). */
static void
test_cancel_mid_step (void)
{
  GError *error = NULL;
  char *tmp = make_tmp_dir ();
  char *recipe = sora_test_fixture ("reference/wide-recipe.json");
  gsize lat[5] = { 2, 16, 1, 60, 104 }, text_shape[3] = { 2, 512, 4096 };
  float t[2] = { 500.0f, 500.0f };
  MidStep m = { 0 };
  SoraProbe probe = { mid_step_point, &m };
  SoraModelFolder *folder;
  SoraWanDit *dit;
  SoraTensor *latents, *text;
  GThread *canceller;
  gint64 end;
  guint last_block;

  copy_tiny_parts (tmp);
  g_assert_true (
      sora_recipe_write_transformer (recipe, 30, SORA_DTYPE_F16, tmp, &error));
  g_assert_no_error (error);
  dit = open_dit (tmp, &folder);
  g_assert_cmpuint (sora_wan_dit_get_config (dit)->num_layers, ==, 30);
  latents = recipe_tensor ("cancel.latents", 5, lat);
  text = recipe_tensor ("cancel.text", 3, text_shape);

  g_mutex_init (&m.lock);
  g_cond_init (&m.cond);
  m.cancellable = g_cancellable_new ();
  canceller = g_thread_new ("canceller", mid_step_cancel, &m);
  g_assert_null (sora_wan_dit_forward (
      dit, latents, t, text, &probe, m.cancellable, &error));
  end = g_get_monotonic_time ();
  g_assert_error (error, SORA_ERROR, SORA_ERROR_CANCELLED);
  g_clear_error (&error);
  g_thread_join (canceller);

  g_assert_true (g_str_has_prefix (m.last, "after_block"));
  last_block = atoi (m.last + strlen ("after_block"));
  g_assert_cmpuint (last_block, <, 29);
  g_test_message ("1.3B shape, 30 blocks, 1560 tokens: block 0 took %.0f ms; "
                  "cancelled %.0f ms into block 1, the forward returned "
                  "%.1f ms later, after block %u",
      (m.block0_us - m.text_us) / 1e3, (m.cancel_us - m.block0_us) / 1e3,
      (end - m.cancel_us) / 1e3, last_block);

  g_free (m.last);
  g_object_unref (m.cancellable);
  g_cond_clear (&m.cond);
  g_mutex_clear (&m.lock);
  sora_tensor_free (latents);
  sora_tensor_free (text);
  sora_wan_dit_free (dit);
  sora_model_folder_free (folder);
  sora_test_remove_tree (tmp);
  g_free (recipe);
  g_free (tmp);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/dit/tiny-f32", test_tiny_f32);
  g_test_add_func ("/dit/tiny-f16", test_tiny_f16);
  g_test_add_func ("/dit/tiny-bf16", test_tiny_bf16);
  g_test_add_func ("/dit/batched", test_batched);
  g_test_add_func ("/dit/workspace", test_workspace);
  g_test_add_func ("/dit/lifetimes", test_lifetimes);
  g_test_add_func ("/dit/wrong-model", test_wrong_model);
  g_test_add_func ("/dit/bad-inputs", test_bad_inputs);
  g_test_add_func ("/dit/cancel-between-blocks", test_cancel_between_blocks);
  g_test_add_func ("/dit/cancel-mid-step", test_cancel_mid_step);
  g_test_add_func ("/dit/wide", test_wide);
  g_test_add_func ("/dit-bf16/tiny", test_bf16_tiny);
  g_test_add_func ("/dit-bf16/wide", test_bf16_wide);
  g_test_add_func ("/dit-bf16/pipeline", test_bf16_pipeline);
  return sora_test_run ();
}
