/* gst-sora tests: the UniPC and flow-matching Euler schedulers against
 * diffusers step by step (tests/fixtures/reference/scheduler-*.safetensors,
 * made by tools/make_fixtures.py: each step's fake model output and the
 * sample diffusers' step made from it).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include "sora-scheduler.h"
#include "sora-test-util.h"

/* Sigmas and Euler's float timesteps: the same float32 values, up to an
 * ulp from where our double maths rounds differently (6e-8). */
#define TOL_SCHEDULE 1e-6
/* One step: the device sums each update in one f32 chain where torch rounds
 * every intermediate tensor (a few 1e-8), and takes the coefficients from
 * double λ where torch takes float32 logs whose difference h loses up to
 * ~1e-5 relative at 50 steps.  Measured ≤ 2.7e-7 up to 10 steps.  Over 50
 * steps these add up along the chain to 1.4e-6 (shift 3) and 9.5e-7
 * (shift 5): diffusers' own f32 run is as far (1.37e-6, 8.7e-7) from the
 * same run in float64 with float64 sigmas, so that is the reference's
 * precision, and long runs get 3e-6. */
#define TOL_STEP 1e-6
#define TOL_STEP_LONG 3e-6
#define LONG_RUN 20

static SoraTensor *
upload_ref (const char *file, const char *name, SoraTensor *like)
{
  gsize n;
  float *v = sora_test_reference_f32 (file, name, &n);
  SoraTensor *t;

  g_assert_cmpuint (n, ==, like ? like->numel : n);
  t = sora_test_upload (name, SORA_DTYPE_F32, v, like ? like->ndim : 1,
      like ? like->shape : (gsize[]){ n });
  g_free (v);
  return t;
}

/* Runs @kind with @shift for @steps against the fixture's prefix. */
static void
check_run (SoraSchedulerKind kind, double shift, guint steps)
{
  GError *error = NULL;
  const char *file = kind == SORA_SCHEDULER_UNIPC
      ? "scheduler-unipc.safetensors"
      : "scheduler-euler.safetensors";
  char *prefix = g_strdup_printf ("shift%g/n%u/", shift, steps), *name;
  const gsize shape[] = { 1, 16, 1, 2, 3 };
  SoraSchedulerConfig cfg;
  g_autoptr (SoraScheduler) s = NULL;
  double *want_t, *want_s, worst = 0.0;
  guint worst_step = 0;
  gsize n;
  float *x0, *got;
  SoraTensor *sample;

  sora_scheduler_config_defaults (&cfg, kind, shift);
  s = sora_scheduler_new (&cfg, steps, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (sora_scheduler_get_n_steps (s), ==, steps);

  name = g_strconcat (prefix, "timesteps", NULL);
  want_t = sora_test_reference (file, name, &n);
  g_assert_cmpuint (n, ==, steps);
  g_free (name);
  name = g_strconcat (prefix, "sigmas", NULL);
  want_s = sora_test_reference (file, name, &n);
  g_assert_cmpuint (n, ==, steps + 1);
  g_free (name);
  for (guint i = 0; i <= steps; i++) {
    double ds = fabs (sora_scheduler_get_sigma (s, i) - want_s[i]);

    if (ds > TOL_SCHEDULE * want_s[i])
      g_error ("%s sigma %u: %.9g, diffusers %.9g", prefix, i,
          sora_scheduler_get_sigma (s, i), want_s[i]);
    if (i == steps)
      break;
    /* UniPC's integer timesteps must be exact: the model embeds them. */
    if (kind == SORA_SCHEDULER_UNIPC
            ? sora_scheduler_get_timestep (s, i) != want_t[i]
            : fabs (sora_scheduler_get_timestep (s, i) - want_t[i]) >
                TOL_SCHEDULE * want_t[i])
      g_error ("%s timestep %u: %.9g, diffusers %.9g", prefix, i,
          sora_scheduler_get_timestep (s, i), want_t[i]);
  }

  name = g_strconcat (prefix, "sample0", NULL);
  x0 = sora_test_reference_f32 (file, name, &n);
  sample = sora_test_upload ("sample", SORA_DTYPE_F32, x0, 5, shape);
  g_free (name);
  for (guint i = 0; i < steps; i++) {
    SoraTensor *v;
    double *want, err;

    g_assert_cmpuint (sora_scheduler_get_step_index (s), ==, i);
    name = g_strdup_printf ("%soutput%u", prefix, i);
    v = upload_ref (file, name, sample);
    g_free (name);
    g_assert_true (sora_scheduler_step (s, v, sample, &error));
    g_assert_no_error (error);
    name = g_strdup_printf ("%ssample%u", prefix, i + 1);
    want = sora_test_reference (file, name, &n);
    got = sora_test_download (sample);
    err = sora_test_rel_l2 (got, want, n);
    if (err > worst) {
      worst = err;
      worst_step = i;
    }
    if (err > (steps > LONG_RUN ? TOL_STEP_LONG : TOL_STEP))
      g_error ("%s: relative L2 error %.3g", name, err);
    sora_tensor_free (v);
    g_free (name);
    g_free (want);
    g_free (got);
  }
  g_test_message ("%s %s: worst relative L2 error %.3g at step %u",
      kind == SORA_SCHEDULER_UNIPC ? "unipc" : "euler", prefix, worst,
      worst_step);

  /* One step too many. */
  g_assert_false (sora_scheduler_step (s, sample, sample, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  sora_tensor_free (sample);
  g_free (x0);
  g_free (want_t);
  g_free (want_s);
  g_free (prefix);
}

static void
test_unipc (void)
{
  const guint steps[] = { 1, 2, 4, 10, 50 };

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++) {
    check_run (SORA_SCHEDULER_UNIPC, 3.0, steps[i]);
    check_run (SORA_SCHEDULER_UNIPC, 5.0, steps[i]);
  }
}

static void
test_euler (void)
{
  const guint steps[] = { 1, 3, 10 };

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++) {
    check_run (SORA_SCHEDULER_FLOW_EULER, 3.0, steps[i]);
    check_run (SORA_SCHEDULER_FLOW_EULER, 7.0, steps[i]);
  }
}

/* add_noise at step 3 of 10: UniPC (shift 3) and Euler (shift 3) share
 * the formula, (1 − σ)·clean + σ·noise, one rounding per term. */
static void
check_noise (SoraSchedulerKind kind, const char *file)
{
  GError *error = NULL;
  SoraSchedulerConfig cfg;
  g_autoptr (SoraScheduler) s = NULL;
  gsize n;
  double *index = sora_test_reference (file, "noise/index", &n);
  double *steps = sora_test_reference (file, "noise/steps", &n);
  double *want = sora_test_reference (file, "noise/noisy", &n);
  SoraTensor *clean = upload_ref (file, "noise/clean", NULL);
  SoraTensor *noise = upload_ref (file, "noise/noise", NULL);
  float *got;

  sora_scheduler_config_defaults (&cfg, kind, 3.0);
  s = sora_scheduler_new (&cfg, steps[0], &error);
  g_assert_no_error (error);
  g_assert_true (
      sora_scheduler_add_noise (s, index[0], clean, noise, clean, &error));
  g_assert_no_error (error);
  got = sora_test_download (clean);
  sora_assert_close (got, want, n, TOL_STEP, file);

  g_assert_false (
      sora_scheduler_add_noise (s, steps[0], clean, noise, clean, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  sora_tensor_free (clean);
  sora_tensor_free (noise);
  g_free (got);
  g_free (want);
  g_free (index);
  g_free (steps);
}

static void
test_add_noise (void)
{
  check_noise (SORA_SCHEDULER_UNIPC, "scheduler-unipc.safetensors");
  check_noise (SORA_SCHEDULER_FLOW_EULER, "scheduler-euler.safetensors");
}

static void
assert_refused (const SoraSchedulerConfig *cfg, guint steps, const char *what)
{
  GError *error = NULL;
  SoraScheduler *s = sora_scheduler_new (cfg, steps, &error);

  g_assert_null (s);
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  if (strstr (error->message, what) == NULL)
    g_error ("\"%s\" does not name \"%s\"", error->message, what);
  g_clear_error (&error);
}

static void
test_errors (void)
{
  GError *error = NULL;
  SoraSchedulerConfig cfg, bad;
  const gsize shape[] = { 2, 3 }, other[] = { 3, 2 };
  SoraTensor *a, *b;
  g_autoptr (SoraScheduler) s = NULL;

  sora_scheduler_config_defaults (&cfg, SORA_SCHEDULER_UNIPC, 3.0);
  assert_refused (&cfg, 0, "0 steps");
  bad = cfg;
  bad.shift = 0.0;
  assert_refused (&bad, 4, "shift 0");
  bad = cfg;
  bad.solver_order = 3;
  assert_refused (&bad, 4, "solver_order");
  bad = cfg;
  bad.bh2 = FALSE;
  assert_refused (&bad, 4, "bh1");
  bad = cfg;
  bad.predict_x0 = FALSE;
  assert_refused (&bad, 4, "predict_x0");
  bad = cfg;
  bad.lower_order_final = FALSE;
  assert_refused (&bad, 4, "lower_order_final");
  bad = cfg;
  bad.final_sigma_zero = FALSE;
  assert_refused (&bad, 4, "sigma_min");

  /* A model output of another shape; a sample that changes shape. */
  s = sora_scheduler_new (&cfg, 4, &error);
  g_assert_no_error (error);
  a = sora_test_upload ("a", SORA_DTYPE_F32, (float[6]){ 0 }, 2, shape);
  b = sora_test_upload ("b", SORA_DTYPE_F32, (float[6]){ 0 }, 2, other);
  g_assert_false (sora_scheduler_step (s, b, a, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "b [3, 2] f32"));
  g_clear_error (&error);
  g_assert_true (sora_scheduler_step (s, a, a, &error));
  g_assert_no_error (error);
  g_assert_false (sora_scheduler_step (s, b, b, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "unipc_last_sample"));
  g_clear_error (&error);
  g_assert_cmpuint (sora_scheduler_get_step_index (s), ==, 1);
  sora_tensor_free (a);
  sora_tensor_free (b);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/scheduler/unipc", test_unipc);
  g_test_add_func ("/scheduler/euler", test_euler);
  g_test_add_func ("/scheduler/add-noise", test_add_noise);
  g_test_add_func ("/scheduler/errors", test_errors);
  return sora_test_run ();
}
