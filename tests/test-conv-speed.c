/* gst-sora tests: /conv/speed, the convolution's rate on decoder-sized
 * layers against the GEMM's; part of test-conv (test-conv.c)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <time.h>

#include "sora-test-util.h"
#include "test-conv.h"

/* Seconds per call of @run (after one untimed call that builds the
 * program), in wall time and in this process's CPU time: the wall figure
 * depends on how busy the shared machine is, the CPU-time one much less. */
typedef gboolean (*TimedFunc) (gpointer data, GError **error);

static void
time_calls (
    TimedFunc run, gpointer data, int reps, double *secs, double *cpu_secs)
{
  GError *error = NULL;
  gint64 start;
  clock_t cpu_start;

  g_assert_true (run (data, &error));
  g_assert_true (sora_device_finish (sora_test_device (), &error));
  start = g_get_monotonic_time ();
  cpu_start = clock ();
  for (int r = 0; r < reps; r++)
    g_assert_true (run (data, &error));
  g_assert_true (sora_device_finish (sora_test_device (), &error));
  g_assert_no_error (error);
  *secs = (g_get_monotonic_time () - start) / 1e6 / reps;
  *cpu_secs = (double)(clock () - cpu_start) / CLOCKS_PER_SEC / reps;
}

typedef struct
{
  SoraTensor *x, *cache, *bias, *y;
  SoraConvWeight *weight;
  const SoraConv3dParams *p;
} ConvRun;

static gboolean
run_conv (gpointer data, GError **error)
{
  ConvRun *r = data;

  return sora_op_conv3d_packed (
      r->x, r->cache, r->weight, r->bias, r->p, r->y, error);
}

typedef struct
{
  SoraLinear *l;
  SoraTensor *x, *y;
} GemmRun;

static gboolean
run_gemm (gpointer data, GError **error)
{
  GemmRun *r = data;

  return sora_op_linear (r->l, r->x, r->y, error);
}

/* GFLOP/s of the product the conv amounts to, as a Linear: M = output
 * pixels (at most 8192: the rate, not the size, is compared), N = Cout,
 * K = Cin·taps. */
static void
time_gemm (gsize m, gsize n, gsize k, double *gflops, double *cpu_gflops)
{
  GError *error = NULL;
  float *w = sora_test_random (n * k, -1, 1);
  float *x = sora_test_random (MIN (m, 8192) * k, -1, 1);
  GemmRun r;
  double secs, cpu_secs, flops;

  m = MIN (m, 8192);
  flops = 2.0 * m * n * k;
  r.l = sora_linear_new (
      sora_test_device (), "gemm", SORA_DTYPE_F32, n, k, w, NULL, &error);
  g_assert_no_error (error);
  r.x = sora_test_upload ("x", SORA_DTYPE_F32, x, 2, (gsize[]){ m, k });
  r.y = sora_tensor_new_v (
      sora_test_device (), "y", SORA_DTYPE_F32, &error, 2, m, n);
  g_assert_no_error (error);
  time_calls (run_gemm, &r, 2, &secs, &cpu_secs);
  *gflops = flops / secs / 1e9;
  *cpu_gflops = flops / cpu_secs / 1e9;
  sora_linear_free (r.l);
  sora_tensor_free (r.x);
  sora_tensor_free (r.y);
  g_free (w);
  g_free (x);
}

/* Times the packed conv on a VAE layer's shape for each weight storage and
 * checks a sample of its outputs against the double reference (all of
 * them would take minutes). */
static void
bench_layer (const ConvCase *c, const char *what, gboolean half_too)
{
  GError *error = NULL;
  gsize xs[] = { c->cin, c->t, c->h, c->w };
  gsize cs[] = { c->cin, c->tc, c->h, c->w };
  gsize ws[] = { c->cout, c->cin, c->kt, c->kh, c->kw }, ys[4];
  gsize taps = c->kt * c->kh * c->kw, nw = c->cout * c->cin * taps;
  gsize pixels, n_samples = 500;
  float *x = sora_test_random (c->cin * c->t * c->h * c->w, -1, 1);
  float *cache =
      c->tc ? sora_test_random (c->cin * c->tc * c->h * c->w, -1, 1) : NULL;
  float *wt = sora_test_random (nw, -1, 1);
  float *bias = sora_test_random (c->cout, -1, 1);
  float *got, *got_s = g_new (float, n_samples);
  double *want_s = g_new (double, n_samples);
  /* (stored dtype, widened) pairs */
  struct
  {
    SoraDType dtype;
    gboolean widen;
  } kinds[] = { { SORA_DTYPE_F32, FALSE }, { SORA_DTYPE_F16, FALSE },
    { SORA_DTYPE_F16, TRUE } };
  double flops, gemm, cpu_gemm;
  ConvRun r = { .p = &c->p };

  out_shape (c, ys);
  pixels = ys[1] * ys[2] * ys[3];
  flops = 2.0 * pixels * c->cout * c->cin * taps;
  r.x = sora_test_upload ("x", SORA_DTYPE_F32, x, 4, xs);
  r.cache =
      cache ? sora_test_upload ("cache", SORA_DTYPE_F32, cache, 4, cs) : NULL;
  r.bias = sora_test_upload ("bias", SORA_DTYPE_F32, bias, 1, &c->cout);
  r.y =
      sora_tensor_new (sora_test_device (), "y", SORA_DTYPE_F32, 4, ys, &error);
  g_assert_no_error (error);
  time_gemm (pixels, c->cout, c->cin * taps, &gemm, &cpu_gemm);
  g_test_message ("%s: equivalent GEMM %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT
                  "x%" G_GSIZE_FORMAT ": %.1f GFLOP/s, %.1f GFLOP per "
                  "CPU-second",
      what, pixels, c->cout, c->cin * taps, gemm, cpu_gemm);

  for (guint k = 0; k < (half_too ? G_N_ELEMENTS (kinds) : 1); k++) {
    SoraTensor *tw = sora_test_upload ("weight", kinds[k].dtype, wt, 5, ws);
    double secs, cpu_secs;

    r.weight = sora_conv_weight_new (tw, kinds[k].widen, &error);
    g_assert_no_error (error);
    sora_tensor_free (tw);
    time_calls (run_conv, &r, 2, &secs, &cpu_secs);
    g_test_message ("%s, %s weights%s: %.1f ms, %.1f GFLOP/s, %.1f GFLOP per "
                    "CPU-second (%.0f%% of the GEMM's)",
        what, sora_dtype_name (kinds[k].dtype),
        kinds[k].widen ? " widened" : "", secs * 1e3, flops / secs / 1e9,
        flops / cpu_secs / 1e9, 100 * flops / cpu_secs / 1e9 / cpu_gemm);
    sora_conv_weight_free (r.weight);

    got = sora_test_download (r.y);
    for (gsize i = 0; i < n_samples; i++) {
      gsize at = g_test_rand_int_range (0, ys[0] * pixels);
      gsize ox = at % ys[3], oy = at / ys[3] % ys[2];
      gsize ot = at / ys[3] / ys[2] % ys[1], co = at / pixels;

      got_s[i] = got[at];
      want_s[i] = conv_ref_at (c, x, cache, wt, bias, co, ot, oy, ox);
    }
    /* The reference keeps f32 weights: with f16 ones this only bounds
     * the f16 rounding (2^-11 relative per weight, averaging down). */
    sora_assert_close (got_s, want_s, n_samples,
        kinds[k].dtype == SORA_DTYPE_F32 ? TOL_F32 : 1e-3, what);
    g_free (got);
  }
  sora_tensor_free (r.x);
  sora_tensor_free (r.cache);
  sora_tensor_free (r.bias);
  sora_tensor_free (r.y);
  g_free (x);
  g_free (cache);
  g_free (wt);
  g_free (bias);
  g_free (got_s);
  g_free (want_s);
}

/* Decoder-sized layers, each for one frame after 2 cached ones.  Set
 * SORA_CONV_BENCH=1 for the large shapes too (about a minute here). */
void
test_speed (void)
{
  gboolean all = g_getenv ("SORA_CONV_BENCH") != NULL;
  SoraConv3dParams causal = { 1, 1, 1, 0, 1, 1, 1, 1 };
  SoraConv3dParams time = { 1, 1, 1, 0, 0, 0, 0, 0 };
  ConvCase c = { .cin = 96,
    .cout = 96,
    .t = 1,
    .tc = 2,
    .h = 64,
    .w = 64,
    .kt = 3,
    .kh = 3,
    .kw = 3,
    .p = causal };

  bench_layer (&c, "96->96 3x3x3 64x64", TRUE);
  if (!all)
    return;
  c.h = c.w = 256;
  bench_layer (&c, "96->96 3x3x3 256x256", FALSE);
  c.cin = c.cout = 384;
  c.h = 60;
  c.w = 104;
  bench_layer (&c, "384->384 3x3x3 60x104", FALSE);
  c.cout = 768;
  c.kh = c.kw = 1;
  c.p = time;
  bench_layer (&c, "384->768 time_conv 3x1x1 60x104", FALSE);
  c.cout = 192;
  c.kt = 1;
  c.tc = 0;
  c.h = 120;
  c.w = 208;
  bench_layer (&c, "384->192 1x1x1 120x208", FALSE);
}
