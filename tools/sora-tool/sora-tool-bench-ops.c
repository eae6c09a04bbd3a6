/* sora-tool bench: the op benches (GEMM, attention) against OpenBLAS
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>

#include "sora-recipe.h"
#include "sora-tool-bench.h"
#include "sora-tune.h"

/* cblas_sgemm, when OpenBLAS could be loaded. */
typedef void (*SgemmFn) (int order, int trans_a, int trans_b, int m, int n,
    int k, float alpha, const float *a, int lda, const float *b, int ldb,
    float beta, float *c, int ldc);
static SgemmFn openblas_sgemm;

enum {
  CBLAS_ROW_MAJOR = 101,
  CBLAS_NO_TRANS = 111,
  CBLAS_TRANS = 112,
};

/* What the reference column runs, for the table and the JSON. */
static char *openblas_name;

/* OpenBLAS reads OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE when it loads.  The
 * values this environment sets halve its speed, and left to itself
 * OpenBLAS 0.3.21 does not know newer CPUs: on an AVX-512 Xeon (family 6,
 * model 207) it ran its Prescott kernels at 64 GFLOP/s instead of SkylakeX's
 * 302.  So the reference gets the widest kernel family the CPU has. */
const char *
bench_load_openblas (void)
{
  const char *(*corename) (void);
  void *lib;

  g_unsetenv ("OPENBLAS_L2_SIZE");
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx512f"))
    g_setenv ("OPENBLAS_CORETYPE", "SkylakeX", TRUE);
  else if (__builtin_cpu_supports ("avx2"))
    g_setenv ("OPENBLAS_CORETYPE", "Haswell", TRUE);
  else
    g_unsetenv ("OPENBLAS_CORETYPE");
  lib = dlopen ("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    printf ("OpenBLAS: not loaded (%s); no reference column\n", dlerror ());
    return NULL;
  }
  openblas_sgemm = (SgemmFn)dlsym (lib, "cblas_sgemm");
  corename = (const char *(*)(void))dlsym (lib, "openblas_get_corename");
  openblas_name = g_strdup_printf (
      "OpenBLAS, %s kernels", corename ? corename () : "unknown");
  printf ("%s%s\n", openblas_name,
      openblas_sgemm ? "" : ": no cblas_sgemm; no reference column");
  return openblas_sgemm ? openblas_name : NULL;
}

/* GEMM: Y = X·Wᵀ as the Linear layers run it. */

typedef struct
{
  gsize m, n, k;
  float *x, *w, *y; /* host, for OpenBLAS */
} GemmHost;

typedef struct
{
  SoraLinear *linear;
  SoraTensor *x, *y;
} GemmDevice;

static gboolean
run_openblas (gpointer data, GError **error)
{
  GemmHost *h = data;

  openblas_sgemm (CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, h->m, h->n,
      h->k, 1.0f, h->x, h->k, h->w, h->k, 0.0f, h->y, h->n);
  return TRUE;
}

static gboolean
run_linear (gpointer data, GError **error)
{
  GemmDevice *d = data;

  return sora_op_linear (d->linear, d->x, d->y, error) &&
      sora_device_finish (d->y->dev, error);
}

static const struct
{
  const char *label;
  SoraDType dtype;
  SoraGemmBackend backend;
} gemm_variants[] = {
  { "tiled f32", SORA_DTYPE_F32, SORA_GEMM_TILED },
  { "tiled f16", SORA_DTYPE_F16, SORA_GEMM_TILED },
  { "tiled bf16", SORA_DTYPE_BF16, SORA_GEMM_TILED },
  { "clblast f32", SORA_DTYPE_F32, SORA_GEMM_CLBLAST },
  { "gpu f32", SORA_DTYPE_F32, SORA_GEMM_GPU },
  { "gpu f16", SORA_DTYPE_F16, SORA_GEMM_GPU },
  { "gpu bf16", SORA_DTYPE_BF16, SORA_GEMM_GPU },
  /* Operands in bf16, or f16 with SORA_PRECISION=f16. */
  { "mma f32", SORA_DTYPE_F32, SORA_GEMM_MMA },
  { "mma bf16", SORA_DTYPE_BF16, SORA_GEMM_MMA },
};

/* One shape's table: OpenBLAS and the engine's forms of the Linear. */
typedef struct
{
  GemmHost h;
  char *shape;
  double flops;
  SoraTensor *x, *y;
  GemmDevice d[G_N_ELEMENTS (gemm_variants)];
  BenchRow rows[1 + G_N_ELEMENTS (gemm_variants)];
  guint n_rows;
} GemmCase;

/* A row for each form the device takes (@gpu: the GPU forms too, and the
 * matrix units where the device has them); a form that cannot be built
 * prints why and has no row. */
static void
gemm_add_variants (GemmCase *c, SoraDevice *dev, gboolean gpu)
{
  const GemmHost *h = &c->h;
  void *stored = g_malloc (h->n * h->k * sizeof (float));
  SoraMmaForm form = sora_tune_mma_form (dev);
  gboolean mma = gpu && sora_tune_mma_native (form);
  GError *error = NULL;

  for (guint v = 0; v < G_N_ELEMENTS (gemm_variants); v++) {
    if ((gemm_variants[v].backend == SORA_GEMM_GPU && !gpu) ||
        (gemm_variants[v].backend == SORA_GEMM_MMA && !mma))
      continue;
    sora_convert_from_f32 (gemm_variants[v].dtype, h->w, stored, h->n * h->k);
    c->d[v] = (GemmDevice){ sora_linear_new_full (dev, "bench",
                                gemm_variants[v].dtype, h->n, h->k, stored,
                                NULL, gemm_variants[v].backend, &error),
      c->x, c->y };
    if (c->d[v].linear == NULL) {
      printf ("gemm     %-18s %-12s failed: %s\n", c->shape,
          gemm_variants[v].label, error->message);
      g_clear_error (&error);
      continue;
    }
    c->rows[c->n_rows++] = (BenchRow){ c->shape, gemm_variants[v].label,
      c->flops, run_linear, &c->d[v] };
  }
  g_free (stored);
}

static void
gemm_case (Bench *b, const gsize *dims, gboolean gpu)
{
  GemmCase c = { { dims[0], dims[1], dims[2] } };
  GemmHost *h = &c.h;
  GError *error = NULL;

  c.flops = 2.0 * h->m * h->n * h->k;
  c.shape = g_strdup_printf ("%" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT
                             "x%" G_GSIZE_FORMAT,
      h->m, h->n, h->k);
  h->x = g_new (float, h->m * h->k);
  h->w = g_new (float, h->n * h->k);
  h->y = g_new (float, h->m * h->n);
  for (gsize i = 0; i < h->m * h->k; i++)
    h->x[i] = (float)g_rand_double_range (b->rng, -1, 1);
  for (gsize i = 0; i < h->n * h->k; i++)
    h->w[i] = (float)g_rand_double_range (b->rng, -1, 1);

  if (openblas_sgemm)
    c.rows[c.n_rows++] =
        (BenchRow){ c.shape, "OpenBLAS", c.flops, run_openblas, h };
  if ((c.x = sora_tensor_new_v (
           b->dev, "x", SORA_DTYPE_F32, &error, 2, h->m, h->k)) &&
      (c.y = sora_tensor_new_v (
           b->dev, "y", SORA_DTYPE_F32, &error, 2, h->m, h->n)) &&
      sora_tensor_write (c.x, h->x, &error)) {
    gemm_add_variants (&c, b->dev, gpu);
    bench_rows (b, "gemm", c.rows, c.n_rows, openblas_sgemm != NULL);
  }
  if (error) {
    printf ("gemm     %-18s failed: %s\n", c.shape, error->message);
    g_clear_error (&error);
  }
  for (guint v = 0; v < G_N_ELEMENTS (gemm_variants); v++)
    if (c.d[v].linear)
      sora_linear_free (c.d[v].linear);
  sora_tensor_free (c.x);
  sora_tensor_free (c.y);
  g_free (h->x);
  g_free (h->w);
  g_free (h->y);
  g_free (c.shape);
}

void
bench_gemm (Bench *b)
{
  /* Wan2.1-1.3B's Linear shapes at 4096 tokens: attention projections
   * (and FFN input width), FFN up, FFN down. */
  static const gsize shapes[][3] = {
    { 4096, 1536, 1536 },
    { 4096, 8960, 1536 },
    { 4096, 1536, 8960 },
  };
  static const gsize quick_shapes[][3] = {
    { 96, 192, 160 },
    { 96, 320, 160 },
    { 96, 160, 320 },
  };
  /* The GPU forms only where the engine would take them (SORA_KERNELS). */
  gboolean gpu = sora_tune_gpu_kernels (b->dev);

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    gemm_case (b, b->quick ? quick_shapes[s] : shapes[s], gpu);
}

/* Attention alone: q, k, v [1, N, H·128] as the DiT's self-attention. */
typedef struct
{
  SoraTensor *q, *k, *v, *out;
  SoraAttentionParams p;
} AttnDevice;

static gboolean
run_attention (gpointer data, GError **error)
{
  AttnDevice *a = data;

  return sora_op_attention (a->q, a->k, a->v, a->out, &a->p, error) &&
      sora_device_finish (a->out->dev, error);
}

void
bench_attention (Bench *b)
{
  /* 4096 tokens: the 2-block case's grid; 32760: 480p, 81 frames (21 x 30
   * x 52 patches), one head of the 12 on a CPU (the time scales with the
   * heads), all 12 on a device given the GPU forms (as PyTorch's SDPA is
   * timed in tools/device_check_torch.py). */
  gsize cases[][2] = { { 4096, 12 },
    { 32760, sora_tune_gpu_kernels (b->dev) ? 12 : 1 } };
  GemmDevice g = { 0 };
  GError *error = NULL;
  float *w = g_new (float, 1536 * 1536);

  /* The rate the attention is measured against: the DiT's own projection
   * shape, on the backend the device uses. */
  sora_recipe_values ("bench.w", 0.03f, 0, w, 1536 * 1536);
  g.linear = sora_linear_new (
      b->dev, "bench", SORA_DTYPE_F32, 1536, 1536, w, NULL, &error);
  g.x = g.linear ? bench_recipe_tensor (
                       b->dev, "bench.x", 2, (gsize[]){ 4096, 1536 }, &error)
                 : NULL;
  g.y = g.x
      ? sora_tensor_new_v (b->dev, "y", SORA_DTYPE_F32, &error, 2, 4096, 1536)
      : NULL;
  AttnDevice a[G_N_ELEMENTS (cases)] = { { NULL } };
  BenchRow rows[1 + G_N_ELEMENTS (cases)] = { { 0 } };
  char *labels[G_N_ELEMENTS (cases)] = { NULL };
  guint n_rows = 0;

  printf ("attention: the last column is the rate against this GEMM row\n");
  if (g.y)
    rows[n_rows++] = (BenchRow){ "4096x1536x1536", "gemm f32",
      2.0 * 4096 * 1536 * 1536, run_linear, &g };
  for (guint c = 0; g.y && c < G_N_ELEMENTS (cases); c++) {
    gsize n = b->quick ? 256 : cases[c][0], heads = cases[c][1];
    gsize shape[3] = { 1, n, heads * 128 };

    labels[c] =
        g_strdup_printf ("N=%" G_GSIZE_FORMAT " H=%" G_GSIZE_FORMAT, n, heads);
    a[c].p.heads = heads;
    a[c].p.scale = 1.0f / sqrtf (128.0f);
    if ((a[c].q = bench_recipe_tensor (b->dev, "bench.q", 3, shape, &error)) &&
        (a[c].k = bench_recipe_tensor (b->dev, "bench.k", 3, shape, &error)) &&
        (a[c].v = bench_recipe_tensor (b->dev, "bench.v", 3, shape, &error)) &&
        (a[c].out = sora_tensor_new (
             b->dev, "out", SORA_DTYPE_F32, 3, shape, &error)))
      rows[n_rows++] = (BenchRow){ labels[c], "fused",
        4.0 * n * n * 128 * heads, run_attention, &a[c] };
    if (error) {
      printf ("attn     %-18s failed: %s\n", labels[c], error->message);
      g_clear_error (&error);
    }
  }
  if (g.y)
    bench_rows (b, "attn", rows, n_rows, TRUE);
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    sora_tensor_free (a[c].q);
    sora_tensor_free (a[c].k);
    sora_tensor_free (a[c].v);
    sora_tensor_free (a[c].out);
    g_free (labels[c]);
  }
  if (error) {
    printf ("attn     failed: %s\n", error->message);
    g_error_free (error);
  }
  sora_linear_free (g.linear);
  sora_tensor_free (g.x);
  sora_tensor_free (g.y);
  g_free (w);
}
