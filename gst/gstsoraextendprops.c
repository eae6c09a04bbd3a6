/* gst-sora: soraextend's properties: their specs, and reading and writing
 * them
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstsoraextendpriv.h"

/* The values taken; the specs allow the whole type (GstSoraSettings). */
#define MIN_EXTEND_FRAMES 1
#define MAX_EXTEND_FRAMES 4096
#define MIN_CONTEXT_FRAMES 1
#define MAX_CONTEXT_FRAMES 256

enum {
  PROP_0,
  PROP_SETTINGS, /* the first of GstSoraSettings' */
  PROP_EXTEND_FRAMES = PROP_SETTINGS + GST_SORA_SETTINGS_N_PROPS,
  PROP_CONTEXT_FRAMES,
  PROP_FRAMERATE,
  PROP_EXTEND_ON_EOS,
};

/* The generation settings (GstSoraSettings), then soraextend's own. */
void
gst_sora_extend_install_properties (GObjectClass *gobject_class)
{
  const GParamFlags rw =
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_DOC_SHOW_DEFAULT;

  gst_sora_settings_install_properties (gobject_class, PROP_SETTINGS,
      "What the continuation shows.  Read when an extension starts",
      "What the continuation should not show (used when guidance-scale is "
      "above 1).  Read when an extension starts",
      "Denoising steps per extension, 1 to 1000: its time grows in "
      "proportion; fewer are faster and coarser (Wan uses 50).  Read when an "
      "extension starts.  A causal model uses its own step list instead");
  g_object_class_install_property (gobject_class, PROP_EXTEND_FRAMES,
      g_param_spec_uint ("extend-frames", "Extend frames",
          "New frames per extension, 1 to 4096, rounded to the nearest "
          "multiple of 4 (at least 4): 16 are 1 s at 16 fps.  Read when an "
          "extension starts",
          0, G_MAXUINT, DEFAULT_EXTEND_FRAMES, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_CONTEXT_FRAMES,
      g_param_spec_uint ("context-frames", "Context frames",
          "Input frames kept as context for an extension, 1 to 256; the "
          "model looks at the last 1 + 4k of them, at most 13 (a causal "
          "model: the whole chunks its window attends; fewer frames than a "
          "chunk's, a picture, are led in by the first held).  Read for each "
          "input frame",
          0, G_MAXUINT, DEFAULT_CONTEXT_FRAMES,
          rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_FRAMERATE,
      gst_param_spec_fraction ("framerate", "Frame rate",
          "Output frame rate, in frames per second, when the input is a "
          "still image (framerate 0/1), or the nearest one downstream "
          "accepts; other input keeps its own rate",
          1, 1, G_MAXINT, 1, DEFAULT_FRAMERATE_N, DEFAULT_FRAMERATE_D,
          rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_EXTEND_ON_EOS,
      g_param_spec_boolean ("extend-on-eos", "Extend on EOS",
          "Extend the stream when it ends, before forwarding EOS; false: "
          "only the extend action signal makes new frames.  Read at EOS",
          DEFAULT_EXTEND_ON_EOS, rw | GST_PARAM_MUTABLE_PLAYING));
}

void
gst_sora_extend_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstSoraExtend *self = GST_SORA_EXTEND (object);
  gboolean refused = FALSE;

  if (gst_sora_settings_set_property (&self->settings, GST_ELEMENT (self),
          PROP_SETTINGS, prop_id, value, pspec, &self->engine, &self->lock))
    return;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_FRAMERATE:
      if (GST_STATE (self) > GST_STATE_READY) {
        refused = TRUE;
      } else {
        self->fps_n = gst_value_get_fraction_numerator (value);
        self->fps_d = gst_value_get_fraction_denominator (value);
      }
      break;
    case PROP_EXTEND_FRAMES:
      if (gst_sora_settings_accept_uint_locked (&self->settings, pspec,
              g_value_get_uint (value), MIN_EXTEND_FRAMES, MAX_EXTEND_FRAMES))
        self->extend_frames = g_value_get_uint (value);
      break;
    case PROP_CONTEXT_FRAMES:
      if (gst_sora_settings_accept_uint_locked (&self->settings, pspec,
              g_value_get_uint (value), MIN_CONTEXT_FRAMES, MAX_CONTEXT_FRAMES))
        self->context_frames = g_value_get_uint (value);
      break;
    case PROP_EXTEND_ON_EOS:
      self->extend_on_eos = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);

  if (refused)
    gst_sora_warn_ready_only (GST_ELEMENT (self), pspec);
}

void
gst_sora_extend_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstSoraExtend *self = GST_SORA_EXTEND (object);

  if (gst_sora_settings_get_property (
          &self->settings, GST_ELEMENT (self), PROP_SETTINGS, prop_id, value))
    return;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_EXTEND_FRAMES:
      g_value_set_uint (value, self->extend_frames);
      break;
    case PROP_CONTEXT_FRAMES:
      g_value_set_uint (value, self->context_frames);
      break;
    case PROP_FRAMERATE:
      gst_value_set_fraction (value, self->fps_n, self->fps_d);
      break;
    case PROP_EXTEND_ON_EOS:
      g_value_set_boolean (value, self->extend_on_eos);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}
