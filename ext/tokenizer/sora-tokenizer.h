/* gst-sora tokenizer: Hugging Face tokenizer.json (umT5's Unigram)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_TOKENIZER_H__
#define __SORA_TOKENIZER_H__

#include <glib.h>

G_BEGIN_DECLS

typedef struct _SoraTokenizer SoraTokenizer;

/* Errors are SORA_ERROR_FORMAT and name the file and the JSON key. */
SoraTokenizer *sora_tokenizer_new_from_file (const char *path, GError **error);
/* @what names the data in errors (a file name, say). */
SoraTokenizer *sora_tokenizer_new_from_data (
    const char *json, gsize len, const char *what, GError **error);
void sora_tokenizer_free (SoraTokenizer *tok);

/* Encodes the UTF-8 @text as transformers' tokenizer(text,
 * add_special_tokens=True) does: added tokens, normalizer, pre-tokenizer,
 * Unigram, then the post-processor's special tokens. With @max_length > 0
 * it also truncates the content so the special tokens still fit and pads
 * on the right to @max_length, like padding="max_length", truncation=True.
 * @ids (gint32) is replaced; @mask (guint8 or gint32 elements, may be NULL)
 * gets 1 for real tokens and 0 for padding. Invalid UTF-8 is an error. */
gboolean sora_tokenizer_encode (SoraTokenizer *tok, const char *text,
    gsize max_length, GArray *ids, GArray *mask, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SoraTokenizer, sora_tokenizer_free)

G_END_DECLS

#endif /* __SORA_TOKENIZER_H__ */
