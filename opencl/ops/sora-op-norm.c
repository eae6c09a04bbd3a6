/* gst-sora engine ops: normalisations and softmax
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-op.h"
#include "sora-op-norm.h"

/* Work-items per row: 256 leave each item 6-20 elements of a DiT row
 * (C = 1536-5120), so the tree reduction stays a small part of the work. */
#define ROW_GROUP_MAX 256

/* @t must be f32 and hold @n values. */
static gboolean
check_values (const SoraTensor *t, const char *op, gsize n, const SoraTensor *x,
    GError **error)
{
  char *dt, *dx;

  if (!sora_op_check_dtype (t, op, SORA_DTYPE_F32, error))
    return FALSE;
  if (t->numel == n)
    return TRUE;
  dt = sora_tensor_describe (t);
  dx = sora_tensor_describe (x);
  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "%s: tensor %s should hold %" G_GSIZE_FORMAT " values, one per "
      "channel of %s",
      op, dt, n, dx);
  g_free (dt);
  g_free (dx);
  return FALSE;
}

/* @x f32, @y f32 of the same shape. */
static gboolean
check_in_out (
    const SoraTensor *x, const SoraTensor *y, const char *op, GError **error)
{
  return sora_op_check_dtype (x, op, SORA_DTYPE_F32, error) &&
      sora_op_check_dtype (y, op, SORA_DTYPE_F32, error) &&
      sora_tensor_check_shape (y, op, x->ndim, x->shape, error) &&
      sora_op_check_int (x->numel, op, x, error);
}

/* The largest power of two not above what the kernel, the device and
 * ROW_GROUP_MAX allow, nor above the first power of two >= @C.  0 on
 * error. */
static gsize
row_group_size (SoraDevice *dev, const char *kernel, gsize C, GError **error)
{
  cl_kernel k = sora_device_kernel (dev, "norm", NULL, kernel, error);
  size_t kernel_max;
  gsize max, n = 1;

  if (k == NULL ||
      !sora_cl_check (clGetKernelWorkGroupInfo (k, sora_device_get_id (dev),
                          CL_KERNEL_WORK_GROUP_SIZE, sizeof (kernel_max),
                          &kernel_max, NULL),
          "clGetKernelWorkGroupInfo", kernel, error))
    return 0;
  max = MIN (kernel_max, sora_device_get_info (dev)->max_work_group);
  max = MIN (max, ROW_GROUP_MAX);
  while (n * 2 <= max && n < C)
    n *= 2;
  return n;
}

static gboolean
row_norm (const char *op, SoraTensor *x, SoraTensor *weight, SoraTensor *bias,
    float eps, gboolean center, SoraTensor *y, GError **error)
{
  gsize C, global[2], local[2];

  if (!check_in_out (x, y, op, error))
    return FALSE;
  if (x->numel == 0)
    return TRUE;
  C = x->shape[x->ndim - 1];
  if ((weight && !check_values (weight, op, C, x, error)) ||
      (bias && !check_values (bias, op, C, x, error)))
    return FALSE;
  local[0] = global[0] = row_group_size (x->dev, "row_norm", C, error);
  if (local[0] == 0)
    return FALSE;
  local[1] = 1;
  global[1] = x->numel / C;
  /* An absent weight or bias is never read; x stands in for its buffer. */
  return sora_device_run (x->dev, "norm", NULL, "row_norm", 2, global, local,
      error, SORA_MEM (x->buf), SORA_MEM (weight ? weight->buf : x->buf),
      SORA_MEM (bias ? bias->buf : x->buf), SORA_MEM (y->buf), SORA_INT (C),
      SORA_FLOAT (eps), SORA_INT (center), SORA_INT (weight != NULL),
      SORA_INT (bias != NULL), SORA_LOCAL (local[0] * sizeof (cl_float)),
      SORA_END);
}

gboolean
sora_op_layer_norm (SoraTensor *x, SoraTensor *weight, SoraTensor *bias,
    float eps, SoraTensor *y, GError **error)
{
  return row_norm ("layer_norm", x, weight, bias, eps, TRUE, y, error);
}

gboolean
sora_op_rms_norm (
    SoraTensor *x, SoraTensor *weight, float eps, SoraTensor *y, GError **error)
{
  return row_norm ("rms_norm", x, weight, NULL, eps, FALSE, y, error);
}

gboolean
sora_op_rms_norm_channels (SoraTensor *x, SoraTensor *gamma, SoraTensor *bias,
    SoraTensor *y, GError **error)
{
  const char *op = "rms_norm_channels";
  gsize global[2], local[2] = { 0, 1 }, C;

  if (!check_in_out (x, y, op, error))
    return FALSE;
  if (x->ndim != 2 && x->ndim != 3) {
    char *d = sora_tensor_describe (x);
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "%s: tensor %s should be [C, P] or [B, C, P]", op, d);
    g_free (d);
    return FALSE;
  }
  C = x->shape[x->ndim - 2];
  if (!check_values (gamma, op, C, x, error) ||
      (bias && !check_values (bias, op, C, x, error)))
    return FALSE;
  /* One item per position, bounds-checked; 256 per group unless capped. */
  local[0] = MIN (256, sora_device_get_info (x->dev)->max_work_group);
  global[0] = x->shape[x->ndim - 1];
  global[1] = x->ndim == 3 ? x->shape[0] : 1;
  return sora_device_run (x->dev, "norm", NULL, "channel_rms_norm", 2, global,
      local, error, SORA_MEM (x->buf), SORA_MEM (gamma->buf),
      SORA_MEM (bias ? bias->buf : gamma->buf), SORA_MEM (y->buf), SORA_INT (C),
      SORA_INT (global[0]), SORA_INT (bias != NULL), SORA_END);
}

gboolean
sora_op_softmax (SoraTensor *x, SoraTensor *y, GError **error)
{
  gsize C, global[2], local[2];

  if (!check_in_out (x, y, "softmax", error))
    return FALSE;
  if (x->numel == 0)
    return TRUE;
  C = x->shape[x->ndim - 1];
  local[0] = global[0] = row_group_size (x->dev, "softmax_rows", C, error);
  if (local[0] == 0)
    return FALSE;
  local[1] = 1;
  global[1] = x->numel / C;
  return sora_device_run (x->dev, "norm", NULL, "softmax_rows", 2, global,
      local, error, SORA_MEM (x->buf), SORA_MEM (y->buf), SORA_INT (C),
      SORA_LOCAL (local[0] * sizeof (cl_float)), SORA_END);
}
