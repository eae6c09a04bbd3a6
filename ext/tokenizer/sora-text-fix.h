/* gst-sora tokenizer: ftfy's fix_text, which Wan's prompt cleaning runs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_TEXT_FIX_H__
#define __SORA_TEXT_FIX_H__

#include <glib.h>

G_BEGIN_DECLS

/* ftfy 6.3.1's fix_text with its default settings, of the valid UTF-8
 * @text: HTML references, mojibake, C1 controls, Latin ligatures, character
 * widths, curly quotes, line breaks, terminal escapes, control characters,
 * then NFC. */
char *sora_text_fix (const char *text);

/* Python's str.isspace (and so re's \s) for @c. */
gboolean sora_text_is_space (gunichar c);

G_END_DECLS

#endif /* __SORA_TEXT_FIX_H__ */
