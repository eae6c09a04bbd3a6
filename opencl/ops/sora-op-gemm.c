/* gst-sora engine op: matrix products (Linear layers and batched matmul)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sora-clblast.h"
#include "sora-op.h"
#include "sora-op-gemm.h"
#include "sora-tune.h"

/* The tile one work-item computes in gemm.cl, in vectors of vw floats. */
typedef SoraTile GemmTile;

/* gemm-gpu.cl's tile (sora-tune.h). */
typedef SoraGpuTile GpuTile;

struct _SoraLinear
{
  SoraDevice *dev;
  char *op; /* "linear NAME", for errors */
  gsize out, in;
  SoraGemmBackend backend;
  GemmTile tile; /* tile.n: packed panel width */
  gsize block_k; /* SORA_GEMM_TILED's K slice */
  GpuTile gpu; /* SORA_GEMM_GPU's tile */
  SoraMmaTile mma; /* SORA_GEMM_MMA's tile */
  cl_mem weight;
  gsize weight_bytes;
  cl_mem bias;
  gsize bias_bytes;
  char *options;
  char *wide_options; /* f16/bf16 weights in the tiled kernel: its f32 build */
};

const char *
sora_gemm_backend_to_string (SoraGemmBackend backend)
{
  switch (backend) {
    case SORA_GEMM_TILED:
      return "tiled";
    case SORA_GEMM_CLBLAST:
      return "clblast";
    case SORA_GEMM_GPU:
      return "gpu";
    case SORA_GEMM_MMA:
      return "mma";
    default:
      return "auto";
  }
}

static SoraGemmBackend
backend_from_string (const char *s)
{
  if (g_strcmp0 (s, "tiled") == 0)
    return SORA_GEMM_TILED;
  if (g_strcmp0 (s, "clblast") == 0)
    return SORA_GEMM_CLBLAST;
  if (g_strcmp0 (s, "gpu") == 0)
    return SORA_GEMM_GPU;
  if (g_strcmp0 (s, "mma") == 0)
    return SORA_GEMM_MMA;
  return SORA_GEMM_AUTO;
}

/* The backend $SORA_GEMM forces in *@backend, AUTO when it is unset or
 * empty.  FALSE, naming the variable, for any other value. */
static gboolean
forced_backend (SoraGemmBackend *backend, GError **error)
{
  const char *env = g_getenv ("SORA_GEMM");

  *backend = env && *env ? backend_from_string (env) : SORA_GEMM_AUTO;
  if (*backend != SORA_GEMM_AUTO || env == NULL || *env == '\0')
    return TRUE;
  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "SORA_GEMM=%s: it must be \"tiled\", \"gpu\", \"clblast\" or "
      "\"mma\", or unset to use the faster one",
      env);
  return FALSE;
}

static char *
gpu_options (SoraDType dtype, GpuTile t)
{
  char *tile = sora_tune_gpu_tile_options (t);
  char *options = g_strdup_printf ("%s %s", sora_storage_options (dtype), tile);

  g_free (tile);
  return options;
}

/* The precision $SORA_PRECISION asks for in *@op_dtype: f32 when unset
 * or empty.  FALSE, naming the variable, for any other value. */
static gboolean
forced_precision (SoraDType *op_dtype, GError **error)
{
  const char *env = g_getenv ("SORA_PRECISION");

  *op_dtype = SORA_DTYPE_F32;
  if (env == NULL || *env == '\0' || g_strcmp0 (env, "f32") == 0)
    return TRUE;
  if (g_strcmp0 (env, "bf16") == 0 || g_strcmp0 (env, "f16") == 0) {
    *op_dtype = g_strcmp0 (env, "bf16") == 0 ? SORA_DTYPE_BF16 : SORA_DTYPE_F16;
    return TRUE;
  }
  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "SORA_PRECISION=%s: it must be \"f32\", \"bf16\" or \"f16\"", env);
  return FALSE;
}

/* gemm_mma's options: W's storage, the operand type, the tile and how the
 * matrix products are issued. */
static char *
mma_options (
    SoraDType dtype, SoraDType op_dtype, SoraMmaTile t, SoraMmaForm form)
{
  char *tile = sora_tune_mma_tile_options (t);
  char *options = g_strdup_printf ("%s -DMMA -DMMA_%s -DMMA_%s %s",
      sora_storage_options (dtype),
      op_dtype == SORA_DTYPE_BF16 ? "BF16" : "F16",
      form == SORA_MMA_PTX ? "PTX" : "EMULATE", tile);

  g_free (tile);
  return options;
}

/* Every one of @tiles (freed) for each weight dtype, made by @make. */
static void
add_variants (GPtrArray *all, char **tiles,
    gpointer (*make) (SoraDType, const char *, gpointer), gpointer data)
{
  static const SoraDType dtypes[] = { SORA_DTYPE_F32, SORA_DTYPE_F16,
    SORA_DTYPE_BF16 };

  for (guint d = 0; d < G_N_ELEMENTS (dtypes); d++)
    for (guint i = 0; tiles[i]; i++)
      g_ptr_array_add (all, make (dtypes[d], tiles[i], data));
  g_strfreev (tiles);
}

static gpointer
gpu_variant (SoraDType dtype, const char *tile, gpointer data)
{
  GpuTile t;

  sora_tune_parse_gpu_tile (tile, &t);
  return gpu_options (dtype, t);
}

/* The PTX form only: the stand-in is for tests, never picked on a GPU. */
static gpointer
mma_variant (SoraDType dtype, const char *tile, gpointer data)
{
  SoraMmaTile t;

  sora_tune_parse_mma_tile (tile, &t);
  return mma_options (dtype, GPOINTER_TO_INT (data), t, SORA_MMA_PTX);
}

char **
sora_gemm_gpu_variants (void)
{
  GPtrArray *all = g_ptr_array_new ();

  add_variants (all, sora_tune_gpu_tile_candidates (), gpu_variant, NULL);
  add_variants (all, sora_tune_mma_tile_candidates (), mma_variant,
      GINT_TO_POINTER (SORA_DTYPE_BF16));
  add_variants (all, sora_tune_mma_tile_candidates (), mma_variant,
      GINT_TO_POINTER (SORA_DTYPE_F16));
  g_ptr_array_add (all, NULL);
  return (char **)g_ptr_array_free (all, FALSE);
}

/* How gemm-gpu.cl's gemm_gpu or gemm_mma runs: a work-group of @threads
 * per @wm x @wn block of Y. */
typedef struct
{
  const char *options, *kernel;
  gsize threads, wm, wn;
} GpuKernel;

static GpuKernel
gpu_kernel (const char *options, GpuTile t)
{
  return (GpuKernel){ options, "gemm_gpu", sora_tune_gpu_tile_threads (t), t.wm,
    t.wn };
}

/* Launches it: a work-group per block of Y (columns along the first axis),
 * all of K at once. */
static gboolean
run_gpu (SoraDevice *dev, const GpuKernel *g, gsize batch, gsize m, gsize n,
    gsize k, cl_mem x, gsize x_bs, gsize ldx, cl_mem w, gsize w_bs, gsize ldw,
    cl_mem bias, cl_mem y, gsize y_bs, gsize ldy, GError **error)
{
  gsize global[3] = { (n + g->wn - 1) / g->wn * g->threads,
    (m + g->wm - 1) / g->wm, batch };
  gsize local[3] = { g->threads, 1, 1 };

  return sora_device_run (dev, "gemm-gpu", g->options, g->kernel, 3, global,
      local, error, SORA_MEM (x), SORA_INT (x_bs), SORA_INT (ldx), SORA_MEM (w),
      SORA_INT (w_bs), SORA_INT (ldw), SORA_MEM (bias), SORA_INT (bias != NULL),
      SORA_MEM (y), SORA_INT (y_bs), SORA_INT (ldy), SORA_INT (m), SORA_INT (n),
      SORA_INT (k), SORA_END);
}

static char *
tiled_options (SoraDType dtype, gboolean strided, GemmTile tile)
{
  return g_strdup_printf ("%s%s -DTILE_M=%d -DTILE_N=%d -DVW=%d",
      sora_storage_options (dtype), strided ? " -DW_STRIDED" : "", tile.m,
      tile.n, tile.vw);
}

/* Large products run in blocks of BLOCK_N columns and of a K slice
 * (tuned per device, as the W block must stay in the core's own cache:
 * 768 KB in f32 at 256 rows, which took the DiT's shapes on an AVX-512
 * Xeon with 2 MB of L2 per core from 0.79-0.88x to 0.97-1.03x of OpenBLAS,
 * against 1024 rows, the best on 2 Zen 3 cores with a 32 MB L3).  A
 * work-group is one row tile across the block's panels, so its slice of X
 * stays in L1 while W's block streams from L2. */
#define BLOCK_N 768

/* The K slices timed per device, and the one the tile is tuned with. */
static const char *const block_ks[] = { "256", "512", "1024", NULL };
#define PROBE_BLOCK_K 256

/* How run_tiled runs: gemm.cl built with @options for W's dtype and
 * layout; for packed f16/bf16 weights @wide_options, the f32 build, runs on
 * each block of W widened to f32 by the former's gemm_widen. */
typedef struct
{
  const char *options, *wide_options;
  GemmTile tile;
  gsize block_k;
} TiledKernel;

/* One block of columns [n0, n1) over the K slice [k0, k0 + kc), @step
 * row tiles per launch. */
static gboolean
run_tiled_block (SoraDevice *dev, const TiledKernel *t, gsize step, gsize batch,
    gsize m, gsize n, gsize n0, gsize n1, gsize k0, gsize kc, cl_mem x,
    gsize x_bs, gsize ldx, cl_mem w, gsize w_bs, gsize ldw, cl_mem bias,
    cl_mem y, gsize y_bs, gsize ldy, GError **error)
{
  gsize panels = MAX (BLOCK_N / t->tile.n, 1);
  gsize panel0 = n0 / t->tile.n;
  gsize row_tiles = (m + t->tile.m - 1) / t->tile.m;
  /* A work-group is a row tile across the block's panels, the same for
   * every M and N (a narrower block rounds its panels up, the extra
   * work-items returning at once): PoCL compiles a kernel for each
   * work-group size it meets. */
  gsize local[3] = { 1, panels, 1 };
  const char *options = t->options;
  gsize w_panel0 = 0, w_k0 = k0;

  if (t->wide_options) {
    gsize nv = t->tile.n / t->tile.vw;
    gsize widen[2] = { kc * nv, panels };
    cl_mem wide = sora_device_scratch (dev,
        panels * t->tile.n * t->block_k * sizeof (float),
        "gemm's widened weight block", error);

    if (wide == NULL ||
        !sora_device_run (dev, "gemm", t->options, "gemm_widen", 2, widen, NULL,
            error, SORA_MEM (w), SORA_INT (ldw), SORA_INT (panel0),
            SORA_INT ((n + t->tile.n - 1) / t->tile.n), SORA_INT (k0),
            SORA_INT (kc), SORA_MEM (wide), SORA_END))
      return FALSE;
    options = t->wide_options;
    w = wide;
    ldw = kc;
    w_panel0 = panel0;
    w_k0 = 0;
  }
  for (gsize r0 = 0; r0 < row_tiles; r0 += step) {
    gsize offset[3] = { r0, 0, 0 };
    gsize global[3] = { MIN (step, row_tiles - r0), panels, batch };

    /* The first K slice writes Y with the bias, the others add to it. */
    if (!sora_device_run_at (dev, "gemm", options, "gemm", 3, offset, global,
            local, error, SORA_MEM (x), SORA_INT (x_bs), SORA_INT (ldx),
            SORA_MEM (w), SORA_INT (w_bs), SORA_INT (ldw), SORA_INT (w_panel0),
            SORA_INT (w_k0), SORA_MEM (bias),
            SORA_INT (bias != NULL && k0 == 0), SORA_MEM (y), SORA_INT (y_bs),
            SORA_INT (ldy), SORA_INT (m), SORA_INT (panel0), SORA_INT (n1),
            SORA_INT (k0), SORA_INT (kc), SORA_INT (k0 > 0), SORA_END))
      return FALSE;
  }
  return TRUE;
}

/* Launches gemm.cl's kernel over the blocks; the arguments are in elements
 * and fit int (the callers check). */
static gboolean
run_tiled (SoraDevice *dev, const TiledKernel *t, gsize batch, gsize m, gsize n,
    gsize k, cl_mem x, gsize x_bs, gsize ldx, cl_mem w, gsize w_bs, gsize ldw,
    cl_mem bias, cl_mem y, gsize y_bs, gsize ldy, GError **error)
{
  gsize block_n = MAX (BLOCK_N / t->tile.n, 1) * t->tile.n;
  gsize row_tiles = (m + t->tile.m - 1) / t->tile.m;
  /* Row tiles per launch, so that a stop waits for little; a block's W
   * stays in cache from one launch to the next. */
  gsize step = sora_op_launch_rows (dev, row_tiles, batch,
      2.0 * t->tile.m * block_n * MIN (k, t->block_k) * batch);

  for (gsize n0 = 0; n0 < n; n0 += block_n) {
    gsize k0 = 0;

    /* k = 0 still writes Y (the bias, or zeros). */
    do {
      gsize kc = MIN (t->block_k, k - k0);

      if (!run_tiled_block (dev, t, step, batch, m, n, n0,
              MIN (n, n0 + block_n), k0, kc, x, x_bs, ldx, w, w_bs, ldw, bias,
              y, y_bs, ldy, error))
        return FALSE;
      k0 += kc;
    } while (k0 < k);
  }
  return TRUE;
}

/* The tiled kernel reads W as [ceil(out / tile_n)][in][tile_n] panels. */
static void *
pack_panels (const void *weight, gsize esize, gsize out, gsize in, gsize tile_n,
    gsize *bytes)
{
  gsize panels = (out + tile_n - 1) / tile_n;
  guint8 *packed;

  *bytes = panels * in * tile_n * esize;
  packed = g_malloc0 (*bytes);
  for (gsize o = 0; o < out; o++) {
    gsize base = (o / tile_n) * in * tile_n + o % tile_n;

    for (gsize i = 0; i < in; i++) {
      gsize src = o * in + i, dst = base + i * tile_n;

      if (esize == 4)
        ((guint32 *)packed)[dst] = ((const guint32 *)weight)[src];
      else
        ((guint16 *)packed)[dst] = ((const guint16 *)weight)[src];
    }
  }
  return packed;
}

static cl_mem
upload (SoraDevice *dev, const void *host, gsize bytes, const char *what,
    GError **error)
{
  cl_mem buf = sora_device_alloc (dev, bytes, what, error);

  if (buf == NULL)
    return NULL;
  if (!sora_cl_check (clEnqueueWriteBuffer (sora_device_get_queue (dev), buf,
                          CL_TRUE, 0, bytes, host, 0, NULL, NULL),
          "clEnqueueWriteBuffer", what, error)) {
    sora_device_release (dev, buf, bytes);
    return NULL;
  }
  return buf;
}

static GemmTile device_tile (SoraDevice *dev, SoraDType dtype);
static gsize device_block_k (SoraDevice *dev);
static GpuTile device_gpu_tile (SoraDevice *dev, SoraDType dtype);
static SoraMmaTile device_mma_tile (SoraDevice *dev, SoraDType op_dtype);

/* As sora_linear_new_full, with the tiled or GPU kernel's tile given
 * (valid), or the device's for @dtype when @tile is NULL, and likewise the
 * tiled kernel's K slice when @block_k is 0. */
static SoraLinear *
linear_new (SoraDevice *dev, const char *name, SoraDType dtype, gsize out,
    gsize in, const void *weight, const float *bias, SoraGemmBackend backend,
    const char *tile, gsize block_k, GError **error)
{
  SoraLinear *l;
  SoraGemmBackend forced; /* applied by sora_gemm_backend */
  SoraDType op_dtype; /* SORA_GEMM_MMA's operands */
  SoraMmaForm form = SORA_MMA_NONE;
  gsize esize = sora_dtype_size (dtype);
  void *packed = NULL;
  const void *host = weight;
  char *what;

  if (out == 0 || in == 0 || out > G_MAXINT32 || in > G_MAXINT32) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "linear %s: unusable weight shape [%" G_GSIZE_FORMAT
        ", %" G_GSIZE_FORMAT "]",
        name, out, in);
    return NULL;
  }
  /* A bad $SORA_GEMM fails the model's first Linear, whatever its dtype. */
  if (!forced_backend (&forced, error))
    return NULL;
  if (backend == SORA_GEMM_CLBLAST && dtype != SORA_DTYPE_F32) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "linear %s: CLBlast needs f32 weights, not %s", name,
        sora_dtype_name (dtype));
    return NULL;
  }
  if (!forced_precision (&op_dtype, error))
    return NULL;
  if (backend == SORA_GEMM_AUTO && op_dtype != SORA_DTYPE_F32)
    backend = SORA_GEMM_MMA;
  if (backend == SORA_GEMM_AUTO)
    backend = dtype == SORA_DTYPE_F32 ? sora_gemm_backend (dev)
        : sora_tune_gpu_kernels (dev) ? SORA_GEMM_GPU
                                      : SORA_GEMM_TILED;
  if (backend == SORA_GEMM_MMA) {
    form = sora_tune_mma_form (dev);
    if (form == SORA_MMA_NONE) {
      g_set_error (error, SORA_ERROR, SORA_ERROR_DEVICE,
          "linear %s: %s has no matrix units this engine can use (it needs "
          "NVIDIA compute capability 8.0 or later); unset SORA_PRECISION "
          "for f32",
          name, sora_device_get_info (dev)->name);
      return NULL;
    }
    if (op_dtype == SORA_DTYPE_F32)
      op_dtype = SORA_DTYPE_BF16;
  }

  l = g_new0 (SoraLinear, 1);
  l->dev = dev;
  l->op = g_strdup_printf ("linear %s", name);
  l->out = out;
  l->in = in;
  l->backend = backend;
  if (backend == SORA_GEMM_MMA) {
    if (tile == NULL)
      l->mma = device_mma_tile (dev, op_dtype);
    else
      sora_tune_parse_mma_tile (tile, &l->mma);
    l->options = mma_options (dtype, op_dtype, l->mma, form);
  } else if (backend == SORA_GEMM_GPU) {
    if (tile == NULL)
      l->gpu = device_gpu_tile (dev, dtype);
    else
      sora_tune_parse_gpu_tile (tile, &l->gpu);
    l->options = gpu_options (dtype, l->gpu);
  } else {
    /* CLBlast runs only gemm_add_bias from gemm.cl, which any tile builds:
     * where the device gets the GPU forms, the CPU form's tile is not
     * worth tuning for it. */
    if (tile != NULL)
      sora_tune_parse_tile (dev, tile, &l->tile);
    else if (backend == SORA_GEMM_CLBLAST && sora_tune_gpu_kernels (dev))
      l->tile = (GemmTile){ 1, 4, 4 };
    else
      l->tile = device_tile (dev, dtype);
    l->options = tiled_options (dtype, FALSE, l->tile);
    if (backend == SORA_GEMM_TILED && dtype != SORA_DTYPE_F32)
      l->wide_options = tiled_options (SORA_DTYPE_F32, FALSE, l->tile);
    if (backend == SORA_GEMM_TILED)
      l->block_k = block_k ? block_k : device_block_k (dev);
  }

  if (backend == SORA_GEMM_TILED)
    host = packed =
        pack_panels (weight, esize, out, in, l->tile.n, &l->weight_bytes);
  else
    l->weight_bytes = out * in * esize;
  what = g_strdup_printf ("%s.weight", name);
  l->weight = upload (dev, host, l->weight_bytes, what, error);
  g_free (what);
  g_free (packed);
  if (l->weight == NULL)
    goto fail;

  if (bias != NULL) {
    l->bias_bytes = out * sizeof (float);
    what = g_strdup_printf ("%s.bias", name);
    l->bias = upload (dev, bias, l->bias_bytes, what, error);
    g_free (what);
    if (l->bias == NULL)
      goto fail;
  }
  return l;

fail:
  sora_linear_free (l);
  return NULL;
}

SoraLinear *
sora_linear_new_full (SoraDevice *dev, const char *name, SoraDType dtype,
    gsize out, gsize in, const void *weight, const float *bias,
    SoraGemmBackend backend, GError **error)
{
  return linear_new (
      dev, name, dtype, out, in, weight, bias, backend, NULL, 0, error);
}

SoraLinear *
sora_linear_new (SoraDevice *dev, const char *name, SoraDType dtype, gsize out,
    gsize in, const void *weight, const float *bias, GError **error)
{
  return sora_linear_new_full (
      dev, name, dtype, out, in, weight, bias, SORA_GEMM_AUTO, error);
}

void
sora_linear_free (SoraLinear *l)
{
  if (l == NULL)
    return;
  sora_device_release (l->dev, l->weight, l->weight_bytes);
  sora_device_release (l->dev, l->bias, l->bias_bytes);
  g_free (l->op);
  g_free (l->options);
  g_free (l->wide_options);
  g_free (l);
}

SoraGemmBackend
sora_linear_get_backend (SoraLinear *l)
{
  return l->backend;
}

gboolean
sora_op_linear (SoraLinear *l, SoraTensor *x, SoraTensor *y, GError **error)
{
  gsize m, n = l->out, k = l->in;
  gsize want[SORA_MAX_DIMS];

  if (!sora_op_check_dtype (x, l->op, SORA_DTYPE_F32, error) ||
      !sora_op_check_dtype (y, l->op, SORA_DTYPE_F32, error))
    return FALSE;
  if (x->ndim == 0 || x->shape[x->ndim - 1] != k) {
    char *d = sora_tensor_describe (x);

    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "%s: input %s must end in %" G_GSIZE_FORMAT, l->op, d, k);
    g_free (d);
    return FALSE;
  }
  memcpy (want, x->shape, sizeof (want));
  want[x->ndim - 1] = n;
  if (!sora_tensor_check_shape (y, l->op, x->ndim, want, error) ||
      !sora_op_check_int (x->numel, l->op, x, error) ||
      !sora_op_check_int (y->numel, l->op, y, error))
    return FALSE;
  m = x->numel / k;
  if (m == 0)
    return TRUE;

  if (l->backend == SORA_GEMM_TILED) {
    TiledKernel t = { l->options, l->wide_options, l->tile, l->block_k };

    return run_tiled (l->dev, &t, 1, m, n, k, x->buf, 0, k, l->weight, 0, k,
        l->bias, y->buf, 0, n, error);
  }
  if (l->backend == SORA_GEMM_GPU || l->backend == SORA_GEMM_MMA) {
    GpuKernel g = l->backend == SORA_GEMM_GPU
        ? gpu_kernel (l->options, l->gpu)
        : (GpuKernel){ l->options, "gemm_mma",
            sora_tune_mma_tile_threads (l->mma), l->mma.wm, l->mma.wn };

    return run_gpu (l->dev, &g, 1, m, n, k, x->buf, 0, k, l->weight, 0, k,
        l->bias, y->buf, 0, n, error);
  }

  if (!sora_clblast_sgemm_xwt (sora_device_get_queue (l->dev), m, n, k, x->buf,
          0, k, l->weight, 0, k, y->buf, 0, n, l->op, error))
    return FALSE;
  if (l->bias == NULL)
    return TRUE;
  return sora_device_run (l->dev, "gemm", l->options, "gemm_add_bias", 1,
      &y->numel, NULL, error, SORA_MEM (y->buf), SORA_MEM (l->bias),
      SORA_INT (n), SORA_INT (y->numel), SORA_END);
}

/* Fails unless @t holds @batch matrices of @rows x @cols at the given
 * strides. */
static gboolean
check_extent (const SoraTensor *t, gsize batch, gsize rows, gsize cols,
    gsize batch_stride, gsize ld, GError **error)
{
  char *d;

  if (ld >= cols && batch_stride <= G_MAXINT32 && ld <= G_MAXINT32 &&
      (batch - 1) * batch_stride + (rows - 1) * ld + cols <= t->numel)
    return TRUE;
  d = sora_tensor_describe (t);
  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "matmul_batched: tensor %s cannot hold %" G_GSIZE_FORMAT
      " matrices [%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT "] with batch "
      "stride %" G_GSIZE_FORMAT " and row stride %" G_GSIZE_FORMAT,
      d, batch, rows, cols, batch_stride, ld);
  g_free (d);
  return FALSE;
}

gboolean
sora_op_matmul_batched (SoraDevice *dev, gsize batch, gsize m, gsize n, gsize k,
    SoraTensor *x, gsize x_batch_stride, gsize ldx, SoraTensor *w,
    gsize w_batch_stride, gsize ldw, SoraTensor *y, gsize y_batch_stride,
    gsize ldy, GError **error)
{
  const char *op = "matmul_batched";
  char *options;
  gboolean ok;
  TiledKernel t;

  if (!sora_op_check_dtype (x, op, SORA_DTYPE_F32, error) ||
      !sora_op_check_dtype (w, op, SORA_DTYPE_F32, error) ||
      !sora_op_check_dtype (y, op, SORA_DTYPE_F32, error))
    return FALSE;
  if (batch == 0 || m == 0 || n == 0)
    return TRUE;
  if (m > G_MAXINT32 || n > G_MAXINT32 || k > G_MAXINT32 ||
      batch > G_MAXINT32) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "%s: sizes too large for one launch", op);
    return FALSE;
  }
  /* With k == 0 the product is zero; X and W are then not read. */
  if (k > 0 &&
      (!check_extent (x, batch, m, k, x_batch_stride, ldx, error) ||
          !check_extent (w, batch, n, k, w_batch_stride, ldw, error)))
    return FALSE;
  if (!check_extent (y, batch, m, n, y_batch_stride, ldy, error))
    return FALSE;

  if (sora_tune_gpu_kernels (dev)) {
    GpuTile gpu = device_gpu_tile (dev, SORA_DTYPE_F32);
    GpuKernel g;

    options = gpu_options (SORA_DTYPE_F32, gpu);
    g = gpu_kernel (options, gpu);
    ok = run_gpu (dev, &g, batch, m, n, k, x->buf, x_batch_stride, ldx, w->buf,
        w_batch_stride, ldw, NULL, y->buf, y_batch_stride, ldy, error);
    g_free (options);
    return ok;
  }
  t.tile = device_tile (dev, SORA_DTYPE_F32);
  t.block_k = device_block_k (dev);
  t.options = options = tiled_options (SORA_DTYPE_F32, TRUE, t.tile);
  t.wide_options = NULL;
  ok = run_tiled (dev, &t, batch, m, n, k, x->buf, x_batch_stride, ldx, w->buf,
      w_batch_stride, ldw, NULL, y->buf, y_batch_stride, ldy, error);
  g_free (options);
  return ok;
}

/* Tuning (sora-tune.h): the tile per weight dtype, then the f32 backend,
 * timed on a Wan attention projection for a short sequence. */
#define PROBE_M 512
#define PROBE_N 1536
#define PROBE_K 1536
#define PROBE_SHAPE "512x1536x1536"

typedef struct
{
  SoraDType dtype;
  void *w; /* [PROBE_N, PROBE_K] in dtype */
  SoraTensor *x, *y;
} GemmProbe;

static gboolean
gemm_probe_init (SoraDevice *dev, gpointer data)
{
  GemmProbe *p = data;
  SoraDType dtype = p->dtype;
  GError *error = NULL;
  float *w = g_new (float, (gsize)PROBE_N *PROBE_K);

  for (gsize i = 0; i < (gsize)PROBE_N * PROBE_K; i++)
    w[i] = (float)((int)(i % 7) - 3) / 64;
  p->dtype = dtype;
  p->w = g_malloc ((gsize)PROBE_N * PROBE_K * sora_dtype_size (dtype));
  sora_convert_from_f32 (dtype, w, p->w, (gsize)PROBE_N * PROBE_K);
  p->x = sora_tensor_new_v (dev, "gemm-probe.x", SORA_DTYPE_F32, &error, 2,
      (gsize)PROBE_M, (gsize)PROBE_K);
  p->y = p->x == NULL ? NULL
                      : sora_tensor_new_v (dev, "gemm-probe.y", SORA_DTYPE_F32,
                            &error, 2, (gsize)PROBE_M, (gsize)PROBE_N);
  if (p->y)
    sora_tensor_write (p->x, w, &error);
  g_free (w);
  if (error == NULL)
    return TRUE;
  /* Nothing to time; the op's own error will show on use. */
  g_warning ("gemm: cannot set up the tuning probe: %s", error->message);
  g_error_free (error);
  return FALSE;
}

static void
gemm_probe_clear (gpointer data)
{
  GemmProbe *p = data;

  sora_tensor_free (p->x);
  sora_tensor_free (p->y);
  g_free (p->w);
}

/* One timed product: a Linear of the candidate on the probe's tensors. */
typedef struct
{
  SoraLinear *l;
  GemmProbe *p;
} GemmRun;

static gboolean
gemm_probe_run (gpointer run, GError **error)
{
  GemmRun *r = run;

  return sora_op_linear (r->l, r->p->x, r->p->y, error) &&
      sora_device_finish (r->l->dev, error);
}

static void
gemm_probe_free (gpointer run)
{
  GemmRun *r = run;

  sora_linear_free (r->l);
  g_free (r);
}

static gpointer
gemm_run_new (SoraLinear *l, GemmProbe *p)
{
  GemmRun *r;

  if (l == NULL)
    return NULL;
  r = g_new (GemmRun, 1);
  r->l = l;
  r->p = p;
  return r;
}

static gpointer
tile_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  GemmProbe *p = data;

  return gemm_run_new (
      linear_new (dev, "gemm-probe", p->dtype, PROBE_N, PROBE_K, p->w, NULL,
          SORA_GEMM_TILED, candidate, PROBE_BLOCK_K, error),
      p);
}

static gpointer
gpu_tile_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  GemmProbe *p = data;

  return gemm_run_new (
      linear_new (dev, "gemm-probe", p->dtype, PROBE_N, PROBE_K, p->w, NULL,
          SORA_GEMM_GPU, candidate, 0, error),
      p);
}

/* f32 weights, the operands SORA_PRECISION gives (bf16 when unset). */
static gpointer
mma_tile_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  GemmProbe *p = data;

  return gemm_run_new (
      linear_new (dev, "gemm-probe", SORA_DTYPE_F32, PROBE_N, PROBE_K, p->w,
          NULL, SORA_GEMM_MMA, candidate, 0, error),
      p);
}

/* The device's f32 tile with the candidate K slice. */
static gpointer
block_k_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  GemmProbe *p = data;

  return gemm_run_new (linear_new (dev, "gemm-probe", SORA_DTYPE_F32, PROBE_N,
                           PROBE_K, p->w, NULL, SORA_GEMM_TILED, NULL,
                           g_ascii_strtoull (candidate, NULL, 10), error),
      p);
}

/* A K slice of 16 to 65536 rows ($SORA_GEMM_BLOCK_K, a stored choice). */
static gboolean
valid_block_k (SoraDevice *dev, const char *value)
{
  guint64 rows;

  return g_ascii_string_to_unsigned (value, 10, 16, 65536, &rows, NULL);
}

static gboolean
valid_backend (SoraDevice *dev, const char *value)
{
  return backend_from_string (value) != SORA_GEMM_AUTO;
}

static gpointer
backend_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  GemmProbe *p = data;

  return gemm_run_new (
      sora_linear_new_full (dev, "gemm-probe", SORA_DTYPE_F32, PROBE_N, PROBE_K,
          p->w, NULL, backend_from_string (candidate), error),
      p);
}

static SoraTuneSpec
gemm_spec (const char *name, const char *env,
    gboolean (*valid) (SoraDevice *, const char *),
    gpointer (*setup) (SoraDevice *, const char *, gpointer, GError **))
{
  return (SoraTuneSpec){ name, env, PROBE_SHAPE,
    2.0 * PROBE_M * PROBE_N * PROBE_K, valid, gemm_probe_init, gemm_probe_clear,
    setup, gemm_probe_run, gemm_probe_free };
}

char *
sora_gemm_tile_name (SoraDevice *dev, SoraDType dtype)
{
  char *name = g_strdup_printf ("gemm-tile-%s", sora_dtype_name (dtype));
  SoraTuneSpec spec =
      gemm_spec (name, "SORA_GEMM_TILE", sora_tune_valid_tile, tile_setup);
  char **candidates = sora_tune_tile_candidates (dev);
  GemmProbe probe = { dtype };
  char *value;

  value =
      sora_tune_choose (dev, &spec, (const char *const *)candidates, &probe);
  g_strfreev (candidates);
  g_free (name);
  return value;
}

char *
sora_gemm_gpu_tile_name (SoraDevice *dev, SoraDType dtype)
{
  char *name = g_strdup_printf ("gemm-gpu-tile-%s", sora_dtype_name (dtype));
  SoraTuneSpec spec = gemm_spec (
      name, "SORA_GEMM_GPU_TILE", sora_tune_valid_gpu_tile, gpu_tile_setup);
  char **candidates = sora_tune_gpu_tile_candidates ();
  GemmProbe probe = { dtype };
  char *value =
      sora_tune_choose (dev, &spec, (const char *const *)candidates, &probe);

  g_strfreev (candidates);
  g_free (name);
  return value;
}

char *
sora_gemm_mma_tile_name (SoraDevice *dev, SoraDType op_dtype)
{
  char *name = g_strdup_printf ("gemm-mma-tile-%s", sora_dtype_name (op_dtype));
  SoraTuneSpec spec = gemm_spec (
      name, "SORA_GEMM_MMA_TILE", sora_tune_valid_mma_tile, mma_tile_setup);
  char **candidates = sora_tune_mma_tile_candidates ();
  GemmProbe probe = { SORA_DTYPE_F32 };
  char *value =
      sora_tune_choose (dev, &spec, (const char *const *)candidates, &probe);

  g_strfreev (candidates);
  g_free (name);
  return value;
}

static SoraMmaTile
device_mma_tile (SoraDevice *dev, SoraDType op_dtype)
{
  char *value = sora_gemm_mma_tile_name (dev, op_dtype);
  SoraMmaTile tile;

  sora_tune_parse_mma_tile (value, &tile);
  g_free (value);
  return tile;
}

static GpuTile
device_gpu_tile (SoraDevice *dev, SoraDType dtype)
{
  char *value = sora_gemm_gpu_tile_name (dev, dtype);
  GpuTile tile;

  sora_tune_parse_gpu_tile (value, &tile);
  g_free (value);
  return tile;
}

char *
sora_gemm_block_k_name (SoraDevice *dev)
{
  SoraTuneSpec spec = gemm_spec (
      "gemm-block-k", "SORA_GEMM_BLOCK_K", valid_block_k, block_k_setup);
  GemmProbe probe = { SORA_DTYPE_F32 };

  return sora_tune_choose (dev, &spec, block_ks, &probe);
}

static gsize
device_block_k (SoraDevice *dev)
{
  char *value = sora_gemm_block_k_name (dev);
  gsize rows = g_ascii_strtoull (value, NULL, 10);

  g_free (value);
  return rows;
}

static GemmTile
device_tile (SoraDevice *dev, SoraDType dtype)
{
  char *value = sora_gemm_tile_name (dev, dtype);
  GemmTile tile;

  sora_tune_parse_tile (dev, value, &tile);
  g_free (value);
  return tile;
}

SoraGemmBackend
sora_gemm_backend (SoraDevice *dev)
{
  /* Ours first: the choice when neither can be timed.  The GPU forms'
   * choice is stored apart, so that forcing them on a CPU (SORA_KERNELS)
   * does not read back the CPU's. */
  static const char *const ours[] = { "tiled", "clblast", NULL };
  static const char *const gpu[] = { "gpu", "clblast", NULL };
  /* CLBlast, tuned for GPUs, ran at 0.04-0.08x of the tiled kernel on
   * every CPU measured (PoCL on Zen 3 and an AVX-512 Xeon): on a CPU it is
   * not timed, which saved 14 s of a cold start compiling it.
   * SORA_GEMM=clblast still forces it. */
  static const char *const cpu[] = { "tiled", NULL };
  gboolean on_gpu = sora_tune_gpu_kernels (dev);
  SoraTuneSpec spec = gemm_spec (on_gpu ? "gemm-backend-gpu" : "gemm-backend",
      "SORA_GEMM", valid_backend, backend_setup);
  GemmProbe probe = { SORA_DTYPE_F32 };
  char *value = sora_tune_choose (dev, &spec,
      on_gpu                                   ? gpu
          : sora_device_get_info (dev)->is_cpu ? cpu
                                               : ours,
      &probe);
  SoraGemmBackend backend = backend_from_string (value);

  g_free (value);
  return backend;
}

const char *
sora_gemm_backend_name (SoraDevice *dev)
{
  return sora_gemm_backend_to_string (sora_gemm_backend (dev));
}
