/* gst-sora tests: fused attention against a naive double-precision softmax
 * (Q·Kᵀ·scale + bias + mask)·V, for self- and cross-attention, odd sizes,
 * bias, key masks and large scores.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <float.h>
#include <math.h>
#include <time.h>

#include "sora-test-util.h"
#include "sora-tune.h"

/* fp32 accumulation over D products and Nk keys against a double reference;
 * measured errors stay below 1.5e-6 up to Nk = 4096 and reach 3.4e-6 at
 * Nk = 32760. */
#define TOL 1e-5

typedef struct
{
  gsize batch, nq, nk, heads, dim;
  float scale;
  gboolean bias, mask;
} Case;

typedef struct
{
  float *q, *k, *v, *bias, *mask;
  double tol; /* TOL unless set */
} Inputs;

/* One output row (b, i, head h) into @dst[dim]: masked keys score -FLT_MAX,
 * what fp32 makes of HF's score + finfo.min. */
static void
reference_row (
    const Case *c, const Inputs *in, gsize b, gsize i, gsize h, double *dst)
{
  gsize ld = c->heads * c->dim;
  const float *qr = in->q + (b * c->nq + i) * ld + h * c->dim;
  double *s = g_new (double, c->nk), mx = -INFINITY, sum = 0.0;

  for (gsize j = 0; j < c->nk; j++) {
    const float *kr = in->k + (b * c->nk + j) * ld + h * c->dim;
    double dot = 0.0;
    for (gsize d = 0; d < c->dim; d++)
      dot += (double)qr[d] * kr[d];
    s[j] = dot * c->scale;
    if (in->bias)
      s[j] += in->bias[(h * c->nq + i) * c->nk + j];
    if (in->mask && in->mask[b * c->nk + j] == 0.0f)
      s[j] = -FLT_MAX;
    mx = MAX (mx, s[j]);
  }
  for (gsize d = 0; d < c->dim; d++)
    dst[d] = 0.0;
  for (gsize j = 0; j < c->nk; j++) {
    const float *vr = in->v + (b * c->nk + j) * ld + h * c->dim;
    double p = exp (s[j] - mx);
    sum += p;
    for (gsize d = 0; d < c->dim; d++)
      dst[d] += p * vr[d];
  }
  for (gsize d = 0; d < c->dim; d++)
    dst[d] /= sum;
  g_free (s);
}

/* Wall and process CPU seconds: the machine may be shared, and the CPU time
 * of all of PoCL's threads tells the kernel's own rate. */
typedef struct
{
  double wall, cpu;
} Timing;

/* Runs the op on @in, timing it into @t when given, and checks every
 * @row_step-th query row. */
static void
check_inputs (const Case *c, const Inputs *in, gsize row_step, const char *what,
    Timing *t)
{
  GError *error = NULL;
  gsize ld = c->heads * c->dim;
  gsize qs[] = { c->batch, c->nq, ld }, ks[] = { c->batch, c->nk, ld };
  gsize bs[] = { c->heads, c->nq, c->nk }, ms[] = { c->batch, c->nk };
  SoraTensor *q = sora_test_upload ("q", SORA_DTYPE_F32, in->q, 3, qs);
  SoraTensor *k = sora_test_upload ("k", SORA_DTYPE_F32, in->k, 3, ks);
  SoraTensor *v = sora_test_upload ("v", SORA_DTYPE_F32, in->v, 3, ks);
  SoraTensor *out = sora_tensor_new (
      sora_test_device (), "out", SORA_DTYPE_F32, 3, qs, &error);
  SoraAttentionParams p = { c->heads, c->scale, NULL, NULL };
  GArray *got = g_array_new (FALSE, FALSE, sizeof (float));
  GArray *want = g_array_new (FALSE, FALSE, sizeof (double));
  float *dev;
  char *label;
  gint64 t0;
  clock_t c0;

  g_assert_no_error (error);
  if (in->bias)
    p.bias = sora_test_upload ("bias", SORA_DTYPE_F32, in->bias, 3, bs);
  if (in->mask)
    p.key_mask = sora_test_upload ("mask", SORA_DTYPE_F32, in->mask, 2, ms);
  t0 = g_get_monotonic_time ();
  c0 = clock ();
  sora_op_attention (q, k, v, out, &p, &error);
  g_assert_no_error (error);
  sora_device_finish (sora_test_device (), &error);
  g_assert_no_error (error);
  if (t) {
    t->wall = (g_get_monotonic_time () - t0) / 1e6;
    t->cpu = (double)(clock () - c0) / CLOCKS_PER_SEC;
  }
  dev = sora_test_download (out);

  for (gsize b = 0; b < c->batch; b++)
    for (gsize i = 0; i < c->nq; i += row_step)
      for (gsize h = 0; h < c->heads; h++) {
        g_array_set_size (want, want->len + c->dim);
        reference_row (
            c, in, b, i, h, &g_array_index (want, double, want->len - c->dim));
        g_array_append_vals (
            got, dev + (b * c->nq + i) * ld + h * c->dim, c->dim);
      }
  label = g_strdup_printf ("%s B=%" G_GSIZE_FORMAT " Nq=%" G_GSIZE_FORMAT
                           " Nk=%" G_GSIZE_FORMAT " H=%" G_GSIZE_FORMAT
                           " D=%" G_GSIZE_FORMAT " scale=%g%s%s",
      what, c->batch, c->nq, c->nk, c->heads, c->dim, c->scale,
      in->bias ? " bias" : "", in->mask ? " mask" : "");
  sora_assert_close ((float *)got->data, (double *)want->data, got->len,
      in->tol ? in->tol : TOL, label);

  g_free (label);
  g_free (dev);
  g_array_free (got, TRUE);
  g_array_free (want, TRUE);
  sora_tensor_free (q);
  sora_tensor_free (k);
  sora_tensor_free (v);
  sora_tensor_free (out);
  if (p.bias)
    sora_tensor_free (p.bias);
  if (p.key_mask)
    sora_tensor_free (p.key_mask);
}

static void
inputs_random (const Case *c, Inputs *in)
{
  gsize ld = c->heads * c->dim;

  in->q = sora_test_random (c->batch * c->nq * ld, -1.0f, 1.0f);
  in->k = sora_test_random (c->batch * c->nk * ld, -1.0f, 1.0f);
  in->v = sora_test_random (c->batch * c->nk * ld, -1.0f, 1.0f);
  in->bias =
      c->bias ? sora_test_random (c->heads * c->nq * c->nk, -3.0f, 3.0f) : NULL;
  in->mask = NULL;
  in->tol = 0;
  if (c->mask) {
    /* Batch 0 keeps only every 9th key; the others are right-padded. */
    in->mask = g_new (float, c->batch * c->nk);
    for (gsize b = 0; b < c->batch; b++)
      for (gsize j = 0; j < c->nk; j++)
        in->mask[b * c->nk + j] = b == 0 ? j % 9 == 4 : j < c->nk - 5 * b;
  }
}

static void
inputs_clear (Inputs *in)
{
  g_free (in->q);
  g_free (in->k);
  g_free (in->v);
  g_free (in->bias);
  g_free (in->mask);
}

static void
check_random (const Case *c, const char *what)
{
  Inputs in;

  inputs_random (c, &in);
  check_inputs (c, &in, 1, what, NULL);
  inputs_clear (&in);
}

static void
test_self (void)
{
  static const Case cases[] = {
    { 1, 1, 1, 1, 8 }, { 2, 7, 7, 3, 40 }, { 1, 64, 64, 2, 64 },
    { 2, 129, 129, 1, 128 }, { 1, 1000, 1000, 2, 64 },
    { 1, 33, 33, 3, 5 }, /* an odd head dim: padded accumulators */
    { 1, 97, 97, 1, 384 }, /* the VAE's one wide head */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    Case c = cases[i];
    c.scale = 1.0f / sqrtf (c.dim);
    check_random (&c, "self");
  }
}

static void
test_cross (void)
{
  Case a = { 2, 300, 77, 3, 40, 1.0f / sqrtf (40) };
  Case b = { 1, 5, 512, 2, 128, 1.0f / sqrtf (128) };
  Case c = { 1, 17, 1, 1, 64, 1.0f };

  check_random (&a, "cross");
  check_random (&b, "cross");
  check_random (&c, "cross");
}

/* umT5-like: no scaling, per-head bias, padded keys masked. */
static void
test_bias_mask (void)
{
  Case a = { 2, 50, 50, 3, 8, 1.0f, TRUE, TRUE };
  Case b = { 3, 37, 61, 2, 64, 1.0f, FALSE, TRUE };
  Case c = { 1, 70, 70, 4, 16, 1.0f / 4, TRUE, FALSE };
  Case d = { 2, 37, 61, 2, 64, 1.0f, TRUE, TRUE }; /* bias rows ≠ columns */

  check_random (&a, "bias+mask");
  check_random (&b, "mask");
  check_random (&c, "bias");
  check_random (&d, "bias+mask");
}

/* A batch item whose keys are all masked averages all of V, as HF's
 * finfo.min does in fp32. */
static void
test_all_masked (void)
{
  Case c = { 2, 9, 20, 2, 8, 1.0f, FALSE, TRUE };
  Inputs in;

  inputs_random (&c, &in);
  for (gsize j = 0; j < c.nk; j++)
    in.mask[c.nk + j] = 0.0f;
  check_inputs (&c, &in, 1, "all-masked", NULL);
  inputs_clear (&in);
}

/* Scores around 3e4, far past exp's range, spread by ±300: small integers
 * make every score exact in fp32, so only the softmax itself is tested. */
static void
test_large_scores (void)
{
  Case c = { 1, 150, 150, 2, 64, 1.0f, TRUE, FALSE };
  Inputs in;

  inputs_random (&c, &in);
  for (gsize i = 0; i < c.nq * c.heads * c.dim; i++)
    in.q[i] = roundf (in.q[i] * 2.5f);
  for (gsize i = 0; i < c.nk * c.heads * c.dim; i++)
    in.k[i] = roundf (in.k[i] * 2.5f);
  for (gsize i = 0; i < c.heads * c.nq * c.nk; i++)
    in.bias[i] = 30000.0f + roundf (in.bias[i]);
  check_inputs (&c, &in, 1, "large", NULL);
  inputs_clear (&in);
}

static void
test_long (void)
{
  Case c = { 1, 2500, 2500, 1, 128, 1.0f / sqrtf (128) };

  check_random (&c, "long");
}

/* Long keys: the (batch, head) slices' K and V panels are packed and
 * attended a few slices at a time, here one: batch and head offsets, the
 * mask and the bias all cross the launches. */
static void
test_slice_groups (void)
{
  Case c = { 2, 5, 50000, 2, 128, 1.0f / sqrtf (128), TRUE, TRUE };
  guint64 all = 2ull * c.batch * c.heads * c.nk * c.dim * sizeof (float);

  g_assert_cmpuint (sora_op_attention_temp_bytes (
                        sora_test_device (), c.batch, c.heads, c.nk, c.dim),
      <=, all / 2);
  check_random (&c, "slice groups");
}

/* The GPU form (forced as SORA_KERNELS=gpu would) with every tile the
 * tuner may pick and odd ones (work-groups of 10 and 32), on @n_cases. */
static void
check_gpu_tiles (const Case *cases, guint n_cases)
{
  char **tiles = sora_test_tiles (
      sora_attention_gpu_tile_candidates (), "8x4", "5x2", NULL);

  g_setenv ("SORA_KERNELS", "gpu", TRUE);
  for (guint t = 0; tiles[t]; t++) {
    char *chosen;

    g_setenv ("SORA_ATTENTION_GPU_TILE", tiles[t], TRUE);
    chosen = sora_attention_gpu_tile_name (sora_test_device ());
    g_assert_cmpstr (chosen, ==, tiles[t]);
    g_free (chosen);
    g_test_message ("gpu tile %s", tiles[t]);
    for (guint i = 0; i < n_cases; i++) {
      Case c = cases[i];
      Inputs in;

      inputs_random (&c, &in);
      /* The last case: batch item 1 has every key masked. */
      if (i == n_cases - 1 && c.mask && c.batch > 1)
        for (gsize j = 0; j < c.nk; j++)
          in.mask[c.nk + j] = 0.0f;
      check_inputs (&c, &in, 1, "gpu", NULL);
      inputs_clear (&in);
    }
  }
  g_unsetenv ("SORA_ATTENTION_GPU_TILE");
  g_unsetenv ("SORA_KERNELS");
  g_strfreev (tiles);
}

static void
test_gpu (void)
{
  static const Case cases[] = {
    { 1, 1, 1, 1, 8, 1.0f },
    { 1, 129, 129, 2, 128, 0.0884f },
    { 1, 97, 97, 1, 384, 0.051f },
    { 1, 33, 33, 3, 5, 0.45f },
    { 2, 300, 77, 3, 40, 0.158f },
    { 1, 5, 512, 2, 128, 0.0884f },
    { 1, 17, 1, 1, 64, 1.0f },
    { 1, 70, 70, 4, 16, 0.25f, TRUE, FALSE },
    { 3, 37, 61, 2, 64, 1.0f, FALSE, TRUE },
    { 2, 37, 61, 2, 64, 1.0f, TRUE, TRUE },
  };

  check_gpu_tiles (cases, G_N_ELEMENTS (cases));
}

/* Small odd shapes only: the ones Oclgrind runs (tests/gpu-proof.sh). */
static void
test_gpu_small (void)
{
  static const Case cases[] = {
    { 1, 1, 1, 1, 8, 1.0f },
    { 1, 9, 9, 1, 128, 0.0884f },
    { 1, 3, 5, 1, 384, 0.051f },
    { 1, 7, 37, 2, 5, 0.45f },
    { 1, 9, 70, 1, 8, 0.35f },
    { 2, 5, 3, 2, 64, 1.0f, TRUE, TRUE },
  };

  check_gpu_tiles (cases, G_N_ELEMENTS (cases));
}

/* The matrix-unit form against the double reference made from Q, K and V
 * rounded to its operands (bf16 or f16), as the GEMM's: what is left is the
 * softmax weights P rounded to the operands (2^-9 of each in bf16, 2^-12
 * in f16) and fp32 accumulation, about 2e-3 and 3e-4 relative L2 measured
 * here; a misplaced fragment or a dropped key tile errs by the output's own
 * size. */
#define MMA_TOL 1e-2

static void
round_to (SoraDType dtype, float *v, gsize n)
{
  guint16 *bits = g_new (guint16, n);

  sora_convert_from_f32 (dtype, v, bits, n);
  sora_convert_to_f32 (dtype, bits, v, n);
  g_free (bits);
}

/* Each matrix-unit tile and odd ones (1 and 3 warps), in bf16 and f16 by
 * turns (each a kernel to build), on @n_cases: with the device's
 * instructions where it has them, else with the portable stand-in. */
static void
check_mma_tiles (const Case *cases, guint n_cases)
{
  static const char *const precisions[] = { "bf16", "f16" };
  char **tiles = sora_test_tiles (
      sora_attention_mma_tile_candidates (), "16x16", "48x32", NULL);

  if (sora_tune_mma_form (sora_test_device ()) == SORA_MMA_NONE) {
    g_test_message ("no matrix units: testing the stand-in (SORA_MMA)");
    g_setenv ("SORA_MMA", "emulate", TRUE);
  }
  /* Head dims 16 does not divide take the GPU form: this tile, untuned. */
  g_setenv ("SORA_ATTENTION_GPU_TILE", "32x8", TRUE);
  for (guint t = 0; tiles[t]; t++) {
    const char *precision = precisions[t % 2];
    SoraDType op = t % 2 == 0 ? SORA_DTYPE_BF16 : SORA_DTYPE_F16;
    char *chosen;

    g_setenv ("SORA_PRECISION", precision, TRUE);
    g_setenv ("SORA_ATTENTION_MMA_TILE", tiles[t], TRUE);
    chosen = sora_attention_mma_tile_name (sora_test_device (), op);
    g_assert_cmpstr (chosen, ==, tiles[t]);
    g_free (chosen);
    g_test_message ("mma %s tile %s", precision, tiles[t]);
    for (guint i = 0; i < n_cases; i++) {
      Case c = cases[i];
      gsize n_q = c.batch * c.nq * c.heads * c.dim;
      gsize n_k = c.batch * c.nk * c.heads * c.dim;
      Inputs in;

      inputs_random (&c, &in);
      round_to (op, in.q, n_q);
      round_to (op, in.k, n_k);
      round_to (op, in.v, n_k);
      in.tol = MMA_TOL;
      /* The last case: batch item 1 has every key masked. */
      if (i == n_cases - 1 && c.mask && c.batch > 1)
        for (gsize j = 0; j < c.nk; j++)
          in.mask[c.nk + j] = 0.0f;
      check_inputs (&c, &in, 1, precision, NULL);
      inputs_clear (&in);
    }
  }
  g_unsetenv ("SORA_ATTENTION_MMA_TILE");
  g_unsetenv ("SORA_ATTENTION_GPU_TILE");
  g_unsetenv ("SORA_PRECISION");
  g_unsetenv ("SORA_MMA");
  g_strfreev (tiles);
}

/* Odd shapes: rows and keys past the tiles, keys over many tiles, bias,
 * masks, a head dim left to the f32 form (40). */
static void
test_mma (void)
{
  static const Case cases[] = {
    { 1, 1, 1, 1, 16, 1.0f },
    { 1, 129, 129, 2, 128, 0.0884f },
    { 1, 5, 300, 1, 128, 0.0884f },
    { 1, 17, 1, 1, 64, 1.0f },
    { 1, 70, 70, 4, 16, 0.25f, TRUE, FALSE },
    { 2, 9, 20, 1, 40, 0.158f },
    { 2, 37, 61, 2, 64, 1.0f, TRUE, TRUE },
  };

  check_mma_tiles (cases, G_N_ELEMENTS (cases));
}

/* Small odd shapes only: the ones Oclgrind runs (tests/gpu-proof.sh). */
static void
test_mma_small (void)
{
  static const Case cases[] = {
    { 1, 1, 1, 1, 16, 1.0f },
    { 1, 19, 37, 1, 32, 0.177f },
    { 2, 5, 3, 1, 16, 1.0f, TRUE, TRUE },
  };

  check_mma_tiles (cases, G_N_ELEMENTS (cases));
}

/* @a attended by itself with $SORA_PRECISION at @precision (NULL: unset),
 * read back. */
static float *
attention_with (SoraTensor *a, const char *precision)
{
  SoraAttentionParams p = { 1, 0.25f };
  GError *error = NULL;
  SoraTensor *out = sora_tensor_new (
      a->dev, "out", SORA_DTYPE_F32, a->ndim, a->shape, &error);
  float *values;

  g_assert_no_error (error);
  if (precision)
    g_setenv ("SORA_PRECISION", precision, TRUE);
  else
    g_unsetenv ("SORA_PRECISION");
  g_assert_true (sora_op_attention (a, a, a, out, &p, &error));
  g_assert_no_error (error);
  values = sora_test_download (out);
  sora_tensor_free (out);
  return values;
}

/* A device whose matrix units were measured correct and faster
 * ("attention-precision" = bf16): "auto" takes them (the forced bf16
 * result, bit for bit), unset and "f32" do not (off by default: f32's
 * result, which bf16's rounding moves by far more than 1e-5). */
static void
check_measured_bf16 (SoraTensor *a)
{
  float *bf16, *values[3];
  const char *precisions[] = { NULL, "f32", "auto" };
  double *ref = g_new (double, a->numel);

  sora_test_tune_as (
      a->dev, "attention-precision", "bf16", sora_tune_valid_precision);
  bf16 = attention_with (a, "bf16");
  for (gsize i = 0; i < a->numel; i++)
    ref[i] = bf16[i];
  for (guint i = 0; i < G_N_ELEMENTS (precisions); i++) {
    double err;

    values[i] = attention_with (a, precisions[i]);
    err = sora_test_rel_l2 (values[i], ref, a->numel);
    g_test_message ("SORA_PRECISION=%s: relative L2 %.3g from bf16's",
        precisions[i] ? precisions[i] : "(unset)", err);
    if (i < 2)
      g_assert_cmpfloat (err, >, 1e-5);
    else
      g_assert_cmpfloat (err, ==, 0);
  }
  g_assert_cmpmem (values[0], a->numel * sizeof (float), values[1],
      a->numel * sizeof (float));
  for (guint i = 0; i < G_N_ELEMENTS (precisions); i++)
    g_free (values[i]);
  g_free (bf16);
  g_free (ref);
  g_unsetenv ("SORA_PRECISION");
}

/* The choice of the matrix units: without $SORA_PRECISION, a device with
 * none (PoCL) stays f32 (held to TOL, which bf16 would miss); forced, it
 * fails by name, or runs with the stand-in; a bad value is refused by
 * name; "auto" takes a device's measured choice, and unset does not.  And
 * the first-use check's comparison. */
static void
test_precision (void)
{
  SoraDevice *dev = sora_test_device ();
  Case c = { 1, 9, 9, 1, 16, 0.25f };
  gsize shape[] = { 1, 9, 16 };
  float *values = sora_test_random (9 * 16, -1.0f, 1.0f);
  SoraTensor *a = sora_test_upload ("a", SORA_DTYPE_F32, values, 3, shape);
  SoraTensor *b;
  SoraAttentionParams p = { 1, 0.25f };
  GError *error = NULL;

  g_setenv ("SORA_KERNELS", "gpu", TRUE);
  g_setenv ("SORA_ATTENTION_GPU_TILE", "32x8", TRUE);
  g_setenv ("SORA_ATTENTION_MMA_TILE", "16x16", TRUE);
  if (sora_tune_mma_form (dev) == SORA_MMA_NONE) {
    check_random (&c, "unforced, no matrix units");
    g_setenv ("SORA_PRECISION", "bf16", TRUE);
    g_assert_false (sora_op_attention (a, a, a, a, &p, &error));
    g_assert_error (error, SORA_ERROR, SORA_ERROR_DEVICE);
    g_assert_nonnull (strstr (error->message, "attention"));
    g_assert_nonnull (
        strstr (error->message, sora_device_get_info (dev)->name));
    g_clear_error (&error);
    g_setenv ("SORA_MMA", "emulate", TRUE);
  }
  g_setenv ("SORA_PRECISION", "bf16", TRUE);
  b = sora_tensor_new (dev, "b", SORA_DTYPE_F32, 3, shape, &error);
  g_assert_no_error (error);
  g_assert_true (sora_op_attention (a, a, a, b, &p, &error));
  g_assert_no_error (error);
  g_setenv ("SORA_PRECISION", "fp8", TRUE);
  g_assert_false (sora_op_attention (a, a, a, b, &p, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "SORA_PRECISION=fp8"));
  g_assert_nonnull (strstr (error->message, "\"auto\""));
  g_clear_error (&error);
  check_measured_bf16 (a);

  /* The check: b against itself passes; against a (another tensor) not. */
  g_assert_true (sora_tune_check_close (b, b, "self", &error));
  g_assert_no_error (error);
  g_assert_false (sora_tune_check_close (b, a, "other", &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_DEVICE);
  g_assert_nonnull (strstr (error->message, "other: relative L2 error"));
  g_clear_error (&error);

  g_unsetenv ("SORA_PRECISION");
  g_unsetenv ("SORA_MMA");
  g_unsetenv ("SORA_ATTENTION_MMA_TILE");
  g_unsetenv ("SORA_ATTENTION_GPU_TILE");
  g_unsetenv ("SORA_KERNELS");
  sora_tensor_free (a);
  sora_tensor_free (b);
  g_free (values);
}

/* Runs the DiT's self-attention shape at @n tokens, checking every
 * @row_step-th query row, and logs the rate (4·Nq·Nk·D·H flop) per wall
 * second and per CPU second. */
static void
check_speed (gsize n, gsize heads, gsize row_step)
{
  Case c = { 1, n, n, heads, 128, 1.0f / sqrtf (128) };
  Case warm = { 1, 16, 16, heads, 128, c.scale };
  double flop = 4.0 * c.nq * c.nk * c.dim * c.heads;
  Inputs in;
  Timing t;

  check_random (&warm, "warm-up"); /* builds the program */
  inputs_random (&c, &in);
  check_inputs (&c, &in, row_step, "speed", &t);
  g_test_message ("attention B=1 N=%" G_GSIZE_FORMAT " H=%" G_GSIZE_FORMAT
                  " D=%" G_GSIZE_FORMAT ": %.3f s, %.1f GFLOP/s; %.3f CPU s, "
                  "%.1f GFLOP per CPU second",
      c.nq, c.heads, c.dim, t.wall, flop / t.wall / 1e9, t.cpu,
      flop / t.cpu / 1e9);
  inputs_clear (&in);
}

static void
test_speed (void)
{
  check_speed (4096, 12, 257);
}

/* The 81-frame 480p sequence, one head (about 11 CPU seconds with PoCL on
 * a 2-core AVX2 machine): only with -m slow. */
static void
test_speed_long (void)
{
  if (!g_test_slow ()) {
    g_test_skip ("needs -m slow");
    return;
  }
  check_speed (32760, 1, 4093);
}

/* Every tile the tuner may pick here and odd ones, through the override,
 * on odd shapes: head dims that no vector divides, rows and keys past
 * the tiles, bias and mask. */
static void
test_tiles (void)
{
  char **candidates = sora_attention_tile_candidates (sora_test_device ());
  const char *odd[] = { "1x1x16", "5x2x64", NULL };
  Case a = { 2, 37, 61, 2, 20, 1.0f, TRUE, TRUE };
  Case b = { 1, 33, 33, 3, 5, 1.0f / sqrtf (5) };

  for (guint set = 0; set < 2; set++) {
    const char *const *tiles = set == 0 ? (const char *const *)candidates : odd;

    for (guint i = 0; tiles[i]; i++) {
      char *chosen;

      g_setenv ("SORA_ATTENTION_TILE", tiles[i], TRUE);
      chosen = sora_attention_tile_name (sora_test_device ());
      g_assert_cmpstr (chosen, ==, tiles[i]);
      g_free (chosen);
      g_test_message ("tile %s", tiles[i]);
      check_random (&a, "bias+mask");
      check_random (&b, "self");
    }
  }
  g_unsetenv ("SORA_ATTENTION_TILE");
  g_strfreev (candidates);
}

static void
test_errors (void)
{
  GError *error = NULL;
  float zeros[2 * 5 * 12] = { 0 };
  gsize qs[] = { 2, 5, 12 }, ks[] = { 2, 4, 12 }, bad[] = { 2, 4, 8 };
  gsize ms[] = { 2, 5 };
  SoraTensor *q = sora_test_upload ("q", SORA_DTYPE_F32, zeros, 3, qs);
  SoraTensor *k = sora_test_upload ("k", SORA_DTYPE_F32, zeros, 3, ks);
  SoraTensor *v = sora_test_upload ("v", SORA_DTYPE_F32, zeros, 3, bad);
  SoraTensor *out = sora_test_upload ("out", SORA_DTYPE_F32, zeros, 3, qs);
  SoraTensor *mask = sora_test_upload ("mask", SORA_DTYPE_F32, zeros, 2, ms);
  SoraAttentionParams p = { 3, 1.0f, NULL, NULL };

  g_assert_false (sora_op_attention (q, k, v, out, &p, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "v [2, 4, 8] f32"));
  g_clear_error (&error);

  p.key_mask = mask; /* [2, 5] where Nk is 4 */
  g_assert_false (sora_op_attention (q, k, k, out, &p, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "mask [2, 5] f32"));
  g_clear_error (&error);

  p.key_mask = NULL;
  p.heads = 5; /* does not divide 12 channels */
  g_assert_false (sora_op_attention (q, k, k, out, &p, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "q [2, 5, 12] f32"));
  g_clear_error (&error);

  sora_tensor_free (q);
  sora_tensor_free (k);
  sora_tensor_free (v);
  sora_tensor_free (out);
  sora_tensor_free (mask);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/attention/self", test_self);
  g_test_add_func ("/attention/cross", test_cross);
  g_test_add_func ("/attention/bias-mask", test_bias_mask);
  g_test_add_func ("/attention/all-masked", test_all_masked);
  g_test_add_func ("/attention/large-scores", test_large_scores);
  g_test_add_func ("/attention/long", test_long);
  g_test_add_func ("/attention/slice-groups", test_slice_groups);
  g_test_add_func ("/attention/speed", test_speed);
  g_test_add_func ("/attention/speed-long", test_speed_long);
  g_test_add_func ("/attention/tiles", test_tiles);
  g_test_add_func ("/attention/errors", test_errors);
  g_test_add_func ("/attention/gpu", test_gpu);
  g_test_add_func ("/attention/gpu-small", test_gpu_small);
  g_test_add_func ("/attention/mma", test_mma);
  g_test_add_func ("/attention/mma-small", test_mma_small);
  g_test_add_func ("/attention/precision", test_precision);
  return sora_test_run ();
}
