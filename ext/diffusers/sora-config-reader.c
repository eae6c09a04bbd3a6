/* gst-sora: reading a config.json with errors that name the file and the
 * key
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdarg.h>

#include "sora-config-reader.h"
#include "sora-error.h"
#include "sora-safetensors.h"

#define CONFIG_MAX_DEPTH 8

gboolean G_GNUC_PRINTF (3, 4)
    sora_config_bad_key (Reader *r, const char *key, const char *fmt, ...)
{
  g_autofree char *why = NULL;
  va_list ap;

  va_start (ap, fmt);
  why = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (r->error, SORA_ERROR, SORA_ERROR_MODEL, "%s: \"%s%s\" %s",
      r->what, r->prefix ? r->prefix : "", key, why);
  return FALSE;
}

/* NULL when the key is absent (the default applies). */
JsonNode *
sora_config_member (Reader *r, const char *key)
{
  return json_object_get_member (r->obj, key);
}

/* Whether @n is a JSON value of @type (G_TYPE_INT64 for an integer). */
gboolean
sora_config_node_is (JsonNode *n, GType type)
{
  return JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == type;
}

gboolean
sora_config_node_is_number (JsonNode *n)
{
  return JSON_NODE_HOLDS_VALUE (n) &&
      (json_node_get_value_type (n) == G_TYPE_INT64 ||
          json_node_get_value_type (n) == G_TYPE_DOUBLE);
}

static gboolean
int_in_range (JsonNode *n, guint min, guint max, guint *out)
{
  gint64 v;

  if (!sora_config_node_is (n, G_TYPE_INT64))
    return FALSE;
  v = json_node_get_int (n);
  if (v < min || v > max)
    return FALSE;
  *out = (guint)v;
  return TRUE;
}

/* @nullable: null means "none" and gives 0. */
gboolean
sora_config_read_uint (Reader *r, const char *key, guint def, guint min,
    guint max, gboolean nullable, guint *out)
{
  JsonNode *n = sora_config_member (r, key);

  *out = def;
  if (n == NULL || (nullable && JSON_NODE_HOLDS_NULL (n))) {
    if (n != NULL)
      *out = 0;
    return TRUE;
  }
  if (!int_in_range (n, min, max, out))
    return sora_config_bad_key (r, key, "must be an integer in [%u, %u]%s", min,
        max, nullable ? " or null" : "");
  return TRUE;
}

/* A number in [@min, @max] (NaN is not). */
gboolean
sora_config_number_in (JsonNode *n, double min, double max, double *out)
{
  if (!sora_config_node_is_number (n) || !(json_node_get_double (n) >= min) ||
      !(json_node_get_double (n) <= max))
    return FALSE;
  *out = json_node_get_double (n);
  return TRUE;
}

gboolean
sora_config_read_double (
    Reader *r, const char *key, double def, double min, double max, double *out)
{
  JsonNode *n = sora_config_member (r, key);

  *out = def;
  if (n == NULL)
    return TRUE;
  if (!sora_config_node_is_number (n) || !(json_node_get_double (n) > min) ||
      !(json_node_get_double (n) < max))
    return sora_config_bad_key (
        r, key, "must be a number in (%g, %g)", min, max);
  *out = json_node_get_double (n);
  return TRUE;
}

gboolean
sora_config_read_bool (Reader *r, const char *key, gboolean def, gboolean *out)
{
  JsonNode *n = sora_config_member (r, key);

  *out = def;
  if (n == NULL)
    return TRUE;
  if (!sora_config_node_is (n, G_TYPE_BOOLEAN))
    return sora_config_bad_key (r, key, "must be true or false");
  *out = json_node_get_boolean (n);
  return TRUE;
}

/* A string key that must hold one of the NULL-terminated @allowed values
 * (the engine implements no others); gives its index, 0 (the default) when
 * the key is absent. */
gboolean
sora_config_read_choice (
    Reader *r, const char *key, const char *const *allowed, guint *out)
{
  JsonNode *n = sora_config_member (r, key);
  const char *s;

  *out = 0;
  if (n == NULL)
    return TRUE;
  if (!sora_config_node_is (n, G_TYPE_STRING))
    return sora_config_bad_key (r, key, "must be a string");
  s = json_node_get_string (n);
  for (guint i = 0; allowed[i]; i++)
    if (strcmp (s, allowed[i]) == 0) {
      *out = i;
      return TRUE;
    }
  {
    g_autofree char *list = g_strjoinv ("\", \"", (char **)allowed);
    return sora_config_bad_key (
        r, key, "is \"%s\"; supported: \"%s\"", s, list);
  }
}

/* An array of @min_len..@max_len elements (the caller checks them). */
JsonArray *
sora_config_read_array (
    Reader *r, const char *key, guint min_len, guint max_len)
{
  JsonNode *n = sora_config_member (r, key);
  JsonArray *a;

  if (!JSON_NODE_HOLDS_ARRAY (n)) {
    sora_config_bad_key (r, key, "must be an array");
    return NULL;
  }
  a = json_node_get_array (n);
  if (json_array_get_length (a) < min_len ||
      json_array_get_length (a) > max_len) {
    sora_config_bad_key (r, key, "must have %u to %u entries, not %u", min_len,
        max_len, json_array_get_length (a));
    return NULL;
  }
  return a;
}

/* A config.json "_class_name" (diffusers) must match when present. */
gboolean
sora_config_check_class (Reader *r, const char *key, const char *want)
{
  JsonNode *n = sora_config_member (r, key);

  if (n == NULL)
    return TRUE;
  if (!sora_config_node_is (n, G_TYPE_STRING) ||
      strcmp (json_node_get_string (n), want) != 0)
    return sora_config_bad_key (r, key, "must be \"%s\"", want);
  return TRUE;
}

/* An array of @min_len..@max_len integers in [@min, @max] into @out, its
 * length into @n_out when not NULL; @why is the error for a bad entry. */
gboolean
sora_config_read_uint_array (Reader *r, const char *key, guint min_len,
    guint max_len, guint min, guint max, const char *why, guint *out,
    guint *n_out)
{
  JsonArray *a = sora_config_read_array (r, key, min_len, max_len);

  if (a == NULL)
    return FALSE;
  for (guint i = 0; i < json_array_get_length (a); i++)
    if (!int_in_range (json_array_get_element (a, i), min, max, &out[i]))
      return sora_config_bad_key (r, key, "%s", why);
  if (n_out != NULL)
    *n_out = json_array_get_length (a);
  return TRUE;
}

JsonObject *
sora_config_parse_json (
    const char *json, gsize len, const char *what, GError **error)
{
  return sora_json_parse_object (json, len, CONFIG_MAX_DEPTH, what, error);
}
