/* gst-sora: the rules the engine, its adapters and the elements share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_RULES_H__
#define __SORA_RULES_H__

#include <glib.h>

G_BEGIN_DECLS

/* The scheduler (sampler) of the denoising loop, in the one enum for it: a
 * model folder's scheduler_config.json (SoraSchedulerConfig), the elements'
 * "scheduler" property and the tools all use these values (docs/model.md
 * §Schedulers). */
typedef enum {
  SORA_SCHEDULER_UNIPC, /* flow-matching UniPC multistep (Wan's own) */
  SORA_SCHEDULER_EULER, /* flow-matching Euler */
} SoraSchedulerKind;

/* The sizes the model takes (docs/model.md §Geometry): width and height
 * multiples of 16 (the VAE's 8 pixels per latent times the transformer's
 * 2x2 patch) and frame counts 4k+1 (the VAE's first frame, then 4 per latent
 * frame).  Here so that the model-folder parser in ext/ states them no
 * other way than the engine and the elements.
 *
 * The nearest width or height, a multiple of 16 and at least 16: */
static inline guint
sora_engine_nearest_side (guint size)
{
  return MAX (16, (size + 8) / 16 * 16);
}

/* The nearest frame count 4k+1, at least 1: */
static inline guint
sora_engine_nearest_frames (guint frames)
{
  return frames < 1 ? 1 : (frames + 1) / 4 * 4 + 1;
}

G_END_DECLS

#endif /* __SORA_RULES_H__ */
