/* gst-sora engine: device tensors and dtype conversion
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdarg.h>
#include <string.h>

#include "sora-tensor.h"

gsize
sora_dtype_size (SoraDType dtype)
{
  return dtype == SORA_DTYPE_F32 ? 4 : 2;
}

const char *
sora_dtype_name (SoraDType dtype)
{
  switch (dtype) {
    case SORA_DTYPE_F32:
      return "f32";
    case SORA_DTYPE_F16:
      return "f16";
    case SORA_DTYPE_BF16:
      return "bf16";
  }
  return "?";
}

static guint32
f32_bits (float f)
{
  guint32 u;
  memcpy (&u, &f, 4);
  return u;
}

static float
bits_f32 (guint32 u)
{
  float f;
  memcpy (&f, &u, 4);
  return f;
}

guint16
sora_f32_to_f16 (float f)
{
  guint32 x = f32_bits (f);
  guint32 sign = (x >> 16) & 0x8000;
  guint32 exp = (x >> 23) & 0xff;
  guint32 mant = x & 0x7fffff;
  gint32 e;

  if (exp == 0xff) /* inf or nan */
    return sign | 0x7c00 | (mant ? 0x200 : 0);
  e = (gint32)exp - 127 + 15;
  if (e >= 31)
    return sign | 0x7c00;
  if (e <= 0) { /* subnormal half, or zero */
    guint32 shift, half, rem;
    if (e < -10)
      return sign;
    mant |= 0x800000;
    shift = 14 - e;
    half = mant >> shift;
    rem = mant & ((1u << shift) - 1);
    if (rem > (1u << (shift - 1)) || (rem == (1u << (shift - 1)) && (half & 1)))
      half++;
    return sign | half;
  }
  {
    guint32 h = ((guint32)e << 10) | (mant >> 13);
    guint32 rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
      h++; /* may carry into the exponent: still right */
    return sign | h;
  }
}

float
sora_f16_to_f32 (guint16 h)
{
  guint32 sign = (guint32)(h & 0x8000) << 16;
  guint32 exp = (h >> 10) & 0x1f;
  guint32 mant = h & 0x3ff;

  if (exp == 0) {
    float v = mant * (1.0f / 16777216.0f); /* mant * 2^-24 */
    return sign ? -v : v;
  }
  if (exp == 31)
    return bits_f32 (sign | 0x7f800000 | (mant << 13));
  return bits_f32 (sign | ((exp + 112) << 23) | (mant << 13));
}

guint16
sora_f32_to_bf16 (float f)
{
  guint32 x = f32_bits (f);

  if ((x & 0x7fffffff) > 0x7f800000)
    return (x >> 16) | 0x40; /* quiet nan */
  return (x + 0x7fff + ((x >> 16) & 1)) >> 16;
}

float
sora_bf16_to_f32 (guint16 b)
{
  return bits_f32 ((guint32)b << 16);
}

void
sora_convert_to_f32 (SoraDType dtype, const void *src, float *dst, gsize n)
{
  const guint16 *h = src;

  switch (dtype) {
    case SORA_DTYPE_F32:
      memcpy (dst, src, n * 4);
      break;
    case SORA_DTYPE_F16:
      for (gsize i = 0; i < n; i++)
        dst[i] = sora_f16_to_f32 (h[i]);
      break;
    case SORA_DTYPE_BF16:
      for (gsize i = 0; i < n; i++)
        dst[i] = sora_bf16_to_f32 (h[i]);
      break;
  }
}

void
sora_convert_from_f32 (SoraDType dtype, const float *src, void *dst, gsize n)
{
  guint16 *h = dst;

  switch (dtype) {
    case SORA_DTYPE_F32:
      memcpy (dst, src, n * 4);
      break;
    case SORA_DTYPE_F16:
      for (gsize i = 0; i < n; i++)
        h[i] = sora_f32_to_f16 (src[i]);
      break;
    case SORA_DTYPE_BF16:
      for (gsize i = 0; i < n; i++)
        h[i] = sora_f32_to_bf16 (src[i]);
      break;
  }
}

static gboolean
set_shape (SoraTensor *t, guint ndim, const gsize *shape, GError **error)
{
  gsize numel = 1;

  if (ndim == 0 || ndim > SORA_MAX_DIMS) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "Tensor %s: %u dimensions (1 to %d allowed)", t->name, ndim,
        SORA_MAX_DIMS);
    return FALSE;
  }
  for (guint i = 0; i < ndim; i++) {
    if (shape[i] != 0 && numel > G_MAXSIZE / 4 / shape[i]) {
      g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
          "Tensor %s: shape overflows", t->name);
      return FALSE;
    }
    numel *= shape[i];
  }
  t->ndim = ndim;
  for (guint i = 0; i < ndim; i++)
    t->shape[i] = shape[i];
  for (guint i = ndim; i < SORA_MAX_DIMS; i++)
    t->shape[i] = 1;
  for (gint i = ndim - 1; i >= 0; i--)
    t->strides[i] =
        i == (gint)ndim - 1 ? 1 : t->strides[i + 1] * t->shape[i + 1];
  t->numel = numel;
  return TRUE;
}

SoraTensor *
sora_tensor_new (SoraDevice *dev, const char *name, SoraDType dtype, guint ndim,
    const gsize *shape, GError **error)
{
  return sora_tensor_new_in (NULL, dev, name, dtype, ndim, shape, error);
}

SoraTensor *
sora_tensor_new_in (SoraArena *arena, SoraDevice *dev, const char *name,
    SoraDType dtype, guint ndim, const gsize *shape, GError **error)
{
  SoraTensor *t = g_new0 (SoraTensor, 1);

  t->dev = dev;
  t->arena = arena;
  t->dtype = dtype;
  t->name = g_strdup (name ? name : "(tensor)");
  if (!set_shape (t, ndim, shape, error))
    goto fail;
  t->nbytes = t->numel * sora_dtype_size (dtype);
  if (arena)
    t->buf = sora_arena_take (arena, t->nbytes, t->name, error);
  else
    t->buf = sora_device_alloc (dev, t->nbytes, t->name, error);
  if (t->buf == NULL)
    goto fail;
  return t;

fail:
  g_free (t->name);
  g_free (t);
  return NULL;
}

SoraTensor *
sora_tensor_new_v (SoraDevice *dev, const char *name, SoraDType dtype,
    GError **error, guint ndim, ...)
{
  gsize shape[SORA_MAX_DIMS] = {
    0,
  };
  va_list ap;

  g_return_val_if_fail (ndim <= SORA_MAX_DIMS, NULL);
  va_start (ap, ndim);
  for (guint i = 0; i < ndim; i++)
    shape[i] = va_arg (ap, gsize);
  va_end (ap);
  return sora_tensor_new (dev, name, dtype, ndim, shape, error);
}

void
sora_tensor_free (SoraTensor *t)
{
  if (t == NULL)
    return;
  if (t->arena)
    sora_arena_give (t->arena, t->buf, t->nbytes);
  else
    sora_device_release (t->dev, t->buf, t->nbytes);
  g_free (t->name);
  g_free (t);
}

gboolean
sora_tensor_reshape (
    SoraTensor *t, guint ndim, const gsize *shape, GError **error)
{
  gsize numel = 1;

  for (guint i = 0; i < ndim; i++)
    numel *= shape[i];
  if (numel != t->numel) {
    char *d = sora_tensor_describe (t);
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "Cannot reshape %s to %" G_GSIZE_FORMAT " elements", d, numel);
    g_free (d);
    return FALSE;
  }
  return set_shape (t, ndim, shape, error);
}

gboolean
sora_tensor_write (SoraTensor *t, const void *host, GError **error)
{
  if (t->nbytes == 0)
    return TRUE; /* OpenCL refuses empty transfers */
  return sora_cl_check (clEnqueueWriteBuffer (sora_device_get_queue (t->dev),
                            t->buf, CL_TRUE, 0, t->nbytes, host, 0, NULL, NULL),
      "clEnqueueWriteBuffer", t->name, error);
}

gboolean
sora_tensor_read (SoraTensor *t, void *host, GError **error)
{
  return sora_device_read (t->dev, t->buf, t->nbytes, host, t->name, error);
}

gboolean
sora_tensor_write_f32 (SoraTensor *t, const float *host, GError **error)
{
  gpointer tmp;
  gboolean ok;

  if (t->dtype == SORA_DTYPE_F32)
    return sora_tensor_write (t, host, error);
  tmp = g_malloc (t->nbytes);
  sora_convert_from_f32 (t->dtype, host, tmp, t->numel);
  ok = sora_tensor_write (t, tmp, error);
  g_free (tmp);
  return ok;
}

gboolean
sora_tensor_read_f32 (SoraTensor *t, float *host, GError **error)
{
  gpointer tmp;
  gboolean ok;

  if (t->dtype == SORA_DTYPE_F32)
    return sora_tensor_read (t, host, error);
  tmp = g_malloc (t->nbytes);
  ok = sora_tensor_read (t, tmp, error);
  if (ok)
    sora_convert_to_f32 (t->dtype, tmp, host, t->numel);
  g_free (tmp);
  return ok;
}

char *
sora_tensor_describe (const SoraTensor *t)
{
  GString *s = g_string_new (t->name);

  g_string_append (s, " [");
  for (guint i = 0; i < t->ndim; i++)
    g_string_append_printf (
        s, "%s%" G_GSIZE_FORMAT, i ? ", " : "", t->shape[i]);
  g_string_append_printf (s, "] %s", sora_dtype_name (t->dtype));
  return g_string_free (s, FALSE);
}

gboolean
sora_tensor_check_shape (const SoraTensor *t, const char *op, guint ndim,
    const gsize *shape, GError **error)
{
  gboolean ok = t->ndim == ndim;

  for (guint i = 0; ok && i < ndim; i++)
    ok = t->shape[i] == shape[i];
  if (!ok) {
    GString *want = g_string_new ("[");
    char *have = sora_tensor_describe (t);
    for (guint i = 0; i < ndim; i++)
      g_string_append_printf (
          want, "%s%" G_GSIZE_FORMAT, i ? ", " : "", shape[i]);
    g_string_append (want, "]");
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "%s: tensor %s should have shape %s", op, have, want->str);
    g_string_free (want, TRUE);
    g_free (have);
  }
  return ok;
}

/* Fills @t with copies of the @size bytes of @pattern. */
static gboolean
fill (SoraTensor *t, const void *pattern, gsize size, GError **error)
{
  return sora_cl_check (clEnqueueFillBuffer (sora_device_get_queue (t->dev),
                            t->buf, pattern, size, 0, t->nbytes, 0, NULL, NULL),
      "clEnqueueFillBuffer", t->name, error);
}

gboolean
sora_tensor_zero (SoraTensor *t, GError **error)
{
  const guint8 zero = 0;

  return fill (t, &zero, 1, error);
}

gboolean
sora_tensor_lease (SoraTensor *t, const char *role, GError **error)
{
  if (t->role != NULL) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "%s: taken for \"%s\" while \"%s\" still holds it", t->name, role,
        t->role);
    return FALSE;
  }
  t->role = role;
  return TRUE;
}

gboolean
sora_tensor_unlease (SoraTensor *t, const char *role, GError **error)
{
  /* A quiet NaN in each storage dtype. */
  const guint32 nan32 = 0x7fc00000;
  const guint16 nan16 = t->dtype == SORA_DTYPE_F16 ? 0x7e00 : 0x7fc0;

  if (g_strcmp0 (t->role, role) != 0) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "%s: \"%s\" ends but %s%s%s holds it", t->name, role,
        t->role ? "\"" : "", t->role ? t->role : "nothing",
        t->role ? "\"" : "");
    return FALSE;
  }
  t->role = NULL;
  if (!sora_device_get_lease_poison (t->dev))
    return TRUE;
  if (t->dtype == SORA_DTYPE_F32)
    return fill (t, &nan32, sizeof (nan32), error);
  return fill (t, &nan16, sizeof (nan16), error);
}
