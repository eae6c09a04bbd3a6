/* gst-sora tests: /vae/bench, added by SORA_VAE_BENCH=H,W,F: the real
 * Wan2.1 VAE config with random weights (or the model folder
 * SORA_VAE_BENCH_MODEL), decoding F latent frames of H x W, then again
 * cancelled halfway through its second chunk (the stop latency); part of
 * test-vae (test-vae.c)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>

#include "sora-test-engine.h"
#include "test-vae.h"

/* The real Wan2.1 VAE config. */
static const char *real_vae_json =
    "{\"_class_name\": \"AutoencoderKLWan\", \"base_dim\": 96, "
    "\"z_dim\": 16, \"dim_mult\": [1, 2, 4, 4], \"num_res_blocks\": 2, "
    "\"attn_scales\": [], \"temperal_downsample\": [false, true, true], "
    "\"dropout\": 0.0}";

/* A cancellation from another thread @delay seconds after it starts. */
typedef struct
{
  GCancellable *cancellable;
  double delay;
  gint64 at;
} LateCancel;

static gpointer
cancel_late (gpointer data)
{
  LateCancel *l = data;

  g_usleep (l->delay * 1e6);
  l->at = g_get_monotonic_time ();
  g_cancellable_cancel (l->cancellable);
  return NULL;
}

/* Decodes @z again, cancelled @delay seconds in (mid chunk), and prints how
 * long the decode took to return after the cancel: measured, not
 * asserted. */
static void
stop_latency (SoraWanVae *vae, SoraTensor *z, double delay)
{
  LateCancel l = { g_cancellable_new (), delay, 0 };
  GThread *thread = g_thread_new ("canceller", cancel_late, &l);
  GError *error = NULL;
  Collect c = { 0 };
  gint64 end;

  c.start = g_get_monotonic_time ();
  g_assert_false (
      sora_test_vae_decode (vae, z, collect, &c, l.cancellable, &error));
  end = g_get_monotonic_time ();
  g_thread_join (thread);
  g_assert_error (error, SORA_ERROR, SORA_ERROR_CANCELLED);
  g_test_message ("cancelled %.2f s into the decode (%u chunks done): "
                  "returned %.1f ms later",
      (l.at - c.start) / 1e6, c.chunks, (end - l.at) / 1e3);
  g_clear_error (&error);
  g_free (c.video);
  g_object_unref (l.cancellable);
}

void
test_bench (void)
{
  guint h = 8, w = 13, f = 2;
  const char *env = g_getenv ("SORA_VAE_BENCH");
  const char *model = g_getenv ("SORA_VAE_BENCH_MODEL");
  char *dir;
  guint64 held;
  SoraModelFolder *folder;
  SoraWanVae *vae;
  SoraTensor *z;
  GError *error = NULL;
  Collect c;
  clock_t cpu;

  sscanf (env, "%u,%u,%u", &h, &w, &f);
  dir = model ? g_strdup (model) : write_vae_folder (real_vae_json);
  folder = sora_model_folder_open (dir, &error);
  g_assert_no_error (error);
  vae = sora_wan_vae_new (sora_test_device (), folder, &error);
  g_assert_no_error (error);
  z = random_latents (f, h, w);
  held = sora_device_bytes_current (sora_test_device ());
  sora_device_reset_peak (sora_test_device ());
  cpu = clock ();
  decode (vae, z, &c, &error);
  g_assert_no_error (error);
  g_test_message ("%s VAE, latent %ux%u (%ux%u video), %u latent frames, "
                  "device peak %.0f MiB, %.1f MiB above what was held",
      model ? model : "real", h, w, 8 * h, 8 * w, f,
      sora_device_bytes_peak (sora_test_device ()) / 1048576.0,
      (sora_device_bytes_peak (sora_test_device ()) - held) / 1048576.0);
  /* The first use of each kernel variant builds it: later chunks time the
   * decode itself. */
  for (guint i = 0; i < c.chunks && i < 64; i++)
    g_test_message ("chunk %u (%u frames): %.3f s wall, %.3f s CPU", i,
        c.chunk_frames[i], c.seconds[i] - (i ? c.seconds[i - 1] : 0),
        c.cpu[i] - (i ? c.cpu[i - 1] : (double)cpu / CLOCKS_PER_SEC));
  g_free (c.video);
  /* Halfway through the largest chunk. */
  stop_latency (vae, z,
      c.chunks > 1 ? (c.seconds[0] + c.seconds[1]) / 2 : c.seconds[0] / 2);
  sora_tensor_free (z);
  sora_wan_vae_free (vae);
  sora_model_folder_free (folder);
  if (model == NULL)
    g_assert_true (sora_test_remove_tree (dir));
  g_free (dir);
}
