/* gst-sora engine ops: activations, broadcast arithmetic, AdaLN modulation,
 * linear combinations
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-op.h"
#include "sora-op-elementwise.h"

/* The kernels' OP_ADD and OP_MUL. */
enum {
  BINARY_ADD,
  BINARY_MUL,
};

/* Work-groups of 256 items along dim 0 (fewer where the device caps them):
 * PoCL pays a cost per group, and GPUs want more than a warp.  The kernels
 * check their bounds, so odd sizes round up. */
static void
line_group (SoraDevice *dev, gsize local[3])
{
  local[0] = MIN (256, sora_device_get_info (dev)->max_work_group);
  local[1] = local[2] = 1;
}

static gboolean
check_f32 (const SoraTensor *t, const char *op, GError **error)
{
  return sora_op_check_dtype (t, op, SORA_DTYPE_F32, error) &&
      sora_op_check_int (t->numel, op, t, error);
}

gboolean
sora_op_activate (
    SoraTensor *x, SoraActivation act, SoraTensor *y, GError **error)
{
  gsize global = x->numel, local[3];

  line_group (x->dev, local);
  if (!check_f32 (x, "activate", error) || !check_f32 (y, "activate", error) ||
      !sora_op_check_numel (x, y, "activate", error))
    return FALSE;
  return sora_device_run (x->dev, "elementwise", NULL, "activate", 1, &global,
      local, error, SORA_MEM (x->buf), SORA_MEM (y->buf), SORA_INT (x->numel),
      SORA_INT (act), SORA_END);
}

static gboolean
broadcast_error (
    const char *op, const SoraTensor *a, const SoraTensor *b, GError **error)
{
  char *da = sora_tensor_describe (a), *db = sora_tensor_describe (b);

  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "%s: tensor %s does not broadcast to %s", op, db, da);
  g_free (da);
  g_free (db);
  return FALSE;
}

static gboolean
binary (const char *op, int which, SoraTensor *a, SoraTensor *b, SoraTensor *y,
    GError **error)
{
  /* a's shape and b's strides (0 where b broadcasts), with runs of dims
   * that walk b the same way merged, right-aligned in SORA_MAX_DIMS slots
   * padded with size 1. */
  gsize size[SORA_MAX_DIMS], stride[SORA_MAX_DIMS];
  guint n = 0, off = a->ndim - b->ndim;
  gsize global = a->numel, bstride = 1, bstrides[SORA_MAX_DIMS], local[3];

  if (!check_f32 (a, op, error) || !check_f32 (y, op, error) ||
      !sora_tensor_check_shape (y, op, a->ndim, a->shape, error))
    return FALSE;
  if (b->ndim > a->ndim)
    return broadcast_error (op, a, b, error);
  line_group (a->dev, local);
  for (guint k = b->ndim; k-- > 0;) {
    if (b->shape[k] != a->shape[off + k] && b->shape[k] != 1)
      return broadcast_error (op, a, b, error);
    bstrides[k] = b->shape[k] == 1 ? 0 : bstride;
    bstride *= b->shape[k];
  }
  for (guint k = 0; k < a->ndim; k++) {
    gsize s = k < off ? 0 : bstrides[k - off];

    if (a->shape[k] == 1)
      continue;
    if (n > 0 && stride[n - 1] == s * a->shape[k]) {
      size[n - 1] *= a->shape[k];
      stride[n - 1] = s;
    } else {
      size[n] = a->shape[k];
      stride[n++] = s;
    }
  }
  /* Right-align into SORA_MAX_DIMS slots. */
  for (guint k = SORA_MAX_DIMS; k-- > 0;) {
    gboolean used = k + n >= SORA_MAX_DIMS;
    gsize from = k + n - SORA_MAX_DIMS;
    size[k] = used ? size[from] : 1;
    stride[k] = used ? stride[from] : 0;
  }
  return sora_device_run (a->dev, "elementwise",
      sora_storage_options (b->dtype), "binary", 1, &global, local, error,
      SORA_MEM (a->buf), SORA_MEM (b->buf), SORA_MEM (y->buf),
      SORA_INT (a->numel), SORA_INT (which), SORA_INT (size[1]),
      SORA_INT (size[2]), SORA_INT (size[3]), SORA_INT (size[4]),
      SORA_INT (stride[0]), SORA_INT (stride[1]), SORA_INT (stride[2]),
      SORA_INT (stride[3]), SORA_INT (stride[4]), SORA_END);
}

gboolean
sora_op_add (SoraTensor *a, SoraTensor *b, SoraTensor *y, GError **error)
{
  return binary ("add", BINARY_ADD, a, b, y, error);
}

gboolean
sora_op_mul (SoraTensor *a, SoraTensor *b, SoraTensor *y, GError **error)
{
  return binary ("mul", BINARY_MUL, a, b, y, error);
}

/* Checks x [B, L, C], mod [B|1, R, C] or [R, C] and @rows below R; sets the
 * launch size and mod's per-batch stride. */
static gboolean
check_modulation (const char *op, const SoraTensor *x, const SoraTensor *mod,
    const guint *rows, guint n_rows, gsize global[3], gsize *mod_stride,
    GError **error)
{
  gsize R, C, mod_batch;
  char *dx, *dm;

  if (!check_f32 (x, op, error) || !check_f32 (mod, op, error))
    return FALSE;
  if (x->ndim == 3 && (mod->ndim == 2 || mod->ndim == 3)) {
    C = x->shape[2];
    R = mod->shape[mod->ndim - 2];
    mod_batch = mod->ndim == 3 ? mod->shape[0] : 1;
    if (mod->shape[mod->ndim - 1] == C &&
        (mod_batch == 1 || mod_batch == x->shape[0])) {
      for (guint i = 0; i < n_rows; i++) {
        if (rows[i] >= R) {
          dm = sora_tensor_describe (mod);
          g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
              "%s: row %u is outside tensor %s", op, rows[i], dm);
          g_free (dm);
          return FALSE;
        }
      }
      global[0] = C;
      global[1] = x->shape[1];
      global[2] = x->shape[0];
      *mod_stride = mod_batch == 1 ? 0 : R * C;
      return TRUE;
    }
  }
  dx = sora_tensor_describe (x);
  dm = sora_tensor_describe (mod);
  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "%s: tensor %s should be [B, L, C] and tensor %s [B, R, C], [1, R, C] "
      "or [R, C]",
      op, dx, dm);
  g_free (dx);
  g_free (dm);
  return FALSE;
}

gboolean
sora_op_modulate (SoraTensor *x, SoraTensor *mod, guint scale_row,
    guint shift_row, SoraTensor *y, GError **error)
{
  const guint rows[] = { scale_row, shift_row };
  gsize global[3], local[3], mod_stride;

  if (!check_modulation (
          "modulate", x, mod, rows, 2, global, &mod_stride, error) ||
      !check_f32 (y, "modulate", error) ||
      !sora_tensor_check_shape (y, "modulate", x->ndim, x->shape, error))
    return FALSE;
  line_group (x->dev, local);
  return sora_device_run (x->dev, "elementwise", NULL, "modulate", 3, global,
      local, error, SORA_MEM (x->buf), SORA_MEM (mod->buf), SORA_MEM (y->buf),
      SORA_INT (global[0]), SORA_INT (global[1]), SORA_INT (mod_stride),
      SORA_INT (scale_row), SORA_INT (shift_row), SORA_END);
}

gboolean
sora_op_add_gated (SoraTensor *x, SoraTensor *y, SoraTensor *mod,
    guint gate_row, GError **error)
{
  gsize global[3], local[3], mod_stride;

  if (!check_modulation (
          "add_gated", x, mod, &gate_row, 1, global, &mod_stride, error) ||
      !check_f32 (y, "add_gated", error) ||
      !sora_tensor_check_shape (y, "add_gated", x->ndim, x->shape, error))
    return FALSE;
  line_group (x->dev, local);
  return sora_device_run (x->dev, "elementwise", NULL, "add_gated", 3, global,
      local, error, SORA_MEM (x->buf), SORA_MEM (y->buf), SORA_MEM (mod->buf),
      SORA_INT (global[0]), SORA_INT (global[1]), SORA_INT (mod_stride),
      SORA_INT (gate_row), SORA_END);
}

gboolean
sora_op_lincomb (SoraTensor *y, guint n, SoraTensor *const *xs,
    const float *coefs, GError **error)
{
  gsize global = y->numel, local[3];
  SoraTensor *x[SORA_LINCOMB_MAX];
  float c[SORA_LINCOMB_MAX] = { 0 };

  if (n == 0 || n > SORA_LINCOMB_MAX) {
    char *dy = sora_tensor_describe (y);

    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "lincomb: %u terms for tensor %s, expected 1 to %d", n, dy,
        SORA_LINCOMB_MAX);
    g_free (dy);
    return FALSE;
  }
  if (!check_f32 (y, "lincomb", error))
    return FALSE;
  for (guint i = 0; i < SORA_LINCOMB_MAX; i++) {
    /* Unused slots repeat the first tensor; the kernel never reads them. */
    x[i] = xs[i < n ? i : 0];
    if (i < n) {
      c[i] = coefs[i];
      if (!check_f32 (x[i], "lincomb", error) ||
          !sora_op_check_numel (x[i], y, "lincomb", error))
        return FALSE;
    }
  }
  line_group (y->dev, local);
  return sora_device_run (y->dev, "elementwise", NULL, "lincomb", 1, &global,
      local, error, SORA_MEM (y->buf), SORA_MEM (x[0]->buf),
      SORA_MEM (x[1]->buf), SORA_MEM (x[2]->buf), SORA_MEM (x[3]->buf),
      SORA_FLOAT (c[0]), SORA_FLOAT (c[1]), SORA_FLOAT (c[2]),
      SORA_FLOAT (c[3]), SORA_INT (y->numel), SORA_INT (n), SORA_END);
}

gboolean
sora_op_blend_tile (SoraTensor *tile, SoraTensor *frame, gsize y0, gsize x0,
    const guint ramps[4], GError **error)
{
  const char *op = "blend_tile";
  gsize th, tw, planes, global[3];

  if (!check_f32 (tile, op, error) || !check_f32 (frame, op, error))
    return FALSE;
  if (tile->ndim != 4 || frame->ndim != 4 ||
      tile->shape[0] != frame->shape[0] || tile->shape[1] != frame->shape[1] ||
      y0 + tile->shape[2] > frame->shape[2] ||
      x0 + tile->shape[3] > frame->shape[3] ||
      ramps[0] + ramps[1] > tile->shape[2] ||
      ramps[2] + ramps[3] > tile->shape[3]) {
    char *dt = sora_tensor_describe (tile), *df = sora_tensor_describe (frame);

    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "%s: tile %s with ramps %u, %u, %u, %u does not fit frame %s at "
        "(%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT ")",
        op, dt, ramps[0], ramps[1], ramps[2], ramps[3], df, y0, x0);
    g_free (dt);
    g_free (df);
    return FALSE;
  }
  th = tile->shape[2];
  tw = tile->shape[3];
  planes = tile->shape[0] * tile->shape[1];
  global[0] = tw;
  global[1] = th;
  global[2] = planes;
  return sora_device_run (tile->dev, "elementwise", NULL, op, 3, global, NULL,
      error, SORA_MEM (tile->buf), SORA_MEM (frame->buf), SORA_INT (th),
      SORA_INT (tw), SORA_INT (frame->shape[2]), SORA_INT (frame->shape[3]),
      SORA_INT (y0), SORA_INT (x0), SORA_INT (ramps[0]), SORA_INT (ramps[1]),
      SORA_INT (ramps[2]), SORA_INT (ramps[3]), SORA_INT (planes), SORA_END);
}
