/* gst-sora tokenizer: ftfy 6.3.1's fix_text with its default settings
 *
 * diffusers runs ftfy on every Wan prompt, so the same prompt must come out
 * of here as it does there, mojibake heuristics included. Each function
 * below follows the ftfy function (or regular expression) it is named
 * after; the data comes from ftfy itself (sora-text-fix-table.h, written by
 * gen-text-fix-tables.py). Text is worked on as code points, as Python
 * does, since ftfy counts and compares lengths in them; the byte-level
 * steps of fix_encoding are in sora-text-fix-bytes.c.
 *
 * fix_surrogates has nothing to do: valid UTF-8 holds no surrogates, and no
 * step here makes one (Python's decoders and html.unescape refuse them).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "sora-html.h"
#include "sora-text-fix-private.h"
#include "sora-text-fix.h"

typedef struct
{
  gunichar c;
  guint32 mask;
} SoraFixClass;

typedef struct
{
  gunichar c;
  const char *to;
} SoraFixMap;

typedef struct
{
  gunichar first, last;
} SoraFixRange;

#include "sora-text-fix-table.h"

/* Indices into sora_charmaps (gen-text-fix-tables.py keeps ftfy's order). */
#define CHARMAP_LATIN1 0
#define CHARMAP_SLOPPY_1252 1

/* ftfy's max_decode_length: longer lines are fixed in pieces. */
#define MAX_SEGMENT_CHARS 1000000

#define NO_CHAR ((gunichar)-1)

static Text *
text_copy (const gunichar *t, gsize n)
{
  Text *out = text_new (n);

  g_array_append_vals (out, t, n);
  return out;
}

/* Whether @a holds the @n characters @t. */
static gboolean
text_is (const Text *a, const gunichar *t, gsize n)
{
  return a->len == n &&
      (n == 0 || memcmp (a->data, t, n * sizeof (gunichar)) == 0);
}

static void
append_utf8 (Text *out, const char *s)
{
  for (; *s; s = g_utf8_next_char (s))
    append_c (out, g_utf8_get_char (s));
}

/* --- Character classes --- */

static int
compare_class (const void *key, const void *elem)
{
  gunichar c = *(const gunichar *)key, e = ((const SoraFixClass *)elem)->c;
  return c < e ? -1 : c > e;
}

/* The FIX_* bits of @c (0 for NO_CHAR). */
static guint32
classes (gunichar c)
{
  const SoraFixClass *e = bsearch (&c, sora_fix_classes,
      G_N_ELEMENTS (sora_fix_classes), sizeof (SoraFixClass), compare_class);
  return e ? e->mask : 0;
}

static int
compare_map (const void *key, const void *elem)
{
  gunichar c = *(const gunichar *)key, e = ((const SoraFixMap *)elem)->c;
  return c < e ? -1 : c > e;
}

static const char *
map_lookup (const SoraFixMap *map, gsize n, gunichar c)
{
  const SoraFixMap *e = bsearch (&c, map, n, sizeof (SoraFixMap), compare_map);
  return e ? e->to : NULL;
}

/* Python's re \w. */
static gboolean
is_word (gunichar c)
{
  gsize lo = 0, hi = G_N_ELEMENTS (sora_fix_word_ranges);

  while (lo < hi) {
    gsize mid = (lo + hi) / 2;
    if (c < sora_fix_word_ranges[mid].first)
      hi = mid;
    else if (c > sora_fix_word_ranges[mid].last)
      lo = mid + 1;
    else
      return TRUE;
  }
  return FALSE;
}

gboolean
sora_text_is_space (gunichar c)
{
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 ||
      c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
      c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Whether @c is one of the characters of the UTF-8 string @set. */
static gboolean
in (gunichar c, const char *set)
{
  for (; *set; set = g_utf8_next_char (set))
    if (g_utf8_get_char (set) == c)
      return TRUE;
  return FALSE;
}

static gboolean
is_ascii_alpha (gunichar c)
{
  return c < 0x80 && g_ascii_isalpha (c);
}

static gboolean
is_ascii_lower (gunichar c)
{
  return c >= 'a' && c <= 'z';
}

/* --- badness.py: is_bad --- */

#define ACCENTED (FIX_LOWER_ACCENTED | FIX_UPPER_ACCENTED)
#define PUNCT (FIX_START_PUNCTUATION | FIX_END_PUNCTUATION)

/* Whether one of BADNESS_RE's alternatives matches at @i, in its order. */
static gboolean
bad_at (const gunichar *t, gsize n, gsize i)
{
#define AT(k) (i + (k) < n ? t[i + (k)] : NO_CHAR)
  gunichar a0 = AT (0), a1 = AT (1), a2 = AT (2), a3 = AT (3);
  guint32 c0 = classes (a0), c1 = classes (a1), c2 = classes (a2);
  const guint32 not_common = FIX_BAD | ACCENTED | FIX_BOX | PUNCT |
      FIX_CURRENCY | FIX_NUMERIC | FIX_LAW;
  const guint32 arabic =
      FIX_COMMON | FIX_CURRENCY | FIX_BAD | FIX_NUMERIC | FIX_START_PUNCTUATION;
  const guint32 after_b = FIX_C1 | FIX_BAD | PUNCT | FIX_CURRENCY;

  if ((c0 & FIX_C1) || ((c0 & not_common) && (c1 & FIX_BAD)) ||
      (is_ascii_alpha (a0) && (c1 & (FIX_LOWER_COMMON | FIX_UPPER_COMMON)) &&
          (c2 & FIX_BAD)) ||
      ((c0 & FIX_BAD) && (c1 & not_common & ~FIX_BAD)) ||
      ((c0 &
           (FIX_LOWER_ACCENTED | FIX_LOWER_COMMON | FIX_BOX |
               FIX_END_PUNCTUATION | FIX_CURRENCY | FIX_NUMERIC)) &&
          (c1 & FIX_UPPER_ACCENTED)) ||
      ((c0 & (FIX_BOX | FIX_END_PUNCTUATION | FIX_CURRENCY | FIX_NUMERIC)) &&
          (c1 & FIX_LOWER_ACCENTED)) ||
      ((c0 & (FIX_LOWER_ACCENTED | FIX_BOX | FIX_END_PUNCTUATION)) &&
          (c1 & FIX_CURRENCY)) ||
      (a0 != NO_CHAR && sora_text_is_space (a0) && (c1 & FIX_UPPER_ACCENTED) &&
          (c2 & FIX_CURRENCY)) ||
      ((c0 & (FIX_UPPER_ACCENTED | FIX_BOX)) &&
          (c1 & (FIX_NUMERIC | FIX_LAW))) ||
      ((c0 & (ACCENTED | FIX_BOX | FIX_CURRENCY | FIX_END_PUNCTUATION)) &&
          (c1 & FIX_START_PUNCTUATION) && (c2 & FIX_NUMERIC)) ||
      ((c0 & (ACCENTED | FIX_CURRENCY | FIX_NUMERIC | FIX_BOX | FIX_LAW)) &&
          (c1 & FIX_END_PUNCTUATION) && (c2 & FIX_START_PUNCTUATION)) ||
      ((c0 & (FIX_CURRENCY | FIX_NUMERIC | FIX_BOX)) &&
          (c1 & FIX_START_PUNCTUATION)) ||
      (is_ascii_lower (a0) && (c1 & FIX_UPPER_ACCENTED) &&
          (c2 & (FIX_START_PUNCTUATION | FIX_CURRENCY))) ||
      ((c0 & FIX_BOX) && (c1 & FIX_KAOMOJI)) ||
      ((c0 & (ACCENTED | FIX_CURRENCY | FIX_NUMERIC | PUNCT | FIX_LAW)) &&
          (c1 & FIX_BOX)) ||
      ((c0 & FIX_BOX) && (c1 & FIX_END_PUNCTUATION)) ||
      ((c0 & ACCENTED) && (c1 & PUNCT) && a2 != NO_CHAR && is_word (a2)))
    return TRUE;
  /* The ligature œ when not followed by an unaccented Latin letter. */
  if ((in (a0, "Œœ") && a1 != NO_CHAR && !is_ascii_alpha (a1)) ||
      ((c0 & FIX_UPPER_ACCENTED) && a1 == 0xB0) ||
      (in (a0, "ÂÃÎÐ") &&
          (in (a1, "€œŠš¢£Ÿž\u00a0\u00ad®©°·»–—´") || (c1 & PUNCT))) ||
      (a0 == 0xD7 && in (a1, "²³")))
    return TRUE;
  /* Windows-1252 mojibake of Arabic: four characters. */
  if (in (a0, "ØÙ") && ((c1 & arabic) || in (a1, "ŸŠ®°µ»")) && in (a2, "ØÙ") &&
      ((classes (a3) & arabic) || in (a3, "ŸŠ®°µ»")))
    return TRUE;
  /* South Asian, MacRoman, Windows-1251 and -1253 and -1257 mojibake. */
  if ((a0 == 0xE0 && in (a1, "²µ¹¼½¾")) ||
      (a0 == 0x221A && in (a1, "±∂†≠®™´≤≥¥µø")) ||
      (a0 == 0x2248 && in (a1, "°¢")) ||
      (a0 == 0x201A && a1 == 0xC4 && in (a2, "ìîïòôúùû†°¢π")) ||
      (a0 == 0x201A && in (a1, "âó") && in (a2, "àä°ê")) ||
      (a0 == 0x0432 && a1 == 0x0402) ||
      (in (a0, "ВГРС") && ((c1 & after_b) || in (a1, "°µ")) &&
          in (a2, "ВГРС")) ||
      (a0 == 0x0413 && a1 == 0x045E && a2 == 0x0412 && a3 == 0x0402 &&
          AT (4) == 0x0412 && AT (5) != NO_CHAR && AT (5) != '\n' &&
          (is_ascii_alpha (AT (6)) || AT (6) == ' ')))
    return TRUE;
  /* Windows-1252 encodings of 'à' and 'á', and of U+A0 itself. */
  if ((a0 == 0xC3 && in (a1, "\u00a0¡")) ||
      (is_ascii_lower (a0) &&
          ((a1 != NO_CHAR && sora_text_is_space (a1) && in (a2, "ÃÂ") &&
               a3 == ' ') ||
              (in (a1, "ÃÂ") && a2 == ' '))) ||
      (i == 0 && in (a0, "ÃÂ") && a1 == ' ') ||
      ((is_ascii_lower (a0) || in (a0, ".,?!") || (c0 & FIX_END_PUNCTUATION)) &&
          a1 == 0xC2 && (a2 == ' ' || (c2 & PUNCT))))
    return TRUE;
  return (a0 == 0x03B2 && a1 == 0x20AC && in (a2, "™\u00a0Ά\u00ad®°")) ||
      (in (a0, "ΒΓΞΟ") && ((c1 & after_b) || a1 == 0xB0) && in (a2, "ΒΓΞΟ")) ||
      (a0 == 0x0101 && a1 == 0x20AC);
#undef AT
}

static gboolean
is_bad (const gunichar *t, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (bad_at (t, n, i))
      return TRUE;
  return FALSE;
}

/* --- Byte-level steps of fix_encoding --- */

/* --- Character-level steps of fix_encoding --- */

/* UTF8_DETECTOR_RE's match length at @i, or 0: runs of characters that
 * look like UTF-8 read as a single-byte encoding. */
static gsize
utf8_detector_at (const gunichar *t, gsize n, gsize i)
{
  gsize j = i;

  if (i > 0 && (classes (t[i - 1]) & FIX_UTF8_CONTINUATION_STRICT))
    return 0;
  for (;;) {
    guint32 c = classes (t[j]);
    gsize len = 0;
    if (c & FIX_UTF8_FIRST_OF_2)
      len = 2;
    else if (c & FIX_UTF8_FIRST_OF_3)
      len = 3;
    else if (c & FIX_UTF8_FIRST_OF_4)
      len = 4;
    for (gsize k = 1; k < len; k++)
      if (j + k >= n || !(classes (t[j + k]) & FIX_UTF8_CONTINUATION))
        len = 0;
    if (len == 0)
      return j - i;
    j += len;
    if (j >= n)
      return j - i;
  }
}

static Text *fix_encoding (const gunichar *t, gsize n);

/* fixes.decode_inconsistent_utf8: each detected run that is bad on its
 * own is fixed on its own. */
static Text *
decode_inconsistent_utf8 (const gunichar *t, gsize n)
{
  Text *out = text_new (n);

  for (gsize i = 0; i < n;) {
    gsize len = utf8_detector_at (t, n, i);
    if (len == 0) {
      append_c (out, t[i++]);
      continue;
    }
    if (len < n && is_bad (t + i, len)) {
      Text *fixed = fix_encoding (t + i, len);
      g_array_append_vals (out, fixed->data, fixed->len);
      g_array_unref (fixed);
    } else {
      g_array_append_vals (out, t + i, len);
    }
    i += len;
  }
  return out;
}

/* fixes.fix_c1_controls: U+0080-U+009F as sloppy windows-1252. */
static Text *
fix_c1_controls (const gunichar *t, gsize n)
{
  Text *out = text_new (n);

  for (gsize i = 0; i < n; i++)
    append_c (out,
        t[i] >= 0x80 && t[i] <= 0x9F
            ? sora_charmaps[CHARMAP_SLOPPY_1252].high[t[i] - 0x80]
            : t[i]);
  return out;
}

/* @t encoded as Latin-1 and decoded as (strict) windows-1252, or NULL. */
static Text *
latin1_to_cp1252 (const gunichar *t, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (t[i] >= 0x80 && t[i] <= 0x9F &&
        memchr (sora_cp1252_unassigned, t[i], sizeof (sora_cp1252_unassigned)))
      return NULL;
  return fix_c1_controls (t, n);
}

/* The first successful re-decoding of @t through ftfy's single-byte
 * encodings; @possible gets which of them could encode @t. */
static Text *
redecode (const gunichar *t, gsize n, gboolean *possible)
{
  for (guint e = 0; e < G_N_ELEMENTS (sora_charmaps); e++) {
    Text *fixed =
        sora_text_fix_redecode_with (&sora_charmaps[e], t, n, &possible[e]);
    if (fixed)
      return fixed;
  }
  return NULL;
}

/* ftfy's _fix_encoding_one_step_and_explain. */
static Text *
fix_encoding_step (const gunichar *t, gsize n)
{
  gboolean possible[G_N_ELEMENTS (sora_charmaps)] = { FALSE };
  gboolean ascii = TRUE, c1 = FALSE;
  Text *fixed;

  for (gsize i = 0; i < n; i++) {
    ascii = ascii && t[i] < 0x80;
    c1 = c1 || (t[i] >= 0x80 && t[i] <= 0x9F);
  }
  if (ascii || !is_bad (t, n))
    return text_copy (t, n);
  if ((fixed = redecode (t, n, possible)))
    return fixed;
  for (gsize i = 0; i < n; i++)
    if (utf8_detector_at (t, n, i)) {
      fixed = decode_inconsistent_utf8 (t, n);
      if (!text_is (fixed, t, n))
        return fixed;
      g_array_unref (fixed);
      break;
    }
  /* ftfy tests for "windows-1252" among the possible encodings, which only
   * ever lists "sloppy-windows-1252": Latin-1 text always gets here. */
  if (possible[CHARMAP_LATIN1] && (fixed = latin1_to_cp1252 (t, n))) {
    if (!text_is (fixed, t, n))
      return fixed;
    g_array_unref (fixed);
  }
  return c1 ? fix_c1_controls (t, n) : text_copy (t, n);
}

/* ftfy.fix_encoding: one step at a time until nothing changes. */
static Text *
fix_encoding (const gunichar *t, gsize n)
{
  Text *text = text_copy (t, n);

  for (;;) {
    Text *next = fix_encoding_step ((gunichar *)text->data, text->len);
    gboolean same = text_is (next, (gunichar *)text->data, text->len);
    g_array_unref (text);
    text = next;
    if (same)
      return text;
  }
}

/* --- The fixers after fix_encoding --- */

/* uncurl_quotes of @c. */
static void
append_uncurled (Text *out, gunichar c)
{
  if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B))
    c = '\'';
  else if (c >= 0x201C && c <= 0x201F)
    c = '"';
  append_c (out, c);
}

/* fix_character_width, then uncurl_quotes, of @c. */
static void
append_width_fixed (Text *out, gunichar c)
{
  const char *s =
      map_lookup (sora_fix_widths, G_N_ELEMENTS (sora_fix_widths), c);

  if (s == NULL)
    append_uncurled (out, c);
  else
    for (; *s; s = g_utf8_next_char (s))
      append_uncurled (out, g_utf8_get_char (s));
}

/* fix_latin_ligatures, fix_character_width and uncurl_quotes, in ftfy's
 * order: each maps single characters. */
static Text *
fix_characters (const Text *in)
{
  Text *out = text_new (in->len);

  for (guint i = 0; i < in->len; i++) {
    gunichar c = g_array_index (in, gunichar, i);
    const char *s =
        map_lookup (sora_fix_ligatures, G_N_ELEMENTS (sora_fix_ligatures), c);
    if (s == NULL)
      append_width_fixed (out, c);
    else
      for (; *s; s = g_utf8_next_char (s))
        append_width_fixed (out, g_utf8_get_char (s));
  }
  return out;
}

/* fix_line_breaks, remove_terminal_escapes and remove_control_chars, in
 * ftfy's order. */
static Text *
fix_controls (const Text *in)
{
  const gunichar *t = (const gunichar *)in->data;
  Text *lines = text_new (in->len), *out = text_new (in->len);
  gsize n;

  for (guint i = 0; i < in->len; i++) {
    gunichar c = t[i];
    if (c == '\r' && i + 1 < in->len && t[i + 1] == '\n')
      continue;
    append_c (
        lines, c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85 ? '\n' : c);
  }
  t = (const gunichar *)lines->data;
  n = lines->len;
  for (gsize i = 0; i < n; i++) {
    gunichar c = t[i];
    /* ANSI_RE: "\033\[((?:\d|;)*)([a-zA-Z])", \d being any decimal digit. */
    if (c == 0x1B && i + 1 < n && t[i + 1] == '[') {
      gsize j = i + 2;
      while (j < n && (t[j] == ';' || g_unichar_isdigit (t[j])))
        j++;
      if (j < n && is_ascii_alpha (t[j])) {
        i = j;
        continue;
      }
    }
    if (c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
        (c >= 0x206A && c <= 0x206F) || c == 0xFEFF ||
        (c >= 0xFFF9 && c <= 0xFFFC))
      continue;
    append_c (out, c);
  }
  g_array_unref (lines);
  return out;
}

static Text *
text_from_utf8 (const char *s)
{
  Text *out = text_new (strlen (s));

  append_utf8 (out, s);
  return out;
}

/* One pass of ftfy's fix_and_explain loop over a segment. */
static char *
fix_segment_once (const char *segment, gboolean unescape)
{
  char *html = unescape ? sora_html_unescape_strict (segment) : NULL;
  Text *text = text_from_utf8 (html ? html : segment);
  Text *step, *fixed;
  char *utf8, *nfc;

  g_free (html);
  step = fix_encoding ((gunichar *)text->data, text->len);
  g_array_unref (text);
  fixed = fix_c1_controls ((gunichar *)step->data, step->len);
  g_array_unref (step);
  step = fix_characters (fixed);
  g_array_unref (fixed);
  fixed = fix_controls (step);
  g_array_unref (step);
  /* No U+0000 is left: remove_control_chars took it. */
  utf8 = g_ucs4_to_utf8 ((gunichar *)fixed->data, fixed->len, NULL, NULL, NULL);
  g_array_unref (fixed);
  nfc = g_utf8_normalize (utf8, -1, G_NORMALIZE_NFC);
  g_free (utf8);
  return nfc;
}

/* ftfy's fix_and_explain: passes until one changes nothing. */
static char *
fix_segment (const char *segment, gboolean unescape)
{
  char *text = g_strdup (segment);

  for (;;) {
    char *next = fix_segment_once (text, unescape);
    gboolean same = strcmp (next, text) == 0;
    g_free (text);
    text = next;
    if (same)
      return text;
  }
}

char *
sora_text_fix (const char *text)
{
  GString *out = g_string_sized_new (strlen (text));
  /* ftfy stops unescaping HTML, for this line and every later one, at the
   * first line with a '<' (it may be real HTML). */
  gboolean unescape = TRUE;

  g_return_val_if_fail (g_utf8_validate (text, -1, NULL), NULL);
  for (const char *p = text; *p;) {
    const char *end = p;
    char *segment, *fixed;
    for (glong chars = 0; *end && chars < MAX_SEGMENT_CHARS; chars++) {
      gboolean newline = *end == '\n';
      end = g_utf8_next_char (end);
      if (newline)
        break;
    }
    segment = g_strndup (p, end - p);
    unescape = unescape && strchr (segment, '<') == NULL;
    fixed = fix_segment (segment, unescape);
    g_string_append (out, fixed);
    g_free (fixed);
    g_free (segment);
    p = end;
  }
  return g_string_free (out, FALSE);
}
