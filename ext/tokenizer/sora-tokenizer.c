/* gst-sora tokenizer: Hugging Face tokenizer.json (umT5's Unigram)
 *
 * Reproduces the tokenizers library (Rust) step by step: added-token split on
 * the raw text, normalizer, added-token split on the normalized text,
 * pre-tokenizer, Unigram Viterbi (encode_optimized), post-processor
 * template, truncation and padding.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <json-glib/json-glib.h>
#include <string.h>

#include "sora-charsmap.h"
#include "sora-error.h"
#include "sora-tokenizer.h"

/* tokenizers' kUnkPenalty: an unknown char scores min_score - 10. */
#define UNK_PENALTY 10.0

typedef enum {
  NORM_PRECOMPILED,
  NORM_REPLACE,
  NORM_STRIP,
} NormKind;

typedef struct
{
  NormKind kind;
  SoraCharsmap *map;
  GRegex *regex; /* Replace: the pattern, literal or not */
  char *content;
  gboolean left, right; /* Strip */
} Normalizer;

typedef enum {
  PREPEND_NEVER,
  PREPEND_ALWAYS,
  PREPEND_FIRST,
} Prepend;

typedef struct
{
  gboolean whitespace_split; /* else Metaspace */
  char replacement[8];
  Prepend prepend;
  gboolean split;
} PreTokenizer;

typedef struct
{
  char *content; /* normalized first when normalized */
  gint32 id;
  gboolean single_word, lstrip, rstrip, normalized;
} AddedToken;

typedef struct
{
  gint32 first_child, next, id;
  guint8 byte;
} TrieNode;

struct _SoraTokenizer
{
  char *what;
  GArray *normalizers; /* Normalizer */
  GArray *pre; /* PreTokenizer */
  GArray *added; /* AddedToken */
  /* Unigram */
  guint n_vocab;
  double *scores;
  GHashTable *piece_ids; /* piece -> id + 1: the last id wins */
  GArray *trie; /* TrieNode, [0] is the root */
  double unk_score;
  gint32 unk_id; /* -1: none */
  gboolean byte_fallback;
  /* post-processor and padding */
  GArray *prefix, *suffix; /* gint32 */
  gint32 pad_id;
};

typedef struct
{
  char *text;
  gsize len;
  gboolean first; /* starts at offset 0 of the input */
  gint32 id; /* an added token, or -1 */
} Piece;

/* ---------------------------------------------------------------- JSON -- */

static gboolean fail (GError **error, const char *what, const char *key,
    const char *fmt, ...) G_GNUC_PRINTF (4, 5);

static gboolean
fail (GError **error, const char *what, const char *key, const char *fmt, ...)
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
    return !required || fail (error, what, path, "is missing");
  if (!JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return fail (error, what, path, "must be a string");
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
    return fail (error, what, path, "must be true or false");
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
    return !required || fail (error, what, path, "is missing");
  if (!JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return fail (error, what, path, "must be an integer");
  v = json_node_get_int (node);
  if (v < 0 || v >= limit)
    return fail (error, what, path,
        "is %" G_GINT64_FORMAT ", outside [0, %" G_GINT64_FORMAT ")", v, limit);
  *out = v;
  return TRUE;
}

static JsonObject *
get_object (JsonNode *node, const char *path, const char *what, GError **error)
{
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node)) {
    fail (error, what, path, node == NULL ? "is missing" : "must be an object");
    return NULL;
  }
  return json_node_get_object (node);
}

static JsonArray *
get_array (JsonNode *node, const char *path, const char *what, GError **error)
{
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node)) {
    fail (error, what, path, node == NULL ? "is missing" : "must be an array");
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
    fail (error, what, path, "is not base64 (length %" G_GSIZE_FORMAT ")", n);
    return NULL;
  }
  while (pad < 2 && text[n - 1 - pad] == '=')
    pad++;
  for (gsize i = 0; i < n - pad; i++) {
    char c = text[i];
    if (!g_ascii_isalnum (c) && c != '+' && c != '/') {
      fail (error, what, path, "is not base64 (byte %" G_GSIZE_FORMAT ")", i);
      return NULL;
    }
  }
  return g_base64_decode (text, len);
}

/* ------------------------------------------------------------ Unicode -- */

/* Rust's char::is_whitespace (White_Space). */
static gboolean
is_white_space (gunichar c)
{
  return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 ||
      c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 ||
      c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

typedef struct
{
  gunichar first, last;
} SoraWordRange;

#include "sora-word-table.h"

/* Rust regex's \w (Alphabetic, marks, Nd, Pc, Join_Control) in the Unicode
 * version of tokenizers' regex crate. */
static gboolean
is_word_char (gunichar c)
{
  gsize lo = 0, hi = G_N_ELEMENTS (sora_word_ranges);

  while (lo < hi) {
    gsize mid = (lo + hi) / 2;
    if (c < sora_word_ranges[mid].first)
      hi = mid;
    else if (c > sora_word_ranges[mid].last)
      lo = mid + 1;
    else
      return TRUE;
  }
  return FALSE;
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
parse_normalizer (
    SoraTokenizer *tok, JsonNode *node, const char *path, GError **error)
{
  JsonObject *obj = get_object (node, path, tok->what, error);
  const char *type;
  char *key;
  Normalizer n = { 0 };
  gboolean ok;

  if (obj == NULL)
    return FALSE;
  key = g_strconcat (path, ".type", NULL);
  ok = get_string (obj, "type", key, TRUE, &type, tok->what, error);
  g_free (key);
  if (!ok)
    return FALSE;

  if (strcmp (type, "Sequence") == 0) {
    JsonArray *list;
    key = g_strconcat (path, ".normalizers", NULL);
    list = get_array (member (obj, "normalizers"), key, tok->what, error);
    g_free (key);
    if (list == NULL)
      return FALSE;
    for (guint i = 0; i < json_array_get_length (list); i++) {
      key = g_strdup_printf ("%s.normalizers[%u]", path, i);
      ok = parse_normalizer (tok, json_array_get_element (list, i), key, error);
      g_free (key);
      if (!ok)
        return FALSE;
    }
    return TRUE;
  }

  if (strcmp (type, "Precompiled") == 0) {
    const char *b64;
    guint8 *blob;
    gsize len;

    key = g_strconcat (path, ".precompiled_charsmap", NULL);
    ok = get_string (
        obj, "precompiled_charsmap", key, TRUE, &b64, tok->what, error);
    blob = ok ? decode_base64 (b64, &len, key, tok->what, error) : NULL;
    if (blob != NULL) {
      char *where = g_strdup_printf ("%s: \"%s\"", tok->what, key);
      n.map = sora_charsmap_new (blob, len, where, error);
      g_free (where);
    }
    g_free (blob);
    g_free (key);
    if (n.map == NULL)
      return FALSE;
    n.kind = NORM_PRECOMPILED;
  } else if (strcmp (type, "Replace") == 0) {
    JsonObject *pattern;
    const char *literal = NULL, *regex = NULL, *content;
    GError *re_error = NULL;

    key = g_strconcat (path, ".pattern", NULL);
    pattern = get_object (member (obj, "pattern"), key, tok->what, error);
    ok = pattern != NULL &&
        get_string (
            pattern, "String", key, FALSE, &literal, tok->what, error) &&
        get_string (pattern, "Regex", key, FALSE, &regex, tok->what, error);
    if (ok && (literal == NULL) == (regex == NULL))
      ok = fail (error, tok->what, key, "needs one of String or Regex");
    if (ok) {
      char *escaped = literal ? g_regex_escape_string (literal, -1) : NULL;
      n.regex = g_regex_new (literal ? escaped : regex, 0, 0, &re_error);
      g_free (escaped);
      if (n.regex == NULL) {
        ok = fail (error, tok->what, key, "is not a usable regex: %s",
            re_error->message);
        g_error_free (re_error);
      }
    }
    g_free (key);
    key = g_strconcat (path, ".content", NULL);
    ok = ok &&
        get_string (obj, "content", key, TRUE, &content, tok->what, error);
    g_free (key);
    if (!ok) {
      normalizer_clear (&n);
      return FALSE;
    }
    n.kind = NORM_REPLACE;
    n.content = g_strdup (content);
  } else if (strcmp (type, "Strip") == 0) {
    key = g_strconcat (path, ".strip_left", NULL);
    ok = get_bool (obj, "strip_left", key, TRUE, &n.left, tok->what, error);
    g_free (key);
    key = g_strconcat (path, ".strip_right", NULL);
    ok = ok &&
        get_bool (obj, "strip_right", key, TRUE, &n.right, tok->what, error);
    g_free (key);
    if (!ok)
      return FALSE;
    n.kind = NORM_STRIP;
  } else {
    key = g_strconcat (path, ".type", NULL);
    fail (error, tok->what, key, "\"%s\" is not supported", type);
    g_free (key);
    return FALSE;
  }
  g_array_append_val (tok->normalizers, n);
  return TRUE;
}

/* Runs the normalizers on @s in place. */
static void
normalize (const SoraTokenizer *tok, GString *s)
{
  for (guint i = 0; i < tok->normalizers->len; i++) {
    const Normalizer *n = &g_array_index (tok->normalizers, Normalizer, i);
    GString *out;
    char *replaced;

    switch (n->kind) {
      case NORM_PRECOMPILED:
        out = g_string_sized_new (s->len + 16);
        sora_charsmap_normalize (n->map, s->str, s->len, out);
        g_string_truncate (s, 0);
        g_string_append_len (s, out->str, out->len);
        g_string_free (out, TRUE);
        break;
      case NORM_REPLACE:
        replaced = g_regex_replace_literal (
            n->regex, s->str, s->len, 0, n->content, 0, NULL);
        if (replaced != NULL) {
          g_string_assign (s, replaced);
          g_free (replaced);
        }
        break;
      case NORM_STRIP: {
        const char *start = s->str, *end = s->str + s->len;
        while (
            n->left && start < end && is_white_space (g_utf8_get_char (start)))
          start = g_utf8_next_char (start);
        while (n->right && end > start &&
            is_white_space (g_utf8_get_char (g_utf8_prev_char (end))))
          end = g_utf8_prev_char (end);
        g_string_truncate (s, end - s->str);
        g_string_erase (s, 0, start - s->str);
        break;
      }
    }
  }
}

/* ------------------------------------------------------ pre-tokenizer -- */

static gboolean
parse_pre_tokenizer (
    SoraTokenizer *tok, JsonNode *node, const char *path, GError **error)
{
  JsonObject *obj = get_object (node, path, tok->what, error);
  PreTokenizer p = { 0 };
  const char *type, *rep, *scheme;
  gboolean prefix_space, has_prefix_space;
  char *key;
  gboolean ok;

  if (obj == NULL)
    return FALSE;
  key = g_strconcat (path, ".type", NULL);
  ok = get_string (obj, "type", key, TRUE, &type, tok->what, error);
  if (ok && strcmp (type, "Sequence") == 0) {
    JsonArray *list;
    g_free (key);
    key = g_strconcat (path, ".pretokenizers", NULL);
    list = get_array (member (obj, "pretokenizers"), key, tok->what, error);
    g_free (key);
    if (list == NULL)
      return FALSE;
    for (guint i = 0; i < json_array_get_length (list); i++) {
      key = g_strdup_printf ("%s.pretokenizers[%u]", path, i);
      ok = parse_pre_tokenizer (
          tok, json_array_get_element (list, i), key, error);
      g_free (key);
      if (!ok)
        return FALSE;
    }
    return TRUE;
  }
  if (ok && strcmp (type, "WhitespaceSplit") == 0) {
    g_free (key);
    p.whitespace_split = TRUE;
    g_array_append_val (tok->pre, p);
    return TRUE;
  }
  if (ok && strcmp (type, "Metaspace") != 0)
    ok = fail (error, tok->what, key, "\"%s\" is not supported", type);
  g_free (key);
  if (!ok)
    return FALSE;

  key = g_strconcat (path, ".replacement", NULL);
  ok = get_string (obj, "replacement", key, TRUE, &rep, tok->what, error);
  if (ok && (g_utf8_strlen (rep, -1) != 1 || strlen (rep) >= 8))
    ok = fail (error, tok->what, key, "must be one character");
  if (ok)
    strcpy (p.replacement, rep);
  g_free (key);
  key = g_strconcat (path, ".split", NULL);
  ok = ok && get_bool (obj, "split", key, TRUE, &p.split, tok->what, error);
  g_free (key);
  key = g_strconcat (path, ".add_prefix_space", NULL);
  has_prefix_space = member (obj, "add_prefix_space") != NULL;
  ok = ok &&
      get_bool (
          obj, "add_prefix_space", key, TRUE, &prefix_space, tok->what, error);
  g_free (key);
  key = g_strconcat (path, ".prepend_scheme", NULL);
  ok = ok &&
      get_string (obj, "prepend_scheme", key, FALSE, &scheme, tok->what, error);
  if (ok) {
    /* As tokenizers reads it: add_prefix_space false means never, else
     * prepend_scheme decides, always by default. */
    if (has_prefix_space && !prefix_space && scheme != NULL)
      ok = fail (error, tok->what, key, "contradicts add_prefix_space");
    else if (has_prefix_space && !prefix_space)
      p.prepend = PREPEND_NEVER;
    else if (scheme == NULL || strcmp (scheme, "always") == 0)
      p.prepend = PREPEND_ALWAYS;
    else if (strcmp (scheme, "first") == 0)
      p.prepend = PREPEND_FIRST;
    else if (strcmp (scheme, "never") == 0)
      p.prepend = PREPEND_NEVER;
    else
      ok = fail (error, tok->what, key, "\"%s\" is not supported", scheme);
  }
  g_free (key);
  if (ok)
    g_array_append_val (tok->pre, p);
  return ok;
}

static void
piece_add (
    GArray *pieces, const char *text, gsize len, gboolean first, gint32 id)
{
  Piece p = { g_strndup (text, len), len, first, id };

  /* tokenizers drops empty splits. */
  if (len > 0)
    g_array_append_val (pieces, p);
  else
    g_free (p.text);
}

static void
piece_clear (Piece *p)
{
  g_free (p->text);
}

/* Applies @p to every text piece of @in, giving @out. */
static void
pre_tokenize (const PreTokenizer *p, GArray *in, GArray *out)
{
  for (guint i = 0; i < in->len; i++) {
    Piece *w = &g_array_index (in, Piece, i);
    const char *s, *end, *start;
    GString *m;

    if (w->id >= 0) {
      piece_add (out, w->text, w->len, w->first, w->id);
      continue;
    }
    if (p->whitespace_split) {
      s = w->text;
      end = w->text + w->len;
      while (s < end) {
        while (s < end && is_white_space (g_utf8_get_char (s)))
          s = g_utf8_next_char (s);
        start = s;
        while (s < end && !is_white_space (g_utf8_get_char (s)))
          s = g_utf8_next_char (s);
        piece_add (out, start, s - start, w->first && start == w->text, -1);
      }
      continue;
    }

    /* Metaspace: every ' ' becomes the replacement, which may be
     * prepended, then each replacement starts a new word. */
    m = g_string_sized_new (w->len + 8);
    for (s = w->text; s < w->text + w->len; s++) {
      if (*s == ' ')
        g_string_append (m, p->replacement);
      else
        g_string_append_c (m, *s);
    }
    if ((p->prepend == PREPEND_ALWAYS ||
            (p->prepend == PREPEND_FIRST && w->first)) &&
        !g_str_has_prefix (m->str, p->replacement))
      g_string_prepend (m, p->replacement);
    if (!p->split) {
      piece_add (out, m->str, m->len, w->first, -1);
    } else {
      gsize rlen = strlen (p->replacement);
      start = m->str;
      end = m->str + m->len;
      for (s = m->str; s < end; s = g_utf8_next_char (s)) {
        if (s > start && strncmp (s, p->replacement, rlen) == 0) {
          piece_add (out, start, s - start, w->first && start == m->str, -1);
          start = s;
        }
      }
      piece_add (out, start, end - start, w->first && start == m->str, -1);
    }
    g_string_free (m, TRUE);
  }
}

/* ------------------------------------------------------- added tokens -- */

/* Cuts the added tokens of one pass (normalized or not) out of @text, as
 * tokenizers' AddedVocabulary::find_matches: leftmost-longest matches, with
 * single_word, lstrip and rstrip. */
static void
split_added (const SoraTokenizer *tok, gboolean normalized, const char *text,
    gsize len, gboolean first, GArray *out)
{
  gsize pos = 0, done = 0;

  while (pos < len) {
    gsize start = pos, stop = 0;
    const AddedToken *best = NULL;

    /* The leftmost position where some token matches, longest there. */
    for (; start < len && best == NULL; start++) {
      for (guint i = 0; i < tok->added->len; i++) {
        const AddedToken *a = &g_array_index (tok->added, AddedToken, i);
        gsize n = strlen (a->content);
        if (a->normalized == normalized && n > 0 && n <= len - start &&
            (best == NULL || n > strlen (best->content)) &&
            memcmp (text + start, a->content, n) == 0)
          best = a;
      }
    }
    if (best == NULL)
      break;
    start--;
    stop = start + strlen (best->content);
    pos = stop;

    if (best->single_word &&
        ((start > 0 &&
             is_word_char (
                 g_utf8_get_char (g_utf8_prev_char (text + start)))) ||
            (stop < len && is_word_char (g_utf8_get_char (text + stop)))))
      continue;
    if (best->lstrip) {
      gsize s = start;
      while (s > 0 &&
          is_white_space (g_utf8_get_char (g_utf8_prev_char (text + s))))
        s = g_utf8_prev_char (text + s) - text;
      start = MAX (s, done);
    }
    if (best->rstrip)
      while (stop < len && is_white_space (g_utf8_get_char (text + stop)))
        stop = g_utf8_next_char (text + stop) - text;
    if (done < start)
      piece_add (out, text + done, start - done, first && done == 0, -1);
    piece_add (out, text + start, stop - start, FALSE, best->id);
    done = stop;
  }
  if (done < len)
    piece_add (out, text + done, len - done, first && done == 0, -1);
}

/* ------------------------------------------------------------ Unigram -- */

static gint32
piece_id (const SoraTokenizer *tok, const char *piece)
{
  return GPOINTER_TO_INT (g_hash_table_lookup (tok->piece_ids, piece)) - 1;
}

static void
trie_insert (GArray *trie, const char *key, gint32 id)
{
  gint32 node = 0;

  for (const guint8 *c = (const guint8 *)key; *c; c++) {
    gint32 child = g_array_index (trie, TrieNode, node).first_child;
    while (child >= 0 && g_array_index (trie, TrieNode, child).byte != *c)
      child = g_array_index (trie, TrieNode, child).next;
    if (child < 0) {
      TrieNode n = { -1, g_array_index (trie, TrieNode, node).first_child, -1,
        *c };
      child = trie->len;
      g_array_append_val (trie, n);
      g_array_index (trie, TrieNode, node).first_child = child;
    }
    node = child;
  }
  g_array_index (trie, TrieNode, node).id = id;
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
    return fail (error, tok->what, "model.type",
        "\"%s\" is not supported "
        "(only Unigram)",
        type);
  vocab = get_array (member (obj, "vocab"), "model.vocab", tok->what, error);
  if (vocab == NULL)
    return FALSE;
  if (json_array_get_length (vocab) == 0)
    return fail (error, tok->what, "model.vocab", "is empty");
  if (json_array_get_length (vocab) >= G_MAXINT32)
    return fail (error, tok->what, "model.vocab", "is too large");
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
      fail (error, tok->what, key, "must be [string, number]");
      g_free (key);
      return FALSE;
    }
    tok->scores[i] = json_node_get_double (score);
    min_score = MIN (min_score, tok->scores[i]);
    g_hash_table_insert (tok->piece_ids,
        g_strdup (json_node_get_string (piece)), GINT_TO_POINTER (i + 1));
    trie_insert (tok->trie, json_node_get_string (piece), i);
  }
  tok->unk_score = min_score - UNK_PENALTY;
  return get_index (member (obj, "unk_id"), "model.unk_id", FALSE, tok->n_vocab,
             &tok->unk_id, tok->what, error) &&
      get_bool (obj, "byte_fallback", "model.byte_fallback", FALSE,
          &tok->byte_fallback, tok->what, error);
}

typedef struct
{
  double score;
  gint64 start; /* -1: not reached yet */
  gint32 id;
} Best;

typedef struct
{
  gsize start, end;
  gint32 id;
} Span;

/* The ids of one piece of the segmentation: a vocab hit, else (a fused
 * unknown run) its bytes as <0xHH> pieces when byte_fallback has them all,
 * else unk_id. */
static gboolean
emit_piece (const SoraTokenizer *tok, const char *text, gsize len, GArray *ids,
    GError **error)
{
  char *s = g_strndup (text, len);
  gint32 id = piece_id (tok, s);

  g_free (s);
  if (id >= 0) {
    g_array_append_val (ids, id);
    return TRUE;
  }
  if (tok->byte_fallback) {
    guint start = ids->len;
    for (gsize i = 0; i < len; i++) {
      char hex[8];
      g_snprintf (hex, sizeof hex, "<0x%02X>", (guint8)text[i]);
      id = piece_id (tok, hex);
      if (id < 0)
        break;
      g_array_append_val (ids, id);
    }
    if (id >= 0)
      return TRUE;
    g_array_set_size (ids, start);
  }
  if (tok->unk_id < 0)
    return fail (error, tok->what, "model.unk_id",
        "is needed for an "
        "unknown piece");
  g_array_append_val (ids, tok->unk_id);
  return TRUE;
}

/* Appends the ids of @word: the best-scoring segmentation (tokenizers'
 * encode_optimized; on a tie the earlier start wins), with runs of unknown
 * characters fused. */
static gboolean
unigram_encode (const SoraTokenizer *tok, const char *word, gsize n,
    GArray *ids, GError **error)
{
  Best *best = g_new (Best, n + 1);
  GArray *spans = g_array_new (FALSE, FALSE, sizeof (Span));
  gboolean ok = TRUE;

  for (gsize i = 0; i <= n; i++)
    best[i] = (Best){ 0.0, -1, -1 };
  for (gsize start = 0; start < n && ok;) {
    gsize clen = g_utf8_next_char (word + start) - (word + start);
    gboolean has_single = FALSE;
    gint32 node = 0;

    for (gsize end = start; end < n;) {
      const TrieNode *t;
      gint32 child = g_array_index (tok->trie, TrieNode, node).first_child;

      while (child >= 0 &&
          g_array_index (tok->trie, TrieNode, child).byte != (guint8)word[end])
        child = g_array_index (tok->trie, TrieNode, child).next;
      if (child < 0)
        break;
      node = child;
      end++;
      t = &g_array_index (tok->trie, TrieNode, node);
      if (t->id >= 0) {
        double cand = best[start].score + tok->scores[t->id];
        if (best[end].start < 0 || cand > best[end].score)
          best[end] = (Best){ cand, start, t->id };
        if (end - start == clen)
          has_single = TRUE;
      }
    }
    if (!has_single) {
      double cand = best[start].score + tok->unk_score;
      if (tok->unk_id < 0)
        ok = fail (error, tok->what, "model.unk_id",
            "is needed for an "
            "unknown character");
      else if (best[start + clen].start < 0 || cand > best[start + clen].score)
        best[start + clen] = (Best){ cand, start, tok->unk_id };
    }
    start += clen;
  }

  /* Backtrack; adjacent unknowns fuse into one span. */
  for (gsize end = n; end > 0 && ok;) {
    Span span = { best[end].start, end, best[end].id };
    Span *last =
        spans->len ? &g_array_index (spans, Span, spans->len - 1) : NULL;

    if (span.id == tok->unk_id && last != NULL && last->id == tok->unk_id)
      last->start = span.start;
    else
      g_array_append_val (spans, span);
    end = span.start;
  }
  for (guint i = spans->len; i > 0 && ok; i--) {
    const Span *span = &g_array_index (spans, Span, i - 1);
    ok = emit_piece (
        tok, word + span->start, span->end - span->start, ids, error);
  }
  g_free (best);
  g_array_free (spans, TRUE);
  return ok;
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
      normalize (tok, s);
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
    return fail (error, tok->what, "post_processor.type",
        "\"%s\" is not "
        "supported",
        type);
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

  pad = piece_id (tok, "<pad>");
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

static void
pieces_free (GArray *pieces)
{
  for (guint i = 0; i < pieces->len; i++)
    piece_clear (&g_array_index (pieces, Piece, i));
  g_array_free (pieces, TRUE);
}

gboolean
sora_tokenizer_encode (SoraTokenizer *tok, const char *text, gsize max_length,
    GArray *ids, GArray *mask, GError **error)
{
  gsize len = strlen (text), n_special = tok->prefix->len + tok->suffix->len;
  GArray *raw = g_array_new (FALSE, FALSE, sizeof (Piece));
  GArray *pieces = g_array_new (FALSE, FALSE, sizeof (Piece));
  gboolean ok = TRUE;
  guint n_real;

  g_return_val_if_fail (
      g_array_get_element_size (ids) == sizeof (gint32), FALSE);
  if (!g_utf8_validate_len (text, len, NULL)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "%s: the text to encode is not valid UTF-8", tok->what);
    ok = FALSE;
  }
  if (ok && max_length > 0 && max_length < n_special) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "%s: max_length %" G_GSIZE_FORMAT
        " leaves no room for the %" G_GSIZE_FORMAT " special tokens",
        tok->what, max_length, n_special);
    ok = FALSE;
  }

  /* Added tokens on the raw text; normalize the rest and look for the
   * normalized added tokens there. */
  if (ok)
    split_added (tok, FALSE, text, len, TRUE, raw);
  for (guint i = 0; ok && i < raw->len; i++) {
    Piece *p = &g_array_index (raw, Piece, i);
    GString *s;

    if (p->id >= 0) {
      piece_add (pieces, p->text, p->len, FALSE, p->id);
      continue;
    }
    s = g_string_new_len (p->text, p->len);
    normalize (tok, s);
    split_added (tok, TRUE, s->str, s->len, p->first, pieces);
    g_string_free (s, TRUE);
  }
  for (guint i = 0; ok && i < tok->pre->len; i++) {
    GArray *next = g_array_new (FALSE, FALSE, sizeof (Piece));
    pre_tokenize (&g_array_index (tok->pre, PreTokenizer, i), pieces, next);
    pieces_free (pieces);
    pieces = next;
  }

  g_array_set_size (ids, 0);
  g_array_append_vals (ids, tok->prefix->data, tok->prefix->len);
  for (guint i = 0; ok && i < pieces->len; i++) {
    Piece *p = &g_array_index (pieces, Piece, i);
    if (p->id >= 0)
      g_array_append_val (ids, p->id);
    else
      ok = unigram_encode (tok, p->text, p->len, ids, error);
  }
  pieces_free (raw);
  pieces_free (pieces);
  if (!ok) {
    g_array_set_size (ids, 0);
    return FALSE;
  }

  /* Truncation keeps the start of the content and every special token. */
  if (max_length > 0 && ids->len + tok->suffix->len > max_length)
    g_array_set_size (ids, max_length - tok->suffix->len);
  g_array_append_vals (ids, tok->suffix->data, tok->suffix->len);
  n_real = ids->len;
  while (ids->len < max_length)
    g_array_append_val (ids, tok->pad_id);

  if (mask != NULL) {
    guint size = g_array_get_element_size (mask);
    g_return_val_if_fail (size == 1 || size == 4, FALSE);
    g_array_set_size (mask, ids->len);
    for (guint i = 0; i < ids->len; i++) {
      if (size == 1)
        g_array_index (mask, guint8, i) = i < n_real;
      else
        g_array_index (mask, gint32, i) = i < n_real;
    }
  }
  return TRUE;
}
