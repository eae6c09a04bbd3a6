/* gst-sora: the tiny-model harness the sorasrc check programs share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORASRC_TEST_UTIL_H__
#define __SORASRC_TEST_UTIL_H__

#include <gst/check/gstharness.h>

#include "sora-engine.h"

/* Few frames and steps: enough to exercise chunked decoding (1 + 4 + 4
 * frames) and the step loop while keeping each clip to seconds on PoCL. */
#define N_FRAMES 9
#define N_STEPS 2
/* wan-tiny's RoPE covers 32 patches per axis: its clips use the size the
 * fixtures were made at, not Wan's native 832x480. */
#define TINY_CAPS "video/x-raw,width=48,height=32"

/* Frames each clip after the first adds: a continuation makes new frames 4
 * at a time. */
#define N_EXTEND (sora_engine_extend_round_frames (N_FRAMES - 1))

gchar *fixture_path (const gchar *name);
GstHarness *new_src (const gchar *sink_caps, gint64 seed, const gchar *prompt);
GPtrArray *pull_clip (GstHarness *h, guint n_frames);
GPtrArray *run_clip (gint64 seed, const gchar *prompt);
gboolean same_sums (GPtrArray *a, GPtrArray *b);
gchar *expect_clip_message (
    GstHarness *h, guint index, guint frames, guint64 seed);

/* A property set_in_clip_0 sets: @name to @value, parsed as gst-launch-1.0
 * does. */
typedef struct
{
  GstElement *element;
  const gchar *name, *value;
} SetInClip0;

/* A bus sync handler (its data a SetInClip0): sets the property on the
 * generation thread at each step of clip 0. */
GstBusSyncReply set_in_clip_0 (GstBus *bus, GstMessage *msg, gpointer data);

#endif /* __SORASRC_TEST_UTIL_H__ */
