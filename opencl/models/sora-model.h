/* gst-sora engine: what the model files share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_MODEL_H__
#define __SORA_MODEL_H__

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

G_END_DECLS

#endif /* __SORA_MODEL_H__ */
