/* gst-sora tokenizer: Wan's prompt cleaning
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_PROMPT_CLEAN_H__
#define __SORA_PROMPT_CLEAN_H__

#include <glib.h>

G_BEGIN_DECLS

/* diffusers' prompt_clean for Wan: ftfy's fix_text, Python's html.unescape
 * twice, then every run of white space made one space, and the ends
 * stripped. Invalid UTF-8 in @text (NULL: "") becomes U+FFFD first. */
char *sora_prompt_clean (const char *text);

G_END_DECLS

#endif /* __SORA_PROMPT_CLEAN_H__ */
