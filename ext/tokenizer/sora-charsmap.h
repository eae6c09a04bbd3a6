/* gst-sora tokenizer: SentencePiece's precompiled charsmap (the
 * "Precompiled" normalizer of tokenizer.json)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_CHARSMAP_H__
#define __SORA_CHARSMAP_H__

#include <glib.h>

G_BEGIN_DECLS

typedef struct _SoraCharsmap SoraCharsmap;

/* @blob is the base64-decoded precompiled_charsmap; @what names it in
 * errors. */
SoraCharsmap *sora_charsmap_new (
    const guint8 *blob, gsize len, const char *what, GError **error);
void sora_charsmap_free (SoraCharsmap *map);

/* Appends the normalized form of the valid UTF-8 @text to @out. */
void sora_charsmap_normalize (
    const SoraCharsmap *map, const char *text, gsize len, GString *out);

/* The length in bytes of the extended grapheme cluster (UAX #29) at the
 * start of the valid, non-empty UTF-8 @text. */
gsize sora_grapheme_next (const char *text, gsize len);

G_END_DECLS

#endif /* __SORA_CHARSMAP_H__ */
