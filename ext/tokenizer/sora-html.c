/* gst-sora tokenizer: HTML character references
 *
 * Wan's prompt cleaning (diffusers' prompt_clean) runs ftfy, whose
 * unescape_html decodes only references that end in ';', then Python's
 * html.unescape twice, which also decodes "&amp" and "&notit;" (as "¬it;").
 * Both are followed here rule for rule; the names come from Python's
 * html.entities.html5 and ftfy's HTML_ENTITIES (sora-html-table.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "sora-html.h"

enum {
  SORA_HTML_PYTHON = 1 << 0,
  SORA_HTML_FTFY = 1 << 1,
};

typedef struct
{
  const char *name, *text;
  guint flags;
} SoraHtmlEntity;

typedef struct
{
  gunichar num, c;
} SoraHtmlCharref;

#include "sora-html-table.h"

/* Python's limit on the length of a name (without ';'). */
#define NAME_MAX_CHARS 32
/* ftfy's HTML_ENTITY_RE: "&#?[0-9A-Za-z]{1,24};". */
#define FTFY_NAME_MAX 24

typedef struct
{
  const char *name;
  gsize len;
} Key;

static int
compare_entity (const void *key, const void *elem)
{
  const Key *k = key;
  const char *name = ((const SoraHtmlEntity *)elem)->name;
  gsize len = strlen (name);
  int r = memcmp (k->name, name, MIN (k->len, len));

  if (r != 0)
    return r;
  return k->len < len ? -1 : k->len > len;
}

/* The text of the @len bytes at @name in the table @flags picks, or NULL. */
static const char *
lookup (const char *name, gsize len, guint flags)
{
  Key key = { name, len };
  const SoraHtmlEntity *e =
      bsearch (&key, sora_html_entities, G_N_ELEMENTS (sora_html_entities),
          sizeof (SoraHtmlEntity), compare_entity);

  return e && (e->flags & flags) ? e->text : NULL;
}

static gboolean
in_sorted (const gunichar *set, gsize n, gunichar c)
{
  for (gsize i = 0; i < n && set[i] <= c; i++)
    if (set[i] == c)
      return TRUE;
  return FALSE;
}

/* html._replace_charref for the code point @num (saturated past U+10FFFF). */
static void
append_charref (GString *out, gunichar num)
{
  for (guint i = 0; i < G_N_ELEMENTS (sora_html_invalid_charrefs); i++)
    if (sora_html_invalid_charrefs[i].num == num) {
      g_string_append_unichar (out, sora_html_invalid_charrefs[i].c);
      return;
    }
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF)
    g_string_append_unichar (out, 0xFFFD);
  else if (!in_sorted (sora_html_invalid_codepoints,
               G_N_ELEMENTS (sora_html_invalid_codepoints), num))
    g_string_append_unichar (out, num);
}

/* A numeric reference "#[0-9]+;?" or "#[xX][0-9a-fA-F]+;?" at @p (after
 * the '&'): appends it and returns its end, or NULL if there is none. */
static const char *
numeric_ref (const char *p, GString *out)
{
  gboolean hex = (p[1] == 'x' || p[1] == 'X') && g_ascii_isxdigit (p[2]);
  const char *d = p + (hex ? 2 : 1);
  gunichar num = 0;

  if (!hex && !g_ascii_isdigit (*d))
    return NULL;
  for (; hex ? g_ascii_isxdigit (*d) : g_ascii_isdigit (*d); d++)
    num = MIN (num * (hex ? 16 : 10) +
            (hex ? g_ascii_xdigit_value (*d) : g_ascii_digit_value (*d)),
        0x110000);
  append_charref (out, num);
  return *d == ';' ? d + 1 : d;
}

/* A named reference "[^\t\n\f <&#;]{1,32};?" at @p (after the '&'):
 * appends its decoding and returns its end, or NULL if there is none. */
static const char *
named_ref (const char *p, GString *out)
{
  const char *end = p, *value;
  gsize chars = 0, ascii = 0, len;

  while (chars < NAME_MAX_CHARS && *end && !strchr ("\t\n\f <&#;", *end)) {
    end = g_utf8_next_char (end);
    chars++;
  }
  if (chars == 0)
    return NULL;
  if (*end == ';') {
    end++;
    chars++;
  }
  len = end - p;
  while (ascii < len && (guchar)p[ascii] < 0x80)
    ascii++;
  if ((value = lookup (p, len, SORA_HTML_PYTHON))) {
    g_string_append (out, value);
    return end;
  }
  /* The longest known prefix of at least two characters; names are
   * ASCII, so only the ASCII head of the reference can match. */
  for (gsize x = MIN (chars - 1, ascii); x >= 2; x--)
    if ((value = lookup (p, x, SORA_HTML_PYTHON))) {
      g_string_append (out, value);
      g_string_append_len (out, p + x, len - x);
      return end;
    }
  g_string_append_c (out, '&');
  g_string_append_len (out, p, len);
  return end;
}

char *
sora_html_unescape (const char *text)
{
  GString *out = g_string_sized_new (strlen (text));

  for (const char *p = text; *p;) {
    const char *next = NULL;

    if (*p == '&')
      next = p[1] == '#' ? numeric_ref (p + 1, out) : named_ref (p + 1, out);
    if (next)
      p = next;
    else
      g_string_append_c (out, *p++);
  }
  return g_string_free (out, FALSE);
}

/* ftfy's _unescape_fixup of the reference @ref of @len bytes. */
static void
append_strict (GString *out, const char *ref, gsize len)
{
  const char *value = lookup (ref + 1, len - 1, SORA_HTML_FTFY);
  char *numeric, *decoded;

  if (value) {
    g_string_append (out, value);
    return;
  }
  if (ref[1] != '#') {
    g_string_append_len (out, ref, len);
    return;
  }
  /* A numeric reference counts only if its ';' was part of it. */
  numeric = g_strndup (ref, len);
  decoded = sora_html_unescape (numeric);
  g_string_append (out, strchr (decoded, ';') ? numeric : decoded);
  g_free (decoded);
  g_free (numeric);
}

char *
sora_html_unescape_strict (const char *text)
{
  GString *out = g_string_sized_new (strlen (text));

  for (const char *p = text; *p;) {
    const char *name = p + 1 + (p[1] == '#');
    gsize n = 0;

    if (*p == '&')
      while (n <= FTFY_NAME_MAX && g_ascii_isalnum (name[n]))
        n++;
    if (n >= 1 && n <= FTFY_NAME_MAX && name[n] == ';') {
      append_strict (out, p, name + n + 1 - p);
      p = name + n + 1;
    } else {
      g_string_append_c (out, *p++);
    }
  }
  return g_string_free (out, FALSE);
}
