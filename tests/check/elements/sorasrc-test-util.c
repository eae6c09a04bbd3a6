/* gst-sora: the tiny-model harness the sorasrc check programs share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sorasrc-test-util.h"

#include <string.h>

#include "sora-check.h"

gchar *
fixture_path (const gchar *name)
{
  const gchar *dir = g_getenv ("SORA_FIXTURES");

  fail_unless (dir != NULL, "SORA_FIXTURES is not set");
  return g_build_filename (dir, name, NULL);
}

/* A harness around sorasrc on wan-tiny with its own bus (the harness gives
 * the element none). */
GstHarness *
new_src (const gchar *sink_caps, gint64 seed, const gchar *prompt)
{
  GstHarness *h = gst_harness_new ("sorasrc");
  gchar *model = fixture_path ("wan-tiny");
  GstBus *bus = gst_bus_new ();

  g_object_set (h->element, "model", model, "num-frames", N_FRAMES, "steps",
      N_STEPS, "seed", seed, "prompt", prompt, NULL);
  if (sink_caps)
    gst_harness_set_sink_caps_str (h, sink_caps);
  gst_element_set_bus (h->element, bus);
  gst_object_unref (bus);
  g_free (model);
  return h;
}

/* Pulls a clip's frames and its EOS; returns each frame's checksum. */
GPtrArray *
pull_clip (GstHarness *h, guint n_frames)
{
  GPtrArray *sums = g_ptr_array_new_with_free_func (g_free);
  guint i;

  for (i = 0; i < n_frames; i++) {
    GstBuffer *buf = gst_harness_pull (h);
    GstMapInfo map;

    fail_unless (buf != NULL, "frame %u missing", i);
    fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
    g_ptr_array_add (sums,
        g_compute_checksum_for_data (G_CHECKSUM_SHA1, map.data, map.size));
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
  }
  pull_eos (h, GST_SEQNUM_INVALID);
  return sums;
}

GPtrArray *
run_clip (gint64 seed, const gchar *prompt)
{
  GstHarness *h = new_src (TINY_CAPS, seed, prompt);
  GPtrArray *sums;

  gst_harness_play (h);
  sums = pull_clip (h, N_FRAMES);
  teardown (h);
  return sums;
}

gboolean
same_sums (GPtrArray *a, GPtrArray *b)
{
  guint i;

  if (a->len != b->len)
    return FALSE;
  for (i = 0; i < a->len; i++)
    if (strcmp (g_ptr_array_index (a, i), g_ptr_array_index (b, i)) != 0)
      return FALSE;
  return TRUE;
}

/* Checks the next sora/clip message is clip @index of @frames frames with
 * @seed, and returns its prompt. */
gchar *
expect_clip_message (GstHarness *h, guint index, guint frames, guint64 seed)
{
  GstStructure *s = wait_element_message (h, "sora/clip");
  guint clip, n;
  guint64 clip_seed;
  gchar *prompt;

  GST_INFO ("%" GST_PTR_FORMAT, s);
  fail_unless (gst_structure_get_uint (s, "clip", &clip));
  fail_unless (gst_structure_get_uint (s, "frames", &n));
  fail_unless (gst_structure_get_uint64 (s, "seed", &clip_seed));
  fail_unless_equals_int (clip, index);
  fail_unless_equals_int (n, frames);
  fail_unless_equals_uint64 (clip_seed, seed);
  prompt = g_strdup (gst_structure_get_string (s, "prompt"));
  gst_structure_free (s);
  return prompt;
}

GstBusSyncReply
set_in_clip_0 (GstBus *bus, GstMessage *msg, gpointer data)
{
  const SetInClip0 *set = data;
  const GstStructure *s = gst_message_get_structure (msg);
  guint clip;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT &&
      gst_structure_has_name (s, "sora/progress") &&
      gst_structure_get_uint (s, "clip", &clip) && clip == 0)
    gst_util_set_object_arg (G_OBJECT (set->element), set->name, set->value);
  return GST_BUS_PASS;
}
