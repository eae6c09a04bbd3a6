/* gst-sora: the bus messages both elements post
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_SORA_MESSAGES_H__
#define __GST_SORA_MESSAGES_H__

#include "gstsoraelements.h"

G_BEGIN_DECLS

/* Opens the engine for the model and device set now, bracketed by a
 * GST_MESSAGE_PROGRESS START and COMPLETE, ERROR or CANCELED.  NULL when it
 * cannot be opened, with @error set: unless @cancellable was cancelled,
 * post it with gst_sora_settings_post_open_error (the caller first stops
 * what must not go on once the error is on the bus). */
SoraEngine *gst_sora_settings_open_engine (GstSoraSettings *settings,
    GstElement *element, GCancellable *cancellable, GError **error);
void gst_sora_settings_post_open_error (
    GstSoraSettings *settings, GstElement *element, const GError *error);

/* After each finished denoising step: the `sora/progress` element message
 * and a GST_MESSAGE_PROGRESS COMPLETE with code "denoise" (the step is a
 * task done), which gst-launch-1.0 prints.  Never START or CONTINUE: with
 * one of those in flight gst-launch-1.0 holds a prerolled pipeline in
 * PAUSED until the task completes, which would hold a stream back for a
 * whole clip's denoising whenever the next clip starts during preroll. */
void gst_sora_post_step_progress (GstElement *element, guint step,
    guint total_steps, guint clip, guint frames_ready, double seconds_per_step);
/* A generation that ended before its last step: PROGRESS CANCELED, or ERROR
 * when it failed, code "denoise". */
void gst_sora_post_denoise_stopped (GstElement *element, guint clip,
    guint steps_done, guint total_steps, gboolean failed);

/* The `sora/clip` element message for a generation done: clip (uint),
 * seed (uint64), generation-time (double, @seconds) and frames (uint) from
 * @params, then the fields @first_field and on add (as gst_structure_set
 * takes them, NULL-terminated). */
void gst_sora_post_clip_done (GstElement *element, guint clip,
    const SoraGenerateParams *params, double seconds, const char *first_field,
    ...) G_GNUC_NULL_TERMINATED;

/* Posts the warning for a NULL-or-READY-only property set above READY.
 * Call without the object lock. */
void gst_sora_warn_ready_only (GstElement *element, GParamSpec *pspec);

/* Posts an ERROR message for an engine failure in the domain a user can act
 * on: a missing or unreadable model folder is a RESOURCE error, an unusable
 * device a LIBRARY error, anything during generation a STREAM error.
 * @loading: whether the error came from opening the model. */
void gst_sora_post_engine_error (GstElement *element, const GError *error,
    gboolean loading, const char *model_dir, const char *device);

/* Starts @func on a thread called @name, or posts RESOURCE FAILED
 * ("Cannot start the @what thread: ...") and returns NULL. */
GThread *gst_sora_start_thread (GstElement *element, const char *name,
    const char *what, GThreadFunc func, gpointer data);

G_END_DECLS

#endif /* __GST_SORA_MESSAGES_H__ */
