/* gst-sora engine: what the model files share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_MODEL_H__
#define __SORA_MODEL_H__

#include "sora-diffusers.h"
#include "sora-tensor.h"

G_BEGIN_DECLS

/* Called with intermediate results of a forward pass ("after_block0", ...),
 * so tests and `sora-tool` can say where numbers first part ways with the
 * reference.  The tensor is only valid during the call. */
typedef void (*SoraProbeFunc) (
    const char *point, SoraTensor *t, gpointer user_data);

typedef struct
{
  SoraProbeFunc func;
  gpointer user_data;
} SoraProbe;

static inline void
sora_probe_emit (const SoraProbe *probe, const char *point, SoraTensor *t)
{
  if (probe && probe->func)
    probe->func (point, t, probe->user_data);
}

/* The tensors the engine reads from a weight component of @folder, from
 * the tables of the model that runs it (NULL for the other components):
 * a GPtrArray of SoraExpectedTensor. */
GPtrArray *sora_model_expected_tensors (
    const SoraModelFolder *folder, SoraComponent component);

/* Checks that every expected tensor of every component exists with its
 * shape and a weight dtype (F32, F16, BF16), and that the tokenizer has a
 * tokenizer.json: errors name the file, the tensor, the expected and the
 * found shape. */
gboolean sora_model_folder_validate (
    const SoraModelFolder *folder, GError **error);

G_END_DECLS

#endif /* __SORA_MODEL_H__ */
