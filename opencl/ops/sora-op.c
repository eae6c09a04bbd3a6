/* gst-sora engine: helpers shared by the op files
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-op.h"

const char *
sora_storage_options (SoraDType dtype)
{
  switch (dtype) {
    case SORA_DTYPE_F16:
      return "-DSTORAGE_F16";
    case SORA_DTYPE_BF16:
      return "-DSTORAGE_BF16";
    default:
      return "";
  }
}

gboolean
sora_op_check_dtype (
    const SoraTensor *t, const char *op, SoraDType dtype, GError **error)
{
  char *d;

  if (t->dtype == dtype)
    return TRUE;
  d = sora_tensor_describe (t);
  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "%s: tensor %s must be %s", op, d, sora_dtype_name (dtype));
  g_free (d);
  return FALSE;
}

gboolean
sora_op_check_numel (
    const SoraTensor *a, const SoraTensor *b, const char *op, GError **error)
{
  char *da, *db;

  if (a->numel == b->numel)
    return TRUE;
  da = sora_tensor_describe (a);
  db = sora_tensor_describe (b);
  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "%s: tensors %s and %s differ in size", op, da, db);
  g_free (da);
  g_free (db);
  return FALSE;
}

gboolean
sora_op_check_int (gsize n, const char *op, const SoraTensor *t, GError **error)
{
  if (n <= G_MAXINT32)
    return TRUE;
  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "%s: tensor %s is too large for one launch", op, t->name);
  return FALSE;
}

gsize
sora_op_launch_rows (
    SoraDevice *dev, gsize rows, gsize groups_per_row, double row_flops)
{
  const SoraDeviceInfo *info = sora_device_get_info (dev);
  gsize cores = MAX (info->compute_units, 1);
  gsize fill = (cores + MAX (groups_per_row, 1) - 1) / MAX (groups_per_row, 1);
  double fit;

  if (!info->is_cpu)
    return MAX (rows, 1);
  /* 2 GFLOP per core: these cores run the GEMM at 50-80 GFLOP/s each. */
  fit = 2e9 * cores / MAX (row_flops, 1.0);
  return CLAMP (MAX (fit, (double)fill), 1, MAX (rows, 1));
}
