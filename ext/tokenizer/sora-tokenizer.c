/* gst-sora tokenizer: Hugging Face tokenizer.json (umT5's Unigram)
 *
 * Reproduces the tokenizers library (Rust) step by step: added-token split on
 * the raw text, normalizer, added-token split on the normalized text,
 * pre-tokenizer, Unigram Viterbi (encode_optimized), post-processor
 * template, truncation and padding.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sora-error.h"
#include "sora-tokenizer-private.h"

typedef struct
{
  char *text;
  gsize len;
  gboolean first; /* starts at offset 0 of the input */
  gint32 id; /* an added token, or -1 */
} Piece;

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

void
sora_tokenizer_normalize (const SoraTokenizer *tok, GString *s)
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

static void
pieces_free (GArray *pieces)
{
  for (guint i = 0; i < pieces->len; i++)
    piece_clear (&g_array_index (pieces, Piece, i));
  g_array_free (pieces, TRUE);
}

/* The pieces of @text after the added-token split on the raw text, the
 * normalizers, the split on the normalized text and the pre-tokenizers. */
static GArray *
split_text (const SoraTokenizer *tok, const char *text, gsize len)
{
  GArray *raw = g_array_new (FALSE, FALSE, sizeof (Piece));
  GArray *pieces = g_array_new (FALSE, FALSE, sizeof (Piece));

  split_added (tok, FALSE, text, len, TRUE, raw);
  for (guint i = 0; i < raw->len; i++) {
    Piece *p = &g_array_index (raw, Piece, i);
    GString *s;

    if (p->id >= 0) {
      piece_add (pieces, p->text, p->len, FALSE, p->id);
      continue;
    }
    s = g_string_new_len (p->text, p->len);
    sora_tokenizer_normalize (tok, s);
    split_added (tok, TRUE, s->str, s->len, p->first, pieces);
    g_string_free (s, TRUE);
  }
  pieces_free (raw);
  for (guint i = 0; i < tok->pre->len; i++) {
    GArray *next = g_array_new (FALSE, FALSE, sizeof (Piece));
    pre_tokenize (&g_array_index (tok->pre, PreTokenizer, i), pieces, next);
    pieces_free (pieces);
    pieces = next;
  }
  return pieces;
}

/* Truncation keeps the start of the content and every special token;
 * padding fills up to @max_length, and @mask marks the real tokens. */
static void
finish_ids (
    const SoraTokenizer *tok, gsize max_length, GArray *ids, GArray *mask)
{
  guint n_real, size;

  if (max_length > 0 && ids->len + tok->suffix->len > max_length)
    g_array_set_size (ids, max_length - tok->suffix->len);
  g_array_append_vals (ids, tok->suffix->data, tok->suffix->len);
  n_real = ids->len;
  while (ids->len < max_length)
    g_array_append_val (ids, tok->pad_id);
  if (mask == NULL)
    return;
  size = g_array_get_element_size (mask);
  g_array_set_size (mask, ids->len);
  for (guint i = 0; i < ids->len; i++) {
    if (size == 1)
      g_array_index (mask, guint8, i) = i < n_real;
    else
      g_array_index (mask, gint32, i) = i < n_real;
  }
}

gboolean
sora_tokenizer_encode (SoraTokenizer *tok, const char *text, gsize max_length,
    GArray *ids, GArray *mask, GError **error)
{
  gsize len = strlen (text), n_special = tok->prefix->len + tok->suffix->len;
  GArray *pieces;
  gboolean ok = TRUE;

  g_return_val_if_fail (
      g_array_get_element_size (ids) == sizeof (gint32), FALSE);
  g_return_val_if_fail (mask == NULL || g_array_get_element_size (mask) == 1 ||
          g_array_get_element_size (mask) == 4,
      FALSE);
  g_array_set_size (ids, 0);
  if (!g_utf8_validate_len (text, len, NULL)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "%s: the text to encode is not valid UTF-8", tok->what);
    return FALSE;
  }
  if (max_length > 0 && max_length < n_special) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "%s: max_length %" G_GSIZE_FORMAT
        " leaves no room for the %" G_GSIZE_FORMAT " special tokens",
        tok->what, max_length, n_special);
    return FALSE;
  }

  pieces = split_text (tok, text, len);
  g_array_append_vals (ids, tok->prefix->data, tok->prefix->len);
  for (guint i = 0; ok && i < pieces->len; i++) {
    Piece *p = &g_array_index (pieces, Piece, i);
    if (p->id >= 0)
      g_array_append_val (ids, p->id);
    else
      ok = sora_tokenizer_unigram_encode (tok, p->text, p->len, ids, error);
  }
  pieces_free (pieces);
  if (!ok) {
    g_array_set_size (ids, 0);
    return FALSE;
  }
  finish_ids (tok, max_length, ids, mask);
  return TRUE;
}
