/* gst-sora engine: the flow-matching schedulers of the Wan pipeline
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * UniPCMultistepScheduler (flow sigmas, bh2, x0 prediction) and
 * FlowMatchEulerDiscreteScheduler as diffusers 0.35 computes them: the
 * schedule and the step coefficients on the host in double from the
 * float32 sigmas diffusers keeps, the latent updates on the device as one
 * linear combination each.
 */
#include <math.h>

#include "sora-op-elementwise.h"
#include "sora-scheduler.h"

/* x0 predictions UniPC keeps: m_{i-1}, m_{i-2} and room for m_i. */
#define UNIPC_HISTORY 3

struct _SoraScheduler
{
  SoraSchedulerConfig cfg;
  guint n_steps;
  float *sigmas; /* n_steps + 1 */
  float *timesteps; /* n_steps */
  guint step; /* the next step */
  /* UniPC state: the order the last predictor used, how many steps ran
   * (capped at the solver order, for the warm-up), the corrected sample
   * the last predictor started from, and the x0 predictions m_{i-1},
   * m_{i-2} in hist[0], hist[1] with hist[2] free for m_i. */
  guint last_order;
  guint lower_order_nums;
  SoraTensor *last_sample;
  SoraTensor *hist[UNIPC_HISTORY];
};

void
sora_scheduler_config_defaults (
    SoraSchedulerConfig *cfg, SoraSchedulerKind kind, double shift)
{
  *cfg = (SoraSchedulerConfig){
    .kind = kind,
    .num_train_timesteps = 1000,
    .shift = shift,
    .solver_order = 2,
    .bh2 = TRUE,
    .predict_x0 = TRUE,
    .lower_order_final = TRUE,
    .final_sigma_zero = TRUE,
  };
}

static gboolean
unsupported (const char *what, GError **error)
{
  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "scheduler: %s is not supported", what);
  return FALSE;
}

/* The flow path of diffusers works for these only: bh1 and a last order-2
 * step reach λ(0) = ∞ as 0·∞ (NaN); the other options are other maths. */
static gboolean
check_config (const SoraSchedulerConfig *cfg, guint steps, GError **error)
{
  if (steps == 0) {
    g_set_error (
        error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT, "scheduler: 0 steps");
    return FALSE;
  }
  if (!(cfg->shift > 0.0) || cfg->num_train_timesteps == 0) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "scheduler: shift %g with %u train timesteps", cfg->shift,
        cfg->num_train_timesteps);
    return FALSE;
  }
  if (cfg->kind == SORA_SCHEDULER_FLOW_EULER)
    return TRUE;
  if (cfg->kind != SORA_SCHEDULER_UNIPC)
    return unsupported ("this scheduler kind", error);
  if (cfg->solver_order < 1 || cfg->solver_order > 2)
    return unsupported ("a UniPC solver_order other than 1 or 2", error);
  if (!cfg->bh2)
    return unsupported ("UniPC solver_type bh1", error);
  if (!cfg->predict_x0)
    return unsupported ("UniPC without predict_x0", error);
  if (!cfg->lower_order_final)
    return unsupported ("UniPC without lower_order_final", error);
  if (!cfg->final_sigma_zero)
    return unsupported ("UniPC final_sigmas_type sigma_min", error);
  return TRUE;
}

/* numpy.linspace (start, stop, num)[i]: i·step + start, the end exact. */
static double
linspace (double start, double stop, guint num, guint i)
{
  double y;

  if (i + 1 == num && num > 1)
    return stop;
  y = i * ((stop - start) / (num > 1 ? num - 1 : 1));
  return y + start;
}

static double
shift_sigma (double shift, double sigma)
{
  return shift * sigma / (1.0 + (shift - 1.0) * sigma);
}

/* UniPC, use_flow_sigmas: σ̃ = 1 − linspace (1, 1/T, N + 1), shifted,
 * reversed, the 0 dropped; t = trunc (σ·T) from the double σ. */
static void
unipc_schedule (SoraScheduler *s)
{
  guint N = s->n_steps, T = s->cfg.num_train_timesteps;

  for (guint i = 0; i < N; i++) {
    double sigma =
        shift_sigma (s->cfg.shift, 1.0 - linspace (1.0, 1.0 / T, N + 1, N - i));

    s->sigmas[i] = sigma;
    s->timesteps[i] = (float)(gint64)(sigma * T);
  }
}

/* Euler: σ_max and σ_min come from the float32 training grid (shifted
 * once), the inference σ from linspace over them shifted again in double;
 * t = σ·T in float32. */
static void
euler_schedule (SoraScheduler *s)
{
  guint N = s->n_steps, T = s->cfg.num_train_timesteps;
  float shift = s->cfg.shift, lo = 1.0f / (float)T;
  float sigma_min = (float)(shift * lo) / (1.0f + (float)((shift - 1.0f) * lo));
  float sigma_max = shift / (1.0f + (shift - 1.0f));

  for (guint i = 0; i < N; i++) {
    double t = linspace ((double)sigma_max * T, (double)sigma_min * T, N, i);

    s->sigmas[i] = shift_sigma (s->cfg.shift, t / T);
    s->timesteps[i] = s->sigmas[i] * (float)T;
  }
}

SoraScheduler *
sora_scheduler_new (const SoraSchedulerConfig *cfg, guint steps, GError **error)
{
  SoraScheduler *s;

  if (!check_config (cfg, steps, error))
    return NULL;
  s = g_new0 (SoraScheduler, 1);
  s->cfg = *cfg;
  s->n_steps = steps;
  s->sigmas = g_new0 (float, steps + 1);
  s->timesteps = g_new0 (float, steps);
  if (cfg->kind == SORA_SCHEDULER_UNIPC)
    unipc_schedule (s);
  else
    euler_schedule (s);
  return s;
}

void
sora_scheduler_free (SoraScheduler *s)
{
  if (s == NULL)
    return;
  sora_tensor_free (s->last_sample);
  for (guint i = 0; i < G_N_ELEMENTS (s->hist); i++)
    sora_tensor_free (s->hist[i]);
  g_free (s->sigmas);
  g_free (s->timesteps);
  g_free (s);
}

guint
sora_scheduler_state_tensors (const SoraSchedulerConfig *cfg)
{
  /* last_sample and hist */
  return cfg->kind == SORA_SCHEDULER_UNIPC ? 1 + UNIPC_HISTORY : 0;
}

guint
sora_scheduler_get_n_steps (SoraScheduler *s)
{
  return s->n_steps;
}

float
sora_scheduler_get_timestep (SoraScheduler *s, guint i)
{
  g_return_val_if_fail (i < s->n_steps, 0.0f);
  return s->timesteps[i];
}

float
sora_scheduler_get_sigma (SoraScheduler *s, guint i)
{
  g_return_val_if_fail (i <= s->n_steps, 0.0f);
  return s->sigmas[i];
}

guint
sora_scheduler_get_step_index (SoraScheduler *s)
{
  return s->step;
}

/* The coefficients of one combination: y = Σ coef[k]·x[k]. */
typedef struct
{
  guint n;
  SoraTensor *x[SORA_LINCOMB_MAX];
  float coef[SORA_LINCOMB_MAX];
} Terms;

static void
term (Terms *t, SoraTensor *x, double coef)
{
  t->x[t->n] = x;
  t->coef[t->n++] = coef;
}

/* α = 1 − σ is a float32 subtraction in diffusers; λ = ln α − ln σ. */
static double
alpha_of (float sigma)
{
  return 1.0f - sigma;
}

static double
lambda_of (float sigma)
{
  return log (alpha_of (sigma)) - log (sigma);
}

/* The history tensors take the sample's shape on the first step. */
static gboolean
ensure_history (SoraScheduler *s, SoraTensor *sample, GError **error)
{
  const char *names[] = { "unipc_x0_a", "unipc_x0_b", "unipc_x0_c" };

  if (s->last_sample != NULL)
    return sora_tensor_check_shape (
        s->last_sample, "scheduler step", sample->ndim, sample->shape, error);
  s->last_sample = sora_tensor_new (sample->dev, "unipc_last_sample",
      SORA_DTYPE_F32, sample->ndim, sample->shape, error);
  for (guint i = 0; s->last_sample != NULL && i < G_N_ELEMENTS (s->hist); i++) {
    s->hist[i] = sora_tensor_new (sample->dev, names[i], SORA_DTYPE_F32,
        sample->ndim, sample->shape, error);
    if (s->hist[i] == NULL)
      break;
  }
  if (s->hist[2] != NULL)
    return TRUE;
  g_clear_pointer (&s->last_sample, sora_tensor_free);
  for (guint i = 0; i < G_N_ELEMENTS (s->hist); i++)
    g_clear_pointer (&s->hist[i], sora_tensor_free);
  return FALSE;
}

/* UniC (bh2) at step i ≥ 1: corrects x_i into last_sample from the last
 * corrected sample x̂_{i-1}, m_{i-1}, m_{i-2} (last order 2) and m_i. */
static gboolean
unipc_correct (SoraScheduler *s, guint i, SoraTensor *m, GError **error)
{
  const float *sg = s->sigmas;
  double lam = lambda_of (sg[i]), lam1 = lambda_of (sg[i - 1]);
  double h = lam - lam1, phi = expm1 (-h), alpha = alpha_of (sg[i]);
  double B = phi, rho_d = 0.0, rho_t = 0.5, r = 1.0;
  Terms t = { 0 };

  if (s->last_order == 2) {
    /* b_k = k!·φ_k(−h)/B(h) for k = 1, 2; ρ solves [[1, 1], [r, 1]]·ρ = b
     * with r the λ step to m_{i-2} relative to h. */
    double phi_k = phi / -h - 1.0;
    double b1 = phi_k / B, b2 = 2.0 * (phi_k / -h - 0.5) / B;

    r = (lambda_of (sg[i - 2]) - lam1) / h;
    rho_d = (b1 - b2) / (1.0 - r);
    rho_t = b1 - rho_d;
  }
  /* x = σ_i/σ_{i-1}·x̂ − α·φ·m_{i-1}
   *     − α·B·(ρ_d·(m_{i-2} − m_{i-1})/r + ρ_t·(m_i − m_{i-1})) */
  term (&t, s->last_sample, (double)sg[i] / sg[i - 1]);
  term (&t, s->hist[0], -alpha * phi + alpha * B * (rho_d / r + rho_t));
  term (&t, m, -alpha * B * rho_t);
  if (s->last_order == 2)
    term (&t, s->hist[1], -alpha * B * rho_d / r);
  return sora_op_lincomb (s->last_sample, t.n, t.x, t.coef, error);
}

/* UniP (bh2) of @order from x̂_i (last_sample), m_i and m_{i-1} into
 * @sample; the order-2 term has the fixed ρ = ½. */
static gboolean
unipc_predict (SoraScheduler *s, guint i, guint order, SoraTensor *m,
    SoraTensor *sample, GError **error)
{
  const float *sg = s->sigmas;
  double lam, h, phi, alpha, B, r;
  Terms t = { 0 };

  /* σ_{i+1} = 0 has λ = ∞, φ = −1: the step lands on m_i exactly (the
   * last step has order 1). */
  if (sg[i + 1] == 0.0f)
    return sora_op_lincomb (sample, 1, &m, (const float[]){ 1.0f }, error);
  lam = lambda_of (sg[i]);
  h = lambda_of (sg[i + 1]) - lam;
  phi = expm1 (-h);
  alpha = alpha_of (sg[i + 1]);
  B = phi;
  term (&t, s->last_sample, (double)sg[i + 1] / sg[i]);
  if (order == 1) {
    term (&t, m, -alpha * phi);
  } else {
    /* − α·B·½·(m_{i-1} − m_i)/r */
    r = (lambda_of (sg[i - 1]) - lam) / h;
    term (&t, m, -alpha * phi + 0.5 * alpha * B / r);
    term (&t, s->hist[0], -0.5 * alpha * B / r);
  }
  return sora_op_lincomb (sample, t.n, t.x, t.coef, error);
}

static gboolean
unipc_step (SoraScheduler *s, guint i, SoraTensor *v, SoraTensor *sample,
    GError **error)
{
  SoraTensor *m, *oldest;
  guint order;

  if (!ensure_history (s, sample, error))
    return FALSE;
  /* m_i = x_i − σ_i·v_i, from the sample before the correction. */
  m = s->hist[2];
  if (!sora_op_lincomb (m, 2, (SoraTensor *[]){ sample, v },
          (const float[]){ 1.0f, -s->sigmas[i] }, error))
    return FALSE;
  if (i > 0) {
    if (!unipc_correct (s, i, m, error))
      return FALSE;
  } else if (!sora_op_lincomb (
                 s->last_sample, 1, &sample, (const float[]){ 1.0f }, error)) {
    return FALSE;
  }
  /* Warm-up on the first steps, order 1 on the last. */
  order =
      MIN (MIN (s->cfg.solver_order, s->n_steps - i), s->lower_order_nums + 1);
  if (!unipc_predict (s, i, order, m, sample, error))
    return FALSE;
  oldest = s->hist[1];
  s->hist[1] = s->hist[0];
  s->hist[0] = m;
  s->hist[2] = oldest;
  s->last_order = order;
  s->lower_order_nums = MIN (s->lower_order_nums + 1, s->cfg.solver_order);
  return TRUE;
}

/* x_{i+1} = x_i + (σ_{i+1} − σ_i)·v_i, the difference taken in float32. */
static gboolean
euler_step (SoraScheduler *s, guint i, SoraTensor *v, SoraTensor *sample,
    GError **error)
{
  float dt = s->sigmas[i + 1] - s->sigmas[i];

  return sora_op_lincomb (sample, 2, (SoraTensor *[]){ sample, v },
      (const float[]){ 1.0f, dt }, error);
}

gboolean
sora_scheduler_step (SoraScheduler *s, SoraTensor *model_output,
    SoraTensor *sample, GError **error)
{
  guint i = s->step;
  gboolean ok;

  if (i >= s->n_steps) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "scheduler step: all %u steps are taken", s->n_steps);
    return FALSE;
  }
  if (!sora_tensor_check_shape (
          model_output, "scheduler step", sample->ndim, sample->shape, error))
    return FALSE;
  if (s->cfg.kind == SORA_SCHEDULER_UNIPC)
    ok = unipc_step (s, i, model_output, sample, error);
  else
    ok = euler_step (s, i, model_output, sample, error);
  if (ok)
    s->step++;
  return ok;
}

gboolean
sora_scheduler_add_noise (SoraScheduler *s, guint step_index, SoraTensor *clean,
    SoraTensor *noise, SoraTensor *out, GError **error)
{
  float sigma;

  if (step_index >= s->n_steps) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "scheduler add_noise: step %u of %u", step_index, s->n_steps);
    return FALSE;
  }
  sigma = s->sigmas[step_index];
  return sora_tensor_check_shape (
             noise, "scheduler add_noise", clean->ndim, clean->shape, error) &&
      sora_tensor_check_shape (
          out, "scheduler add_noise", clean->ndim, clean->shape, error) &&
      sora_op_lincomb (out, 2, (SoraTensor *[]){ clean, noise },
          (const float[]){ 1.0f - sigma, sigma }, error);
}
