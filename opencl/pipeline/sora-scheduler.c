/* gst-sora engine: the flow-matching schedulers of the Wan pipeline
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * UniPCMultistepScheduler (flow sigmas, x0 prediction, bh1 or bh2, orders
 * 1 to SORA_UNIPC_MAX_ORDER) and FlowMatchEulerDiscreteScheduler as
 * diffusers 0.35 computes them: the schedule and the step coefficients on
 * the host in double from the float32 sigmas diffusers keeps, the latent
 * updates on the device as linear combinations (one per update up to
 * SORA_LINCOMB_MAX terms).
 */
#include <math.h>
#include <string.h>

#include "sora-op-elementwise.h"
#include "sora-scheduler.h"

/* x0 predictions UniPC keeps: m_{i-1} … m_{i-order} and room for m_i. */
#define UNIPC_HISTORY (SORA_UNIPC_MAX_ORDER + 1)
/* Tensors one UniPC update combines: x, m_s, m_t and order − 1 others. */
#define UNIPC_TERMS (SORA_UNIPC_MAX_ORDER + 2)

struct _SoraScheduler
{
  SoraSchedulerConfig cfg;
  guint n_steps;
  float *sigmas; /* n_steps + 1 */
  float *timesteps; /* n_steps */
  guint step; /* the next step */
  /* UniPC state: the order the last predictor used, how many steps ran
   * (capped at the solver order, for the warm-up), the corrected sample
   * the last predictor started from, and the x0 predictions m_{i-1-k} in
   * hist[k] for k < solver_order with hist[solver_order] free for m_i. */
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
    .sigma_min = NAN,
    .sigma_max = NAN,
  };
}

static gboolean
check_config (const SoraSchedulerConfig *cfg, guint steps, GError **error)
{
  if (steps == 0) {
    g_set_error (
        error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT, "scheduler: 0 steps");
    return FALSE;
  }
  if (!sora_scheduler_config_check (cfg, error)) {
    g_prefix_error (error, "scheduler: ");
    return FALSE;
  }
  /* diffusers stretches 1 − σ by (1 − σ_last) / (1 − shift_terminal): 0/0
   * when the only σ is 1. */
  if (cfg->kind == SORA_SCHEDULER_EULER && cfg->shift_terminal > 0.0 &&
      steps == 1) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "scheduler: \"shift_terminal\" %g with 1 step (diffusers' schedule "
        "is NaN)",
        cfg->shift_terminal);
    return FALSE;
  }
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
  /* final_sigmas_type sigma_min repeats the last σ. */
  s->sigmas[N] = s->cfg.final_sigma_zero ? 0.0f : s->sigmas[N - 1];
}

/* Karras (ρ = 7) or exponential spacing of @n σ between the config's ends
 * or the first and last of @sigma, in double as numpy. */
static void
respace (const SoraSchedulerConfig *cfg, double *sigma, guint n)
{
  double lo = isnan (cfg->sigma_min) ? sigma[n - 1] : cfg->sigma_min;
  double hi = isnan (cfg->sigma_max) ? sigma[0] : cfg->sigma_max;
  double lo_r = pow (lo, 1.0 / 7.0), hi_r = pow (hi, 1.0 / 7.0);

  for (guint i = 0; i < n; i++) {
    if (cfg->spacing == SORA_SIGMAS_KARRAS)
      sigma[i] = pow (hi_r + linspace (0.0, 1.0, n, i) * (lo_r - hi_r), 7.0);
    else if (cfg->spacing == SORA_SIGMAS_EXPONENTIAL)
      sigma[i] = exp (linspace (log (hi), log (lo), n, i));
  }
}

/* Euler: σ_max and σ_min come from the float32 training grid (shifted
 * once), the inference σ from linspace over them shifted again (and
 * stretched to shift_terminal, respaced) in double; t = σ·T in float32, and
 * invert_sigmas takes 1 − σ in float32 with a final σ of 1. */
static void
euler_schedule (SoraScheduler *s)
{
  guint N = s->n_steps, T = s->cfg.num_train_timesteps;
  float shift = s->cfg.shift, lo = 1.0f / (float)T;
  float sigma_min = (float)(shift * lo) / (1.0f + (float)((shift - 1.0f) * lo));
  float sigma_max = shift / (1.0f + (shift - 1.0f));
  double st = s->cfg.shift_terminal, scale = 1.0;
  g_autofree double *sigma = g_new (double, N);

  for (guint i = 0; i < N; i++) {
    double t = linspace ((double)sigma_max * T, (double)sigma_min * T, N, i);

    sigma[i] = shift_sigma (s->cfg.shift, t / T);
  }
  if (st > 0.0)
    scale = (1.0 - sigma[N - 1]) / (1.0 - st);
  for (guint i = 0; i < N && st > 0.0; i++)
    sigma[i] = 1.0 - (1.0 - sigma[i]) / scale;
  respace (&s->cfg, sigma, N);
  for (guint i = 0; i < N; i++) {
    float f = sigma[i];

    s->sigmas[i] = s->cfg.invert_sigmas ? 1.0f - f : f;
    s->timesteps[i] = s->sigmas[i] * (float)T;
  }
  s->sigmas[N] = s->cfg.invert_sigmas ? 1.0f : 0.0f;
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
  return cfg->kind == SORA_SCHEDULER_UNIPC ? 2 + cfg->solver_order : 0;
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
  SoraTensor *x[UNIPC_TERMS];
  double coef[UNIPC_TERMS];
} Terms;

/* Adds @coef·@x, merging a tensor already there. */
static void
term (Terms *t, SoraTensor *x, double coef)
{
  for (guint k = 0; k < t->n; k++)
    if (t->x[k] == x) {
      t->coef[k] += coef;
      return;
    }
  t->x[t->n] = x;
  t->coef[t->n++] = coef;
}

/* @out = the combination, SORA_LINCOMB_MAX terms at a time, the later
 * ones added to @out (which may be the first term only). */
static gboolean
apply (SoraTensor *out, const Terms *t, GError **error)
{
  SoraTensor *x[SORA_LINCOMB_MAX];
  float coef[SORA_LINCOMB_MAX];
  guint k = 0, n = 0;

  while (k < t->n) {
    if (k > 0) {
      x[0] = out;
      coef[0] = 1.0f;
      n = 1;
    }
    for (; n < SORA_LINCOMB_MAX && k < t->n; n++, k++) {
      x[n] = t->x[k];
      coef[n] = t->coef[k];
    }
    if (!sora_op_lincomb (out, n, x, coef, error))
      return FALSE;
    n = 0;
  }
  return TRUE;
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

/* Solves Σ_j r_j^i·ρ_j = b_i (i, j < @n ≤ SORA_UNIPC_MAX_ORDER), as
 * torch.linalg.solve on diffusers' R: Gaussian elimination with partial
 * pivoting. */
static void
solve_powers (const double *r, const double *b, guint n, double *rho)
{
  double a[SORA_UNIPC_MAX_ORDER][SORA_UNIPC_MAX_ORDER + 1];

  for (guint i = 0; i < n; i++) {
    for (guint j = 0; j < n; j++)
      a[i][j] = pow (r[j], i);
    a[i][n] = b[i];
  }
  for (guint c = 0; c < n; c++) {
    guint p = c;

    for (guint i = c + 1; i < n; i++)
      if (fabs (a[i][c]) > fabs (a[p][c]))
        p = i;
    for (guint j = 0; j <= n; j++) {
      double tmp = a[c][j];
      a[c][j] = a[p][j];
      a[p][j] = tmp;
    }
    for (guint i = c + 1; i < n; i++) {
      double f = a[i][c] / a[c][c];
      for (guint j = c; j <= n; j++)
        a[i][j] -= f * a[c][j];
    }
  }
  for (guint i = n; i-- > 0;) {
    double v = a[i][n];
    for (guint j = i + 1; j < n; j++)
      v -= a[i][j] * rho[j];
    rho[i] = v / a[i][i];
  }
}

/* One UniP (@m_t NULL) or UniC (@m_t the new x0 prediction) update of
 * @order, diffusers' multistep_uni_{p,c}_bh_update with x0 prediction:
 * from @x at σ_s = @sg[0] to σ_t, with the x0 predictions @m[k] at @sg[k]
 * (k < order for UniC, k < order − 1 for UniP), into @out:
 *   out = σ_t/σ_s·x − α_t·hφ₁·m_0 − α_t·B·(Σ_k ρ_k·(m_k − m_0)/r_k
 *         [+ ρ_last·(m_t − m_0)])
 * with h = λ_t − λ_s, r_k = (λ(σ_k) − λ_s)/h, hφ₁ = e^{−h} − 1, B = hφ₁
 * (bh2) or −h (bh1), and ρ solving Σ_j r_j^i·ρ_j = b_i over the r_k and
 * a last r of 1 (UniC; ρ = ½ at order 1) or over the r_k alone (UniP;
 * ρ = ½ at order 2), b_i = (i+1)!·φ_{i+1}(−h)·h^{i+1}/B. */
static gboolean
unipc_update (SoraScheduler *s, SoraTensor *out, SoraTensor *x, const float *sg,
    float sigma_t, SoraTensor *const *m, SoraTensor *m_t, guint order,
    GError **error)
{
  guint n_r = m_t ? order : order - 1;
  double lam_s = lambda_of (sg[0]), h = lambda_of (sigma_t) - lam_s;
  double hh = -h, phi1 = expm1 (hh), B = s->cfg.bh2 ? phi1 : hh;
  double alpha = alpha_of (sigma_t), phi_k = phi1 / hh - 1.0, fact = 1.0;
  double r[SORA_UNIPC_MAX_ORDER], b[SORA_UNIPC_MAX_ORDER];
  double rho[SORA_UNIPC_MAX_ORDER] = { 0.5 };
  Terms t = { 0 };

  for (guint k = 0; k < order; k++) {
    r[k] = k + 1 < order ? (lambda_of (sg[k + 1]) - lam_s) / h : 1.0;
    b[k] = phi_k * fact / B;
    fact *= k + 2;
    phi_k = phi_k / hh - 1.0 / fact;
  }
  if (n_r > 1)
    solve_powers (r, b, n_r, rho);
  term (&t, x, (double)sigma_t / sg[0]);
  term (&t, m[0], -alpha * phi1);
  for (guint k = 0; k + 1 < order; k++) {
    double c = -alpha * B * rho[k] / r[k];

    term (&t, m[k + 1], c);
    term (&t, m[0], -c);
  }
  if (m_t) {
    double c = -alpha * B * rho[order - 1];

    term (&t, m_t, c);
    term (&t, m[0], -c);
  }
  return apply (out, &t, error);
}

/* The history tensors take the sample's shape on the first step. */
static gboolean
ensure_history (SoraScheduler *s, SoraTensor *sample, GError **error)
{
  guint n = s->cfg.solver_order + 1;

  if (s->last_sample != NULL)
    return sora_tensor_check_shape (
        s->last_sample, "scheduler step", sample->ndim, sample->shape, error);
  s->last_sample = sora_tensor_new (sample->dev, "unipc_last_sample",
      SORA_DTYPE_F32, sample->ndim, sample->shape, error);
  for (guint i = 0; s->last_sample != NULL && i < n; i++) {
    g_autofree char *name = g_strdup_printf ("unipc_x0_%u", i);

    s->hist[i] = sora_tensor_new (
        sample->dev, name, SORA_DTYPE_F32, sample->ndim, sample->shape, error);
    if (s->hist[i] == NULL)
      break;
  }
  if (s->hist[n - 1] != NULL)
    return TRUE;
  g_clear_pointer (&s->last_sample, sora_tensor_free);
  for (guint i = 0; i < n; i++)
    g_clear_pointer (&s->hist[i], sora_tensor_free);
  return FALSE;
}

/* UniC at step i ≥ 1: corrects x_i into last_sample from the last
 * corrected sample x̂_{i-1}, m_{i-1} … m_{i-last_order} and m_i. */
static gboolean
unipc_correct (SoraScheduler *s, guint i, SoraTensor *m, GError **error)
{
  float sg[SORA_UNIPC_MAX_ORDER];

  for (guint k = 0; k < s->last_order; k++)
    sg[k] = s->sigmas[i - 1 - k];
  return unipc_update (s, s->last_sample, s->last_sample, sg, s->sigmas[i],
      s->hist, m, s->last_order, error);
}

/* UniP of @order from x̂_i (last_sample), m_i and m_{i-1} … into @sample. */
static gboolean
unipc_predict (SoraScheduler *s, guint i, guint order, SoraTensor *m,
    SoraTensor *sample, GError **error)
{
  SoraTensor *ms[SORA_UNIPC_MAX_ORDER] = { m };
  float sg[SORA_UNIPC_MAX_ORDER];

  /* σ_{i+1} = 0 has λ = ∞, φ = −1: the step lands on m_i exactly (the
   * last step has order 1). */
  if (s->sigmas[i + 1] == 0.0f)
    return sora_op_lincomb (sample, 1, &m, (const float[]){ 1.0f }, error);
  /* final_sigmas_type sigma_min: h = 0, every term but x̂_i vanishes. */
  if (s->sigmas[i + 1] == s->sigmas[i])
    return sora_op_lincomb (
        sample, 1, &s->last_sample, (const float[]){ 1.0f }, error);
  for (guint k = 0; k < order; k++) {
    sg[k] = s->sigmas[i - k];
    if (k > 0)
      ms[k] = s->hist[k - 1];
  }
  return unipc_update (
      s, sample, s->last_sample, sg, s->sigmas[i + 1], ms, NULL, order, error);
}

/* diffusers corrects step i unless disable_corrector lists i − 1. */
static gboolean
corrects (const SoraSchedulerConfig *cfg, guint i)
{
  if (i == 0)
    return FALSE;
  for (guint k = 0; k < cfg->n_disable_corrector; k++)
    if (cfg->disable_corrector[k] == i - 1)
      return FALSE;
  return TRUE;
}

static gboolean
unipc_step (SoraScheduler *s, guint i, SoraTensor *v, SoraTensor *sample,
    GError **error)
{
  guint p = s->cfg.solver_order, order;
  SoraTensor *m;

  if (!ensure_history (s, sample, error))
    return FALSE;
  /* m_i = x_i − σ_i·v_i, from the sample before the correction. */
  m = s->hist[p];
  if (!sora_op_lincomb (m, 2, (SoraTensor *[]){ sample, v },
          (const float[]){ 1.0f, -s->sigmas[i] }, error))
    return FALSE;
  if (corrects (&s->cfg, i)) {
    if (!unipc_correct (s, i, m, error))
      return FALSE;
  } else if (!sora_op_lincomb (
                 s->last_sample, 1, &sample, (const float[]){ 1.0f }, error)) {
    return FALSE;
  }
  /* Warm-up on the first steps, lower orders on the last. */
  order = MIN (p, s->lower_order_nums + 1);
  if (s->cfg.lower_order_final)
    order = MIN (order, s->n_steps - i);
  if (!unipc_predict (s, i, order, m, sample, error))
    return FALSE;
  memmove (s->hist + 1, s->hist, p * sizeof (s->hist[0]));
  s->hist[0] = m;
  s->last_order = order;
  s->lower_order_nums = MIN (s->lower_order_nums + 1, p);
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
