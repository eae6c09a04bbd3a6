/* gst-sora tokenizer: the tokenizer.json reader
 *
 * Reads the parts of a Hugging Face tokenizer.json that umT5 uses: the
 * Unigram model, the normalizers, the pre-tokenizers, the added tokens and
 * the post-processor template, with an error naming the key for anything
 * else.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <json-glib/json-glib.h>
#include <string.h>

#include "sora-error.h"
#include "sora-tokenizer-private.h"

/* tokenizers' kUnkPenalty: an unknown char scores min_score - 10. */
#define UNK_PENALTY 10.0

/* ---------------------------------------------------------------- JSON -- */

gboolean
sora_tokenizer_fail (
    GError **error, const char *what, const char *key, const char *fmt, ...)
{
  va_list args;
  char *msg;

  va_start (args, fmt);
  msg = g_strdup_vprintf (fmt, args);
  va_end (args);
  g_set_error (
      error, SORA_ERROR, SORA_ERROR_FORMAT, "%s: \"%s\" %s", what, key, msg);
  g_free (msg);
  return FALSE;
}

/* The member @key of @obj, or NULL (no error) when absent or null. */
static JsonNode *
member (JsonObject *obj, const char *key)
{
  JsonNode *node = json_object_get_member (obj, key);
  return node == NULL || JSON_NODE_HOLDS_NULL (node) ? NULL : node;
}

static gboolean
get_string (JsonObject *obj, const char *key, const char *path,
    gboolean required, const char **out, const char *what, GError **error)
{
  JsonNode *node = member (obj, key);

  *out = NULL;
  if (node == NULL)
    return !required || sora_tokenizer_fail (error, what, path, "is missing");
  if (!JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return sora_tokenizer_fail (error, what, path, "must be a string");
  *out = json_node_get_string (node);
  return TRUE;
}

static gboolean
get_bool (JsonObject *obj, const char *key, const char *path, gboolean fallback,
    gboolean *out, const char *what, GError **error)
{
  JsonNode *node = member (obj, key);

  *out = fallback;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return sora_tokenizer_fail (error, what, path, "must be true or false");
  *out = json_node_get_boolean (node);
  return TRUE;
}

/* An integer in [0, limit), or -1 when absent and !required. */
static gboolean
get_index (JsonNode *node, const char *path, gboolean required, gint64 limit,
    gint32 *out, const char *what, GError **error)
{
  gint64 v;

  *out = -1;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return !required || sora_tokenizer_fail (error, what, path, "is missing");
  if (!JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return sora_tokenizer_fail (error, what, path, "must be an integer");
  v = json_node_get_int (node);
  if (v < 0 || v >= limit)
    return sora_tokenizer_fail (error, what, path,
        "is %" G_GINT64_FORMAT ", outside [0, %" G_GINT64_FORMAT ")", v, limit);
  *out = v;
  return TRUE;
}

static JsonObject *
get_object (JsonNode *node, const char *path, const char *what, GError **error)
{
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node)) {
    sora_tokenizer_fail (
        error, what, path, node == NULL ? "is missing" : "must be an object");
    return NULL;
  }
  return json_node_get_object (node);
}

static JsonArray *
get_array (JsonNode *node, const char *path, const char *what, GError **error)
{
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node)) {
    sora_tokenizer_fail (
        error, what, path, node == NULL ? "is missing" : "must be an array");
    return NULL;
  }
  return json_node_get_array (node);
}

/* Strict base64 as Rust's STANDARD engine wants it: g_base64_decode itself
 * skips bad characters. */
static guint8 *
decode_base64 (const char *text, gsize *len, const char *path, const char *what,
    GError **error)
{
  gsize n = strlen (text), pad = 0;

  if (n == 0 || n % 4 != 0) {
    sora_tokenizer_fail (
        error, what, path, "is not base64 (length %" G_GSIZE_FORMAT ")", n);
    return NULL;
  }
  while (pad < 2 && text[n - 1 - pad] == '=')
    pad++;
  for (gsize i = 0; i < n - pad; i++) {
    char c = text[i];
    if (!g_ascii_isalnum (c) && c != '+' && c != '/') {
      sora_tokenizer_fail (
          error, what, path, "is not base64 (byte %" G_GSIZE_FORMAT ")", i);
      return NULL;
    }
  }
  return g_base64_decode (text, len);
}

/* The string member @key of @obj, named "@path.@key" in errors. */
static gboolean
get_member_string (SoraTokenizer *tok, JsonObject *obj, const char *path,
    const char *key, gboolean required, const char **out, GError **error)
{
  g_autofree char *at = g_strconcat (path, ".", key, NULL);

  return get_string (obj, key, at, required, out, tok->what, error);
}

/* The boolean member @key of @obj, named "@path.@key" in errors. */
static gboolean
get_member_bool (SoraTokenizer *tok, JsonObject *obj, const char *path,
    const char *key, gboolean fallback, gboolean *out, GError **error)
{
  g_autofree char *at = g_strconcat (path, ".", key, NULL);

  return get_bool (obj, key, at, fallback, out, tok->what, error);
}

static gboolean
unsupported (SoraTokenizer *tok, const char *path, const char *key,
    const char *value, GError **error)
{
  g_autofree char *at = g_strconcat (path, ".", key, NULL);

  return sora_tokenizer_fail (
      error, tok->what, at, "\"%s\" is not supported", value);
}

typedef gboolean (*ParseFunc) (
    SoraTokenizer *tok, JsonNode *node, const char *path, GError **error);

/* A "Sequence": every element of its array @key, in order, by @parse. */
static gboolean
parse_sequence (SoraTokenizer *tok, JsonObject *obj, const char *path,
    const char *key, ParseFunc parse, GError **error)
{
  g_autofree char *at = g_strconcat (path, ".", key, NULL);
  JsonArray *list = get_array (member (obj, key), at, tok->what, error);

  if (list == NULL)
    return FALSE;
  for (guint i = 0; i < json_array_get_length (list); i++) {
    g_autofree char *item = g_strdup_printf ("%s[%u]", at, i);
    if (!parse (tok, json_array_get_element (list, i), item, error))
      return FALSE;
  }
  return TRUE;
}

/* --------------------------------------------------------- normalizer -- */

static void
normalizer_clear (Normalizer *n)
{
  sora_charsmap_free (n->map);
  if (n->regex)
    g_regex_unref (n->regex);
  g_free (n->content);
}

static gboolean
parse_precompiled (SoraTokenizer *tok, JsonObject *obj, const char *path,
    Normalizer *n, GError **error)
{
  g_autofree char *key = g_strconcat (path, ".precompiled_charsmap", NULL);
  g_autofree char *where = NULL;
  g_autofree guint8 *blob = NULL;
  const char *b64;
  gsize len;

  if (!get_string (
          obj, "precompiled_charsmap", key, TRUE, &b64, tok->what, error))
    return FALSE;
  blob = decode_base64 (b64, &len, key, tok->what, error);
  if (blob == NULL)
    return FALSE;
  where = g_strdup_printf ("%s: \"%s\"", tok->what, key);
  n->kind = NORM_PRECOMPILED;
  n->map = sora_charsmap_new (blob, len, where, error);
  return n->map != NULL;
}

static gboolean
parse_replace (SoraTokenizer *tok, JsonObject *obj, const char *path,
    Normalizer *n, GError **error)
{
  g_autofree char *key = g_strconcat (path, ".pattern", NULL);
  g_autofree char *escaped = NULL;
  JsonObject *pattern =
      get_object (member (obj, "pattern"), key, tok->what, error);
  const char *literal = NULL, *regex = NULL, *content;
  GError *re_error = NULL;

  if (pattern == NULL ||
      !get_string (pattern, "String", key, FALSE, &literal, tok->what, error) ||
      !get_string (pattern, "Regex", key, FALSE, &regex, tok->what, error))
    return FALSE;
  if ((literal == NULL) == (regex == NULL))
    return sora_tokenizer_fail (
        error, tok->what, key, "needs one of String or Regex");
  escaped = literal ? g_regex_escape_string (literal, -1) : NULL;
  n->kind = NORM_REPLACE;
  n->regex = g_regex_new (literal ? escaped : regex, 0, 0, &re_error);
  if (n->regex == NULL) {
    sora_tokenizer_fail (
        error, tok->what, key, "is not a usable regex: %s", re_error->message);
    g_error_free (re_error);
    return FALSE;
  }
  if (!get_member_string (tok, obj, path, "content", TRUE, &content, error))
    return FALSE;
  n->content = g_strdup (content);
  return TRUE;
}

static gboolean
parse_normalizer (
    SoraTokenizer *tok, JsonNode *node, const char *path, GError **error)
{
  JsonObject *obj = get_object (node, path, tok->what, error);
  Normalizer n = { 0 };
  const char *type;
  gboolean ok;

  if (obj == NULL ||
      !get_member_string (tok, obj, path, "type", TRUE, &type, error))
    return FALSE;
  if (strcmp (type, "Sequence") == 0)
    return parse_sequence (
        tok, obj, path, "normalizers", parse_normalizer, error);
  if (strcmp (type, "Precompiled") == 0) {
    ok = parse_precompiled (tok, obj, path, &n, error);
  } else if (strcmp (type, "Replace") == 0) {
    ok = parse_replace (tok, obj, path, &n, error);
  } else if (strcmp (type, "Strip") == 0) {
    n.kind = NORM_STRIP;
    ok = get_member_bool (tok, obj, path, "strip_left", TRUE, &n.left, error) &&
        get_member_bool (tok, obj, path, "strip_right", TRUE, &n.right, error);
  } else {
    ok = unsupported (tok, path, "type", type, error);
  }
  if (ok)
    g_array_append_val (tok->normalizers, n);
  else
    normalizer_clear (&n);
  return ok;
}

/* ------------------------------------------------------ pre-tokenizer -- */

/* As tokenizers reads it: add_prefix_space false means never, else
 * prepend_scheme decides, always by default. */
static gboolean
parse_prepend (SoraTokenizer *tok, JsonObject *obj, const char *path,
    Prepend *out, GError **error)
{
  g_autofree char *key = g_strconcat (path, ".prepend_scheme", NULL);
  gboolean has_prefix_space = member (obj, "add_prefix_space") != NULL;
  gboolean prefix_space;
  const char *scheme;

  if (!get_member_bool (
          tok, obj, path, "add_prefix_space", TRUE, &prefix_space, error) ||
      !get_string (
          obj, "prepend_scheme", key, FALSE, &scheme, tok->what, error))
    return FALSE;
  if (has_prefix_space && !prefix_space && scheme != NULL)
    return sora_tokenizer_fail (
        error, tok->what, key, "contradicts add_prefix_space");
  if (has_prefix_space && !prefix_space)
    *out = PREPEND_NEVER;
  else if (scheme == NULL || strcmp (scheme, "always") == 0)
    *out = PREPEND_ALWAYS;
  else if (strcmp (scheme, "first") == 0)
    *out = PREPEND_FIRST;
  else if (strcmp (scheme, "never") == 0)
    *out = PREPEND_NEVER;
  else
    return unsupported (tok, path, "prepend_scheme", scheme, error);
  return TRUE;
}

static gboolean
parse_metaspace (SoraTokenizer *tok, JsonObject *obj, const char *path,
    PreTokenizer *p, GError **error)
{
  g_autofree char *key = g_strconcat (path, ".replacement", NULL);
  const char *rep;

  if (!get_string (obj, "replacement", key, TRUE, &rep, tok->what, error))
    return FALSE;
  if (g_utf8_strlen (rep, -1) != 1 || strlen (rep) >= 8)
    return sora_tokenizer_fail (error, tok->what, key, "must be one character");
  strcpy (p->replacement, rep);
  return get_member_bool (tok, obj, path, "split", TRUE, &p->split, error) &&
      parse_prepend (tok, obj, path, &p->prepend, error);
}

static gboolean
parse_pre_tokenizer (
    SoraTokenizer *tok, JsonNode *node, const char *path, GError **error)
{
  JsonObject *obj = get_object (node, path, tok->what, error);
  PreTokenizer p = { 0 };
  const char *type;

  if (obj == NULL ||
      !get_member_string (tok, obj, path, "type", TRUE, &type, error))
    return FALSE;
  if (strcmp (type, "Sequence") == 0)
    return parse_sequence (
        tok, obj, path, "pretokenizers", parse_pre_tokenizer, error);
  if (strcmp (type, "WhitespaceSplit") == 0)
    p.whitespace_split = TRUE;
  else if (strcmp (type, "Metaspace") != 0)
    return unsupported (tok, path, "type", type, error);
  else if (!parse_metaspace (tok, obj, path, &p, error))
    return FALSE;
  g_array_append_val (tok->pre, p);
  return TRUE;
}

static gboolean
parse_model (SoraTokenizer *tok, JsonNode *node, GError **error)
{
  JsonObject *obj = get_object (node, "model", tok->what, error);
  const char *type;
  JsonArray *vocab;
  double min_score = G_MAXDOUBLE;
  TrieNode root = { -1, -1, -1, 0 };

  if (obj == NULL ||
      !get_string (obj, "type", "model.type", TRUE, &type, tok->what, error))
    return FALSE;
  if (strcmp (type, "Unigram") != 0)
    return sora_tokenizer_fail (error, tok->what, "model.type",
        "\"%s\" is not supported(only Unigram)", type);
  vocab = get_array (member (obj, "vocab"), "model.vocab", tok->what, error);
  if (vocab == NULL)
    return FALSE;
  if (json_array_get_length (vocab) == 0)
    return sora_tokenizer_fail (error, tok->what, "model.vocab", "is empty");
  if (json_array_get_length (vocab) >= G_MAXINT32)
    return sora_tokenizer_fail (
        error, tok->what, "model.vocab", "is too large");
  tok->n_vocab = json_array_get_length (vocab);
  tok->scores = g_new (double, tok->n_vocab);
  g_array_append_val (tok->trie, root);
  for (guint i = 0; i < tok->n_vocab; i++) {
    JsonNode *entry = json_array_get_element (vocab, i);
    JsonArray *pair =
        JSON_NODE_HOLDS_ARRAY (entry) ? json_node_get_array (entry) : NULL;
    JsonNode *piece = pair && json_array_get_length (pair) == 2
        ? json_array_get_element (pair, 0)
        : NULL;
    JsonNode *score = piece ? json_array_get_element (pair, 1) : NULL;
    GType st = score && JSON_NODE_HOLDS_VALUE (score)
        ? json_node_get_value_type (score)
        : G_TYPE_INVALID;

    if (piece == NULL || !JSON_NODE_HOLDS_VALUE (piece) ||
        json_node_get_value_type (piece) != G_TYPE_STRING ||
        (st != G_TYPE_DOUBLE && st != G_TYPE_INT64)) {
      char *key = g_strdup_printf ("model.vocab[%u]", i);
      sora_tokenizer_fail (error, tok->what, key, "must be [string, number]");
      g_free (key);
      return FALSE;
    }
    tok->scores[i] = json_node_get_double (score);
    min_score = MIN (min_score, tok->scores[i]);
    g_hash_table_insert (tok->piece_ids,
        g_strdup (json_node_get_string (piece)), GINT_TO_POINTER (i + 1));
    sora_tokenizer_trie_insert (tok->trie, json_node_get_string (piece), i);
  }
  tok->unk_score = min_score - UNK_PENALTY;
  return get_index (member (obj, "unk_id"), "model.unk_id", FALSE, tok->n_vocab,
             &tok->unk_id, tok->what, error) &&
      get_bool (obj, "byte_fallback", "model.byte_fallback", FALSE,
          &tok->byte_fallback, tok->what, error);
}

/* ---------------------------------------------- added tokens, template -- */

static gboolean
parse_added_tokens (SoraTokenizer *tok, JsonNode *node, GError **error)
{
  JsonArray *list;

  if (node == NULL)
    return TRUE;
  list = get_array (node, "added_tokens", tok->what, error);
  if (list == NULL)
    return FALSE;
  for (guint i = 0; i < json_array_get_length (list); i++) {
    char *key = g_strdup_printf ("added_tokens[%u]", i);
    g_autofree char *id_key = g_strdup_printf ("added_tokens[%u].id", i);
    JsonObject *obj =
        get_object (json_array_get_element (list, i), key, tok->what, error);
    AddedToken a = { 0 };
    const char *content = NULL;
    gboolean ok = obj != NULL &&
        get_string (obj, "content", key, TRUE, &content, tok->what, error) &&
        get_index (member (obj, "id"), id_key, TRUE, G_MAXINT32, &a.id,
            tok->what, error) &&
        get_bool (
            obj, "single_word", key, FALSE, &a.single_word, tok->what, error) &&
        get_bool (obj, "lstrip", key, FALSE, &a.lstrip, tok->what, error) &&
        get_bool (obj, "rstrip", key, FALSE, &a.rstrip, tok->what, error) &&
        get_bool (
            obj, "normalized", key, TRUE, &a.normalized, tok->what, error);

    g_free (key);
    if (!ok)
      return FALSE;
    if (a.normalized) {
      /* Matched against normalized text, so normalized itself. */
      GString *s = g_string_new (content);
      sora_tokenizer_normalize (tok, s);
      a.content = g_string_free (s, FALSE);
    } else {
      a.content = g_strdup (content);
    }
    g_array_append_val (tok->added, a);
  }
  return TRUE;
}

/* TemplateProcessing "single": the special tokens around $A. */
static gboolean
parse_post_processor (SoraTokenizer *tok, JsonNode *node, GError **error)
{
  JsonObject *obj, *specials;
  JsonArray *single;
  const char *type;
  GArray *side = tok->prefix;

  if (node == NULL)
    return TRUE;
  obj = get_object (node, "post_processor", tok->what, error);
  if (obj == NULL ||
      !get_string (
          obj, "type", "post_processor.type", TRUE, &type, tok->what, error))
    return FALSE;
  if (strcmp (type, "TemplateProcessing") != 0)
    return sora_tokenizer_fail (error, tok->what, "post_processor.type",
        "\"%s\" is notsupported", type);
  single = get_array (
      member (obj, "single"), "post_processor.single", tok->what, error);
  specials = single ? get_object (member (obj, "special_tokens"),
                          "post_processor.special_tokens", tok->what, error)
                    : NULL;
  if (specials == NULL)
    return FALSE;
  for (guint i = 0; i < json_array_get_length (single); i++) {
    char *key = g_strdup_printf ("post_processor.single[%u]", i);
    JsonObject *item = get_object (
                   json_array_get_element (single, i), key, tok->what, error),
               *special = NULL, *entry = NULL;
    const char *name = NULL;
    JsonArray *ids = NULL;
    gboolean ok = item != NULL;

    if (ok && member (item, "Sequence") != NULL) {
      side = tok->suffix;
    } else if (ok) {
      special =
          get_object (member (item, "SpecialToken"), key, tok->what, error);
      ok = special != NULL &&
          get_string (special, "id", key, TRUE, &name, tok->what, error);
      if (ok) {
        g_free (key);
        key = g_strdup_printf ("post_processor.special_tokens.%s", name);
        entry = get_object (member (specials, name), key, tok->what, error);
        ok = entry != NULL;
      }
      ids =
          ok ? get_array (member (entry, "ids"), key, tok->what, error) : NULL;
      for (guint j = 0; ids != NULL && j < json_array_get_length (ids); j++) {
        gint32 id;
        ok = get_index (json_array_get_element (ids, j), key, TRUE, G_MAXINT32,
            &id, tok->what, error);
        if (!ok)
          break;
        g_array_append_val (side, id);
      }
      ok = ok && ids != NULL;
    }
    g_free (key);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

/* ---------------------------------------------------------------- API -- */

void
sora_tokenizer_free (SoraTokenizer *tok)
{
  if (tok == NULL)
    return;
  for (guint i = 0; i < tok->normalizers->len; i++)
    normalizer_clear (&g_array_index (tok->normalizers, Normalizer, i));
  for (guint i = 0; i < tok->added->len; i++)
    g_free (g_array_index (tok->added, AddedToken, i).content);
  g_array_free (tok->normalizers, TRUE);
  g_array_free (tok->pre, TRUE);
  g_array_free (tok->added, TRUE);
  g_array_free (tok->trie, TRUE);
  g_array_free (tok->prefix, TRUE);
  g_array_free (tok->suffix, TRUE);
  g_hash_table_unref (tok->piece_ids);
  g_free (tok->scores);
  g_free (tok->what);
  g_free (tok);
}

SoraTokenizer *
sora_tokenizer_new_from_data (
    const char *json, gsize len, const char *what, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (SoraTokenizer) tok = g_new0 (SoraTokenizer, 1);
  GError *json_error = NULL;
  JsonObject *root;
  JsonNode *node;
  gint32 pad;

  tok->what = g_strdup (what ? what : "tokenizer.json");
  tok->normalizers = g_array_new (FALSE, FALSE, sizeof (Normalizer));
  tok->pre = g_array_new (FALSE, FALSE, sizeof (PreTokenizer));
  tok->added = g_array_new (FALSE, FALSE, sizeof (AddedToken));
  tok->trie = g_array_new (FALSE, FALSE, sizeof (TrieNode));
  tok->prefix = g_array_new (FALSE, FALSE, sizeof (gint32));
  tok->suffix = g_array_new (FALSE, FALSE, sizeof (gint32));
  tok->piece_ids =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  if (!json_parser_load_from_data (parser, json, len, &json_error)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT, "%s: not JSON: %s",
        tok->what, json_error->message);
    g_error_free (json_error);
    return NULL;
  }
  node = json_parser_get_root (parser);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
        "%s: not a JSON "
        "object",
        tok->what);
    return NULL;
  }
  root = json_node_get_object (node);
  if (!parse_model (tok, json_object_get_member (root, "model"), error) ||
      ((node = member (root, "normalizer")) != NULL &&
          !parse_normalizer (tok, node, "normalizer", error)) ||
      ((node = member (root, "pre_tokenizer")) != NULL &&
          !parse_pre_tokenizer (tok, node, "pre_tokenizer", error)) ||
      !parse_added_tokens (tok, member (root, "added_tokens"), error) ||
      !parse_post_processor (tok, member (root, "post_processor"), error))
    return NULL;

  pad = sora_tokenizer_piece_id (tok, "<pad>");
  for (guint i = 0; i < tok->added->len; i++)
    if (strcmp (g_array_index (tok->added, AddedToken, i).content, "<pad>") ==
        0)
      pad = g_array_index (tok->added, AddedToken, i).id;
  tok->pad_id = MAX (pad, 0);
  return g_steal_pointer (&tok);
}

SoraTokenizer *
sora_tokenizer_new_from_file (const char *path, GError **error)
{
  char *data;
  gsize len;
  SoraTokenizer *tok;

  if (!g_file_get_contents (path, &data, &len, error))
    return NULL;
  tok = sora_tokenizer_new_from_data (data, len, path, error);
  g_free (data);
  return tok;
}
