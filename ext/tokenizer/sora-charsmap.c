/* gst-sora tokenizer: SentencePiece's precompiled charsmap
 *
 * The blob is a u32 LE trie size, a Darts-clone double-array trie of that
 * many bytes, then a pool of NUL-terminated replacement strings. Matching
 * follows Hugging Face tokenizers (spm_precompiled): each grapheme shorter
 * than 6 bytes is replaced whole if a prefix of it matches, otherwise each
 * code point is looked up alone.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sora-charsmap.h"
#include "sora-error.h"

struct _SoraCharsmap
{
  guint32 *units;
  gsize n_units;
  char *pool;
  gsize pool_len;
};

typedef struct
{
  guint32 first, last;
  guint8 value;
} SoraGraphemeRange;

#include "sora-grapheme-table.h"

enum {
  GCB_OTHER,
  GCB_CR,
  GCB_LF,
  GCB_CONTROL,
  GCB_EXTEND,
  GCB_ZWJ,
  GCB_RI,
  GCB_PREPEND,
  GCB_SPACING_MARK,
  GCB_L,
  GCB_V,
  GCB_T,
  GCB_LV,
  GCB_LVT,
};
#define GCB_CLASS 0x0f
#define GCB_INCB_CONSONANT 0x10
#define GCB_INCB_LINKER 0x20
#define GCB_INCB_EXTEND 0x40
#define GCB_PICT 0x80

SoraCharsmap *
sora_charsmap_new (
    const guint8 *blob, gsize len, const char *what, GError **error)
{
  SoraCharsmap *map;
  guint32 trie_size;
  gboolean valid = TRUE;
  gsize at;

  if (len < 4) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
        "%s: charsmap of %" G_GSIZE_FORMAT " bytes has no trie size", what,
        len);
    return NULL;
  }
  trie_size = blob[0] | blob[1] << 8 | blob[2] << 16 | (guint32)blob[3] << 24;
  if (trie_size / 4 == 0 || trie_size / 4 > (len - 4) / 4) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
        "%s: charsmap trie of %u bytes does not fit in %" G_GSIZE_FORMAT
        " bytes (truncated?)",
        what, trie_size, len - 4);
    return NULL;
  }
  map = g_new0 (SoraCharsmap, 1);
  map->n_units = trie_size / 4;
  map->units = g_new (guint32, map->n_units);
  for (gsize i = 0; i < map->n_units; i++) {
    const guint8 *p = blob + 4 + 4 * i;
    map->units[i] = p[0] | p[1] << 8 | p[2] << 16 | (guint32)p[3] << 24;
  }
  /* Like tokenizers, the pool starts after the whole u32 units. */
  map->pool_len = len - 4 - 4 * map->n_units;
  map->pool = g_malloc (map->pool_len + 1);
  memcpy (map->pool, blob + 4 + 4 * map->n_units, map->pool_len);
  map->pool[map->pool_len] = '\0';
  /* Valid UTF-8 between the NULs (g_utf8_validate_len refuses NULs). */
  for (at = 0; at < map->pool_len && valid; at += strlen (map->pool + at) + 1)
    valid = g_utf8_validate (map->pool + at, -1, NULL);
  if (!valid) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
        "%s: charsmap replacements are not valid UTF-8", what);
    sora_charsmap_free (map);
    return NULL;
  }
  return map;
}

void
sora_charsmap_free (SoraCharsmap *map)
{
  if (map == NULL)
    return;
  g_free (map->units);
  g_free (map->pool);
  g_free (map);
}

static inline guint32
unit_offset (guint32 u)
{
  return (u >> 10) << ((u & (1u << 9)) >> 6);
}

/* The replacement for the shortest trie key that prefixes @key, or NULL.
 * Out-of-range positions (a hostile trie) end the search. */
static const char *
transform (const SoraCharsmap *map, const char *key, gsize len)
{
  gsize pos = unit_offset (map->units[0]);

  for (gsize i = 0; i < len && key[i] != '\0'; i++) {
    guint8 c = key[i];
    guint32 u;

    pos ^= c;
    if (pos >= map->n_units)
      return NULL;
    u = map->units[pos];
    if ((u & 0x800000FFu) != c)
      return NULL;
    pos ^= unit_offset (u);
    if ((u >> 8) & 1) {
      guint32 value;
      const char *s;

      if (pos >= map->n_units)
        return NULL;
      value = map->units[pos] & 0x7FFFFFFFu;
      if (value > map->pool_len)
        return NULL;
      s = map->pool + value;
      /* A replacement must start on a character boundary. */
      return g_utf8_validate (s, -1, NULL) ? s : NULL;
    }
  }
  return NULL;
}

static guint8
grapheme_class (gunichar c)
{
  gsize lo = 0, hi = G_N_ELEMENTS (sora_grapheme_ranges);

  while (lo < hi) {
    gsize mid = (lo + hi) / 2;
    if (c < sora_grapheme_ranges[mid].first)
      hi = mid;
    else if (c > sora_grapheme_ranges[mid].last)
      lo = mid + 1;
    else
      return sora_grapheme_ranges[mid].value;
  }
  return GCB_OTHER;
}

/* GB9c's state after a character of flags @cur, given the state before:
 * 1 after an InCB=Consonant, 2 once an InCB=Linker follows it (InCB=Extend
 * changes nothing), else 0. */
static guint
conjunct_state (guint state, guint8 cur)
{
  if (cur & GCB_INCB_CONSONANT)
    return 1;
  if (cur & GCB_INCB_LINKER)
    return state ? 2 : 0;
  return (cur & GCB_INCB_EXTEND) ? state : 0;
}

/* UAX #29 extended grapheme clusters, rules GB3 to GB13, as
 * unicode-segmentation 1.12.0 (Unicode 16.0) applies them. */
gsize
sora_grapheme_next (const char *text, gsize len)
{
  const char *p = text, *end = text + len;
  guint8 prev = grapheme_class (g_utf8_get_char (p));
  /* GB11 state: 1 after ExtPict Extend*, 2 after ExtPict Extend* ZWJ. */
  guint pict = (prev & GCB_PICT) ? 1 : 0;
  guint ri_count = (prev & GCB_CLASS) == GCB_RI;
  guint conjunct = conjunct_state (0, prev);

  p = g_utf8_next_char (p);
  while (p < end) {
    guint8 cur = grapheme_class (g_utf8_get_char (p));
    guint8 a = prev & GCB_CLASS, b = cur & GCB_CLASS;
    gboolean join;

    if (a == GCB_CR && b == GCB_LF)
      join = TRUE;
    else if (a == GCB_CR || a == GCB_LF || a == GCB_CONTROL || b == GCB_CR ||
        b == GCB_LF || b == GCB_CONTROL)
      join = FALSE;
    else if (a == GCB_L &&
        (b == GCB_L || b == GCB_V || b == GCB_LV || b == GCB_LVT))
      join = TRUE;
    else if ((a == GCB_LV || a == GCB_V) && (b == GCB_V || b == GCB_T))
      join = TRUE;
    else if ((a == GCB_LVT || a == GCB_T) && b == GCB_T)
      join = TRUE;
    else if (b == GCB_EXTEND || b == GCB_ZWJ || b == GCB_SPACING_MARK ||
        a == GCB_PREPEND)
      join = TRUE;
    else if ((cur & GCB_INCB_CONSONANT) && conjunct == 2)
      join = TRUE; /* GB9c: consonant linker consonant */
    else if (a == GCB_ZWJ && (cur & GCB_PICT) && pict == 2)
      join = TRUE;
    else if (a == GCB_RI && b == GCB_RI)
      join = ri_count % 2 == 1;
    else
      join = FALSE;
    if (!join)
      break;

    if (cur & GCB_PICT)
      pict = 1;
    else if (pict == 1 && (b == GCB_EXTEND || b == GCB_ZWJ))
      pict = b == GCB_ZWJ ? 2 : 1;
    else
      pict = 0;
    ri_count = b == GCB_RI ? ri_count + 1 : 0;
    conjunct = conjunct_state (conjunct, cur);
    prev = cur;
    p = g_utf8_next_char (p);
  }
  return p - text;
}

void
sora_charsmap_normalize (
    const SoraCharsmap *map, const char *text, gsize len, GString *out)
{
  const char *p = text, *end = text + len;

  while (p < end) {
    gsize glen = sora_grapheme_next (p, end - p);
    const char *rep = glen < 6 ? transform (map, p, glen) : NULL;

    if (rep != NULL) {
      g_string_append (out, rep);
    } else {
      for (const char *c = p; c < p + glen; c = g_utf8_next_char (c)) {
        gsize clen = g_utf8_next_char (c) - c;
        rep = transform (map, c, clen);
        if (rep != NULL)
          g_string_append (out, rep);
        else
          g_string_append_len (out, c, clen);
      }
    }
    p += glen;
  }
}
