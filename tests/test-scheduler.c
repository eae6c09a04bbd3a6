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
 * ~1e-5 relative at 50 steps.  Measured ≤ 4.4e-7 up to 10 steps.  Over 50
 * steps these add up along the chain to 1.4e-6 (shift 3) and 9.5e-7
 * (shift 5): diffusers' own f32 run is as far (1.47e-6, 8.7e-7) from the
 * same run in float64 with float64 sigmas, so that is the reference's
 * precision, and long runs get 3e-6.  Order 3 solves a 2 x 2 system of
 * powers of those r in float32 at each step: at 50 steps diffusers' f32
 * run is 2.46e-5 from its float64 one, and ours as far (2.46e-5) from the
 * f32 one: long order-3 runs get 3e-5. */
#define TOL_STEP 1e-6
#define TOL_STEP_LONG 3e-6
#define TOL_STEP_LONG_ORDER3 3e-5
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

/* Runs @cfg for @steps against the fixture's "@name/n@steps/". */
static void
check_run (const char *name, const SoraSchedulerConfig *cfg, guint steps)
{
  GError *error = NULL;
  const char *file = cfg->kind == SORA_SCHEDULER_UNIPC
      ? "scheduler-unipc.safetensors"
      : "scheduler-euler.safetensors";
  g_autofree char *prefix = g_strdup_printf ("%s/n%u/", name, steps);
  char *tname;
  const gsize shape[] = { 1, 16, 1, 2, 3 };
  g_autoptr (SoraScheduler) s = NULL;
  double *want_t, *want_s, worst = 0.0;
  guint worst_step = 0;
  gsize n;
  float *x0, *got;
  SoraTensor *sample;
  double tol = steps <= LONG_RUN ? TOL_STEP
      : cfg->kind == SORA_SCHEDULER_UNIPC && cfg->solver_order == 3
      ? TOL_STEP_LONG_ORDER3
      : TOL_STEP_LONG;

  s = sora_scheduler_new (cfg, steps, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (sora_scheduler_get_n_steps (s), ==, steps);

  tname = g_strconcat (prefix, "timesteps", NULL);
  want_t = sora_test_reference (file, tname, &n);
  g_assert_cmpuint (n, ==, steps);
  g_free (tname);
  tname = g_strconcat (prefix, "sigmas", NULL);
  want_s = sora_test_reference (file, tname, &n);
  g_assert_cmpuint (n, ==, steps + 1);
  g_free (tname);
  for (guint i = 0; i <= steps; i++) {
    double ds = fabs (sora_scheduler_get_sigma (s, i) - want_s[i]);

    if (ds > TOL_SCHEDULE * fabs (want_s[i]))
      g_error ("%s sigma %u: %.9g, diffusers %.9g", prefix, i,
          sora_scheduler_get_sigma (s, i), want_s[i]);
    if (i == steps)
      break;
    /* UniPC's integer timesteps must be exact: the model embeds them. */
    if (cfg->kind == SORA_SCHEDULER_UNIPC
            ? sora_scheduler_get_timestep (s, i) != want_t[i]
            : fabs (sora_scheduler_get_timestep (s, i) - want_t[i]) >
                TOL_SCHEDULE * fabs (want_t[i]))
      g_error ("%s timestep %u: %.9g, diffusers %.9g", prefix, i,
          sora_scheduler_get_timestep (s, i), want_t[i]);
  }

  tname = g_strconcat (prefix, "sample0", NULL);
  x0 = sora_test_reference_f32 (file, tname, &n);
  sample = sora_test_upload ("sample", SORA_DTYPE_F32, x0, 5, shape);
  g_free (tname);
  for (guint i = 0; i < steps; i++) {
    SoraTensor *v;
    double *want, err;

    g_assert_cmpuint (sora_scheduler_get_step_index (s), ==, i);
    tname = g_strdup_printf ("%soutput%u", prefix, i);
    v = upload_ref (file, tname, sample);
    g_free (tname);
    g_assert_true (sora_scheduler_step (s, v, sample, &error));
    g_assert_no_error (error);
    tname = g_strdup_printf ("%ssample%u", prefix, i + 1);
    want = sora_test_reference (file, tname, &n);
    got = sora_test_download (sample);
    err = sora_test_rel_l2 (got, want, n);
    if (err > worst) {
      worst = err;
      worst_step = i;
    }
    if (err > tol)
      g_error ("%s: relative L2 error %.3g", tname, err);
    sora_tensor_free (v);
    g_free (tname);
    g_free (want);
    g_free (got);
  }
  g_test_message (
      "%s: worst relative L2 error %.3g at step %u", prefix, worst, worst_step);

  /* One step too many. */
  g_assert_false (sora_scheduler_step (s, sample, sample, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  sora_tensor_free (sample);
  g_free (x0);
  g_free (want_t);
  g_free (want_s);
}

/* Every case of scheduler-cases.json for @kind ("unipc", "euler"): its
 * scheduler_config.json, as diffusers wrote it, through the folder's parser,
 * then each of its step counts. */
static void
check_cases (const char *kind)
{
  g_autofree char *path = sora_test_fixture ("reference/scheduler-cases.json");
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonObject *cases;
  g_autoptr (GList) names = NULL;

  g_assert_true (json_parser_load_from_file (parser, path, &error));
  cases = json_object_get_object_member (
      json_node_get_object (json_parser_get_root (parser)), kind);
  names = json_object_get_members (cases);
  g_assert_nonnull (names);
  for (GList *l = names; l; l = l->next) {
    JsonObject *c = json_object_get_object_member (cases, l->data);
    JsonNode *config = json_object_get_member (c, "config");
    JsonArray *steps = json_object_get_array_member (c, "steps");
    g_autofree char *text = json_to_string (config, FALSE);
    SoraSchedulerConfig cfg;

    g_assert_true (sora_scheduler_config_parse (
        json_object_get_string_member (
            json_node_get_object (config), "_class_name"),
        text, strlen (text), l->data, &cfg, &error));
    g_assert_no_error (error);
    for (guint i = 0; i < json_array_get_length (steps); i++)
      check_run (l->data, &cfg, json_array_get_int_element (steps, i));
  }
}

static void
test_unipc (void)
{
  check_cases ("unipc");
}

static void
test_euler (void)
{
  check_cases ("euler");
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
  check_noise (SORA_SCHEDULER_EULER, "scheduler-euler.safetensors");
}

static void
assert_refused (
    const SoraSchedulerConfig *cfg, guint steps, gint code, const char *what)
{
  GError *error = NULL;
  SoraScheduler *s = sora_scheduler_new (cfg, steps, &error);

  g_assert_null (s);
  g_assert_error (error, SORA_ERROR, code);
  if (strstr (error->message, what) == NULL)
    g_error ("\"%s\" does not name \"%s\"", error->message, what);
  g_clear_error (&error);
}

/* Keys of scheduler_config.json the engine does not run (other maths, or
 * NaN in diffusers): the folder's parser names the key and its value. */
static void
test_refused_keys (void)
{
  static const struct
  {
    gboolean unipc;
    const char *keys, *named;
  } cases[] = {
    { TRUE, "\"solver_order\": 4", "\"solver_order\" 4" },
    { TRUE, "\"solver_type\": \"bh1\"", "\"solver_type\" \"bh1\"" },
    { TRUE, "\"solver_type\": \"bh3\"", "\"solver_type\" is \"bh3\"" },
    { TRUE, "\"lower_order_final\": false", "\"lower_order_final\" false" },
    { TRUE,
        "\"lower_order_final\": false, \"solver_order\": 3, "
        "\"final_sigmas_type\": \"sigma_min\"",
        "\"lower_order_final\" false" },
    { TRUE, "\"final_sigmas_type\": \"max\"",
        "\"final_sigmas_type\" is \"max\"" },
    { TRUE, "\"predict_x0\": false", "\"predict_x0\" false" },
    { TRUE, "\"thresholding\": true", "\"thresholding\" is true" },
    { TRUE, "\"use_karras_sigmas\": true", "\"use_karras_sigmas\" is true" },
    { TRUE, "\"use_exponential_sigmas\": true",
        "\"use_exponential_sigmas\" is true" },
    { TRUE, "\"use_beta_sigmas\": true", "\"use_beta_sigmas\" is true" },
    { TRUE, "\"solver_p\": {}", "\"solver_p\" is set" },
    { TRUE, "\"timestep_spacing\": \"even\"",
        "\"timestep_spacing\" is \"even\"" },
    { TRUE, "\"beta_schedule\": \"cosine\"",
        "\"beta_schedule\" is \"cosine\"" },
    { TRUE, "\"disable_corrector\": [1, 0.5]",
        "\"disable_corrector\" entry 1" },
    { FALSE, "\"use_dynamic_shifting\": true",
        "\"use_dynamic_shifting\" is true" },
    { FALSE, "\"stochastic_sampling\": true",
        "\"stochastic_sampling\" is true" },
    { FALSE, "\"use_karras_sigmas\": true, \"use_exponential_sigmas\": true",
        "\"use_karras_sigmas\" and \"use_exponential_sigmas\" are both true" },
    { FALSE, "\"use_karras_sigmas\": true, \"sigma_min\": 0",
        "\"sigma_min\" 0" },
    { FALSE, "\"use_beta_sigmas\": true", "\"use_beta_sigmas\" is true" },
    { FALSE, "\"shift_terminal\": 1.0", "\"shift_terminal\" 1" },
    { FALSE, "\"time_shift_type\": \"cubic\"",
        "\"time_shift_type\" is \"cubic\"" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *json = g_strdup_printf ("{%s%s}",
        cases[i].unipc ? "\"prediction_type\": \"flow_prediction\", "
                         "\"use_flow_sigmas\": true, "
                       : "",
        cases[i].keys);
    SoraSchedulerConfig cfg;

    g_assert_false (sora_scheduler_config_parse (cases[i].unipc
            ? "UniPCMultistepScheduler"
            : "FlowMatchEulerDiscreteScheduler",
        json, strlen (json), "scheduler_config.json", &cfg, &error));
    g_assert_error (error, SORA_ERROR, SORA_ERROR_MODEL);
    if (!g_str_has_prefix (error->message, "scheduler_config.json: ") ||
        strstr (error->message, cases[i].named) == NULL)
      g_error (
          "%s: \"%s\" does not name %s", json, error->message, cases[i].named);
  }
}

static void
test_errors (void)
{
  GError *error = NULL;
  SoraSchedulerConfig cfg, bad;
  const gsize shape[] = { 2, 3 }, other[] = { 3, 2 };
  SoraTensor *a, *b;
  g_autoptr (SoraScheduler) s = NULL;

  /* The engine runs the check the folder's parser runs. */
  sora_scheduler_config_defaults (&cfg, SORA_SCHEDULER_UNIPC, 3.0);
  assert_refused (&cfg, 0, SORA_ERROR_INVALID_ARGUMENT, "0 steps");
  bad = cfg;
  bad.shift = 0.0;
  assert_refused (&bad, 4, SORA_ERROR_MODEL, "\"flow_shift\" 0");
  bad = cfg;
  bad.solver_order = 4;
  assert_refused (&bad, 4, SORA_ERROR_MODEL, "\"solver_order\" 4");
  bad = cfg;
  bad.bh2 = FALSE;
  assert_refused (&bad, 4, SORA_ERROR_MODEL, "\"solver_type\" \"bh1\"");
  bad = cfg;
  bad.predict_x0 = FALSE;
  assert_refused (&bad, 4, SORA_ERROR_MODEL, "\"predict_x0\" false");
  bad = cfg;
  bad.lower_order_final = FALSE;
  assert_refused (&bad, 4, SORA_ERROR_MODEL, "\"lower_order_final\" false");
  sora_scheduler_config_defaults (&bad, SORA_SCHEDULER_EULER, 3.0);
  bad.shift_terminal = 0.1;
  assert_refused (&bad, 1, SORA_ERROR_INVALID_ARGUMENT, "\"shift_terminal\"");

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
  g_test_add_func ("/scheduler/refused-keys", test_refused_keys);
  g_test_add_func ("/scheduler/errors", test_errors);
  return sora_test_run ();
}
