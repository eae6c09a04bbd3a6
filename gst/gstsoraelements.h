/* gst-sora: what the sora elements share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_SORA_ELEMENTS_H__
#define __GST_SORA_ELEMENTS_H__

#include <gst/gst.h>
#include <gst/video/video.h>

#include "sora-engine.h"

G_BEGIN_DECLS

/* The model used when the model property is unset: $GST_SORA_MODEL when
 * set (uninstalled use: `meson devenv` sets it to the source tree's demo
 * model), else the demo model installed with the plugin,
 * GST_SORA_DEFAULT_MODEL_DIR (the build defines it to
 * $datadir/gst-sora/models/sora-demo), when that folder exists, else NULL. */
const char *gst_sora_default_model_dir (void);

/* Reads @caps into @info.  FALSE, with a NEGOTIATION error posted, when
 * they are unusable or the size is not one the model takes (width and height
 * multiples of 16; the error names the nearest valid size). */
gboolean gst_sora_video_info_from_caps (
    GstElement *element, GstCaps *caps, GstVideoInfo *info);

/* The engine's SoraSchedulerKind as a GType, for the scheduler property: the
 * same values, nicks "unipc" and "euler". */
#define GST_TYPE_SORA_SCHEDULER (gst_sora_scheduler_get_type ())
GType gst_sora_scheduler_get_type (void);

/* The generation settings both elements expose as properties, with the
 * same names, ranges and defaults.  Under the element's object lock: each is
 * read when a generation starts; model and device change only in NULL or
 * READY, as they pick the engine.
 *
 * The property specs take any value of their type, so that a value out of
 * range reaches the element (GObject would only print a warning and keep
 * the old one): the element refuses it, keeps the old value and records
 * why in refused, which fails the next start or generation with an error
 * naming the property (gst_sora_settings_check). */
typedef struct
{
  gchar *model;
  gchar *prompt;
  gchar *negative_prompt;
  gint64 seed; /* -1: the element draws one at start */
  guint steps;
  gdouble guidance_scale;
  gdouble flow_shift;
  SoraSchedulerKind scheduler;
  gchar *device;
  /* Property name (static) -> why its last value was refused. */
  GHashTable *refused;
  /* The prompts last checked for length: a warning once, not per clip. */
  gchar *checked_prompts;
} GstSoraSettings;

/* The steps property's range, which sorasrc's min-steps shares. */
#define GST_SORA_MIN_STEPS 1
#define GST_SORA_MAX_STEPS 1000

/* Their property ids, counted from the element's first one. */
enum {
  GST_SORA_SETTINGS_PROP_MODEL,
  GST_SORA_SETTINGS_PROP_PROMPT,
  GST_SORA_SETTINGS_PROP_NEGATIVE_PROMPT,
  GST_SORA_SETTINGS_PROP_SEED,
  GST_SORA_SETTINGS_PROP_STEPS,
  GST_SORA_SETTINGS_PROP_GUIDANCE_SCALE,
  GST_SORA_SETTINGS_PROP_FLOW_SHIFT,
  GST_SORA_SETTINGS_PROP_SCHEDULER,
  GST_SORA_SETTINGS_PROP_DEVICE,
  GST_SORA_SETTINGS_N_PROPS,
};

/* Installs the settings as properties @first_id to @first_id +
 * GST_SORA_SETTINGS_N_PROPS - 1.  The blurbs of prompt, negative-prompt and
 * steps say what the element generates; they must be static strings. */
void gst_sora_settings_install_properties (GObjectClass *klass, guint first_id,
    const char *prompt_blurb, const char *negative_prompt_blurb,
    const char *steps_blurb);

void gst_sora_settings_init (GstSoraSettings *settings);
void gst_sora_settings_clear (GstSoraSettings *settings);

/* Sets property @prop_id if it is one of the settings (installed from
 * @first_id), taking @element's object lock; a change of model or device
 * while above READY is refused with a warning on the bus, a value out of
 * range or a text that is not UTF-8 is refused (recorded for
 * gst_sora_settings_check).  model unset (NULL) is the default model
 * (gst_sora_default_model_dir).  Returns whether @prop_id is a setting.
 * When model or device changed, the engine loaded for the old ones is
 * stale: it is dropped from *@engine (gst_sora_drop_engine with @lock), so
 * that the next start opens the new one. */
gboolean gst_sora_settings_set_property (GstSoraSettings *settings,
    GstElement *element, guint first_id, guint prop_id, const GValue *value,
    GParamSpec *pspec, SoraEngine **engine, GMutex *lock);

/* Gets property @prop_id if it is one of the settings, under @element's
 * object lock.  Returns whether it is. */
gboolean gst_sora_settings_get_property (GstSoraSettings *settings,
    GstElement *element, guint first_id, guint prop_id, GValue *value);

/* Records that the value just set for @pspec was refused, @why (taken)
 * saying why and naming the property, or with @why NULL that it was taken,
 * which forgets an earlier refusal.  Object lock held. */
void gst_sora_settings_refuse_locked (
    GstSoraSettings *settings, GParamSpec *pspec, gchar *why);

/* Whether @value is @min to @max: if not, refuses it for @pspec (saying so,
 * and how a negative number typed for it was read), else forgets an earlier
 * refusal.  Object lock held. */
gboolean gst_sora_settings_accept_uint_locked (GstSoraSettings *settings,
    GParamSpec *pspec, guint value, guint min, guint max);

/* Fills the settings' part of @params, under @element's object lock: copies
 * of prompt and negative-prompt (free them with
 * gst_sora_settings_clear_params), the seed property or @random_seed when it
 * is -1, steps, guidance scale, flow shift and scheduler. */
void gst_sora_settings_fill_params (GstSoraSettings *settings,
    GstElement *element, guint64 random_seed, SoraGenerateParams *params);
void gst_sora_settings_clear_params (SoraGenerateParams *params);

/* Whether the settings can be used: no value refused since it was set and
 * a model folder known.  If not, posts the error saying why (RESOURCE
 * SETTINGS naming each refused property, or RESOURCE NOT_FOUND).  Called
 * where the settings are read: when the element starts and when a
 * generation starts.
 *
 * At start it fails the state change rather than posting the error from a
 * thread of the element: gst-launch-1.0 (1.22, and its source since) loses an
 * error posted between its set_state(PAUSED) and its main loop's start, and
 * then never exits, whereas a failed state change makes it exit (with 255, its
 * code for that, rather than 1). */
gboolean gst_sora_settings_check (
    GstSoraSettings *settings, GstElement *element);

/* Posts a LIBRARY SETTINGS warning when the prompt of @params (or its
 * negative prompt, when guidance uses it) is longer than the text encoder
 * reads, saying how many tokens are cut; checked once per prompt. */
void gst_sora_settings_warn_long_prompt (GstSoraSettings *settings,
    GstElement *element, SoraEngine *engine, const SoraGenerateParams *params);

/* Takes the engine out of *@engine under @lock and frees it after, so that
 * the free does not hold the lock. */
void gst_sora_drop_engine (SoraEngine **engine, GMutex *lock);

/* A seed for seed=-1: random, ≥ 0 as the property's range. */
guint64 gst_sora_random_seed (void);

/* Sets the size and pixel format of @params from @info (I420, NV12, RGB or
 * RGBA, as the elements' templates allow) and returns the bytes of one
 * frame in that format, as the engine hands frames over. */
gsize gst_sora_params_set_video (
    SoraGenerateParams *params, const GstVideoInfo *info);

/* Where frame @n of a stream at @fps_n/@fps_d starts, from its first
 * frame: each frame's duration is the next one's position less its own, so
 * that durations add up without drift. */
GstClockTime gst_sora_frame_position (guint64 n, gint fps_n, gint fps_d);

G_END_DECLS

#endif /* __GST_SORA_ELEMENTS_H__ */
