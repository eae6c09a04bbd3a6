/* gst-sora tokenizer: Wan's prompt cleaning, as diffusers 0.35.2's
 * pipeline_wan.py does it (basic_clean, then whitespace_clean)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sora-html.h"
#include "sora-prompt-clean.h"
#include "sora-text-fix.h"

char *
sora_prompt_clean (const char *text)
{
  char *valid = g_utf8_make_valid (text ? text : "", -1);
  char *fixed = sora_text_fix (valid);
  char *once = sora_html_unescape (fixed);
  char *twice = sora_html_unescape (once);
  GString *out = g_string_sized_new (strlen (twice));

  /* re.sub (r"\s+", " ", text).strip (): \s and strip () both mean
   * str.isspace. */
  for (const char *p = twice; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    if (!sora_text_is_space (c))
      g_string_append_unichar (out, c);
    else if (out->len && out->str[out->len - 1] != ' ')
      g_string_append_c (out, ' ');
  }
  if (out->len && out->str[out->len - 1] == ' ')
    g_string_truncate (out, out->len - 1);
  g_free (twice);
  g_free (once);
  g_free (fixed);
  g_free (valid);
  return g_string_free (out, FALSE);
}
