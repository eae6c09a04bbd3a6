/* gst-sora: sorasrc state-change stress, with generation in flight
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * $SORA_STRESS_CYCLES cycles (default 200) of PLAYING→NULL and of
 * PAUSED→READY, each interrupting the element at a different point: while
 * the model loads, between denoising steps, while frames are decoded.  Run
 * with GST_TRACERS=leaks (or under valgrind) to catch leaks; a state change
 * that does not return within HANG_LIMIT fails.
 */
#include <gst/check/gstcheck.h>

/* One denoising step of the tiny model is milliseconds; a state change is
 * allowed a generous multiple for a loaded machine. */
#define HANG_LIMIT (G_GINT64_CONSTANT (30) * G_USEC_PER_SEC)

static guint
n_cycles (void)
{
  const gchar *s = g_getenv ("SORA_STRESS_CYCLES");

  return s ? (guint)g_ascii_strtoull (s, NULL, 10) : 200;
}

static GstElement *
new_pipeline (void)
{
  gchar *model =
      g_build_filename (g_getenv ("SORA_FIXTURES"), "wan-tiny", NULL);
  gchar *desc = g_strdup_printf ("sorasrc name=src model=%s num-frames=9 "
                                 "steps=3 seed=5 prompt=\"a stormy sea\" ! "
                                 "video/x-raw,width=48,height=32 ! fakesink",
      model);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);

  fail_unless (pipeline != NULL, "%s", error ? error->message : "");
  g_free (desc);
  g_free (model);
  return pipeline;
}

/* Sets @state and checks it is reached without a hang; returns the time. */
static gint64
set_state_timed (GstElement *pipeline, GstState state)
{
  gint64 t0 = g_get_monotonic_time ();
  GstStateChangeReturn ret = gst_element_set_state (pipeline, state);
  gint64 dt;

  fail_if (ret == GST_STATE_CHANGE_FAILURE);
  if (ret == GST_STATE_CHANGE_ASYNC)
    ret = gst_element_get_state (pipeline, NULL, NULL, HANG_LIMIT * 1000);
  dt = g_get_monotonic_time () - t0;
  fail_if (ret == GST_STATE_CHANGE_FAILURE || ret == GST_STATE_CHANGE_ASYNC,
      "state %s not reached", gst_element_state_get_name (state));
  fail_unless (dt < HANG_LIMIT, "%s took %.1f s",
      gst_element_state_get_name (state), dt / 1e6);
  return dt;
}

/* Waits for the @n-th message of @type (a step, a frame...) or an error. */
static void
wait_messages (GstElement *pipeline, GstMessageType type, guint n)
{
  GstBus *bus = gst_element_get_bus (pipeline);

  while (n > 0) {
    GstMessage *msg = gst_bus_timed_pop_filtered (
        bus, 300 * GST_SECOND, type | GST_MESSAGE_ERROR | GST_MESSAGE_EOS);

    fail_unless (msg != NULL, "timed out");
    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR, "error");
    if (GST_MESSAGE_TYPE (msg) == type)
      n--;
    else
      n = 0;
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
}

/* The running test's pipeline, stopped by the teardown even after a failed
 * check: with CK_FORK=no (valgrind) the process would otherwise exit while
 * a streaming thread still compiles kernels in PoCL, and LLVM's exit-time
 * destructors crash it (SIGSEGV) after the failure was reported. */
static GstElement *under_test;

static void
stop_pipeline (void)
{
  if (under_test == NULL)
    return;
  gst_element_set_state (under_test, GST_STATE_NULL);
  gst_clear_object (&under_test);
}

/* A pipeline that has made one whole clip: kernels compile when first used
 * (about 40 s for all of them on 2 cores with a cold cache, far longer
 * under valgrind), which is not a hang, so the cycles start warm. */
static GstElement *
start_warm_pipeline (void)
{
  under_test = new_pipeline ();
  gst_element_set_state (under_test, GST_STATE_PLAYING);
  wait_messages (under_test, GST_MESSAGE_EOS, 1);
  set_state_timed (under_test, GST_STATE_NULL);
  return under_test;
}

/* Where cycle @i stops the element: at once, after the model loaded, after
 * a denoising step, or when the clip is done. */
static void
wait_for_cycle_point (GstElement *pipeline, guint i)
{
  switch (i % 4) {
    case 0:
      break;
    case 1:
      wait_messages (pipeline, GST_MESSAGE_PROGRESS, 2);
      break;
    case 2:
      wait_messages (pipeline, GST_MESSAGE_ELEMENT, 1 + i % 3);
      break;
    default:
      wait_messages (pipeline, GST_MESSAGE_EOS, 1);
      break;
  }
}

GST_START_TEST (test_playing_null_cycles)
{
  GstElement *pipeline = start_warm_pipeline ();
  gint64 worst = 0, dt;
  guint i, n = n_cycles ();

  for (i = 0; i < n; i++) {
    set_state_timed (pipeline, GST_STATE_PLAYING);
    wait_for_cycle_point (pipeline, i);
    dt = set_state_timed (pipeline, GST_STATE_NULL);
    worst = MAX (worst, dt);
  }
  g_test_message (
      "%u PLAYING->NULL cycles, slowest PLAYING->NULL %.3f s", n, worst / 1e6);
}

GST_END_TEST;

GST_START_TEST (test_paused_ready_cycles)
{
  GstElement *pipeline = start_warm_pipeline ();
  gint64 worst = 0, dt;
  guint i, n = n_cycles ();

  /* The model stays loaded in READY: each cycle only restarts the clip. */
  for (i = 0; i < n; i++) {
    GstBus *bus = gst_element_get_bus (pipeline);

    /* Only this cycle's messages count. */
    gst_bus_set_flushing (bus, TRUE);
    gst_bus_set_flushing (bus, FALSE);
    gst_object_unref (bus);
    gst_element_set_state (pipeline, GST_STATE_PAUSED);
    if (i % 2)
      wait_messages (pipeline, GST_MESSAGE_ASYNC_DONE, 1);
    dt = set_state_timed (pipeline, GST_STATE_READY);
    worst = MAX (worst, dt);
  }
  set_state_timed (pipeline, GST_STATE_NULL);
  g_test_message (
      "%u PAUSED->READY cycles, slowest PAUSED->READY %.3f s", n, worst / 1e6);
}

GST_END_TEST;

static Suite *
sorasrc_stress_suite (void)
{
  Suite *s = suite_create ("sorasrc-stress");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, NULL, stop_pipeline);
  tcase_add_test (tc, test_playing_null_cycles);
  tcase_add_test (tc, test_paused_ready_cycles);
  return s;
}

GST_CHECK_MAIN (sorasrc_stress);
