/* gst-sora tests: the umT5 encoder against transformers' UMT5EncoderModel
 * on the tiny fixture model (tools/make_fixtures.py), in f32, f16 and bf16
 * storage, at every saved intermediate point.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-test-util.h"
#include "sora-umt5.h"

typedef struct
{
  const char *ref;
  double tol;
  guint checked;
} Probe;

static void
check_point (const char *point, SoraTensor *t, gpointer user_data)
{
  Probe *p = user_data;
  gsize n;
  double *want = sora_test_reference (p->ref, point, &n);
  float *got = sora_test_download (t);
  char *what = g_strdup_printf ("%s %s", p->ref, point);

  g_assert_cmpuint (n, ==, t->numel);
  sora_assert_close (got, want, n, p->tol, what);
  p->checked++;
  g_free (what);
  g_free (got);
  g_free (want);
}

/* With @stream, also checks that the encoder holds no layer on the device
 * outside an encoding. */
static void
check_model (
    const char *folder_name, const char *ref, double tol, gboolean stream)
{
  SoraDevice *dev = sora_test_device ();
  guint64 before = sora_test_bytes_held (dev), held;
  GError *error = NULL;
  char *dir = sora_test_fixture (folder_name);
  SoraModelFolder *folder = sora_model_folder_open (dir, &error);
  SoraUmt5 *m;
  gsize n, n_mask;
  float *ids_f = sora_test_reference_f32 (ref, "input_ids", &n);
  float *mask_f = sora_test_reference_f32 (ref, "attention_mask", &n_mask);
  gint32 *ids = g_new (gint32, n), *mask = g_new (gint32, n);
  Probe probe = { ref, tol, 0 };
  SoraProbe sp = { check_point, &probe };
  SoraTensor *out;
  double *want;
  float *got;
  guint pads = 0;

  g_assert_no_error (error);
  g_assert_true (sora_model_folder_validate (folder, &error));
  g_assert_no_error (error);
  for (gsize i = 0; i < n; i++) {
    ids[i] = (gint32)ids_f[i];
    mask[i] = (gint32)mask_f[i];
    pads += mask[i] == 0;
  }
  g_assert_cmpuint (pads, >, 0); /* the padding path is exercised */

  m = sora_umt5_new (dev, folder, stream, &error);
  g_assert_no_error (error);
  held = sora_test_bytes_held (dev) - before;
  if (stream)
    g_assert_cmpuint (held, <,
        sora_umt5_weight_bytes (folder) /
            sora_model_folder_get_text_encoder_config (folder)->num_layers);
  else
    g_assert_cmpuint (held, >=, sora_umt5_weight_bytes (folder));
  out = sora_umt5_encode (m, ids, mask, 1, n, &sp, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (probe.checked, ==, 2);
  /* Nothing else stays. */
  g_assert_cmpuint (
      sora_test_bytes_held (dev) - before, ==, held + out->nbytes);

  want = sora_test_reference (ref, "prompt_embeds", &n);
  got = sora_test_download (out);
  sora_assert_close (got, want, n, tol, "prompt_embeds");
  for (gsize i = 0; i < n; i++)
    if (want[i] == 0.0)
      g_assert_cmpfloat (got[i], ==, 0.0f); /* padding rows exactly 0 */

  g_free (got);
  g_free (want);
  sora_tensor_free (out);
  sora_umt5_free (m);
  sora_model_folder_free (folder);
  g_free (ids);
  g_free (mask);
  g_free (ids_f);
  g_free (mask_f);
  g_free (dir);
}

/* fp32 end to end: 1e-4 (issue bound); a few dozen ops of f32 rounding
 * give ~1e-6 in practice. */
static void
test_f32 (void)
{
  check_model ("wan-tiny", "tiny-umt5.safetensors", 1e-4, FALSE);
}

/* The f16/bf16 references are the f32 model on the rounded weights, so
 * only our f32 activations differ: 1e-4 as well. */
static void
test_f16 (void)
{
  check_model ("wan-tiny-f16", "tiny-f16-umt5.safetensors", 1e-4, FALSE);
}

static void
test_bf16 (void)
{
  check_model ("wan-tiny-bf16", "tiny-bf16-umt5.safetensors", 1e-4, FALSE);
}

/* Streaming the layers (as for umT5-XXL on a small device) computes the
 * same: same tolerance, on stored bf16 weights. */
static void
test_stream (void)
{
  check_model ("wan-tiny-bf16", "tiny-bf16-umt5.safetensors", 1e-4, TRUE);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/umt5/f32", test_f32);
  g_test_add_func ("/umt5/f16", test_f16);
  g_test_add_func ("/umt5/bf16", test_bf16);
  g_test_add_func ("/umt5/stream", test_stream);
  return sora_test_run ();
}
