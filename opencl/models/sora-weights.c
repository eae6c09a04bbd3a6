/* gst-sora engine: uploading a model folder's tensors to the device
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sora-weights.h"

gboolean
sora_weights_dtype (SoraSafeDType safe, SoraDType *dtype)
{
  switch (safe) {
    case SORA_SAFE_F32:
      *dtype = SORA_DTYPE_F32;
      return TRUE;
    case SORA_SAFE_F16:
      *dtype = SORA_DTYPE_F16;
      return TRUE;
    case SORA_SAFE_BF16:
      *dtype = SORA_DTYPE_BF16;
      return TRUE;
    default:
      return FALSE;
  }
}

static const SoraSafetensor *
find (const SoraWeights *w, const char *name, SoraDType *dtype, GError **error)
{
  const SoraSafetensor *t =
      sora_model_folder_find_tensor (w->folder, w->component, name, error);

  if (t == NULL)
    return NULL;
  if (!sora_weights_dtype (t->dtype, dtype)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
        "%s: tensor %s is %s; weights must be F32, F16 or BF16", t->file, name,
        sora_safe_dtype_name (t->dtype));
    return NULL;
  }
  return t;
}

/* The tensor's bytes, copied out of the (unaligned) mapping. */
static gpointer
copy_data (const SoraSafetensor *t)
{
  return g_memdup2 (t->data, t->nbytes);
}

float *
sora_weights_read_f32 (const SoraWeights *w, const char *name, gsize numel,
    gsize *numel_out, GError **error)
{
  SoraDType dtype;
  const SoraSafetensor *t = find (w, name, &dtype, error);
  gpointer raw;
  float *out;

  if (t == NULL)
    return NULL;
  if (numel && t->numel != numel) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
        "%s: tensor %s has %" G_GSIZE_FORMAT
        " elements, expected %" G_GSIZE_FORMAT,
        t->file, name, t->numel, numel);
    return NULL;
  }
  raw = copy_data (t);
  out = g_new (float, MAX (t->numel, 1));
  sora_convert_to_f32 (dtype, raw, out, t->numel);
  g_free (raw);
  if (numel_out)
    *numel_out = t->numel;
  return out;
}

static SoraTensor *
upload (const SoraWeights *w, const char *name, gboolean to_f32, GError **error)
{
  SoraDType dtype;
  const SoraSafetensor *t = find (w, name, &dtype, error);
  gsize shape[SORA_MAX_DIMS];
  guint ndim;
  SoraTensor *dev_t;
  gpointer raw;
  gboolean ok;

  if (t == NULL)
    return NULL;
  /* Fold leading dims when a file tensor has more than we hold. */
  ndim = MAX (t->ndim, 1);
  if (t->ndim == 0) {
    shape[0] = 1;
  } else if (t->ndim > SORA_MAX_DIMS) {
    shape[0] = 1;
    for (guint i = 0; i <= t->ndim - SORA_MAX_DIMS; i++)
      shape[0] *= t->shape[i];
    for (guint i = 1; i < SORA_MAX_DIMS; i++)
      shape[i] = t->shape[t->ndim - SORA_MAX_DIMS + i];
    ndim = SORA_MAX_DIMS;
  } else {
    for (guint i = 0; i < t->ndim; i++)
      shape[i] = t->shape[i];
  }
  if (to_f32)
    dtype = SORA_DTYPE_F32;
  dev_t = sora_tensor_new (w->dev, name, dtype, ndim, shape, error);
  if (dev_t == NULL)
    return NULL;
  raw = copy_data (t);
  if (to_f32 && t->dtype != SORA_SAFE_F32) {
    SoraDType stored;
    float *f = g_new (float, MAX (t->numel, 1));
    sora_weights_dtype (t->dtype, &stored);
    sora_convert_to_f32 (stored, raw, f, t->numel);
    ok = sora_tensor_write (dev_t, f, error);
    g_free (f);
  } else {
    ok = sora_tensor_write (dev_t, raw, error);
  }
  g_free (raw);
  if (!ok)
    g_clear_pointer (&dev_t, sora_tensor_free);
  return dev_t;
}

SoraTensor *
sora_weights_tensor_f32 (const SoraWeights *w, const char *name, GError **error)
{
  return upload (w, name, TRUE, error);
}

SoraTensor *
sora_weights_tensor (const SoraWeights *w, const char *name, GError **error)
{
  return upload (w, name, w->widen, error);
}

SoraLinear *
sora_weights_linear (
    const SoraWeights *w, const char *prefix, gboolean has_bias, GError **error)
{
  char *wname = g_strconcat (prefix, ".weight", NULL);
  char *bname = g_strconcat (prefix, ".bias", NULL);
  SoraLinear *linear = NULL;
  const SoraSafetensor *t;
  SoraDType dtype;
  float *bias = NULL;
  gpointer raw = NULL;
  gsize in;

  t = find (w, wname, &dtype, error);
  if (t == NULL)
    goto out;
  if (t->ndim < 2 || t->shape[0] == 0) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
        "%s: tensor %s should be a matrix", t->file, wname);
    goto out;
  }
  in = t->numel / t->shape[0];
  if (has_bias) {
    bias = sora_weights_read_f32 (w, bname, t->shape[0], NULL, error);
    if (bias == NULL)
      goto out;
  }
  raw = copy_data (t);
  if (w->widen && dtype != SORA_DTYPE_F32) {
    float *f = g_new (float, t->numel);
    sora_convert_to_f32 (dtype, raw, f, t->numel);
    g_free (raw);
    raw = f;
    dtype = SORA_DTYPE_F32;
  }
  linear = sora_linear_new (
      w->dev, prefix, dtype, t->shape[0], in, raw, bias, error);

out:
  g_free (raw);
  g_free (bias);
  g_free (wname);
  g_free (bname);
  return linear;
}
