/* gst-sora: sorasrc state changes, seeks and progress messages on the tiny
 * fixture model
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "sora-check.h"
#include "sorasrc-test-util.h"

/* Holds the generation thread at the first sora/progress of clip (or
 * chunk) @clip (posted between its first and second denoising step) until
 * released, so the test acts at a known point of the clip. */
typedef struct
{
  GMutex lock;
  GCond cond;
  guint clip;
  gboolean held, released;
} StepGate;

static GstBusSyncReply
gate_first_step (GstBus *bus, GstMessage *msg, gpointer user_data)
{
  StepGate *gate = user_data;
  guint clip;

  if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ELEMENT ||
      !gst_structure_has_name (
          gst_message_get_structure (msg), "sora/progress") ||
      !gst_structure_get_uint (
          gst_message_get_structure (msg), "clip", &clip) ||
      clip != gate->clip)
    return GST_BUS_PASS;
  g_mutex_lock (&gate->lock);
  if (!gate->held) {
    gate->held = TRUE;
    g_cond_broadcast (&gate->cond);
    while (!gate->released)
      g_cond_wait (&gate->cond, &gate->lock);
  }
  g_mutex_unlock (&gate->lock);
  return GST_BUS_PASS;
}

/* Plays @h until its generation thread is held at the first step of clip
 * @gate->clip, then seeks to the start with a flush and releases it. */
static void
seek_to_start_at_step (GstHarness *h, StepGate *gate)
{
  GstBus *bus = gst_element_get_bus (h->element);

  gst_bus_set_sync_handler (bus, gate_first_step, gate, NULL);
  gst_harness_play (h);
  g_mutex_lock (&gate->lock);
  while (!gate->held)
    g_cond_wait (&gate->cond, &gate->lock);
  g_mutex_unlock (&gate->lock);

  fail_unless (gst_harness_push_upstream_event (h,
      gst_event_new_seek (1.0, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH,
          GST_SEEK_TYPE_SET, 0, GST_SEEK_TYPE_NONE, -1)));
  g_mutex_lock (&gate->lock);
  gate->released = TRUE;
  g_cond_broadcast (&gate->cond);
  g_mutex_unlock (&gate->lock);
  gst_object_unref (bus);
}

GST_START_TEST (test_seek_to_start_mid_clip)
{
  GstHarness *h = new_src (TINY_CAPS, 7, "a lighthouse");
  GstBus *bus = gst_element_get_bus (h->element);
  StepGate gate = { 0 };
  GPtrArray *sums, *fresh;
  GstStructure *s;
  guint clip;

  g_mutex_init (&gate.lock);
  g_cond_init (&gate.cond);
  /* No frame exists yet: the clip is abandoned and made again from the
   * start, and only that one goes out. */
  seek_to_start_at_step (h, &gate);

  sums = pull_clip (h, N_FRAMES);
  s = wait_element_message (h, "sora/clip");
  fail_unless (gst_structure_get_uint (s, "clip", &clip));
  fail_unless_equals_int (clip, 0);
  gst_structure_free (s);
  fail_if (has_element_message (h, "sora/clip"), "the abandoned clip ended");
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  gst_object_unref (bus);
  teardown (h);
  g_mutex_clear (&gate.lock);
  g_cond_clear (&gate.cond);

  fresh = run_clip (7, "a lighthouse");
  fail_unless (same_sums (sums, fresh), "not the clip made from the start");
  g_ptr_array_unref (sums);
  g_ptr_array_unref (fresh);
}

GST_END_TEST;

/* PLAYING to NULL in the middle of a clip: promptly, and the clip does not
 * finish. */
GST_START_TEST (test_null_during_generation)
{
  GstHarness *h = new_src (TINY_CAPS, 7, "a lighthouse");
  gint64 t0, dt;

  /* Enough steps that the clip cannot finish before the test stops it. */
  g_object_set (h->element, "steps", 1000, NULL);
  gst_harness_play (h);
  gst_structure_free (wait_element_message (h, "sora/progress"));
  t0 = g_get_monotonic_time ();
  fail_unless_equals_int (gst_element_set_state (h->element, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  dt = g_get_monotonic_time () - t0;
  g_test_message ("PLAYING→NULL took %.3f s", dt / 1e6);
  fail_unless (dt < PROMPT_LIMIT_US, "PLAYING→NULL took %.1f s", dt / 1e6);
  fail_if (has_element_message (h, "sora/clip"), "generation not stopped");
  teardown (h);
}

GST_END_TEST;

/* 17 frames, paused in the middle; @live_props makes it live with a latency
 * well above the tiny model's clip time, so no frame is late.  The queue
 * lets the source run ahead of the clock-synchronised sink
 * (test_live_into_synced_sink plays without one). */
static void
check_paused_playing (const gchar *live_props)
{
  gchar *model = fixture_path ("wan-tiny");
  gchar *launch = g_strdup_printf (
      "sorasrc model=%s num-frames=17 steps=%d seed=3 %s ! " TINY_CAPS
      " ! queue ! fakesink name=sink sync=true",
      model, N_STEPS, live_props);

  check_pause_resume (launch, 17);
  g_free (launch);
  g_free (model);
}

GST_START_TEST (test_paused_playing)
{
  check_paused_playing ("");
}

GST_END_TEST;

/* Live: nothing is made to wait in PAUSED, and the frames generated
 * meanwhile go out on time after it (the running time stood still). */
GST_START_TEST (test_paused_playing_live)
{
  check_paused_playing ("is-live=true latency=1000000000");
}

GST_END_TEST;

GST_START_TEST (test_progress_messages)
{
  GstHarness *h = new_src (TINY_CAPS, 1, "a lighthouse");
  GstMessage *msg;
  GstProgressType type;
  gchar *code, *text;
  guint step, total;
  GstStructure *s;
  gdouble sps;

  gst_harness_play (h);
  msg = pop_message (h, GST_MESSAGE_PROGRESS);
  gst_message_parse_progress (msg, &type, &code, &text);
  fail_unless_equals_int (type, GST_PROGRESS_TYPE_START);
  fail_unless_equals_string (code, "load");
  fail_unless (strstr (text, "wan-tiny") != NULL, "%s", text);
  g_free (code);
  g_free (text);
  gst_message_unref (msg);
  msg = pop_message (h, GST_MESSAGE_PROGRESS);
  gst_message_parse_progress (msg, &type, &code, &text);
  fail_unless_equals_int (type, GST_PROGRESS_TYPE_COMPLETE);
  fail_unless_equals_string (code, "load");
  g_free (code);
  g_free (text);
  gst_message_unref (msg);
  /* Then each denoising step, also as PROGRESS for gst-launch-1.0. */
  s = expect_denoise_progress (h, N_STEPS);
  fail_unless (gst_structure_get_uint (s, "step", &step));
  fail_unless (gst_structure_get_uint (s, "total-steps", &total));
  fail_unless (gst_structure_get_double (s, "seconds-per-step", &sps));
  fail_unless (gst_structure_has_field (s, "clip"));
  fail_unless (gst_structure_has_field (s, "frames-ready"));
  fail_unless_equals_int (total, N_STEPS);
  g_test_message ("first step: %u/%u, %.3f s/step", step, total, sps);
  GST_INFO ("%" GST_PTR_FORMAT, s);
  gst_structure_free (s);
  g_ptr_array_unref (pull_clip (h, N_FRAMES));
  teardown (h);
}

GST_END_TEST;

/* A live causal stream whose second chunk is abandoned by a flushing seek
 * after its first step: right after that step's COMPLETE, before anything
 * of the stream made again, the chunk's "denoise" PROGRESS ends with
 * CANCELED, as a clip's does.  wan-tiny-causal denoises each chunk in 4
 * steps. */
GST_START_TEST (test_progress_canceled_mid_chunk)
{
  GstHarness *h = new_src ("video/x-raw,width=32,height=32", 5, "a lighthouse");
  gchar *model = fixture_path ("wan-tiny-causal");
  StepGate gate = { .clip = 1 };
  GstBus *bus;
  gchar *text = NULL;

  g_object_set (h->element, "model", model, "is-live", TRUE, "clips", 0, NULL);
  g_mutex_init (&gate.lock);
  g_cond_init (&gate.cond);
  seek_to_start_at_step (h, &gate);
  do {
    g_free (text);
    pop_denoise (h, BUS_TIMEOUT, &text);
  } while (!g_str_has_prefix (text, "Clip 1: step 1 of 4 done"));
  g_free (text);
  fail_unless_equals_int (
      pop_denoise (h, BUS_TIMEOUT, &text), GST_PROGRESS_TYPE_CANCELED);
  fail_unless_equals_string (text, "Clip 1: stopped after 1 of 4 steps");
  g_free (text);

  bus = gst_element_get_bus (h->element);
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  gst_object_unref (bus);
  teardown (h);
  g_mutex_clear (&gate.lock);
  g_cond_clear (&gate.cond);
  g_free (model);
}

GST_END_TEST;

static Suite *
sorasrc_state_suite (void)
{
  Suite *s = suite_create ("sorasrc-state");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_seek_to_start_mid_clip);
  tcase_add_test (tc, test_null_during_generation);
  tcase_add_test (tc, test_paused_playing);
  tcase_add_test (tc, test_paused_playing_live);
  tcase_add_test (tc, test_progress_messages);
  tcase_add_test (tc, test_progress_canceled_mid_chunk);
  return s;
}

GST_CHECK_MAIN (sorasrc_state);
