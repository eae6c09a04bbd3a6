/* gst-sora tokenizer: the Unigram model (tokenizers' encode_optimized)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sora-tokenizer-private.h"

gint32
sora_tokenizer_piece_id (const SoraTokenizer *tok, const char *piece)
{
  return GPOINTER_TO_INT (g_hash_table_lookup (tok->piece_ids, piece)) - 1;
}

void
sora_tokenizer_trie_insert (GArray *trie, const char *key, gint32 id)
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
  gint32 id = sora_tokenizer_piece_id (tok, s);

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
      id = sora_tokenizer_piece_id (tok, hex);
      if (id < 0)
        break;
      g_array_append_val (ids, id);
    }
    if (id >= 0)
      return TRUE;
    g_array_set_size (ids, start);
  }
  if (tok->unk_id < 0)
    return sora_tokenizer_fail (
        error, tok->what, "model.unk_id", "is needed for anunknown piece");
  g_array_append_val (ids, tok->unk_id);
  return TRUE;
}

/* Offers best[end] every vocab piece word[start, end); returns whether one
 * of them is the single character at @start (@clen bytes). */
static gboolean
relax_from (const SoraTokenizer *tok, const char *word, gsize n, gsize start,
    gsize clen, Best *best)
{
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
  return has_single;
}

/* Appends the ids of @word: the best-scoring segmentation (tokenizers'
 * encode_optimized; on a tie the earlier start wins), with runs of unknown
 * characters fused. */
gboolean
sora_tokenizer_unigram_encode (const SoraTokenizer *tok, const char *word,
    gsize n, GArray *ids, GError **error)
{
  Best *best = g_new (Best, n + 1);
  GArray *spans = g_array_new (FALSE, FALSE, sizeof (Span));
  gboolean ok = TRUE;

  for (gsize i = 0; i <= n; i++)
    best[i] = (Best){ 0.0, -1, -1 };
  for (gsize start = 0; start < n && ok;) {
    gsize clen = g_utf8_next_char (word + start) - (word + start);

    if (!relax_from (tok, word, n, start, clen, best)) {
      double cand = best[start].score + tok->unk_score;
      if (tok->unk_id < 0)
        ok = sora_tokenizer_fail (error, tok->what, "model.unk_id",
            "is needed for anunknown character");
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
