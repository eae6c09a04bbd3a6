/* gst-sora: sorasrc's properties: their specs, and reading and writing
 * them
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstsorasrcpriv.h"

enum {
  PROP_0,
  PROP_SETTINGS, /* the first of GstSoraSettings' */
  PROP_NUM_FRAMES = PROP_SETTINGS + GST_SORA_SETTINGS_N_PROPS,
  PROP_IS_LIVE,
  PROP_LATENCY,
  PROP_CLIPS,
  PROP_KEEP_UP,
  PROP_MIN_STEPS,
};

/* The generation settings (GstSoraSettings), then sorasrc's own. */
void
gst_sora_src_install_properties (GObjectClass *gobject_class)
{
  const GParamFlags rw =
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_DOC_SHOW_DEFAULT;

  gst_sora_settings_install_properties (gobject_class, PROP_SETTINGS,
      "What the video shows.  Read when each clip starts: a change while "
      "PLAYING steers the next clip of the stream (with a causal model, the "
      "next chunk)",
      "What the video should not show (used when guidance-scale is above "
      "1).  Read when each clip starts",
      "Denoising steps per clip, 1 to 1000: the time a clip takes grows in "
      "proportion; fewer are faster and coarser (Wan uses 50).  Read when "
      "each clip starts.  A causal model uses its own step list instead");
  g_object_class_install_property (gobject_class, PROP_NUM_FRAMES,
      g_param_spec_uint ("num-frames", "Number of frames",
          "Frames of the first clip, 4k+1 up to 2147483647 (81 are 5 s at "
          "Wan's 16 fps); each later clip adds num-frames - 1.  0 uses the "
          "model's native count",
          0, G_MAXUINT, DEFAULT_NUM_FRAMES, rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_IS_LIVE,
      g_param_spec_boolean ("is-live", "Is live",
          "Act as a live source: frames go out at their clock time, the "
          "latency property is reported, and frames that come too late are "
          "skipped with a QoS message",
          DEFAULT_IS_LIVE, rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LATENCY,
      g_param_spec_uint64 ("latency", "Latency",
          "Latency reported when live, in nanoseconds: how long after its "
          "timestamp a frame may be ready.  0 reports the measured time to "
          "the first frame of the first clip.  A change posts a LATENCY "
          "message",
          0, G_MAXUINT64, DEFAULT_LATENCY, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_CLIPS,
      g_param_spec_uint ("clips", "Clips",
          "Clips before EOS, each continuing the last without a cut; 0 "
          "never ends.  Read when a clip ends, so a change while PLAYING "
          "lengthens or ends the stream",
          0, G_MAXUINT, DEFAULT_CLIPS, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_KEEP_UP,
      g_param_spec_boolean ("keep-up", "Keep up with real time",
          "When live: choose each continuing clip's steps (down to "
          "min-steps) and guidance (off before the steps go below "
          "min-steps) from how long the last clip took, so that its frames "
          "are ready in time; the sora/clip message says what was chosen.  "
          "The steps and guidance-scale properties are the most it uses.  "
          "Read when each clip starts",
          DEFAULT_KEEP_UP, rw | GST_PARAM_MUTABLE_PLAYING));
  /* Any value reaches the element, which refuses one out of range. */
  g_object_class_install_property (gobject_class, PROP_MIN_STEPS,
      g_param_spec_uint ("min-steps", "Minimum steps",
          "The fewest denoising steps keep-up chooses, 1 to 1000 (fewer are "
          "faster and coarser); when steps is lower, steps.  Read when each "
          "clip starts",
          0, G_MAXUINT, DEFAULT_MIN_STEPS, rw | GST_PARAM_MUTABLE_PLAYING));
}

/* Wan's VAE decodes 1 frame, then 4 per latent frame: num-frames is 4k+1
 * (or 0).  A value refused fails the next start (GstSoraSettings). */
static void
gst_sora_src_take_num_frames_locked (
    GstSoraSrc *self, GParamSpec *pspec, const GValue *value)
{
  guint n = g_value_get_uint (value);

  if (!gst_sora_settings_accept_uint_locked (
          &self->settings, pspec, n, 0, G_MAXINT))
    return;
  if (n != 0 && sora_engine_nearest_frames (n) != n) {
    gst_sora_settings_refuse_locked (&self->settings, pspec,
        g_strdup_printf ("Property \"%s\" must be 4k+1 (or 0 for the "
                         "model's): %u is not; the nearest valid value is %u",
            pspec->name, n, sora_engine_nearest_frames (n)));
    return;
  }
  self->num_frames = n;
}

void
gst_sora_src_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstSoraSrc *self = GST_SORA_SRC (object);
  gboolean refused = FALSE;
  GstClockTime latency = GST_CLOCK_TIME_NONE;

  if (gst_sora_settings_set_property (&self->settings, GST_ELEMENT (self),
          PROP_SETTINGS, prop_id, value, pspec, &self->engine, &self->lock)) {
    /* A causal stream reports how long a new prompt took to show. */
    if (prop_id == PROP_SETTINGS + GST_SORA_SETTINGS_PROP_PROMPT) {
      g_mutex_lock (&self->lock);
      self->prompt_set_us = g_get_monotonic_time ();
      g_mutex_unlock (&self->lock);
    }
    return;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_NUM_FRAMES:
      if (GST_STATE (self) > GST_STATE_READY)
        refused = TRUE;
      else
        gst_sora_src_take_num_frames_locked (self, pspec, value);
      break;
    case PROP_IS_LIVE:
      if (GST_STATE (self) > GST_STATE_READY)
        refused = TRUE;
      break;
    case PROP_LATENCY:
      self->latency = latency = g_value_get_uint64 (value);
      break;
    case PROP_CLIPS:
      self->clips = g_value_get_uint (value);
      break;
    case PROP_KEEP_UP:
      self->keep_up = g_value_get_boolean (value);
      break;
    case PROP_MIN_STEPS:
      if (gst_sora_settings_accept_uint_locked (&self->settings, pspec,
              g_value_get_uint (value), GST_SORA_MIN_STEPS, GST_SORA_MAX_STEPS))
        self->min_steps = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);

  /* Outside the object lock: these take it themselves. */
  if (refused)
    gst_sora_warn_ready_only (GST_ELEMENT (self), pspec);
  else if (prop_id == PROP_IS_LIVE) {
    gst_base_src_set_live (GST_BASE_SRC (self), g_value_get_boolean (value));
  } else if (GST_CLOCK_TIME_IS_VALID (latency)) {
    gst_element_post_message (
        GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
  }
}

void
gst_sora_src_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstSoraSrc *self = GST_SORA_SRC (object);

  if (gst_sora_settings_get_property (
          &self->settings, GST_ELEMENT (self), PROP_SETTINGS, prop_id, value))
    return;
  if (prop_id == PROP_IS_LIVE) {
    /* basesrc keeps it, under the object lock itself. */
    g_value_set_boolean (value, gst_base_src_is_live (GST_BASE_SRC (self)));
    return;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_NUM_FRAMES:
      g_value_set_uint (value, self->num_frames);
      break;
    case PROP_LATENCY:
      g_value_set_uint64 (value, self->latency);
      break;
    case PROP_CLIPS:
      g_value_set_uint (value, self->clips);
      break;
    case PROP_KEEP_UP:
      g_value_set_boolean (value, self->keep_up);
      break;
    case PROP_MIN_STEPS:
      g_value_set_uint (value, self->min_steps);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}
