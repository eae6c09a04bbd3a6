/* gst-sora: sorasrc element tests on the tiny fixture model
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The fixture has random weights: frames are noise, but the same seed and
 * prompt must give the same bytes on the same device.
 */
#include <string.h>

#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/base/gstbasesrc.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "sora-check.h"
#include "sora-engine.h"

/* Few frames and steps: enough to exercise chunked decoding (1 + 4 + 4
 * frames) and the step loop while keeping each clip to seconds on PoCL. */
#define N_FRAMES 9
#define N_STEPS 2
/* wan-tiny's RoPE covers 32 patches per axis: its clips use the size the
 * fixtures were made at, not Wan's native 832x480. */
#define TINY_CAPS "video/x-raw,width=48,height=32"

static gchar *
fixture_path (const gchar *name)
{
  const gchar *dir = g_getenv ("SORA_FIXTURES");

  fail_unless (dir != NULL, "SORA_FIXTURES is not set");
  return g_build_filename (dir, name, NULL);
}

/* A harness around sorasrc on wan-tiny with its own bus (the harness gives
 * the element none). */
static GstHarness *
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

static void
pull_eos (GstHarness *h)
{
  while (TRUE) {
    GstEvent *event = gst_harness_pull_event (h);
    gboolean eos;

    fail_unless (event != NULL, "no EOS");
    eos = GST_EVENT_TYPE (event) == GST_EVENT_EOS;
    gst_event_unref (event);
    if (eos)
      break;
  }
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
}

/* Pulls a clip's frames and its EOS; returns each frame's checksum. */
static GPtrArray *
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
  pull_eos (h);
  return sums;
}

static GPtrArray *
run_clip (gint64 seed, const gchar *prompt)
{
  GstHarness *h = new_src (TINY_CAPS, seed, prompt);
  GPtrArray *sums;

  gst_harness_play (h);
  sums = pull_clip (h, N_FRAMES);
  teardown (h);
  return sums;
}

static gboolean
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

GST_START_TEST (test_native_caps)
{
  gchar *model = fixture_path ("wan-tiny");
  GError *error = NULL;
  SoraEngine *engine = sora_engine_open (model, NULL, NULL, &error);
  guint width, height, frames;
  GstHarness *h;
  GstCaps *caps;
  GstStructure *s;
  gint w, hh, fps_n, fps_d;

  fail_unless (engine != NULL, "%s", error ? error->message : "");
  sora_engine_get_native_size (engine, &width, &height, &frames);
  sora_engine_free (engine);

  h = new_src (NULL, 1, "a lighthouse");
  /* Only negotiation is checked: one step keeps a large native size quick
   * to abandon. */
  g_object_set (h->element, "steps", 1, NULL);
  gst_harness_play (h);
  /* From the event: the pad stores it only after the harness queued it. */
  while (TRUE) {
    GstEvent *event = gst_harness_pull_event (h);

    fail_unless (event != NULL);
    if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
      gst_event_parse_caps (event, &caps);
      caps = gst_caps_ref (caps);
      gst_event_unref (event);
      break;
    }
    gst_event_unref (event);
  }
  GST_INFO ("native %ux%u, negotiated %" GST_PTR_FORMAT, width, height, caps);
  s = gst_caps_get_structure (caps, 0);
  fail_unless (gst_structure_get_int (s, "width", &w));
  fail_unless (gst_structure_get_int (s, "height", &hh));
  fail_unless (gst_structure_get_fraction (s, "framerate", &fps_n, &fps_d));
  fail_unless_equals_int (w, width);
  fail_unless_equals_int (hh, height);
  fail_unless_equals_int (fps_n, 16);
  fail_unless_equals_int (fps_d, 1);
  /* I420 first: what x264enc should get without a videoconvert. */
  fail_unless_equals_string (gst_structure_get_string (s, "format"), "I420");
  fail_unless_equals_string (
      gst_structure_get_string (s, "colorimetry"), "bt709");
  gst_caps_unref (caps);
  teardown (h);
  g_free (model);
}

GST_END_TEST;

GST_START_TEST (test_forced_size_and_timestamps)
{
  GstHarness *h =
      new_src ("video/x-raw,width=64,height=48,format=NV12", 1, "a lighthouse");
  GstClockTime next = 0;
  GstCaps *caps;
  GstVideoInfo info;
  gint64 duration;
  guint i;

  gst_harness_play (h);
  for (i = 0; i < N_FRAMES; i++) {
    GstBuffer *buf = gst_harness_pull (h);

    fail_unless (buf != NULL);
    if (i == 0) {
      caps = gst_pad_get_current_caps (h->sinkpad);
      fail_unless (gst_video_info_from_caps (&info, caps));
      gst_caps_unref (caps);
      fail_unless_equals_int (GST_VIDEO_INFO_WIDTH (&info), 64);
      fail_unless_equals_int (GST_VIDEO_INFO_HEIGHT (&info), 48);
    }
    fail_unless_equals_int (gst_buffer_get_size (buf), 64 * 48 * 3 / 2);
    /* Contiguous: each frame starts where the last one ended. */
    fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), next);
    fail_unless_equals_uint64 (
        GST_BUFFER_PTS (buf), gst_util_uint64_scale (i, GST_SECOND, 16));
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), i);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET_END (buf), i + 1);
    next = GST_BUFFER_PTS (buf) + GST_BUFFER_DURATION (buf);
    gst_buffer_unref (buf);
  }
  fail_unless_equals_uint64 (
      next, gst_util_uint64_scale (N_FRAMES, GST_SECOND, 16));
  fail_unless (
      gst_element_query_duration (h->element, GST_FORMAT_TIME, &duration));
  fail_unless_equals_uint64 (
      duration, gst_util_uint64_scale (N_FRAMES, GST_SECOND, 16));
  /* EOS right after num-frames. */
  pull_eos (h);
  teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_size_not_multiple_of_16)
{
  GstHarness *h = new_src ("video/x-raw,width=50,height=50", 1, "fog");

  gst_harness_play (h);
  expect_error (h, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION, "48x48");
  teardown (h);
}

GST_END_TEST;

/* The tiny model's RoPE covers 32 x 16 pixels per axis: the caps say so,
 * and a larger size is refused naming the range. */
GST_START_TEST (test_size_beyond_rope)
{
  GstHarness *h = new_src ("video/x-raw,width=1024,height=512", 1, "fog");

  gst_harness_play (h);
  expect_error (h, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
      "widths 16 to 512 and heights 16 to 512");
  teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_num_buffers)
{
  GstHarness *h = new_src (TINY_CAPS, 1, "a lighthouse");
  GstBuffer *buf;
  guint i;

  /* Fewer than a chunk: basesrc counts create() calls, one frame each. */
  g_object_set (h->element, "num-buffers", 3, NULL);
  gst_harness_play (h);
  for (i = 0; i < 3; i++) {
    buf = gst_harness_pull (h);
    fail_unless (buf != NULL);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), i);
    gst_buffer_unref (buf);
  }
  pull_eos (h);
  teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_seed_determinism)
{
  GPtrArray *a = run_clip (42, "a lighthouse");
  GPtrArray *b = run_clip (42, "a lighthouse");
  GPtrArray *c = run_clip (43, "a lighthouse");

  GST_INFO ("seed 42: %s, again: %s, seed 43: %s",
      (gchar *)g_ptr_array_index (a, 0), (gchar *)g_ptr_array_index (b, 0),
      (gchar *)g_ptr_array_index (c, 0));
  fail_unless (same_sums (a, b), "same seed, different frames");
  fail_if (same_sums (a, c), "another seed, same frames");
  g_ptr_array_unref (a);
  g_ptr_array_unref (b);
  g_ptr_array_unref (c);
}

GST_END_TEST;

GST_START_TEST (test_random_seed_reported)
{
  GstHarness *h = new_src (TINY_CAPS, -1, "a lighthouse");
  GPtrArray *sums, *again;
  GstStructure *s;
  guint64 seed;

  gst_harness_play (h);
  sums = pull_clip (h, N_FRAMES);
  s = wait_element_message (h, "sora/clip");
  fail_unless (gst_structure_get_uint64 (s, "seed", &seed));
  GST_INFO ("random seed %" G_GUINT64_FORMAT ": %" GST_PTR_FORMAT, seed, s);
  gst_structure_free (s);
  teardown (h);

  /* The reported seed repeats the clip. */
  again = run_clip ((gint64)seed, "a lighthouse");
  fail_unless (same_sums (sums, again));
  g_ptr_array_unref (sums);
  g_ptr_array_unref (again);
}

GST_END_TEST;

GST_START_TEST (test_prompt_change_applies_to_next_clip)
{
  GstHarness *h = new_src (TINY_CAPS, 7, "a lighthouse");
  GPtrArray *clip_a, *clip_b, *fresh_a, *fresh_b;
  GstStructure *s;

  gst_harness_play (h);
  /* The clip has started: a change now is accepted but must wait. */
  s = wait_element_message (h, "sora/progress");
  gst_structure_free (s);
  g_object_set (h->element, "prompt", "a volcano", NULL);
  clip_a = pull_clip (h, N_FRAMES);
  s = wait_element_message (h, "sora/clip");
  fail_unless_equals_string (
      gst_structure_get_string (s, "prompt"), "a lighthouse");
  gst_structure_free (s);

  /* A flushing seek to 0 starts the next clip, with the new prompt. */
  fail_unless (gst_harness_push_upstream_event (h,
      gst_event_new_seek (1.0, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH,
          GST_SEEK_TYPE_SET, 0, GST_SEEK_TYPE_NONE, -1)));
  clip_b = pull_clip (h, N_FRAMES);
  s = wait_element_message (h, "sora/clip");
  fail_unless_equals_string (
      gst_structure_get_string (s, "prompt"), "a volcano");
  gst_structure_free (s);
  teardown (h);

  fresh_a = run_clip (7, "a lighthouse");
  fresh_b = run_clip (7, "a volcano");
  fail_unless (same_sums (clip_a, fresh_a), "clip_a clip saw the new prompt");
  fail_unless (same_sums (clip_b, fresh_b), "next clip kept the old prompt");
  fail_if (same_sums (clip_a, clip_b));
  g_ptr_array_unref (clip_a);
  g_ptr_array_unref (clip_b);
  g_ptr_array_unref (fresh_a);
  g_ptr_array_unref (fresh_b);
}

GST_END_TEST;

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

/* model unset (NULL, as Python's None) is $GST_SORA_MODEL. */
GST_START_TEST (test_model_unset_is_default)
{
  GstHarness *h = new_src (TINY_CAPS, 1, "fog");
  gchar *fixture = fixture_path ("wan-tiny"), *model;

  g_setenv ("GST_SORA_MODEL", fixture, TRUE);
  g_object_set (h->element, "model", "/elsewhere", NULL);
  g_object_set (h->element, "model", NULL, NULL);
  g_object_get (h->element, "model", &model, NULL);
  fail_unless_equals_string (model, fixture);
  g_unsetenv ("GST_SORA_MODEL");
  gst_harness_play (h);
  g_ptr_array_unref (pull_clip (h, N_FRAMES));
  teardown (h);
  g_free (model);
  g_free (fixture);
}

GST_END_TEST;

GST_START_TEST (test_error_no_model_set)
{
  GstHarness *h;
  GstBus *bus = gst_bus_new ();
  gchar *model;

  g_unsetenv ("GST_SORA_MODEL");
  h = gst_harness_new ("sorasrc");
  g_object_get (h->element, "model", &model, NULL);
  if (model) {
    g_test_message ("skipped: the demo model is installed at %s", model);
    g_free (model);
    gst_object_unref (bus);
    gst_harness_teardown (h);
    return;
  }
  gst_element_set_bus (h->element, bus);
  fail_unless_equals_int (gst_element_set_state (h->element, GST_STATE_PLAYING),
      GST_STATE_CHANGE_FAILURE);
  expect_error (
      h, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND, "set model=");
  gst_object_unref (bus);
  teardown (h);
}

GST_END_TEST;

/* Values out of range are refused with an error naming the property (not
 * only GObject's warning, with the run going on); the property keeps its
 * value. */
GST_START_TEST (test_error_property_values)
{
  const struct
  {
    const gchar *name, *value, *text, *kept;
  } cases[] = {
    { "steps", "0", "Property \"steps\" must be 1 to 1000, not 0", "2" },
    { "steps", "-3", "not 4294967293 (-3 read as unsigned)", "2" },
    { "guidance-scale", "-2",
        "Property \"guidance-scale\" must be 0 to 100, not -2", "5" },
    { "flow-shift", "101", "Property \"flow-shift\" must be 0 to 100, not 101",
        "0" },
    { "num-frames", "-1",
        "Property \"num-frames\" must be 0 to 2147483647, not 4294967295",
        "9" },
    { "num-frames", "10",
        "Property \"num-frames\" must be 4k+1 (or 0 for the model's): 10 "
        "is not; the nearest valid value is 9",
        "9" },
    { "seed", "-5",
        "Property \"seed\" must be -1 (random) or 0 to 9223372036854775807, "
        "not -5",
        "1" },
    { "min-steps", "0", "Property \"min-steps\" must be 1 to 1000, not 0",
        "4" },
    { "min-steps", "1001", "Property \"min-steps\" must be 1 to 1000, not 1001",
        "4" },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    GstHarness *h = new_src (TINY_CAPS, 1, "fog");

    expect_refused (
        h, cases[i].name, cases[i].value, cases[i].text, cases[i].kept);
    teardown (h);
  }
}

GST_END_TEST;

/* An empty model or a prompt that is not UTF-8 are refused too. */
GST_START_TEST (test_error_text_values)
{
  GstHarness *h = new_src (TINY_CAPS, 1, "fog");
  gchar *model;

  g_object_get (h->element, "model", &model, NULL);
  expect_refused (h, "model", "",
      "Property \"model\" is empty: set it to a model folder, or leave it "
      "unset for the default one",
      model);
  teardown (h);
  g_free (model);

  /* A C application can set one (GObject does not check); the error names
   * it whichever property is set last. */
  h = new_src (TINY_CAPS, 1, "fog");
  g_object_set (h->element, "prompt", "a \xff lighthouse", NULL);
  expect_refused (h, "negative-prompt", "blur",
      "Property \"prompt\" is not valid UTF-8 (at byte 2)", "blur");
  teardown (h);
}

GST_END_TEST;

/* A valid value after a refused one is taken, and forgets the refusal. */
GST_START_TEST (test_property_refusal_forgotten)
{
  GstHarness *h = new_src (TINY_CAPS, 1, "a lighthouse");

  g_object_set (h->element, "steps", 0, NULL);
  g_object_set (h->element, "steps", N_STEPS, NULL);
  gst_harness_play (h);
  g_ptr_array_unref (pull_clip (h, N_FRAMES));
  teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_error_missing_model)
{
  GstHarness *h = new_src (TINY_CAPS, 1, "fog");

  g_object_set (h->element, "model", "/nonexistent/wan-model", NULL);
  /* checked when the element starts, without loading */
  fail_unless_equals_int (gst_element_set_state (h->element, GST_STATE_PLAYING),
      GST_STATE_CHANGE_FAILURE);
  expect_error (h, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
      "/nonexistent/wan-model");
  teardown (h);
}

GST_END_TEST;

static void
copy_tree (const gchar *from, const gchar *to)
{
  GDir *dir = g_dir_open (from, 0, NULL);
  const gchar *name;

  fail_unless (dir != NULL);
  g_mkdir_with_parents (to, 0700);
  while ((name = g_dir_read_name (dir))) {
    gchar *src = g_build_filename (from, name, NULL);
    gchar *dst = g_build_filename (to, name, NULL);

    if (g_file_test (src, G_FILE_TEST_IS_DIR)) {
      copy_tree (src, dst);
    } else {
      gchar *data;
      gsize len;

      fail_unless (g_file_get_contents (src, &data, &len, NULL));
      fail_unless (g_file_set_contents (dst, data, len, NULL));
      g_free (data);
    }
    g_free (src);
    g_free (dst);
  }
  g_dir_close (dir);
}

static void
remove_tree (const gchar *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  while (dir && (name = g_dir_read_name (dir))) {
    gchar *child = g_build_filename (path, name, NULL);

    if (g_file_test (child, G_FILE_TEST_IS_DIR))
      remove_tree (child);
    else
      g_unlink (child);
    g_free (child);
  }
  if (dir)
    g_dir_close (dir);
  g_rmdir (path);
}

GST_START_TEST (test_error_corrupt_weights)
{
  gchar *tmp = g_dir_make_tmp ("sorasrc-XXXXXX", NULL);
  gchar *model = g_build_filename (tmp, "wan-tiny", NULL);
  gchar *fixture = fixture_path ("wan-tiny");
  gchar *weights = g_build_filename (
      model, "transformer", "diffusion_pytorch_model.safetensors", NULL);
  GstHarness *h;

  copy_tree (fixture, model);
  /* Cut the file in the middle of its tensor data. */
  fail_unless (truncate (weights, 4096) == 0);

  h = new_src (TINY_CAPS, 1, "fog");
  g_object_set (h->element, "model", model, NULL);
  fail_unless_equals_int (gst_element_set_state (h->element, GST_STATE_PLAYING),
      GST_STATE_CHANGE_FAILURE);
  expect_error (h, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ,
      "diffusion_pytorch_model.safetensors");
  teardown (h);

  remove_tree (tmp);
  g_free (weights);
  g_free (fixture);
  g_free (model);
  g_free (tmp);
}

GST_END_TEST;

/* A device from $SORA_DEVICE is named as such. */
GST_START_TEST (test_error_unknown_device_from_env)
{
  gchar *old = g_strdup (g_getenv ("SORA_DEVICE"));
  GstHarness *h = new_src (TINY_CAPS, 1, "fog");

  g_setenv ("SORA_DEVICE", "no-such-gpu", TRUE);
  gst_harness_play (h);
  expect_error (h, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS,
      "Cannot use the OpenCL device \"no-such-gpu\" from $SORA_DEVICE");
  teardown (h);
  if (old)
    g_setenv ("SORA_DEVICE", old, TRUE);
  else
    g_unsetenv ("SORA_DEVICE");
  g_free (old);
}

GST_END_TEST;

GST_START_TEST (test_error_unknown_device)
{
  GstHarness *h = new_src (TINY_CAPS, 1, "fog");

  g_object_set (h->element, "device", "no-such-gpu", NULL);
  gst_harness_play (h);
  expect_error (
      h, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS, "no-such-gpu");
  teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_ready_only_properties)
{
  GstHarness *h = new_src (TINY_CAPS, 1, "fog");
  gchar *model, *before;

  g_object_get (h->element, "model", &before, NULL);
  gst_harness_play (h);
  /* Refused while playing, with a warning on the bus. */
  g_object_set (h->element, "model", "/elsewhere", NULL);
  g_object_get (h->element, "model", &model, NULL);
  fail_unless_equals_string (model, before);
  gst_message_unref (pop_message (h, GST_MESSAGE_WARNING));
  g_free (model);
  g_free (before);
  g_ptr_array_unref (pull_clip (h, N_FRAMES));
  teardown (h);
}

GST_END_TEST;

/* Frames each clip after the first adds: a continuation makes new frames 4
 * at a time. */
#define N_EXTEND (sora_engine_extend_round_frames (N_FRAMES - 1))

/* Pulls @n frames and checks they run on from frame @from without a gap. */
static GPtrArray *
pull_contiguous (GstHarness *h, guint64 from, guint n)
{
  GPtrArray *sums = g_ptr_array_new_with_free_func (g_free);
  guint64 i;

  for (i = from; i < from + n; i++) {
    GstBuffer *buf = gst_harness_pull (h);
    GstMapInfo map;

    fail_unless (buf != NULL, "frame %" G_GUINT64_FORMAT " missing", i);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), i);
    fail_unless_equals_uint64 (
        GST_BUFFER_PTS (buf), gst_util_uint64_scale (i, GST_SECOND, 16));
    fail_unless_equals_uint64 (GST_BUFFER_PTS (buf) + GST_BUFFER_DURATION (buf),
        gst_util_uint64_scale (i + 1, GST_SECOND, 16));
    fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
    g_ptr_array_add (sums,
        g_compute_checksum_for_data (G_CHECKSUM_SHA1, map.data, map.size));
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
  }
  return sums;
}

/* Checks the next sora/clip message is clip @index of @frames frames with
 * @seed, and returns its prompt. */
static gchar *
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

GST_START_TEST (test_clips_contiguous)
{
  GstHarness *h = new_src (TINY_CAPS, 5, "a lighthouse");
  guint64 total = N_FRAMES + 2 * N_EXTEND;
  gint64 duration;
  guint i;

  g_object_set (h->element, "clips", 3, NULL);
  gst_harness_play (h);
  /* The first clip's frames, then each continuation's, with no gap. */
  g_ptr_array_unref (pull_contiguous (h, 0, total));
  fail_unless (
      gst_element_query_duration (h->element, GST_FORMAT_TIME, &duration));
  fail_unless_equals_uint64 (
      duration, gst_util_uint64_scale (total, GST_SECOND, 16));
  pull_eos (h);
  for (i = 0; i < 3; i++)
    g_free (expect_clip_message (h, i, i == 0 ? N_FRAMES : N_EXTEND, 5 + i));
  teardown (h);
}

GST_END_TEST;

/* Runs on the generation thread: changes the prompt while clip 0 runs, so
 * clip 1, which reads it when it starts, is the first to use it. */
static GstBusSyncReply
change_prompt_in_clip_0 (GstBus *bus, GstMessage *msg, gpointer user_data)
{
  const GstStructure *s = gst_message_get_structure (msg);
  guint clip;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT &&
      gst_structure_has_name (s, "sora/progress") &&
      gst_structure_get_uint (s, "clip", &clip) && clip == 0)
    g_object_set (user_data, "prompt", "a volcano", NULL);
  return GST_BUS_PASS;
}

/* SoraFramesFunc: appends each frame's checksum to @user_data. */
static gboolean
collect_sums (const guint8 *pixels, guint n_frames, guint width, guint height,
    gpointer user_data)
{
  gsize size = sora_pixel_frame_size (SORA_PIXEL_I420, width, height);
  guint i;

  for (i = 0; i < n_frames; i++)
    g_ptr_array_add (user_data,
        g_compute_checksum_for_data (G_CHECKSUM_SHA1, pixels + i * size, size));
  return TRUE;
}

/* The frames the engine makes for generate(@prompt_0), then
 * continue(@prompt_1), with the element's parameters. */
static GPtrArray *
engine_clips (const gchar *prompt_0, const gchar *prompt_1, guint64 seed)
{
  gchar *model = fixture_path ("wan-tiny");
  GError *error = NULL;
  SoraEngine *engine = sora_engine_open (model, NULL, NULL, &error);
  SoraGenerateParams params = { prompt_0, "", seed, N_STEPS, 5.0, 0.0,
    SORA_SCHEDULER_UNIPC, 48, 32, N_FRAMES, SORA_PIXEL_I420 };
  GPtrArray *sums = g_ptr_array_new_with_free_func (g_free);

  fail_unless (engine != NULL, "%s", error ? error->message : "");
  fail_unless (sora_engine_generate (
                   engine, &params, NULL, collect_sums, sums, NULL, &error),
      "%s", error ? error->message : "");
  params.prompt = prompt_1;
  params.seed = seed + 1;
  params.frames = N_EXTEND;
  fail_unless (sora_engine_continue (
                   engine, &params, NULL, collect_sums, sums, NULL, &error),
      "%s", error ? error->message : "");
  sora_engine_free (engine);
  g_free (model);
  return sums;
}

GST_START_TEST (test_clips_prompt_steers_next_clip)
{
  GstHarness *h = new_src (TINY_CAPS ",format=I420", 7, "a lighthouse");
  GstBus *bus = gst_element_get_bus (h->element);
  GPtrArray *sums, *steered, *unsteered;
  gchar *prompt;

  g_object_set (h->element, "clips", 2, NULL);
  gst_bus_set_sync_handler (bus, change_prompt_in_clip_0, h->element, NULL);
  gst_harness_play (h);
  sums = pull_contiguous (h, 0, N_FRAMES + N_EXTEND);
  pull_eos (h);
  prompt = expect_clip_message (h, 0, N_FRAMES, 7);
  fail_unless_equals_string (prompt, "a lighthouse");
  g_free (prompt);
  prompt = expect_clip_message (h, 1, N_EXTEND, 8);
  fail_unless_equals_string (prompt, "a volcano");
  g_free (prompt);
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  gst_object_unref (bus);
  teardown (h);

  /* Exactly a continuation of clip 0 with the new prompt. */
  steered = engine_clips ("a lighthouse", "a volcano", 7);
  unsteered = engine_clips ("a lighthouse", "a lighthouse", 7);
  fail_unless (same_sums (sums, steered), "not the engine's continuation");
  fail_if (same_sums (sums, unsteered), "the prompt change did not apply");
  g_ptr_array_unref (sums);
  g_ptr_array_unref (steered);
  g_ptr_array_unref (unsteered);
}

GST_END_TEST;

GST_START_TEST (test_clips_endless)
{
  GstHarness *h = new_src (TINY_CAPS, 3, "waves");
  guint64 past_3 = N_FRAMES + 3 * N_EXTEND;
  gint64 duration;
  GstEvent *event;
  GstMessage *msg;
  GstBus *bus;
  guint i;

  bus = gst_element_get_bus (h->element);
  g_object_set (h->element, "clips", 0, NULL);
  /* Each push waits for its pull, as a slow sink would. */
  gst_harness_set_blocking_push_mode (h);
  gst_harness_play (h);
  /* Into the fifth clip, without an EOS on the way. */
  g_ptr_array_unref (pull_contiguous (h, 0, past_3 + 1));
  while ((event = gst_harness_try_pull_event (h))) {
    fail_if (GST_EVENT_TYPE (event) == GST_EVENT_EOS);
    gst_event_unref (event);
  }
  for (i = 0; i < 4; i++)
    g_free (expect_clip_message (h, i, i == 0 ? N_FRAMES : N_EXTEND, 3 + i));
  /* Not ever further ahead: a clip starts only while less than one is
   * queued, so with 34 or 35 frames out, 5 (0 to 4, 41 frames) or 6 clips
   * are made however long we wait (a clip takes ~0.05 s here). */
  g_usleep (G_USEC_PER_SEC / 2);
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    if (gst_structure_has_name (gst_message_get_structure (msg), "sora/clip"))
      i++;
    gst_message_unref (msg);
  }
  g_test_message (
      "%u clips made with %" G_GUINT64_FORMAT " frames out", i, past_3 + 1);
  fail_unless (i <= 6, "%u clips made", i);
  gst_object_unref (bus);
  /* An endless stream has no duration. */
  fail_if (
      gst_element_query_duration (h->element, GST_FORMAT_TIME, &duration) &&
      duration >= 0);
  /* PLAYING to NULL (the harness lets the blocked push go first) while a
   * continuation may run: cancels it and joins; a hang times out. */
  teardown (h);
}

GST_END_TEST;

/* Runs on the generation thread: refuses a steps value while clip 0 runs,
 * so clip 1, which reads it when it starts, fails. */
static GstBusSyncReply
refuse_steps_in_clip_0 (GstBus *bus, GstMessage *msg, gpointer user_data)
{
  const GstStructure *s = gst_message_get_structure (msg);
  guint clip;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT &&
      gst_structure_has_name (s, "sora/progress") &&
      gst_structure_get_uint (s, "clip", &clip) && clip == 0)
    g_object_set (user_data, "steps", 0, NULL);
  return GST_BUS_PASS;
}

/* Refused while PLAYING: the next clip fails with the error and the stream
 * ends (with the first clip's frames that went out before, however many:
 * none goes out after the error). */
GST_START_TEST (test_error_property_while_playing)
{
  GstHarness *h = new_src (TINY_CAPS, 1, "a lighthouse");
  GstBus *bus = gst_element_get_bus (h->element);
  GstEvent *event;
  guint steps;

  g_object_set (h->element, "clips", 2, NULL);
  gst_bus_set_sync_handler (bus, refuse_steps_in_clip_0, h->element, NULL);
  gst_harness_play (h);
  expect_error (h, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "Property \"steps\" must be 1 to 1000, not 0");
  while ((event = gst_harness_pull_event (h))) {
    gboolean eos = GST_EVENT_TYPE (event) == GST_EVENT_EOS;

    gst_event_unref (event);
    if (eos)
      break;
  }
  fail_unless (event != NULL, "no EOS");
  g_test_message (
      "%u frames before the error", gst_harness_buffers_received (h));
  fail_unless (gst_harness_buffers_received (h) <= N_FRAMES);
  g_object_get (h->element, "steps", &steps, NULL);
  fail_unless_equals_int (steps, N_STEPS);
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  gst_object_unref (bus);
  teardown (h);
}

GST_END_TEST;

/* A prompt longer than the text encoder reads: a warning saying how much
 * is cut, once for the stream, not per clip. */
GST_START_TEST (test_long_prompt_warning)
{
  GString *prompt = g_string_new (NULL);
  GstHarness *h;
  GstMessage *msg;
  GError *error = NULL;
  GstBus *bus;
  guint i;

  /* Each word is one token or more: over 512 with the end token. */
  for (i = 0; i < 600; i++)
    g_string_append (prompt, "lighthouse ");
  h = new_src (TINY_CAPS, 1, prompt->str);
  g_object_set (h->element, "clips", 2, NULL);
  gst_harness_play (h);
  g_ptr_array_unref (pull_contiguous (h, 0, N_FRAMES + N_EXTEND));
  pull_eos (h);
  msg = pop_message (h, GST_MESSAGE_WARNING);
  gst_message_parse_warning (msg, &error, NULL);
  g_test_message ("%s", error->message);
  fail_unless (
      g_error_matches (error, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS));
  fail_unless (g_str_has_prefix (error->message, "The prompt is "), "%s",
      error->message);
  fail_unless (strstr (error->message,
                   " tokens long, but the model reads "
                   "only 512: the last ") != NULL,
      "%s", error->message);
  g_error_free (error);
  gst_message_unref (msg);
  /* Both clips have started: a second warning would be on the bus. */
  bus = gst_element_get_bus (h->element);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_if (msg != NULL, "warned again");
  gst_object_unref (bus);
  teardown (h);
  g_string_free (prompt, TRUE);
}

GST_END_TEST;

/* Checks the next QoS message: frames @from to @from + @n - 1 not shown,
 * @dropped in all so far. */
static void
expect_qos (GstHarness *h, guint64 dropped, guint64 from, guint64 n)
{
  GstMessage *msg = pop_message (h, GST_MESSAGE_QOS);
  GstClockTime rt, st, ts, dur;
  guint64 processed, n_dropped;
  gboolean live;
  GstFormat format;

  gst_message_parse_qos (msg, &live, &rt, &st, &ts, &dur);
  gst_message_parse_qos_stats (msg, &format, &processed, &n_dropped);
  g_test_message ("QoS: live %d, running time %" GST_TIME_FORMAT
                  ", duration %" GST_TIME_FORMAT
                  ", processed %" G_GUINT64_FORMAT
                  ", dropped %" G_GUINT64_FORMAT,
      live, GST_TIME_ARGS (rt), GST_TIME_ARGS (dur), processed, n_dropped);
  fail_unless (live);
  fail_unless_equals_int (format, GST_FORMAT_BUFFERS);
  fail_unless_equals_uint64 (n_dropped, dropped);
  fail_unless_equals_uint64 (rt, gst_util_uint64_scale (from, GST_SECOND, 16));
  fail_unless_equals_uint64 (ts, rt);
  fail_unless_equals_uint64 (
      rt + dur, gst_util_uint64_scale (from + n, GST_SECOND, 16));
  gst_message_unref (msg);
}

/* Pulls the next frame once the source waits for the clock: releases that
 * wait without moving the clock, which is at or past the frame.  Returns
 * its number and adds its checksum to @sums. */
static guint64
pull_clocked (GstHarness *h, GPtrArray *sums)
{
  GstTestClock *clock = gst_harness_get_testclock (h);
  GstBuffer *buf;
  GstClockID id;
  GstMapInfo map;
  guint64 offset;

  gst_test_clock_wait_for_next_pending_id (clock, NULL);
  id = gst_test_clock_process_next_clock_id (clock);
  fail_unless (id != NULL, "the frame is ahead of the clock");
  gst_clock_id_unref (id);
  gst_object_unref (clock);
  buf = gst_harness_pull (h);
  fail_unless (buf != NULL);
  offset = GST_BUFFER_OFFSET (buf);
  fail_unless_equals_uint64 (
      GST_BUFFER_PTS (buf), gst_util_uint64_scale (offset, GST_SECOND, 16));
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  g_ptr_array_add (
      sums, g_compute_checksum_for_data (G_CHECKSUM_SHA1, map.data, map.size));
  gst_buffer_unmap (buf, &map);
  gst_buffer_unref (buf);
  return offset;
}

GST_START_TEST (test_live_drops_late_frames)
{
  GstHarness *h = new_src (TINY_CAPS, 1, "a lighthouse");
  /* A sink waits this long on top of a frame's time. */
  const GstClockTime latency = 100 * GST_MSECOND;
  GPtrArray *sums = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *clip = run_clip (1, "a lighthouse");
  const guint shown[] = { 0, 1, 4, 5, 8 };
  guint i;

  g_object_set (h->element, "is-live", TRUE, "latency", latency, NULL);
  gst_harness_use_testclock (h);
  gst_harness_play (h);
  /* The whole clip queued while the clock stands still at 0. */
  g_free (expect_clip_message (h, 0, N_FRAMES, 1));
  fail_unless_equals_uint64 (pull_clocked (h, sums), 0);

  /* Frame 1 is out of the queue already, waiting for 62.5 ms; at 350 ms
   * frames 2 (ends at 187.5 ms, + 100) and 3 (250 + 100) are lost
   * downstream and dropped: 4 is next, then 5 waits for 312.5 ms. */
  fail_unless (gst_harness_wait_for_clock_id_waits (h, 1, 60));
  gst_harness_set_time (h, 350 * GST_MSECOND);
  fail_unless_equals_uint64 (pull_clocked (h, sums), 1);
  fail_unless_equals_uint64 (pull_clocked (h, sums), 4);
  expect_qos (h, 2, 2, 2);

  /* Far past the clip: 6 and 7 are dropped; 8, the newest, goes out in the
   * slot of the clock's time less the latency, 1 s: frame 16. */
  fail_unless (gst_harness_wait_for_clock_id_waits (h, 1, 60));
  gst_harness_set_time (h, GST_SECOND + latency);
  fail_unless_equals_uint64 (pull_clocked (h, sums), 5);
  fail_unless_equals_uint64 (pull_clocked (h, sums), 16);
  expect_qos (h, 2 + 10, 6, 10);
  pull_eos (h);
  teardown (h);

  /* What went out is the clip's frames, less the dropped ones. */
  fail_unless_equals_int (sums->len, G_N_ELEMENTS (shown));
  for (i = 0; i < sums->len; i++)
    fail_unless_equals_string (
        g_ptr_array_index (sums, i), g_ptr_array_index (clip, shown[i]));
  g_ptr_array_unref (sums);
  g_ptr_array_unref (clip);
}

GST_END_TEST;

/* What a live pipeline into a clock-synchronised sink (no queue) showed. */
typedef struct
{
  guint rendered; /* frames the sink rendered */
  guint64 dropped; /* frames the source skipped, from its last QoS */
  GPtrArray *clips; /* the sora/clip structures */
  GPtrArray *warnings; /* the warnings' texts */
} LiveRun;

static void
live_run_clear (LiveRun *run)
{
  g_ptr_array_unref (run->clips);
  g_ptr_array_unref (run->warnings);
}

/* Records a message of sorasrc's; TRUE at EOS.  Fails on an error. */
static gboolean
live_run_take (LiveRun *run, GstMessage *msg)
{
  GError *error = NULL;
  guint64 processed;
  GstFormat format;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &error, NULL);
      fail ("error: %s", error->message);
      break;
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning (msg, &error, NULL);
      g_test_message ("warning: %s", error->message);
      g_ptr_array_add (run->warnings, g_strdup (error->message));
      g_error_free (error);
      break;
    case GST_MESSAGE_QOS:
      if (GST_IS_BASE_SRC (GST_MESSAGE_SRC (msg)))
        gst_message_parse_qos_stats (msg, &format, &processed, &run->dropped);
      break;
    case GST_MESSAGE_ELEMENT:
      if (gst_message_has_name (msg, "sora/clip")) {
        const GstStructure *s = gst_message_get_structure (msg);
        gchar *text = gst_structure_to_string (s);

        g_test_message ("%s", text);
        g_free (text);
        g_ptr_array_add (run->clips, gst_structure_copy (s));
      }
      break;
    default:
      break;
  }
  return GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
}

/* Plays sorasrc on wan-tiny, live, with @props, straight into a
 * clock-synchronised fakesink, to EOS. */
static void
run_live (const gchar *props, LiveRun *run)
{
  gchar *model = fixture_path ("wan-tiny");
  gchar *launch = g_strdup_printf ("sorasrc model=%s num-frames=%d seed=3 "
                                   "is-live=true %s ! " TINY_CAPS
                                   " ! fakesink name=sink sync=true",
      model, N_FRAMES, props);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (launch, &error);
  GstElement *sink;
  Rendered rendered;
  GstBus *bus;
  GstMessage *msg;
  gboolean eos = FALSE;

  fail_unless (pipeline != NULL, "%s", error ? error->message : "");
  g_test_message ("%s", launch);
  run->dropped = 0;
  run->clips =
      g_ptr_array_new_with_free_func ((GDestroyNotify)gst_structure_free);
  run->warnings = g_ptr_array_new_with_free_func (g_free);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_mutex_init (&rendered.lock);
  g_cond_init (&rendered.cond);
  rendered.pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  g_object_set (sink, "signal-handoffs", TRUE, NULL);
  g_signal_connect (
      sink, "handoff", G_CALLBACK (rendered_on_handoff), &rendered);

  bus = gst_element_get_bus (pipeline);
  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
  while (!eos) {
    msg = gst_bus_timed_pop (bus, BUS_TIMEOUT);
    fail_unless (msg != NULL, "no EOS");
    eos = live_run_take (run, msg);
    gst_message_unref (msg);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  run->rendered = rendered.pts->len;
  g_test_message ("%u frames rendered, %" G_GUINT64_FORMAT " skipped",
      run->rendered, run->dropped);

  g_array_unref (rendered.pts);
  g_mutex_clear (&rendered.lock);
  g_cond_clear (&rendered.cond);
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (launch);
  g_free (model);
}

/* Issue #17: live with a latency set, straight into a clock-synchronised
 * sink.  wan-tiny with 2 steps makes a clip hundreds of times faster than
 * it plays, so nothing may be skipped: every frame of the 3 clips is
 * rendered, without a QoS message. */
GST_START_TEST (test_live_into_synced_sink)
{
  LiveRun run;

  run_live ("clips=3 steps=2 latency=1000000000", &run);
  fail_unless_equals_uint64 (run.dropped, 0);
  fail_unless_equals_int (run.rendered, N_FRAMES + 2 * N_EXTEND);
  fail_unless_equals_int (run.clips->len, 3);
  fail_unless_equals_int (run.warnings->len, 0);
  live_run_clear (&run);
}

GST_END_TEST;

/* 1000 steps with guidance: on PoCL each clip of wan-tiny takes seconds
 * (3 s on 2 busy cores) for the 0.5 s its frames play. */
#define SLOW_PROPS "steps=1000 guidance-scale=5 latency=300000000"

/* The second clip, of 4 frames (0.25 s: a step would have to take under
 * 0.25 ms, where a step launches dozens of kernels), is slower than real
 * time: frames are skipped (the 0.3 s latency cannot hide it), and a
 * warning says so and what helps. */

GST_START_TEST (test_live_too_slow_warns)
{
  LiveRun run;
  const gchar *text;
  double speed;

  run_live ("clips=2 num-frames=5 " SLOW_PROPS, &run);
  fail_unless_equals_int (run.clips->len, 2);
  fail_unless (gst_structure_get_double (
      g_ptr_array_index (run.clips, 1), "speed", &speed));
  fail_unless (speed < 1, "the slow clip kept up: %g", speed);
  fail_unless (run.dropped > 0, "no frame skipped");
  fail_unless_equals_int (run.warnings->len, 1);
  text = g_ptr_array_index (run.warnings, 0);
  fail_unless (g_str_has_prefix (text, "Live generation runs "), "%s", text);
  fail_unless (strstr (text,
                   "x slower than real time, so frames are "
                   "skipped once the latency no longer covers it.  "
                   "Fewer steps, guidance-scale=1, a "
                   "smaller size, a GPU or a larger latency help; "
                   "keep-up=true chooses the steps by itself"),
      "%s", text);
  live_run_clear (&run);
}

GST_END_TEST;

static volatile gint load_on;

/* A CPU load generator: spins until load_on is cleared. */
static gpointer
spin (gpointer data)
{
  guint64 n = 0;

  while (g_atomic_int_get (&load_on))
    n++;
  return GUINT_TO_POINTER ((guint)n);
}

/* The transformer passes clip @s ran: a step is one, two with guidance. */
static guint
clip_passes (const GstStructure *s)
{
  guint steps;
  double guidance;

  fail_unless (gst_structure_get_uint (s, "steps", &steps));
  fail_unless (gst_structure_get_double (s, "guidance-scale", &guidance));
  fail_unless (guidance == 5 || guidance == 1, "%g", guidance);
  return steps * (guidance > 1 ? 2 : 1);
}

/* keep-up under load: the slow settings above, 2 threads spinning on the
 * CPU PoCL runs on, and keep-up=true.  The continuations get fewer steps
 * (at least min-steps, with guidance or without), reported in sora/clip,
 * and each is planned from the one before as sora/clip reports it (passes,
 * generation-time): at that clip's cost per pass, it is made within the
 * time its frames play (so the frames keep coming), unless at min-steps,
 * yet it takes at least half the passes that fill that time, or as many as
 * the clip before, whichever is fewer (up to 1000 steps with guidance; 2
 * passes allowed for rounding down).  Whether the machine then keeps to
 * the plan (a clip may be far slower than the one it was planned from when
 * the load swings) is not the element's doing: no assertion on the frames
 * skipped, only that every frame was rendered or skipped. */
GST_START_TEST (test_live_keep_up_under_load)
{
  GThread *load[2];
  LiveRun run;
  guint i, frames, steps, passes, last_passes;
  double seconds, play, fill;

  g_atomic_int_set (&load_on, 1);
  for (i = 0; i < G_N_ELEMENTS (load); i++)
    load[i] = g_thread_new ("load", spin, NULL);
  run_live ("clips=6 keep-up=true min-steps=2 " SLOW_PROPS, &run);
  g_atomic_int_set (&load_on, 0);
  for (i = 0; i < G_N_ELEMENTS (load); i++)
    g_thread_join (load[i]);

  fail_unless_equals_int (run.clips->len, 6);
  for (i = 1; i < run.clips->len; i++) {
    GstStructure *last = g_ptr_array_index (run.clips, i - 1);
    GstStructure *s = g_ptr_array_index (run.clips, i);

    fail_unless (gst_structure_get_double (last, "generation-time", &seconds));
    fail_unless (gst_structure_get_uint (s, "frames", &frames));
    fail_unless (gst_structure_get_uint (s, "steps", &steps));
    fail_unless (steps < 1000, "clip %u kept 1000 steps", i);
    fail_unless (steps >= 2, "clip %u: %u steps, below min-steps", i, steps);
    last_passes = clip_passes (last);
    passes = clip_passes (s);
    play = frames / 16.0;
    fill = last_passes * play / seconds;
    g_test_message (
        "clip %u: %u passes; %.1f fill its %.2f s", i, passes, fill, play);
    fail_unless (passes <= MAX (fill, 2),
        "clip %u: %u passes, slower than real time at the last one's cost", i,
        passes);
    fail_unless (passes + 2 >= MIN (MIN (fill / 2, last_passes), 2 * 1000),
        "clip %u: %u passes, where %.1f fill its time and the last clip "
        "took %u",
        i, passes, fill, last_passes);
  }
  fail_unless (run.rendered + run.dropped >= N_FRAMES + 5 * N_EXTEND);
  live_run_clear (&run);
}

GST_END_TEST;

static Suite *
sorasrc_suite (void)
{
  Suite *s = suite_create ("sorasrc");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_native_caps);
  tcase_add_test (tc, test_forced_size_and_timestamps);
  tcase_add_test (tc, test_size_not_multiple_of_16);
  tcase_add_test (tc, test_size_beyond_rope);
  tcase_add_test (tc, test_num_buffers);
  tcase_add_test (tc, test_seed_determinism);
  tcase_add_test (tc, test_random_seed_reported);
  tcase_add_test (tc, test_prompt_change_applies_to_next_clip);
  tcase_add_test (tc, test_seek_to_start_mid_clip);
  tcase_add_test (tc, test_null_during_generation);
  tcase_add_test (tc, test_paused_playing);
  tcase_add_test (tc, test_paused_playing_live);
  tcase_add_test (tc, test_progress_messages);
  tcase_add_test (tc, test_progress_canceled_mid_chunk);
  tcase_add_test (tc, test_model_unset_is_default);
  tcase_add_test (tc, test_error_no_model_set);
  tcase_add_test (tc, test_error_property_values);
  tcase_add_test (tc, test_error_text_values);
  tcase_add_test (tc, test_property_refusal_forgotten);
  tcase_add_test (tc, test_error_property_while_playing);
  tcase_add_test (tc, test_long_prompt_warning);
  tcase_add_test (tc, test_error_missing_model);
  tcase_add_test (tc, test_error_corrupt_weights);
  tcase_add_test (tc, test_error_unknown_device_from_env);
  tcase_add_test (tc, test_error_unknown_device);
  tcase_add_test (tc, test_ready_only_properties);
  tcase_add_test (tc, test_clips_contiguous);
  tcase_add_test (tc, test_clips_prompt_steers_next_clip);
  tcase_add_test (tc, test_clips_endless);
  tcase_add_test (tc, test_live_drops_late_frames);
  tcase_add_test (tc, test_live_into_synced_sink);
  tcase_add_test (tc, test_live_too_slow_warns);
  tcase_add_test (tc, test_live_keep_up_under_load);
  return s;
}

GST_CHECK_MAIN (sorasrc);
