/* gst-sora: safetensors files
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_SAFETENSORS_H__
#define __SORA_SAFETENSORS_H__

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define SORA_SAFETENSORS_MAX_DIMS 8

/* Every byte-sized dtype of the format is parsed; only F32, F16 and BF16 are
 * usable as weights today (sora_safe_dtype_is_weight). */
typedef enum {
  SORA_SAFE_BOOL,
  SORA_SAFE_U8,
  SORA_SAFE_I8,
  SORA_SAFE_F8_E4M3,
  SORA_SAFE_F8_E5M2,
  SORA_SAFE_I16,
  SORA_SAFE_U16,
  SORA_SAFE_F16,
  SORA_SAFE_BF16,
  SORA_SAFE_I32,
  SORA_SAFE_U32,
  SORA_SAFE_F32,
  SORA_SAFE_I64,
  SORA_SAFE_U64,
  SORA_SAFE_F64,
} SoraSafeDType;

const char *sora_safe_dtype_name (SoraSafeDType dtype);
gsize sora_safe_dtype_size (SoraSafeDType dtype);
gboolean sora_safe_dtype_is_weight (SoraSafeDType dtype);

typedef struct
{
  const char *name;
  const char *file; /* the path or label of the holding file */
  SoraSafeDType dtype;
  guint ndim;
  gsize shape[SORA_SAFETENSORS_MAX_DIMS];
  gsize numel;
  gsize nbytes;
  /* Points into the mapping; not aligned in general (memcpy it). */
  const guint8 *data;
} SoraSafetensor;

typedef struct _SoraSafetensors SoraSafetensors;

/* Maps @path and checks the whole header (SORA_ERROR_FORMAT otherwise). */
SoraSafetensors *sora_safetensors_open (const char *path, GError **error);
/* The same over bytes the caller keeps alive; @what names them in errors. */
SoraSafetensors *sora_safetensors_new_from_data (
    const guint8 *data, gsize len, const char *what, GError **error);
void sora_safetensors_free (SoraSafetensors *file);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SoraSafetensors, sora_safetensors_free);

const char *sora_safetensors_get_path (const SoraSafetensors *file);
guint sora_safetensors_get_n_tensors (const SoraSafetensors *file);
/* Tensors in data-offset order. */
const SoraSafetensor *sora_safetensors_get_tensor (
    const SoraSafetensors *file, guint index);
const SoraSafetensor *sora_safetensors_find (
    const SoraSafetensors *file, const char *name);
/* A "__metadata__" value, or NULL. */
const char *sora_safetensors_get_metadata (
    const SoraSafetensors *file, const char *key);

/* Writes @n tensors (name, dtype, shape and data of each; the other fields
 * are ignored) to @path, packed in the given order; for tests and tools
 * (the file is built in memory, and must stay under 4 GiB). */
gboolean sora_safetensors_write (
    const char *path, const SoraSafetensor *tensors, guint n, GError **error);

/* "name [2, 3] F32", for messages (g_free the result). */
char *sora_safetensor_describe (const SoraSafetensor *t);

/* Parses @len bytes of JSON (refusing nesting deeper than @max_depth, since
 * json-glib recurses per level) and returns the root object, or NULL and a
 * SORA_ERROR_FORMAT error naming @what.  Shared with the config readers. */
JsonObject *sora_json_parse_object (const char *data, gsize len,
    guint max_depth, const char *what, GError **error);

G_END_DECLS

#endif /* __SORA_SAFETENSORS_H__ */
