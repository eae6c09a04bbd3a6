/* gst-sora tokenizer: HTML character references, as Python's html.unescape
 * and ftfy's unescape_html decode them
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_HTML_H__
#define __SORA_HTML_H__

#include <glib.h>

G_BEGIN_DECLS

/* Python's html.unescape of the valid UTF-8 @text: every named or numeric
 * reference, with or without ';', the longest known name first. */
char *sora_html_unescape (const char *text);

/* ftfy's unescape_html: only references that end in ';', plus ftfy's
 * upper-cased names (&EACUTE;). */
char *sora_html_unescape_strict (const char *text);

G_END_DECLS

#endif /* __SORA_HTML_H__ */
