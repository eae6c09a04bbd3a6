/* gst-sora tokenizer: the byte-level steps of ftfy's fix_encoding
 *
 * Re-encoding in one of ftfy's single-byte charmaps, restore_byte_a0,
 * replace_lossy_sequences and the "utf-8-variants" decoder, each after the
 * ftfy function or regular expression it is named after.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sora-text-fix-private.h"

/* The byte @cm encodes @c as, or -1. */
static int
charmap_byte (const SoraCharmap *cm, gunichar c)
{
  if (c == cm->sub)
    return 0x1A;
  if (c < 0x80 && c != 0x1A)
    return c;
  for (int b = 0; b < 128; b++)
    if (cm->high[b] == c)
      return 0x80 + b;
  return -1;
}

/* @t in @cm, or NULL where possible_encoding says it cannot be. */
static GByteArray *
charmap_encode (const SoraCharmap *cm, const gunichar *t, gsize n)
{
  GByteArray *out = g_byte_array_sized_new (n);

  for (gsize i = 0; i < n; i++) {
    int b = charmap_byte (cm, t[i]);
    guint8 byte = b;
    if (b < 0) {
      g_byte_array_unref (out);
      return NULL;
    }
    g_byte_array_append (out, &byte, 1);
  }
  return out;
}

#define BYTE_IN(k, lo, hi)                                                     \
  (i + (k) < n && b[i + (k)] >= (lo) && b[i + (k)] <= (hi))
#define BYTE_IS(k, v) (i + (k) < n && b[i + (k)] == (v))

/* ALTERED_UTF8_RE's match length at @i, or 0. */
static gsize
altered_at (const guint8 *b, gsize n, gsize i)
{
/* [\x80-\x84\x86-\x9f\xa1-\xbf] */
#define CONT_NO_SPACE(k)                                                       \
  (BYTE_IN (k, 0x80, 0xBF) && !BYTE_IS (k, 0x85) && !BYTE_IS (k, 0xA0))
  if (b[i] && strchr ("\xc2\xc3\xc5\xce\xd0\xd9", b[i]) && BYTE_IS (1, ' '))
    return 2;
  if ((b[i] == 0xE2 || b[i] == 0xE3) && BYTE_IS (1, ' ') && CONT_NO_SPACE (2))
    return 3;
  if (b[i] >= 0xE0 && b[i] <= 0xE3 && CONT_NO_SPACE (1) && BYTE_IS (2, ' '))
    return 3;
  if (b[i] == 0xF0)
    for (int sp = 1; sp <= 3; sp++) {
      gboolean ok = TRUE;
      for (int k = 1; k <= 3; k++)
        ok = ok && (k == sp ? BYTE_IS (k, ' ') : BYTE_IN (k, 0x80, 0xBF));
      if (ok)
        return 4;
    }
  return 0;
#undef CONT_NO_SPACE
}

static gboolean
altered_search (const GByteArray *bytes)
{
  for (gsize i = 0; i < bytes->len; i++)
    if (altered_at (bytes->data, bytes->len, i))
      return TRUE;
  return FALSE;
}

/* A_GRAVE_WORD_RE's lookahead: "(?! |quele|quela|quilo|s )" at @i. */
static gboolean
a_grave_word (const guint8 *b, gsize n, gsize i)
{
  static const char *const words[] = { " ", "quele", "quela", "quilo", "s " };

  for (guint w = 0; w < G_N_ELEMENTS (words); w++) {
    gsize len = strlen (words[w]);
    if (i + len <= n && memcmp (b + i, words[w], len) == 0)
      return FALSE;
  }
  return TRUE;
}

/* fixes.restore_byte_a0: "Ã " becomes "Ã\xa0 " before most words, then
 * each ALTERED_UTF8_RE match has its spaces turned into byte A0. */
static GByteArray *
restore_byte_a0 (GByteArray *bytes)
{
  GByteArray *grave = g_byte_array_sized_new (bytes->len + 8);
  GByteArray *out;
  const guint8 *b = bytes->data;
  gsize n = bytes->len;

  for (gsize i = 0; i < n; i++) {
    g_byte_array_append (grave, b + i, 1);
    if (b[i] == 0xC3 && BYTE_IS (1, ' ') && a_grave_word (b, n, i + 2))
      g_byte_array_append (grave, (const guint8 *)"\xa0", 1);
  }
  g_byte_array_unref (bytes);
  out = g_byte_array_sized_new (grave->len);
  b = grave->data;
  n = grave->len;
  for (gsize i = 0; i < n;) {
    gsize len = altered_at (b, n, i);
    if (len == 0)
      len = 1;
    else
      for (gsize k = 0; k < len; k++)
        if (b[i + k] == ' ')
          grave->data[i + k] = 0xA0;
    g_byte_array_append (out, b + i, len);
    i += len;
  }
  g_byte_array_unref (grave);
  return out;
}

/* LOSSY_UTF8_RE's match length at @i, or 0: UTF-8 sequences whose lost
 * bytes became 0x1A (or one '?'). */
static gsize
lossy_at (const guint8 *b, gsize n, gsize i)
{
#define SUB_OR_Q(k) (BYTE_IS (k, 0x1A) || BYTE_IS (k, '?'))
#define SUB_OR_CONT(k) (BYTE_IS (k, 0x1A) || BYTE_IN (k, 0x80, 0xBF))
#define ANY(k) (SUB_OR_Q (k) || BYTE_IN (k, 0x80, 0xBF))
  if ((BYTE_IN (0, 0xC2, 0xDF) && BYTE_IS (1, 0x1A)) ||
      (BYTE_IN (0, 0xC2, 0xC3) && BYTE_IS (1, '?')))
    return 2;
  if (BYTE_IS (0, 0xED) && BYTE_IN (1, 0xA0, 0xAF) && BYTE_IS (3, 0xED) &&
      BYTE_IN (4, 0xB0, 0xBF) &&
      ((SUB_OR_Q (2) && ANY (5)) || (ANY (2) && SUB_OR_Q (5))))
    return 6;
  if (BYTE_IN (0, 0xE0, 0xEF) &&
      ((SUB_OR_Q (1) && SUB_OR_CONT (2)) || (SUB_OR_CONT (1) && SUB_OR_Q (2))))
    return 3;
  if (BYTE_IN (0, 0xF0, 0xF4) &&
      ((SUB_OR_Q (1) && SUB_OR_CONT (2) && SUB_OR_CONT (3)) ||
          (SUB_OR_CONT (1) && SUB_OR_Q (2) && SUB_OR_CONT (3)) ||
          (SUB_OR_CONT (1) && SUB_OR_CONT (2) && SUB_OR_Q (3))))
    return 4;
  return BYTE_IS (0, 0x1A);
#undef SUB_OR_Q
#undef SUB_OR_CONT
#undef ANY
}

/* fixes.replace_lossy_sequences: each such sequence becomes U+FFFD. */
static GByteArray *
replace_lossy_sequences (GByteArray *bytes)
{
  GByteArray *out = g_byte_array_sized_new (bytes->len);

  for (gsize i = 0; i < bytes->len;) {
    gsize len = lossy_at (bytes->data, bytes->len, i);
    if (len) {
      g_byte_array_append (out, (const guint8 *)"\xef\xbf\xbd", 3);
      i += len;
    } else {
      g_byte_array_append (out, bytes->data + i++, 1);
    }
  }
  g_byte_array_unref (bytes);
  return out;
}

/* Python's strict UTF-8 decoder: FALSE on any invalid or cut sequence. */
static gboolean
utf8_decode (const guint8 *b, gsize n, Text *out)
{
  for (gsize i = 0; i < n;) {
    guint8 c = b[i];
    gsize len = c < 0x80 ? 1
        : c < 0xC2       ? 0
        : c < 0xE0       ? 2
        : c < 0xF0       ? 3
        : c < 0xF5       ? 4
                         : 0;
    /* The second byte's range rules out overlong forms, surrogates and
     * code points past U+10FFFF. */
    guint8 lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    guint8 hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    gunichar cp;

    if (len == 0 || i + len > n)
      return FALSE;
    cp = len == 1 ? c : c & (0x7F >> len);
    for (gsize k = 1; k < len; k++) {
      if (b[i + k] < (k == 1 ? lo : 0x80) || b[i + k] > (k == 1 ? hi : 0xBF))
        return FALSE;
      cp = cp << 6 | (b[i + k] & 0x3F);
    }
    append_c (out, cp);
    i += len;
  }
  return TRUE;
}

/* Python's "$": the end, or just before a final newline. */
static gboolean
at_end (const guint8 *b, gsize n, gsize i)
{
  return i == n || (i + 1 == n && b[i] == '\n');
}

/* Whether utf8_variants' SPECIAL_BYTES_RE matches at @i: a Java-style
 * null (C0 80) or a UTF-8-encoded surrogate (CESU-8). */
static gboolean
special_at (const guint8 *b, gsize n, gsize i)
{
  if (b[i] == 0xC0)
    return BYTE_IS (1, 0x80) || at_end (b, n, i + 1);
  if (b[i] != 0xED)
    return FALSE;
  if (BYTE_IN (1, 0xA0, 0xBF))
    i++;
  else if (!at_end (b, n, i + 1))
    return FALSE;
  return BYTE_IN (1, 0x80, 0xBF) || at_end (b, n, i + 1);
}

/* CESU8_RE.match at @i, at least six bytes before the end. */
static gboolean
cesu8_at (const guint8 *b, gsize n, gsize i)
{
  static const guint8 range[6][2] = { { 0xED, 0xED }, { 0xA0, 0xAF },
    { 0x80, 0xBF }, { 0xED, 0xED }, { 0xB0, 0xBF }, { 0x80, 0xBF } };
  gsize j = i + 1;

  if (b[i] != 0xED)
    return FALSE;
  for (int k = 1; k < 6; k++) {
    if (j < n && b[j] >= range[k][0] && b[j] <= range[k][1])
      j++;
    else if (!at_end (b, n, j))
      return FALSE;
  }
  return TRUE;
}

/* ftfy's "utf-8-variants" codec (UTF-8, CESU-8 and Java's C0 80 null),
 * or NULL where it raises UnicodeDecodeError. */
static Text *
utf8_variants_decode (const GByteArray *bytes)
{
  const guint8 *b = bytes->data;
  gsize n = bytes->len, pos = 0;
  Text *out = text_new (n);

  while (pos < n) {
    gsize p = pos;
    while (p < n && !special_at (b, n, p))
      p++;
    if (p > pos) {
      if (!utf8_decode (b + pos, p - pos, out))
        goto fail;
      pos = p;
    } else if (b[p] == 0xC0 && n - p > 1) {
      append_c (out, 0);
      pos += 2;
    } else if (b[p] == 0xED && n - p >= 6 && cesu8_at (b, n, p)) {
      append_c (out,
          0x10000 + ((b[p + 1] & 0x0F) << 16) + ((b[p + 2] & 0x3F) << 10) +
              ((b[p + 4] & 0x0F) << 6) + (b[p + 5] & 0x3F));
      pos += 6;
    } else {
      goto fail;
    }
  }
  return out;

fail:
  g_array_unref (out);
  return NULL;
}

#undef BYTE_IN
#undef BYTE_IS

Text *
sora_text_fix_redecode_with (
    const SoraCharmap *cm, const gunichar *t, gsize n, gboolean *possible)
{
  GByteArray *bytes = charmap_encode (cm, t, n);
  Text *fixed;

  *possible = bytes != NULL;
  if (bytes == NULL)
    return NULL;
  if (!cm->macroman && altered_search (bytes))
    bytes = restore_byte_a0 (bytes);
  if (cm->sloppy)
    bytes = replace_lossy_sequences (bytes);
  fixed = utf8_variants_decode (bytes);
  g_byte_array_unref (bytes);
  return fixed;
}
