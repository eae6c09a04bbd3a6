/* gst-sora tokenizer: what the tokenizer.json reader, the encoder and the
 * Unigram model share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_TOKENIZER_PRIVATE_H__
#define __SORA_TOKENIZER_PRIVATE_H__

#include <glib.h>

#include "sora-charsmap.h"
#include "sora-tokenizer.h"

G_BEGIN_DECLS

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

/* A Format error "@what: \"@key\" <message>"; returns FALSE. */
G_GNUC_INTERNAL gboolean sora_tokenizer_fail (GError **error, const char *what,
    const char *key, const char *fmt, ...) G_GNUC_PRINTF (4, 5);

/* Runs the normalizers on @s in place. */
G_GNUC_INTERNAL void sora_tokenizer_normalize (
    const SoraTokenizer *tok, GString *s);

/* The id of the vocab piece @piece, or -1. */
G_GNUC_INTERNAL gint32 sora_tokenizer_piece_id (
    const SoraTokenizer *tok, const char *piece);
G_GNUC_INTERNAL void sora_tokenizer_trie_insert (
    GArray *trie, const char *key, gint32 id);
/* Appends the Unigram ids of @word (@n bytes). */
G_GNUC_INTERNAL gboolean sora_tokenizer_unigram_encode (
    const SoraTokenizer *tok, const char *word, gsize n, GArray *ids,
    GError **error);

G_END_DECLS

#endif /* __SORA_TOKENIZER_PRIVATE_H__ */
