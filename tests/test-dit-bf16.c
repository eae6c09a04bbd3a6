/* gst-sora tests: the matrix-unit path (SORA_PRECISION=bf16) against
 * PyTorch running the same models in bf16 (torch.autocast on the CPU,
 * tools/make_fixtures.py bf16) and against both sides' f32: the DiT
 * output of one forward of the tiny and the wide model, and the tiny
 * pipeline's latents after each step and its frames.  On a device without
 * matrix units the kernels run with the portable stand-in for the
 * instructions (SORA_MMA=emulate): everything but the instructions
 * themselves.  Part of test-dit (test-dit.c).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-test-engine.h"
#include "test-dit.h"

#define TORCH_BF16 "bf16-autocast.safetensors"

/* How far our bf16 path may be from PyTorch's bf16 and from our f32 path,
 * for one compared output. */
typedef struct
{
  const char *what;
  /* Relative L2 against PyTorch's bf16: each side rounds differently (we
   * round the operands of the Linears and attention products alone; autocast
   * also their outputs and the convolutions' operands), so the bound is
   * that distance as measured, with margin. */
  double torch_tol;
} Bound;

static double *
to_double (const float *v, gsize n)
{
  double *d = g_new (double, n);

  for (gsize i = 0; i < n; i++)
    d[i] = v[i];
  return d;
}

/* Our @bf16 output against PyTorch's @torch_bf16 within @b, and its shift
 * from our @f32 of the same order as PyTorch's own bf16 shift from
 * @torch_f32: at least a quarter (the operands were rounded to bf16, not to
 * anything finer; measured about two thirds, as autocast rounds more) and
 * at most twice (no error of ours on top). */
static void
check_bf16 (const Bound *b, const float *bf16, const float *f32,
    const double *torch_bf16, const double *torch_f32, gsize n)
{
  double *ours_f32 = to_double (f32, n);
  float *torch_bf16_f = g_new (float, n);
  double vs_torch = sora_test_rel_l2 (bf16, torch_bf16, n);
  double ours_shift = sora_test_rel_l2 (bf16, ours_f32, n);
  double torch_shift;

  for (gsize i = 0; i < n; i++)
    torch_bf16_f[i] = torch_bf16[i];
  torch_shift = sora_test_rel_l2 (torch_bf16_f, torch_f32, n);
  g_test_message ("%s: relative L2 bf16 against PyTorch bf16 %.3g (bound "
                  "%g); bf16 against f32: ours %.3g, PyTorch's %.3g; f32 "
                  "against PyTorch f32 %.3g",
      b->what, vs_torch, b->torch_tol, ours_shift, torch_shift,
      sora_test_rel_l2 (f32, torch_f32, n));
  g_assert_cmpfloat (vs_torch, <=, b->torch_tol);
  g_assert_cmpfloat (ours_shift, >=, torch_shift / 4);
  g_assert_cmpfloat (ours_shift, <=, torch_shift * 2);
  g_free (torch_bf16_f);
  g_free (ours_f32);
}

/* One forward of the model in @dir on @ref's inputs, ours in f32 and bf16,
 * against PyTorch's f32 (@ref's output) and bf16 (@key). */
static void
check_forward (
    const Bound *b, const char *dir, const char *ref, const char *key)
{
  gsize n, n_bf16, n_torch, n_torch_f32;
  float *f32, *bf16;
  double *torch_f32 = sora_test_reference (ref, "output", &n_torch_f32);
  double *torch_bf16 = sora_test_reference (TORCH_BF16, key, &n_torch);

  sora_test_bf16_off ();
  f32 = dit_output (dir, ref, &n);
  sora_test_bf16_on ();
  bf16 = dit_output (dir, ref, &n_bf16);
  sora_test_bf16_off ();
  g_assert_cmpuint (n_bf16, ==, n);
  g_assert_cmpuint (n_torch, ==, n);
  g_assert_cmpuint (n_torch_f32, ==, n);
  check_bf16 (b, bf16, f32, torch_bf16, torch_f32, n);
  g_free (f32);
  g_free (bf16);
  g_free (torch_f32);
  g_free (torch_bf16);
}

/* The tiny model: heads of 12, which 16 does not divide, so its attention
 * stays f32 on our side; the Linears take bf16. */
void
test_bf16_tiny (void)
{
  /* Measured 5.7e-3 against PyTorch bf16 (ours 3.8e-3 from f32, PyTorch's
   * own 5.9e-3). */
  static const Bound b = { "tiny DiT output", 1.2e-2 };
  char *dir = sora_test_fixture ("wan-tiny");

  check_forward (&b, dir, "tiny-dit.safetensors", "tiny_dit_output");
  g_free (dir);
}

/* The wide model (1.3B widths, 2 blocks): heads of 128, so both attention
 * products take bf16 too, and sums over up to 8960 terms. */
void
test_bf16_wide (void)
{
  /* Measured 5.7e-3 against PyTorch bf16 (ours 4.1e-3 from f32, PyTorch's
   * own 6.2e-3). */
  static const Bound b = { "wide DiT output", 1.2e-2 };
  char *tmp = make_tmp_dir ();

  write_wide_model (tmp);
  check_forward (&b, tmp, "wide-dit.safetensors", "wide_dit_output");
  sora_test_remove_tree (tmp);
  g_free (tmp);
}

/* The latents before each step's model call: after the last steps. */
static gboolean
keep_step (SoraScheduler *scheduler, guint step, SoraTensor *latents,
    gpointer user_data, GError **error)
{
  if (step > 0)
    g_ptr_array_add (user_data, sora_test_download (latents));
  return TRUE;
}

/* The tiny pipeline's run of tools/make_fixtures.py (pipeline_run):
 * the latents after each step into @steps, the frames into @c. */
static void
generate (GPtrArray *steps, SoraTestCollected *c)
{
  const SoraGenerateParams *p = &sora_test_pipeline_params;
  GError *error = NULL;
  SoraEngine *engine = sora_test_open_tiny ();
  gsize n;
  float *initial =
      sora_test_reference_f32 ("tiny-pipeline.safetensors", "latents", &n);
  SoraTensor *x = sora_engine_new_latents (engine, p, 3, initial, &error);

  g_assert_no_error (error);
  sora_test_collected_init (c, SORA_PIXEL_RGB);
  g_assert_true (sora_engine_denoise_decode (engine, p, 32, x, keep_step, steps,
      0, 0, sora_test_collect_progress, sora_test_collect_chunk, c, NULL,
      &error));
  g_assert_no_error (error);
  g_assert_cmpuint (steps->len, ==, p->steps);
  sora_tensor_free (x);
  g_free (initial);
  sora_engine_free (engine);
}

/* Three UniPC steps with guidance 5 (which scales the difference of the two
 * predictions, and so their errors, by 5) and the VAE decode.  Measured
 * against PyTorch bf16: the latents after each step 5.8e-3, 9.6e-3 and
 * 1.25e-2 (ours from f32 4.1e-3, 7.2e-3, 8.4e-3; PyTorch's own 6.4e-3,
 * 1.05e-2, 1.38e-2), the frames 0.21 (ours from f32 0.17, PyTorch's own
 * 0.21): the tiny random VAE turns a 1e-3 change of its latents into 0.19
 * of its frames, so the frames bound only catches gross errors and the
 * final latents are the pipeline's real measure. */
void
test_bf16_pipeline (void)
{
  static const Bound step_bounds[] = { { "latents after step 1", 1.2e-2 },
    { "latents after step 2", 2e-2 }, { "latents after step 3", 2.5e-2 } };
  static const Bound frames_bound = { "frames", 0.4 };
  GPtrArray *f32_steps = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *bf16_steps = g_ptr_array_new_with_free_func (g_free);
  SoraTestCollected f32, bf16;
  gsize n_steps, n_steps_f32, n_frames, n_frames_f32;
  double *torch_steps =
      sora_test_reference (TORCH_BF16, "tiny_step_latents", &n_steps);
  double *torch_steps_f32 =
      sora_test_reference (TORCH_BF16, "tiny_step_latents_f32", &n_steps_f32);
  double *torch_frames =
      sora_test_reference (TORCH_BF16, "tiny_frames", &n_frames);
  double *torch_frames_f32 = sora_test_reference (
      "tiny-pipeline.safetensors", "frames", &n_frames_f32);
  gsize per_step = n_steps / G_N_ELEMENTS (step_bounds);

  sora_test_bf16_off ();
  generate (f32_steps, &f32);
  sora_test_bf16_on ();
  generate (bf16_steps, &bf16);
  sora_test_bf16_off ();
  g_assert_cmpuint (n_steps_f32, ==, n_steps);
  g_assert_cmpuint (n_frames_f32, ==, n_frames);
  g_assert_cmpuint (f32.frames->len, ==, n_frames);
  g_assert_cmpuint (bf16.frames->len, ==, n_frames);
  for (guint s = 0; s < G_N_ELEMENTS (step_bounds); s++)
    check_bf16 (&step_bounds[s], bf16_steps->pdata[s], f32_steps->pdata[s],
        torch_steps + s * per_step, torch_steps_f32 + s * per_step, per_step);
  check_bf16 (&frames_bound, (float *)bf16.frames->data,
      (float *)f32.frames->data, torch_frames, torch_frames_f32, n_frames);

  sora_test_collected_clear (&f32);
  sora_test_collected_clear (&bf16);
  g_ptr_array_unref (f32_steps);
  g_ptr_array_unref (bf16_steps);
  g_free (torch_steps);
  g_free (torch_steps_f32);
  g_free (torch_frames);
  g_free (torch_frames_f32);
}
