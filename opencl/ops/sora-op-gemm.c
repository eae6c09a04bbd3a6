/* gst-sora engine op: matrix products (Linear layers and batched matmul)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sora-clblast.h"
#include "sora-op.h"
#include "sora-op-gemm-private.h"

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

SoraGemmBackend
sora_gemm_backend_from_string (const char *s)
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

  *backend = env && *env ? sora_gemm_backend_from_string (env) : SORA_GEMM_AUTO;
  if (*backend != SORA_GEMM_AUTO || env == NULL || *env == '\0')
    return TRUE;
  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "SORA_GEMM=%s: it must be \"tiled\", \"gpu\", \"clblast\" or "
      "\"mma\", or unset to use the faster one",
      env);
  return FALSE;
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

/* The shape, as every launch takes it in an int. */
static gboolean
check_shape (const char *name, gsize out, gsize in, GError **error)
{
  if (out > 0 && in > 0 && out <= G_MAXINT32 && in <= G_MAXINT32)
    return TRUE;
  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "linear %s: unusable weight shape [%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT
      "]",
      name, out, in);
  return FALSE;
}

/* Resolves *@backend (AUTO: SORA_GEMM_MMA where $SORA_PRECISION forces it,
 * or is "auto" and the device's measured choice is bf16, else the device's
 * for @dtype) and, for SORA_GEMM_MMA, the operand type in *@op_dtype
 * (given, or $SORA_PRECISION's f16, or bf16) and how the device issues it
 * in *@form.
 * FALSE on a bad variable or a backend that cannot run here. */
static gboolean
resolve_backend (SoraDevice *dev, const char *name, SoraDType dtype,
    SoraGemmBackend *backend, SoraDType *op_dtype, SoraMmaForm *form,
    GError **error)
{
  SoraGemmBackend forced; /* applied by sora_gemm_backend */
  SoraDType precision;
  gboolean measure;

  /* A bad $SORA_GEMM fails the model's first Linear, whatever its dtype. */
  if (!forced_backend (&forced, error))
    return FALSE;
  if (*backend == SORA_GEMM_CLBLAST && dtype != SORA_DTYPE_F32) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "linear %s: CLBlast needs f32 weights, not %s", name,
        sora_dtype_name (dtype));
    return FALSE;
  }
  if (!sora_tune_requested_precision (&precision, &measure, error))
    return FALSE;
  if (*backend == SORA_GEMM_AUTO && measure)
    precision = sora_gemm_precision (dev);
  if (*backend == SORA_GEMM_AUTO && precision != SORA_DTYPE_F32)
    *backend = SORA_GEMM_MMA;
  if (*backend == SORA_GEMM_AUTO)
    *backend = dtype == SORA_DTYPE_F32 ? sora_gemm_backend (dev)
        : sora_tune_gpu_kernels (dev)  ? SORA_GEMM_GPU
                                       : SORA_GEMM_TILED;
  if (*backend != SORA_GEMM_MMA)
    return TRUE;
  *form = sora_tune_mma_form (dev);
  if (*form == SORA_MMA_NONE) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_DEVICE,
        "linear %s: %s has no matrix units this engine can use (it needs "
        "NVIDIA compute capability 8.0 or later, or AMD gfx90a, gfx94x or "
        "gfx11xx, or an Intel GPU reporting "
        "cl_intel_subgroup_matrix_multiply_accumulate); unset "
        "SORA_PRECISION for f32",
        name, sora_device_get_info (dev)->name);
    return FALSE;
  }
  if (*op_dtype == SORA_DTYPE_F32)
    *op_dtype = precision == SORA_DTYPE_F32 ? SORA_DTYPE_BF16 : precision;
  return TRUE;
}

/* @l's tile and kernel options for its backend (see sora_gemm_linear_new
 * for @tile and @block_k). */
static void
set_kernel (SoraLinear *l, SoraDType dtype, SoraDType op_dtype,
    SoraMmaForm form, const char *tile, gsize block_k)
{
  SoraDevice *dev = l->dev;
  SoraGemmBackend backend = l->backend;

  if (backend == SORA_GEMM_MMA) {
    if (tile == NULL)
      l->mma = sora_gemm_device_mma_tile (dev, op_dtype);
    else
      sora_tune_parse_mma_tile (tile, &l->mma);
    l->form = form;
    l->options = sora_gemm_mma_options (dtype, op_dtype, l->mma, form);
  } else if (backend == SORA_GEMM_GPU) {
    if (tile == NULL)
      l->gpu = sora_gemm_device_gpu_tile (dev, dtype);
    else
      sora_tune_parse_gpu_tile (tile, &l->gpu);
    l->options = sora_gemm_gpu_options (dtype, l->gpu);
  } else {
    /* CLBlast runs only gemm_add_bias from gemm.cl, which any tile builds:
     * where the device gets the GPU forms, the CPU form's tile is not
     * worth tuning for it. */
    if (tile != NULL)
      sora_tune_parse_tile (dev, tile, &l->tile);
    else if (backend == SORA_GEMM_CLBLAST && sora_tune_gpu_kernels (dev))
      l->tile = (GemmTile){ 1, 4, 4 };
    else
      l->tile = sora_gemm_device_tile (dev, dtype);
    l->options = sora_gemm_tiled_options (dtype, FALSE, l->tile);
    if (backend == SORA_GEMM_TILED && dtype != SORA_DTYPE_F32)
      l->wide_options =
          sora_gemm_tiled_options (SORA_DTYPE_F32, FALSE, l->tile);
    if (backend == SORA_GEMM_TILED)
      l->block_k = block_k ? block_k : sora_gemm_device_block_k (dev);
  }
}

/* Uploads W (packed in panels for the tiled kernel) and the bias, if any. */
static gboolean
upload_weights (SoraLinear *l, const char *name, SoraDType dtype,
    const void *weight, const float *bias, GError **error)
{
  gsize esize = sora_dtype_size (dtype);
  void *packed = NULL;
  const void *host = weight;
  char *what;

  if (l->backend == SORA_GEMM_TILED)
    host = packed = sora_gemm_pack_panels (
        weight, esize, l->out, l->in, l->tile.n, &l->weight_bytes);
  else
    l->weight_bytes = l->out * l->in * esize;
  what = g_strdup_printf ("%s.weight", name);
  l->weight = upload (l->dev, host, l->weight_bytes, what, error);
  g_free (what);
  g_free (packed);
  if (l->weight == NULL)
    return FALSE;
  if (bias == NULL)
    return TRUE;
  l->bias_bytes = l->out * sizeof (float);
  what = g_strdup_printf ("%s.bias", name);
  l->bias = upload (l->dev, bias, l->bias_bytes, what, error);
  g_free (what);
  return l->bias != NULL;
}

SoraLinear *
sora_gemm_linear_new (SoraDevice *dev, const char *name, SoraDType dtype,
    gsize out, gsize in, const void *weight, const float *bias,
    SoraGemmBackend backend, SoraDType op_dtype, const char *tile,
    gsize block_k, GError **error)
{
  SoraLinear *l;
  SoraMmaForm form = SORA_MMA_NONE;

  if (!check_shape (name, out, in, error) ||
      !resolve_backend (dev, name, dtype, &backend, &op_dtype, &form, error))
    return NULL;
  l = g_new0 (SoraLinear, 1);
  l->dev = dev;
  l->op = g_strdup_printf ("linear %s", name);
  l->out = out;
  l->in = in;
  l->backend = backend;
  set_kernel (l, dtype, op_dtype, form, tile, block_k);
  if (!upload_weights (l, name, dtype, weight, bias, error)) {
    sora_linear_free (l);
    return NULL;
  }
  return l;
}

SoraLinear *
sora_linear_new_full (SoraDevice *dev, const char *name, SoraDType dtype,
    gsize out, gsize in, const void *weight, const float *bias,
    SoraGemmBackend backend, GError **error)
{
  return sora_gemm_linear_new (dev, name, dtype, out, in, weight, bias, backend,
      SORA_DTYPE_F32, NULL, 0, error);
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

    return sora_gemm_run_tiled (l->dev, &t, 1, m, n, k, x->buf, 0, k, l->weight,
        0, k, l->bias, y->buf, 0, n, error);
  }
  if (l->backend == SORA_GEMM_GPU || l->backend == SORA_GEMM_MMA) {
    GpuKernel g = l->backend == SORA_GEMM_GPU
        ? sora_gemm_gpu_kernel (l->options, l->gpu)
        : sora_gemm_mma_kernel (l->options, l->mma, l->form);

    return sora_gemm_run_gpu (l->dev, &g, 1, m, n, k, x->buf, 0, k, l->weight,
        0, k, l->bias, y->buf, 0, n, error);
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
    GpuTile gpu = sora_gemm_device_gpu_tile (dev, SORA_DTYPE_F32);
    GpuKernel g;

    options = sora_gemm_gpu_options (SORA_DTYPE_F32, gpu);
    g = sora_gemm_gpu_kernel (options, gpu);
    ok = sora_gemm_run_gpu (dev, &g, batch, m, n, k, x->buf, x_batch_stride,
        ldx, w->buf, w_batch_stride, ldw, NULL, y->buf, y_batch_stride, ldy,
        error);
    g_free (options);
    return ok;
  }
  t.tile = sora_gemm_device_tile (dev, SORA_DTYPE_F32);
  t.block_k = sora_gemm_device_block_k (dev);
  t.options = options = sora_gemm_tiled_options (SORA_DTYPE_F32, TRUE, t.tile);
  t.wide_options = NULL;
  ok = sora_gemm_run_tiled (dev, &t, batch, m, n, k, x->buf, x_batch_stride,
      ldx, w->buf, w_batch_stride, ldw, NULL, y->buf, y_batch_stride, ldy,
      error);
  g_free (options);
  return ok;
}
