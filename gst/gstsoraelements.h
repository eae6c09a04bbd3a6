/* gst-sora: what the sora elements share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_SORA_ELEMENTS_H__
#define __GST_SORA_ELEMENTS_H__

#include <gst/gst.h>

#include "sora-engine.h"

G_BEGIN_DECLS

/* The demo model folder installed with the plugin.  NULL until one ships:
 * then the model property must be set.  The build may define it to the data
 * dir (-DGST_SORA_DEFAULT_MODEL_DIR=...). */
#ifndef GST_SORA_DEFAULT_MODEL_DIR
#define GST_SORA_DEFAULT_MODEL_DIR NULL
#endif

/* GST_SORA_DEFAULT_MODEL_DIR when that folder exists, else NULL. */
const char *gst_sora_default_model_dir (void);

/* The nearest width or height the model takes: a multiple of 16, ≥ 16. */
guint gst_sora_nearest_multiple_of_16 (guint v);

/* The sampler enum as a GType (nicks "unipc", "euler"). */
#define GST_TYPE_SORA_SCHEDULER (gst_sora_scheduler_get_type ())
GType gst_sora_scheduler_get_type (void);

/* Posts an ERROR message for an engine failure in the domain a user can act
 * on: a missing or unreadable model folder is a RESOURCE error, an unusable
 * device a LIBRARY error, anything during generation a STREAM error.
 * @loading: whether the error came from opening the model. */
void gst_sora_post_engine_error (GstElement *element, const GError *error,
    gboolean loading, const char *model_dir, const char *device);

G_END_DECLS

#endif /* __GST_SORA_ELEMENTS_H__ */
