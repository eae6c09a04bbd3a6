/* gst-sora tokenizer: what the steps of ftfy's fix_text share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_TEXT_FIX_PRIVATE_H__
#define __SORA_TEXT_FIX_PRIVATE_H__

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  const char *name;
  gboolean sloppy, macroman;
  gunichar sub; /* what byte 0x1A decodes to */
  gunichar high[128]; /* what bytes 0x80-0xFF decode to */
} SoraCharmap;

typedef GArray Text; /* of gunichar */

static inline Text *
text_new (gsize reserve)
{
  return g_array_sized_new (FALSE, FALSE, sizeof (gunichar), reserve);
}

static inline void
append_c (Text *out, gunichar c)
{
  g_array_append_val (out, c);
}

/* @t encoded in @cm, its bytes fixed as ftfy does for @cm and decoded as
 * ftfy's "utf-8-variants"; NULL where that fails.  @possible gets whether
 * @cm could encode @t at all. */
G_GNUC_INTERNAL Text *sora_text_fix_redecode_with (
    const SoraCharmap *cm, const gunichar *t, gsize n, gboolean *possible);

G_END_DECLS

#endif /* __SORA_TEXT_FIX_PRIVATE_H__ */
