/* gst-sora engine: the flow-matching schedulers of the Wan pipeline
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_SCHEDULER_H__
#define __SORA_SCHEDULER_H__

#include "sora-wan-config.h"
#include "sora-tensor.h"

G_BEGIN_DECLS

typedef struct _SoraScheduler SoraScheduler;

/* The config diffusers' Wan repos store for @kind (UniPC: order 2, bh2,
 * x0 prediction, lower order final, final sigma zero; 1000 train steps)
 * with @shift, for callers that override the folder's scheduler. */
void sora_scheduler_config_defaults (
    SoraSchedulerConfig *cfg, SoraSchedulerKind kind, double shift);

/* The schedule of @steps steps, as diffusers' set_timesteps makes it.
 * A config sora_scheduler_config_check refuses is its SORA_ERROR_MODEL;
 * @steps 0, and 1 with an Euler shift_terminal (diffusers' schedule is
 * NaN), are SORA_ERROR_INVALID_ARGUMENT. */
SoraScheduler *sora_scheduler_new (
    const SoraSchedulerConfig *cfg, guint steps, GError **error);
void sora_scheduler_free (SoraScheduler *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SoraScheduler, sora_scheduler_free);

/* How many sample-shaped f32 tensors a scheduler of @cfg keeps on the
 * device (UniPC's history, solver_order + 2; Euler none). */
guint sora_scheduler_state_tensors (const SoraSchedulerConfig *cfg);

guint sora_scheduler_get_n_steps (SoraScheduler *s);
/* The timestep the model sees at step @i (< n_steps): UniPC's int64 values
 * and Euler's float32 ones, both exact as floats. */
float sora_scheduler_get_timestep (SoraScheduler *s, guint i);
/* σ_i for @i ≤ n_steps, the float32 values diffusers keeps (σ_n is 0, σ_{n-1}
 * for UniPC's sigma_min, 1 for Euler's invert_sigmas). */
float sora_scheduler_get_sigma (SoraScheduler *s, guint i);
/* The step the next sora_scheduler_step takes. */
guint sora_scheduler_get_step_index (SoraScheduler *s);

/* Takes the next step: @sample (x_i, f32) becomes x_{i+1} in place, from
 * the model's flow prediction @model_output (f32, the same element count)
 * at get_timestep (i).  UniPC keeps its history on the device, allocated
 * on the first step with the sample's shape. */
gboolean sora_scheduler_step (SoraScheduler *s, SoraTensor *model_output,
    SoraTensor *sample, GError **error);

/* The forward process to σ_@step_index (< n_steps):
 * @out = (1 − σ)·@clean + σ·@noise, as UniPC's add_noise and Euler's
 * scale_noise compute it.  @out may be @clean or @noise. */
gboolean sora_scheduler_add_noise (SoraScheduler *s, guint step_index,
    SoraTensor *clean, SoraTensor *noise, SoraTensor *out, GError **error);

G_END_DECLS

#endif /* __SORA_SCHEDULER_H__ */
