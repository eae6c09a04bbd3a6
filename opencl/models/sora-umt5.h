/* gst-sora engine: the umT5 text encoder
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_UMT5_H__
#define __SORA_UMT5_H__

#include "sora-diffusers.h"
#include "sora-model.h"
#include "sora-weights.h"

G_BEGIN_DECLS

/* The text length of Wan's public pipeline: prompts are padded or cut to
 * this many tokens before umT5. */
#define SORA_WAN_TEXT_LENGTH 512

typedef struct _SoraUmt5 SoraUmt5;

/* The modules of an encoder of @cfg, in the order of the module tree
 * (a GPtrArray of SoraModuleUse), and the tensors they name. */
GPtrArray *sora_umt5_modules (const SoraUmt5Config *cfg);
GPtrArray *sora_umt5_expected_tensors (const SoraUmt5Config *cfg);

/* Uploads the text encoder of @folder (validated by the caller, and kept
 * open while the encoder lives).  The token embedding table stays in the
 * file mapping on the host: only the rows of a prompt's tokens travel to
 * the device.  With @stream, the layers are not kept: each encoding
 * uploads one layer at a time and frees it after use, so the device holds
 * one layer's weights instead of all (umT5-XXL: 0.4 instead of 11.4 GB),
 * at the cost of an upload per encoding. */
SoraUmt5 *sora_umt5_new (SoraDevice *dev, const SoraModelFolder *folder,
    gboolean stream, GError **error);
/* What the encoder's layers take in @folder's files (@folder validated):
 * about what the device holds for them when not streaming. */
guint64 sora_umt5_weight_bytes (const SoraModelFolder *folder);
void sora_umt5_free (SoraUmt5 *m);
guint sora_umt5_get_dim (SoraUmt5 *m);

/* Encodes @batch sequences of @seq token ids with their attention masks
 * (1 real, 0 padding).  Returns [batch, seq, d_model] f32 with the padding
 * rows set to exactly zero, as the Wan pipeline hands the text states to the
 * DiT.  @probe sees "after_layer0" and "last_hidden_state" (before the
 * padding rows are zeroed). */
SoraTensor *sora_umt5_encode (SoraUmt5 *m, const gint32 *ids,
    const gint32 *mask, gsize batch, gsize seq, const SoraProbe *probe,
    GError **error);

G_END_DECLS

#endif /* __SORA_UMT5_H__ */
