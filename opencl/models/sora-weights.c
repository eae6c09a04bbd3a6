/* gst-sora engine: uploading a model folder's tensors to the device
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdarg.h>
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

/* The tensor's values copied out of the (unaligned) mapping, widened to
 * f32 when @to_f32; *@dtype (the stored one) becomes theirs (g_free). */
static gpointer
host_values (const SoraSafetensor *t, gboolean to_f32, SoraDType *dtype)
{
  /* never NULL, even for no elements */
  gpointer raw = g_malloc (MAX (t->nbytes, sizeof (float)));
  float *f;

  memcpy (raw, t->data, t->nbytes);
  if (!to_f32 || *dtype == SORA_DTYPE_F32)
    return raw;
  f = g_new (float, MAX (t->numel, 1));
  sora_convert_to_f32 (*dtype, raw, f, t->numel);
  g_free (raw);
  *dtype = SORA_DTYPE_F32;
  return f;
}

float *
sora_weights_read_f32 (const SoraWeights *w, const char *name, gsize numel,
    gsize *numel_out, GError **error)
{
  SoraDType dtype;
  const SoraSafetensor *t = find (w, name, &dtype, error);
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
  out = host_values (t, TRUE, &dtype);
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
  raw = host_values (t, to_f32, &dtype);
  dev_t = sora_tensor_new (w->dev, name, dtype, ndim, shape, error);
  ok = dev_t && sora_tensor_write (dev_t, raw, error);
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
  raw = host_values (t, w->widen, &dtype);
  linear = sora_linear_new (
      w->dev, prefix, dtype, t->shape[0], in, raw, bias, error);

out:
  g_free (raw);
  g_free (bias);
  g_free (wname);
  g_free (bname);
  return linear;
}

/* --- the tables ---------------------------------------------------------- */

static void
module_use_free (SoraModuleUse *use)
{
  g_free (use->prefix);
  g_free (use);
}

GPtrArray *
sora_module_uses_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify)module_use_free);
}

SoraModuleUse *
sora_module_uses_add (GPtrArray *uses, const SoraModule *module, guint flags,
    const gsize *sizes, const char *prefix_fmt, ...)
{
  SoraModuleUse *use = g_new0 (SoraModuleUse, 1);
  va_list ap;

  use->module = module;
  use->flags = flags;
  memcpy (use->sizes, sizes, sizeof (use->sizes));
  if (prefix_fmt) {
    va_start (ap, prefix_fmt);
    use->prefix = g_strdup_vprintf (prefix_fmt, ap);
    va_end (ap);
  }
  g_ptr_array_add (uses, use);
  return use;
}

void
sora_expected_tensor_free (SoraExpectedTensor *t)
{
  g_free (t->name);
  g_free (t->alt_name);
  g_free (t);
}

static gboolean
param_present (const SoraParam *p, const SoraModuleUse *use)
{
  return p->when == 0 || (p->when & use->flags) != 0;
}

/* PREFIX.NAME, or either alone. */
static char *
param_name (const SoraModuleUse *use, const char *name)
{
  if (use->prefix == NULL || name == NULL)
    return g_strdup (use->prefix ? use->prefix : name);
  return g_strconcat (use->prefix, ".", name, NULL);
}

/* The shape of the param's tensor (its weight for the two-tensor roles). */
static void
param_shape (const SoraParam *p, const SoraModuleUse *use, gsize *shape)
{
  for (guint i = 0; i < p->ndim; i++)
    shape[i] = p->shape[i].size == SORA_SIZE_ONE
        ? p->shape[i].mul
        : p->shape[i].mul * use->sizes[p->shape[i].size];
}

static void
add_expected (GPtrArray *list, char *name, const char *alt_name, guint ndim,
    const gsize *shape)
{
  SoraExpectedTensor *t = g_new0 (SoraExpectedTensor, 1);

  t->name = name;
  t->alt_name = g_strdup (alt_name);
  t->ndim = ndim;
  memcpy (t->shape, shape, ndim * sizeof (gsize));
  g_ptr_array_add (list, t);
}

GPtrArray *
sora_module_uses_expected (GPtrArray *uses)
{
  GPtrArray *list = g_ptr_array_new_with_free_func (
      (GDestroyNotify)sora_expected_tensor_free);

  for (guint u = 0; u < uses->len; u++) {
    const SoraModuleUse *use = uses->pdata[u];

    for (guint i = 0; i < use->module->n_params; i++) {
      const SoraParam *p = &use->module->params[i];
      g_autofree char *name = param_name (use, p->name);
      gsize shape[SORA_SAFETENSORS_MAX_DIMS];

      if (!param_present (p, use))
        continue;
      param_shape (p, use, shape);
      if (p->kind != SORA_PARAM_LINEAR && p->kind != SORA_PARAM_MATRIX &&
          p->kind != SORA_PARAM_CUSTOM) {
        add_expected (
            list, g_steal_pointer (&name), p->alt_name, p->ndim, shape);
        continue;
      }
      add_expected (
          list, g_strconcat (name, ".weight", NULL), NULL, p->ndim, shape);
      if (p->kind != SORA_PARAM_MATRIX)
        add_expected (list, g_strconcat (name, ".bias", NULL), NULL, 1, shape);
    }
  }
  return list;
}

/* The tensor or its tied copy; the error is the first name's. */
static const SoraSafetensor *
find_mapped (const SoraWeights *w, const char *name, const char *alt_name,
    GError **error)
{
  g_autoptr (GError) local = NULL;
  const SoraSafetensor *t =
      sora_model_folder_find_tensor (w->folder, w->component, name, &local);

  if (t == NULL && alt_name)
    t = sora_model_folder_find_tensor (w->folder, w->component, alt_name, NULL);
  if (t == NULL)
    g_propagate_error (error, g_steal_pointer (&local));
  return t;
}

static gboolean
load_param (const SoraWeights *w, const SoraModuleUse *use, const SoraParam *p,
    gpointer field, gpointer user_data, GError **error)
{
  g_autofree char *name = param_name (use, p->name);
  gsize shape[SORA_SAFETENSORS_MAX_DIMS], numel = 1;

  param_shape (p, use, shape);
  for (guint i = 0; i < p->ndim; i++)
    numel *= shape[i];
  switch (p->kind) {
    case SORA_PARAM_LINEAR:
    case SORA_PARAM_MATRIX:
      *(SoraLinear **)field =
          sora_weights_linear (w, name, p->kind == SORA_PARAM_LINEAR, error);
      break;
    case SORA_PARAM_F32:
      *(SoraTensor **)field = sora_weights_tensor_f32 (w, name, error);
      break;
    case SORA_PARAM_HOST:
      *(float **)field = sora_weights_read_f32 (w, name, numel, NULL, error);
      break;
    case SORA_PARAM_MAPPED:
      *(const SoraSafetensor **)field =
          find_mapped (w, name, p->alt_name, error);
      break;
    case SORA_PARAM_CUSTOM:
      return p->load (w, name, shape, field, user_data, error);
  }
  return *(gpointer *)field != NULL;
}

gboolean
sora_weights_load (const SoraWeights *w, const SoraModuleUse *use,
    gpointer base, gpointer user_data, GError **error)
{
  for (guint i = 0; i < use->module->n_params; i++) {
    const SoraParam *p = &use->module->params[i];

    if (!param_present (p, use) || p->field == SORA_NO_FIELD)
      continue;
    if (!load_param (w, use, p, (guint8 *)base + p->field, user_data, error))
      return FALSE;
  }
  return TRUE;
}

guint64
sora_weights_use_bytes (const SoraWeights *w, const SoraModuleUse *use)
{
  g_autoptr (GPtrArray) one = g_ptr_array_new ();
  g_autoptr (GPtrArray) expected = NULL;
  guint64 bytes = 0;

  g_ptr_array_add (one, (gpointer)use);
  expected = sora_module_uses_expected (one);
  for (guint i = 0; i < expected->len; i++) {
    const SoraExpectedTensor *e = expected->pdata[i];
    const SoraSafetensor *t = find_mapped (w, e->name, e->alt_name, NULL);

    bytes += t ? t->nbytes : 0;
  }
  return bytes;
}

static char *
describe_shape (guint ndim, const gsize *shape)
{
  GString *s = g_string_new ("[");

  for (guint i = 0; i < ndim; i++)
    g_string_append_printf (s, "%s%" G_GSIZE_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* "a.safetensors, b.safetensors" for messages. */
static char *
describe_files (const SoraModelFolder *folder, SoraComponent c)
{
  GPtrArray *files = sora_model_folder_get_weights (folder, c);
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < files->len; i++)
    g_string_append_printf (
        s, "%s%s", i ? ", " : "", sora_safetensors_get_path (files->pdata[i]));
  return g_string_free (s, FALSE);
}

static gboolean
validate_tensor (const SoraModelFolder *folder, SoraComponent c,
    const SoraExpectedTensor *e, GError **error)
{
  g_autofree char *want = describe_shape (e->ndim, e->shape);
  const SoraSafetensor *t =
      sora_model_folder_find_tensor (folder, c, e->name, NULL);

  if (t == NULL && e->alt_name)
    t = sora_model_folder_find_tensor (folder, c, e->alt_name, NULL);
  if (t == NULL) {
    g_autofree char *files = describe_files (folder, c);
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
        "%s: tensor \"%s\" %s of the %s is missing", files, e->name, want,
        sora_component_name (c));
    return FALSE;
  }
  if (t->ndim != e->ndim ||
      memcmp (t->shape, e->shape, e->ndim * sizeof (gsize)) != 0) {
    g_autofree char *found = describe_shape (t->ndim, t->shape);
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
        "%s: tensor \"%s\" has shape %s, but the %s config implies %s", t->file,
        t->name, found, sora_component_name (c), want);
    return FALSE;
  }
  if (!sora_safe_dtype_is_weight (t->dtype)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
        "%s: tensor \"%s\" has dtype %s; weights must be F32, F16 or BF16",
        t->file, t->name, sora_safe_dtype_name (t->dtype));
    return FALSE;
  }
  return TRUE;
}

gboolean
sora_weights_validate (const SoraModelFolder *folder, SoraComponent c,
    GPtrArray *expected, GError **error)
{
  GPtrArray *files = sora_model_folder_get_weights (folder, c);
  guint total = 0;

  for (guint i = 0; i < expected->len; i++)
    if (!validate_tensor (folder, c, expected->pdata[i], error))
      return FALSE;
  for (guint i = 0; i < files->len; i++)
    total += sora_safetensors_get_n_tensors (files->pdata[i]);
  if (total > expected->len)
    g_debug ("%s: %u tensors the engine does not use", sora_component_name (c),
        total - expected->len);
  return TRUE;
}
