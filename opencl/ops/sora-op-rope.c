/* gst-sora engine ops: Wan's 3-axis rotary position embedding
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include "sora-op.h"
#include "sora-op-rope.h"

/* The table's size: L = frames·height·width, an even head dim. */
static gboolean
check_grid (
    gsize frames, gsize height, gsize width, gsize head_dim, GError **error)
{
  if (head_dim == 0 || head_dim % 2 || frames * height * width == 0) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "rope: no table for head dim %" G_GSIZE_FORMAT " (must be even) and "
        "grid %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT,
        head_dim, frames, height, width);
    return FALSE;
  }
  return TRUE;
}

SoraTensor *
sora_rope_table_new (SoraDevice *dev, gsize first_frame, gsize frames,
    gsize height, gsize width, gsize head_dim, double theta, GError **error)
{
  SoraTensor *table;

  if (!check_grid (frames, height, width, head_dim, error))
    return NULL;
  table = sora_tensor_new_v (dev, "rope_table", SORA_DTYPE_F32, error, 3,
      frames * height * width, head_dim / 2, 2);
  if (table &&
      !sora_rope_table_write (
          table, first_frame, frames, height, width, head_dim, theta, error))
    g_clear_pointer (&table, sora_tensor_free);
  return table;
}

gboolean
sora_rope_table_write (SoraTensor *table, gsize first_frame, gsize frames,
    gsize height, gsize width, gsize head_dim, double theta, GError **error)
{
  gsize half = head_dim / 2, hw_dim = 2 * (head_dim / 6);
  gsize axis_dim[3] = { head_dim - 2 * hw_dim, hw_dim, hw_dim };
  gsize L = frames * height * width;
  guint *axis_of;
  double *freq;
  float *host;
  gboolean ok;

  if (!check_grid (frames, height, width, head_dim, error))
    return FALSE;
  if (table->numel != L * half * 2) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "rope: the table holds %" G_GSIZE_FORMAT
        " values, not the %" G_GSIZE_FORMAT " of grid %" G_GSIZE_FORMAT
        "x%" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT,
        table->numel, L * half * 2, frames, height, width);
    return FALSE;
  }
  /* Pair j's axis and frequency, once: only the positions vary by token. */
  axis_of = g_new (guint, half);
  freq = g_new (double, half);
  for (gsize j = 0, first = 0, axis = 0; j < half; j++) {
    /* Skips past finished axes (and the empty ones of a tiny D). */
    while (j - first >= axis_dim[axis] / 2)
      first += axis_dim[axis++] / 2;
    axis_of[j] = axis;
    freq[j] = pow (theta, -2.0 * (j - first) / axis_dim[axis]);
  }
  host = g_new (float, table->numel);
  for (gsize n = 0; n < L; n++) {
    gsize pos[3] = { first_frame + n / (height * width), n / width % height,
      n % width };

    for (gsize j = 0; j < half; j++) {
      double phi = pos[axis_of[j]] * freq[j];

      host[(n * half + j) * 2] = (float)cos (phi);
      host[(n * half + j) * 2 + 1] = (float)sin (phi);
    }
  }
  ok = sora_tensor_write_f32 (table, host, error);
  g_free (host);
  g_free (freq);
  g_free (axis_of);
  return ok;
}

gboolean
sora_op_rope (SoraTensor *x, SoraTensor *table, guint heads, SoraTensor *y,
    GError **error)
{
  gsize global[3], local[3] = { 0, 1, 1 }, half;

  if (!sora_op_check_dtype (x, "rope", SORA_DTYPE_F32, error) ||
      !sora_op_check_dtype (y, "rope", SORA_DTYPE_F32, error) ||
      !sora_op_check_dtype (table, "rope", SORA_DTYPE_F32, error) ||
      !sora_tensor_check_shape (y, "rope", x->ndim, x->shape, error) ||
      !sora_op_check_int (x->numel, "rope", x, error))
    return FALSE;
  half = table->ndim == 3 ? table->shape[1] : 0;
  if (x->ndim != 3 || table->ndim != 3 || table->shape[2] != 2 ||
      x->shape[1] != table->shape[0] || x->shape[2] != heads * 2 * half) {
    char *dx = sora_tensor_describe (x), *dt = sora_tensor_describe (table);
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "rope: tensor %s should be [B, L, %u·D] for %u heads and table %s "
        "[L, D/2, 2]",
        dx, heads, heads, dt);
    g_free (dx);
    g_free (dt);
    return FALSE;
  }
  /* As in the element-wise ops: bounds-checked, 256 unless capped. */
  local[0] = MIN (256, sora_device_get_info (x->dev)->max_work_group);
  global[0] = heads * half;
  global[1] = x->shape[1];
  global[2] = x->shape[0];
  return sora_device_run (x->dev, "rope", NULL, "rope", 3, global, local, error,
      SORA_MEM (x->buf), SORA_MEM (table->buf), SORA_MEM (y->buf),
      SORA_INT (half), SORA_INT (global[0]), SORA_INT (global[1]), SORA_END);
}
