/* gst-sora: safetensors files
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON mapping
 * each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets
 * relative to the byte after the header) plus an optional "__metadata__"
 * object of strings, then the data.  Everything in the header is checked
 * here so the rest of the engine can trust shapes, sizes and pointers.
 */
#include <stdlib.h>
#include <string.h>

#include "sora-error.h"
#include "sora-safetensors.h"

/* The reference implementation refuses larger headers too. */
#define MAX_HEADER_BYTES (100 * 1024 * 1024)
#define HEADER_MAX_DEPTH 4

struct _SoraSafetensors
{
  char *path;
  GMappedFile *mapping; /* NULL for borrowed data */
  const guint8 *data; /* the data area */
  gsize data_len;
  SoraSafetensor *tensors;
  guint n_tensors;
  GHashTable *by_name; /* name -> SoraSafetensor*, names owned */
  GHashTable *metadata; /* key -> value, both owned */
};

static const struct
{
  const char *name;
  SoraSafeDType dtype;
  gsize size;
} dtypes[] = {
  { "BOOL", SORA_SAFE_BOOL, 1 },
  { "U8", SORA_SAFE_U8, 1 },
  { "I8", SORA_SAFE_I8, 1 },
  { "F8_E4M3", SORA_SAFE_F8_E4M3, 1 },
  { "F8_E5M2", SORA_SAFE_F8_E5M2, 1 },
  { "I16", SORA_SAFE_I16, 2 },
  { "U16", SORA_SAFE_U16, 2 },
  { "F16", SORA_SAFE_F16, 2 },
  { "BF16", SORA_SAFE_BF16, 2 },
  { "I32", SORA_SAFE_I32, 4 },
  { "U32", SORA_SAFE_U32, 4 },
  { "F32", SORA_SAFE_F32, 4 },
  { "I64", SORA_SAFE_I64, 8 },
  { "U64", SORA_SAFE_U64, 8 },
  { "F64", SORA_SAFE_F64, 8 },
};

const char *
sora_safe_dtype_name (SoraSafeDType dtype)
{
  for (guint i = 0; i < G_N_ELEMENTS (dtypes); i++)
    if (dtypes[i].dtype == dtype)
      return dtypes[i].name;
  return "?";
}

gsize
sora_safe_dtype_size (SoraSafeDType dtype)
{
  for (guint i = 0; i < G_N_ELEMENTS (dtypes); i++)
    if (dtypes[i].dtype == dtype)
      return dtypes[i].size;
  return 0;
}

gboolean
sora_safe_dtype_is_weight (SoraSafeDType dtype)
{
  return dtype == SORA_SAFE_F32 || dtype == SORA_SAFE_F16 ||
      dtype == SORA_SAFE_BF16;
}

char *
sora_safetensor_describe (const SoraSafetensor *t)
{
  GString *s = g_string_new (t->name);

  g_string_append (s, " [");
  for (guint i = 0; i < t->ndim; i++)
    g_string_append_printf (
        s, "%s%" G_GSIZE_FORMAT, i ? ", " : "", t->shape[i]);
  g_string_append_printf (s, "] %s", sora_safe_dtype_name (t->dtype));
  return g_string_free (s, FALSE);
}

/* Nesting depth of the JSON text, outside strings. */
static gboolean
json_depth_ok (const char *data, gsize len, guint max_depth)
{
  guint depth = 0;
  gboolean in_string = FALSE;

  for (gsize i = 0; i < len; i++) {
    char c = data[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = FALSE;
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth)
        return FALSE;
    } else if ((c == '}' || c == ']') && depth > 0) {
      depth--;
    }
  }
  return TRUE;
}

JsonObject *
sora_json_parse_object (const char *data, gsize len, guint max_depth,
    const char *what, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) json_error = NULL;
  JsonNode *root;

  if (len > G_MAXSSIZE) {
    g_set_error (
        error, SORA_ERROR, SORA_ERROR_FORMAT, "%s: JSON too large", what);
    return NULL;
  }
  if (!json_depth_ok (data, len, max_depth)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
        "%s: JSON nested deeper than %u levels", what, max_depth);
    return NULL;
  }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize)len, &json_error)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT, "%s: invalid JSON: %s",
        what, json_error->message);
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
        "%s: the JSON is not an object", what);
    return NULL;
  }
  return json_object_ref (json_node_get_object (root));
}

/* A non-negative JSON integer, else FALSE. */
static gboolean
node_get_size (JsonNode *node, gsize *out)
{
  gint64 v;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  v = json_node_get_int (node);
  if (v < 0 || (guint64)v > G_MAXSIZE)
    return FALSE;
  *out = (gsize)v;
  return TRUE;
}

static gboolean
parse_metadata (SoraSafetensors *self, JsonNode *node, GError **error)
{
  JsonObjectIter iter;
  const char *key;
  JsonNode *value;

  if (JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
        "%s: __metadata__ is not an object", self->path);
    return FALSE;
  }
  json_object_iter_init (&iter, json_node_get_object (node));
  while (json_object_iter_next (&iter, &key, &value)) {
    if (!JSON_NODE_HOLDS_VALUE (value) ||
        json_node_get_value_type (value) != G_TYPE_STRING) {
      g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
          "%s: __metadata__ entry \"%s\" is not a string", self->path, key);
      return FALSE;
    }
    g_hash_table_insert (self->metadata, g_strdup (key),
        g_strdup (json_node_get_string (value)));
  }
  return TRUE;
}

/* Fills @t from one header entry; offsets are checked later, together. */
static gboolean
parse_entry (SoraSafetensors *self, const char *name, JsonNode *node,
    SoraSafetensor *t, gsize *begin, gsize *end, GError **error)
{
  JsonObject *obj;
  JsonNode *dtype_node, *shape_node, *offsets_node;
  JsonArray *shape, *offsets;
  const char *dtype_name;
  gsize numel = 1;
  guint i;

#define FAIL(...)                                                              \
  G_STMT_START                                                                 \
  {                                                                            \
    g_autofree char *why_ = g_strdup_printf (__VA_ARGS__);                     \
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,                         \
        "%s: tensor \"%s\": %s", self->path, name, why_);                      \
    return FALSE;                                                              \
  }                                                                            \
  G_STMT_END

  if (!JSON_NODE_HOLDS_OBJECT (node))
    FAIL ("header entry is not an object");
  obj = json_node_get_object (node);
  dtype_node = json_object_get_member (obj, "dtype");
  shape_node = json_object_get_member (obj, "shape");
  offsets_node = json_object_get_member (obj, "data_offsets");
  if (dtype_node == NULL || !JSON_NODE_HOLDS_VALUE (dtype_node) ||
      json_node_get_value_type (dtype_node) != G_TYPE_STRING)
    FAIL ("\"dtype\" missing or not a string");
  dtype_name = json_node_get_string (dtype_node);
  for (i = 0; i < G_N_ELEMENTS (dtypes); i++)
    if (strcmp (dtype_name, dtypes[i].name) == 0)
      break;
  if (i == G_N_ELEMENTS (dtypes))
    FAIL ("unknown dtype \"%s\"", dtype_name);
  t->dtype = dtypes[i].dtype;

  if (shape_node == NULL || !JSON_NODE_HOLDS_ARRAY (shape_node))
    FAIL ("\"shape\" missing or not an array");
  shape = json_node_get_array (shape_node);
  if (json_array_get_length (shape) > SORA_SAFETENSORS_MAX_DIMS)
    FAIL ("%u dimensions, more than %d", json_array_get_length (shape),
        SORA_SAFETENSORS_MAX_DIMS);
  t->ndim = json_array_get_length (shape);
  for (i = 0; i < t->ndim; i++) {
    if (!node_get_size (json_array_get_element (shape, i), &t->shape[i]))
      FAIL ("shape entry %u is not a non-negative integer", i);
    if (!g_size_checked_mul (&numel, numel, t->shape[i]))
      FAIL ("the element count overflows");
  }
  t->numel = numel;
  if (!g_size_checked_mul (&t->nbytes, numel, dtypes[t->dtype].size))
    FAIL ("the byte count overflows");

  if (offsets_node == NULL || !JSON_NODE_HOLDS_ARRAY (offsets_node) ||
      json_array_get_length (json_node_get_array (offsets_node)) != 2)
    FAIL ("\"data_offsets\" missing or not a [begin, end] pair");
  offsets = json_node_get_array (offsets_node);
  if (!node_get_size (json_array_get_element (offsets, 0), begin) ||
      !node_get_size (json_array_get_element (offsets, 1), end))
    FAIL ("data_offsets are not non-negative integers");
  if (*end < *begin || *end > self->data_len)
    FAIL ("data_offsets [%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT "] outside "
          "the data area of %" G_GSIZE_FORMAT " bytes",
        *begin, *end, self->data_len);
  if (*end - *begin != t->nbytes)
    FAIL ("data_offsets cover %" G_GSIZE_FORMAT " bytes but the shape and "
          "dtype %s need %" G_GSIZE_FORMAT,
        *end - *begin, dtype_name, t->nbytes);
  t->data = self->data + *begin;
  return TRUE;
#undef FAIL
}

static int
compare_by_data (gconstpointer a, gconstpointer b)
{
  const SoraSafetensor *ta = a, *tb = b;

  if (ta->data != tb->data)
    return ta->data < tb->data ? -1 : 1;
  return ta->nbytes < tb->nbytes ? -1 : ta->nbytes > tb->nbytes;
}

static gboolean
parse_header (
    SoraSafetensors *self, const guint8 *bytes, gsize len, GError **error)
{
  g_autoptr (JsonObject) root = NULL;
  g_autofree char *what = NULL;
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;
  guint64 header_len = 0;
  guint n = 0;

  if (len < 8) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
        "%s: %" G_GSIZE_FORMAT " bytes, too short for a safetensors file",
        self->path, len);
    return FALSE;
  }
  for (int i = 7; i >= 0; i--)
    header_len = header_len << 8 | bytes[i];
  if (header_len > MAX_HEADER_BYTES || header_len > len - 8) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
        "%s: header length %" G_GUINT64_FORMAT
        " is %s (file size %" G_GSIZE_FORMAT ")",
        self->path, header_len,
        header_len > MAX_HEADER_BYTES ? "over 100 MB" : "past the end", len);
    return FALSE;
  }
  self->data = bytes + 8 + header_len;
  self->data_len = len - 8 - header_len;

  what = g_strdup_printf ("%s: header", self->path);
  root = sora_json_parse_object (
      (const char *)bytes + 8, header_len, HEADER_MAX_DEPTH, what, error);
  if (root == NULL)
    return FALSE;

  self->tensors = g_new0 (SoraSafetensor, json_object_get_size (root));
  json_object_iter_init (&iter, root);
  while (json_object_iter_next (&iter, &name, &node)) {
    SoraSafetensor *t = &self->tensors[n];
    gsize begin, end;

    if (strcmp (name, "__metadata__") == 0) {
      if (!parse_metadata (self, node, error))
        return FALSE;
      continue;
    }
    if (!parse_entry (self, name, node, t, &begin, &end, error))
      return FALSE;
    t->name = g_strdup (name);
    t->file = self->path;
    self->n_tensors = ++n; /* counted now so a later failure frees it */
  }

  /* Sorted by position, neighbours must not overlap (empty tensors take no
   * bytes and so overlap nothing). */
  if (n > 1) /* tensors is NULL when n is 0 */
    qsort (self->tensors, n, sizeof (SoraSafetensor), compare_by_data);
  for (guint i = 1; i < n; i++) {
    const SoraSafetensor *prev = &self->tensors[i - 1], *t = &self->tensors[i];
    if (t->nbytes > 0 && prev->nbytes > 0 &&
        t->data < prev->data + prev->nbytes) {
      g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
          "%s: tensor \"%s\" overlaps tensor \"%s\"", self->path, t->name,
          prev->name);
      return FALSE;
    }
  }
  for (guint i = 0; i < n; i++)
    g_hash_table_insert (
        self->by_name, (gpointer)self->tensors[i].name, &self->tensors[i]);
  return TRUE;
}

static SoraSafetensors *
safetensors_new (const char *path)
{
  SoraSafetensors *self = g_new0 (SoraSafetensors, 1);

  self->path = g_strdup (path);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->metadata =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return self;
}

SoraSafetensors *
sora_safetensors_new_from_data (
    const guint8 *data, gsize len, const char *what, GError **error)
{
  g_autoptr (SoraSafetensors) self = safetensors_new (what);

  if (!parse_header (self, data, len, error))
    return NULL;
  return g_steal_pointer (&self);
}

SoraSafetensors *
sora_safetensors_open (const char *path, GError **error)
{
  g_autoptr (SoraSafetensors) self = safetensors_new (path);
  g_autoptr (GError) map_error = NULL;

  self->mapping = g_mapped_file_new (path, FALSE, &map_error);
  if (self->mapping == NULL) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT, "%s: cannot map: %s",
        path, map_error->message);
    return NULL;
  }
  if (!parse_header (self,
          (const guint8 *)g_mapped_file_get_contents (self->mapping),
          g_mapped_file_get_length (self->mapping), error))
    return NULL;
  return g_steal_pointer (&self);
}

void
sora_safetensors_free (SoraSafetensors *self)
{
  if (self == NULL)
    return;
  for (guint i = 0; i < self->n_tensors; i++)
    g_free ((char *)self->tensors[i].name);
  g_free (self->tensors);
  g_hash_table_unref (self->by_name);
  g_hash_table_unref (self->metadata);
  if (self->mapping)
    g_mapped_file_unref (self->mapping);
  g_free (self->path);
  g_free (self);
}

const char *
sora_safetensors_get_path (const SoraSafetensors *self)
{
  return self->path;
}

guint
sora_safetensors_get_n_tensors (const SoraSafetensors *self)
{
  return self->n_tensors;
}

const SoraSafetensor *
sora_safetensors_get_tensor (const SoraSafetensors *self, guint index)
{
  g_return_val_if_fail (index < self->n_tensors, NULL);
  return &self->tensors[index];
}

const SoraSafetensor *
sora_safetensors_find (const SoraSafetensors *self, const char *name)
{
  return g_hash_table_lookup (self->by_name, name);
}

const char *
sora_safetensors_get_metadata (const SoraSafetensors *self, const char *key)
{
  return g_hash_table_lookup (self->metadata, key);
}

gboolean
sora_safetensors_write (
    const char *path, const SoraSafetensor *tensors, guint n, GError **error)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autoptr (GError) io_error = NULL;
  g_autofree char *header = NULL;
  gsize header_len, padded, offset = 0;
  guint8 len_bytes[8];

  json_builder_begin_object (builder);
  for (guint i = 0; i < n; i++) {
    const SoraSafetensor *t = &tensors[i];
    gsize nbytes = sora_safe_dtype_size (t->dtype);

    for (guint d = 0; d < t->ndim; d++)
      nbytes *= t->shape[d];
    json_builder_set_member_name (builder, t->name);
    json_builder_begin_object (builder);
    json_builder_set_member_name (builder, "dtype");
    json_builder_add_string_value (builder, sora_safe_dtype_name (t->dtype));
    json_builder_set_member_name (builder, "shape");
    json_builder_begin_array (builder);
    for (guint d = 0; d < t->ndim; d++)
      json_builder_add_int_value (builder, t->shape[d]);
    json_builder_end_array (builder);
    json_builder_set_member_name (builder, "data_offsets");
    json_builder_begin_array (builder);
    json_builder_add_int_value (builder, offset);
    json_builder_add_int_value (builder, offset + nbytes);
    json_builder_end_array (builder);
    json_builder_end_object (builder);
    offset += nbytes;
  }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (gen, root);
  header = json_generator_to_data (gen, &header_len);

  /* The data area starts 8-byte aligned, as the reference writer pads. */
  padded = header_len + (8 - header_len % 8) % 8;
  for (int i = 0; i < 8; i++)
    len_bytes[i] = (guint8)(padded >> (8 * i));
  g_byte_array_append (out, len_bytes, 8);
  g_byte_array_append (out, (const guint8 *)header, header_len);
  while (out->len % 8)
    g_byte_array_append (out, (const guint8 *)" ", 1);
  for (guint i = 0; i < n; i++) {
    gsize nbytes = sora_safe_dtype_size (tensors[i].dtype);
    for (guint d = 0; d < tensors[i].ndim; d++)
      nbytes *= tensors[i].shape[d];
    g_byte_array_append (out, tensors[i].data, nbytes);
  }
  if (!g_file_set_contents (
          path, (const char *)out->data, out->len, &io_error)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT, "%s: cannot write: %s",
        path, io_error->message);
    return FALSE;
  }
  return TRUE;
}
