/* gst-sora: reading a config.json with errors that name the file and the
 * key, for the config parsers (sora-wan-config.c) only
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_CONFIG_READER_H__
#define __SORA_CONFIG_READER_H__

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Bound on every size so products of a few of them cannot overflow. */
#define MAX_DIM (1u << 20)

typedef struct
{
  JsonObject *obj;
  const char *what;
  GError **error;
  /* NULL for top-level keys; "parent." for the keys of a nested object */
  const char *prefix;
} Reader;

/* Each documented at its definition: a key of @r's object read or checked,
 * a bad value reported in *@r->error naming @r->what and the key. */
gboolean sora_config_bad_key (Reader *r, const char *key, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);
JsonNode *sora_config_member (Reader *r, const char *key);
gboolean sora_config_node_is_number (JsonNode *n);
gboolean sora_config_node_is (JsonNode *n, GType type);
gboolean sora_config_read_uint_array (Reader *r, const char *key, guint min_len,
    guint max_len, guint min, guint max, const char *why, guint *out,
    guint *n_out);
gboolean sora_config_read_uint (Reader *r, const char *key, guint def,
    guint min, guint max, gboolean nullable, guint *out);
gboolean sora_config_number_in (
    JsonNode *n, double min, double max, double *out);
gboolean sora_config_read_double (Reader *r, const char *key, double def,
    double min, double max, double *out);
gboolean sora_config_read_bool (
    Reader *r, const char *key, gboolean def, gboolean *out);
gboolean sora_config_read_choice (
    Reader *r, const char *key, const char *const *allowed, guint *out);
JsonArray *sora_config_read_array (
    Reader *r, const char *key, guint min_len, guint max_len);
gboolean sora_config_check_class (Reader *r, const char *key, const char *want);
JsonObject *sora_config_parse_json (
    const char *json, gsize len, const char *what, GError **error);

G_END_DECLS

#endif /* __SORA_CONFIG_READER_H__ */
