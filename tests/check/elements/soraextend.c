/* gst-sora: soraextend element tests on the tiny fixture model
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The fixture has random weights: the new frames are noise, so the tests
 * check the stream around them (counts, timestamps, untouched input, EOS,
 * flushing), not their content; tests/test-extend.c checks the engine's
 * frames against diffusers.
 */
#include <string.h>

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "sora-check.h"
#include "sora-engine.h"

#define WIDTH 48
#define HEIGHT 32
#define FRAME_SIZE (WIDTH * HEIGHT * 3)
#define RGB_CAPS "video/x-raw,format=RGB,width=48,height=32"
/* 6 is not a multiple of 4: the element makes the engine's rounding, 8. */
#define EXTEND_FRAMES 6
#define N_STEPS 2
/* wan-tiny-causal makes chunks of 8 frames in 4 steps each: 12 new frames
 * are 2 chunks, 8 steps in all. */
#define CAUSAL_EXTEND_FRAMES 12
#define CAUSAL_STEPS 8

/* soraextend on the fixture model @fixture and @device (NULL: the
 * default), started by the harness. */
static GstHarness *
new_extend_on (const gchar *fixture, const gchar *device, guint steps)
{
  GstElement *element = gst_element_factory_make ("soraextend", NULL);
  gchar *model = g_build_filename (g_getenv ("SORA_FIXTURES"), fixture, NULL);
  GstBus *bus = gst_bus_new ();
  GstHarness *h;

  fail_unless (g_getenv ("SORA_FIXTURES") != NULL, "SORA_FIXTURES is not set");
  fail_unless (element != NULL);
  /* Before the harness starts it: model is a READY-only property. */
  g_object_set (element, "model", model, "steps", steps, "seed", (gint64)5,
      "prompt", "a kite over a beach", "extend-frames", EXTEND_FRAMES, "device",
      device, NULL);
  gst_element_set_bus (element, bus);
  h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  gst_object_unref (bus);
  g_free (model);
  return h;
}

static GstHarness *
new_extend (guint steps)
{
  return new_extend_on ("wan-tiny", NULL, steps);
}

/* Input frame @i: a pattern of its own, stamped at @fps_n/1 when that is
 * not 0. */
static GstBuffer *
input_frame (guint i, gint fps_n)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, FRAME_SIZE, NULL);
  GstMapInfo map;
  guint j;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  for (j = 0; j < FRAME_SIZE; j++)
    map.data[j] = (guint8)(j * 7 + i * 31 + (j / (WIDTH * 3)) * 3);
  gst_buffer_unmap (buf, &map);
  GST_BUFFER_PTS (buf) =
      fps_n ? gst_util_uint64_scale (i, GST_SECOND, fps_n) : 0;
  if (fps_n)
    GST_BUFFER_DURATION (buf) =
        gst_util_uint64_scale (i + 1, GST_SECOND, fps_n) - GST_BUFFER_PTS (buf);
  return buf;
}

static gboolean
same_bytes (GstBuffer *a, GstBuffer *b)
{
  GstMapInfo ma, mb;
  gboolean same;

  fail_unless (gst_buffer_map (a, &ma, GST_MAP_READ));
  fail_unless (gst_buffer_map (b, &mb, GST_MAP_READ));
  same = ma.size == mb.size && memcmp (ma.data, mb.data, ma.size) == 0;
  gst_buffer_unmap (a, &ma);
  gst_buffer_unmap (b, &mb);
  return same;
}

/* Pulls a frame and checks it starts where the last one ended (*next) and
 * lasts one frame at @fps_n/1. */
static GstBuffer *
pull_contiguous (GstHarness *h, GstClockTime *next, gint fps_n, guint n)
{
  GstBuffer *buf = gst_harness_pull (h);

  fail_unless (buf != NULL, "frame %u missing", n);
  fail_unless_equals_int (gst_buffer_get_size (buf), FRAME_SIZE);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), *next);
  fail_unless_equals_uint64 (
      GST_BUFFER_PTS (buf), gst_util_uint64_scale (n, GST_SECOND, fps_n));
  *next = GST_BUFFER_PTS (buf) + GST_BUFFER_DURATION (buf);
  fail_unless_equals_uint64 (
      *next, gst_util_uint64_scale (n + 1, GST_SECOND, fps_n));
  return buf;
}

static guint32
push_eos (GstHarness *h)
{
  GstEvent *eos = gst_event_new_eos ();
  guint32 seqnum = gst_util_seqnum_next ();

  gst_event_set_seqnum (eos, seqnum);
  fail_unless (gst_harness_push_event (h, eos));
  return seqnum;
}

/* 9 input frames, then at EOS the extension of @fixture by @extend_frames
 * new frames, reported in @steps denoising steps. */
static void
check_extend_on_eos (const gchar *fixture, guint extend_frames, guint steps)
{
  GstHarness *h = new_extend_on (fixture, NULL, N_STEPS);
  guint n_new = sora_engine_extend_round_frames (extend_frames);
  GstBuffer *in[9];
  GstClockTime next = 0;
  GstStructure *s;
  guint32 seqnum;
  guint i, frames, context;
  gchar *text;

  g_object_set (h->element, "extend-frames", extend_frames, NULL);
  gst_harness_set_src_caps_str (h, RGB_CAPS ",framerate=16/1");
  for (i = 0; i < 9; i++) {
    in[i] = input_frame (i, 16);
    fail_unless_equals_int (
        gst_harness_push (h, gst_buffer_ref (in[i])), GST_FLOW_OK);
  }
  seqnum = push_eos (h);

  /* The input first, untouched. */
  for (i = 0; i < 9; i++) {
    GstBuffer *out = pull_contiguous (h, &next, 16, i);

    fail_unless (same_bytes (in[i], out), "input frame %u changed", i);
    gst_buffer_unref (out);
    gst_buffer_unref (in[i]);
  }
  gst_structure_free (expect_denoise_progress (h, steps));
  s = wait_element_message (h, "sora/clip");
  text = gst_structure_to_string (s);
  g_test_message ("%s", text);
  g_free (text);
  fail_unless (gst_structure_get_uint (s, "frames", &frames));
  fail_unless (gst_structure_get_uint (s, "context-frames", &context));
  fail_unless_equals_int (frames, n_new);
  fail_unless_equals_int (context, 9);
  gst_structure_free (s);
  /* Then the new frames, right after, and upstream's EOS. */
  for (i = 9; i < 9 + n_new; i++)
    gst_buffer_unref (pull_contiguous (h, &next, 16, i));
  pull_eos (h, seqnum);
  teardown (h);
}

GST_START_TEST (test_extend_on_eos)
{
  fail_unless_equals_int (sora_engine_extend_round_frames (EXTEND_FRAMES), 8);
  check_extend_on_eos ("wan-tiny", EXTEND_FRAMES, N_STEPS);
}

GST_END_TEST;

/* A causal model extends as a stream primed with the input, in chunks
 * denoised in the model's own steps, whatever the steps property says. */
GST_START_TEST (test_extend_on_eos_causal)
{
  check_extend_on_eos ("wan-tiny-causal", CAUSAL_EXTEND_FRAMES, CAUSAL_STEPS);
}

GST_END_TEST;

/* A picture (framerate 0/1) of @fixture's model goes out, then @n_new
 * frames that animate it at the framerate property's rate. */
static void
check_still_image (const gchar *fixture, guint n_new)
{
  GstHarness *h = new_extend_on (fixture, NULL, N_STEPS);
  GstBuffer *in = input_frame (0, 0), *out;
  GstClockTime next = 0;
  GstVideoInfo info;
  GstCaps *caps;
  guint32 seqnum;
  guint i;

  /* Set in READY: the frame rate for stills is READY-only. */
  gst_element_set_state (h->element, GST_STATE_READY);
  g_object_set (h->element, "framerate", 8, 1, NULL);
  g_object_set (h->element, "extend-frames", n_new, NULL);
  gst_harness_play (h);
  gst_harness_set_src_caps_str (h, RGB_CAPS ",framerate=0/1");
  fail_unless_equals_int (
      gst_harness_push (h, gst_buffer_ref (in)), GST_FLOW_OK);
  seqnum = push_eos (h);

  out = pull_contiguous (h, &next, 8, 0);
  fail_unless (same_bytes (in, out));
  caps = gst_pad_get_current_caps (h->sinkpad);
  fail_unless (gst_video_info_from_caps (&info, caps));
  fail_unless_equals_int (GST_VIDEO_INFO_FPS_N (&info), 8);
  fail_unless_equals_int (GST_VIDEO_INFO_FPS_D (&info), 1);
  gst_caps_unref (caps);
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  for (i = 1; i < 1 + n_new; i++)
    gst_buffer_unref (pull_contiguous (h, &next, 8, i));
  pull_eos (h, seqnum);
  teardown (h);
}

GST_START_TEST (test_still_image)
{
  check_still_image (
      "wan-tiny", sora_engine_extend_round_frames (EXTEND_FRAMES));
}

GST_END_TEST;

/* A causal model primes its stream with the picture held still for a
 * chunk's frames (one picture is fewer than a chunk). */
GST_START_TEST (test_still_image_causal)
{
  check_still_image ("wan-tiny-causal", CAUSAL_EXTEND_FRAMES);
}

GST_END_TEST;

GST_START_TEST (test_still_image_downstream_rate)
{
  GstHarness *h = new_extend (N_STEPS);
  GstBuffer *out;
  GstVideoInfo info;
  GstCaps *caps;

  /* Downstream takes 10/1 only: that wins over the property's 16/1. */
  gst_harness_set_sink_caps_str (h, "video/x-raw,framerate=10/1");
  gst_harness_set_src_caps_str (h, RGB_CAPS ",framerate=0/1");
  fail_unless_equals_int (
      gst_harness_push (h, input_frame (0, 0)), GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless (out != NULL);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), GST_SECOND / 10);
  caps = gst_pad_get_current_caps (h->sinkpad);
  fail_unless (gst_video_info_from_caps (&info, caps));
  fail_unless_equals_int (GST_VIDEO_INFO_FPS_N (&info), 10);
  gst_caps_unref (caps);
  gst_buffer_unref (out);
  teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_extend_signal)
{
  GstHarness *h = new_extend (N_STEPS);
  guint n_new = sora_engine_extend_round_frames (EXTEND_FRAMES);
  GstBuffer *in[9];
  GstClockTime next = 0;
  gboolean queued = FALSE;
  guint32 seqnum;
  guint i, n = 0;

  g_object_set (h->element, "extend-on-eos", FALSE, NULL);
  gst_harness_set_src_caps_str (h, RGB_CAPS ",framerate=16/1");
  for (i = 0; i < 9; i++) {
    in[i] = input_frame (i, 16);
    if (i == 5) {
      g_signal_emit_by_name (h->element, "extend", &queued);
      fail_unless (queued);
    }
    /* Waits while the extension generates (the queue is short). */
    fail_unless_equals_int (
        gst_harness_push (h, gst_buffer_ref (in[i])), GST_FLOW_OK);
  }
  seqnum = push_eos (h);
  /* The stream has ended: nothing to insert into. */
  g_signal_emit_by_name (h->element, "extend", &queued);
  fail_if (queued);

  /* 5 frames, the new ones, then the other 4 moved later by as much. */
  for (i = 0; i < 9; i++) {
    GstBuffer *out;
    guint k;

    if (i == 5)
      for (k = 0; k < n_new; k++)
        gst_buffer_unref (pull_contiguous (h, &next, 16, n++));
    out = pull_contiguous (h, &next, 16, n++);
    fail_unless (same_bytes (in[i], out), "input frame %u changed", i);
    gst_buffer_unref (out);
    gst_buffer_unref (in[i]);
  }
  /* No extension at EOS this time. */
  pull_eos (h, seqnum);
  fail_unless (has_element_message (h, "sora/clip"));
  teardown (h);
}

GST_END_TEST;

/* Starts a long generation and waits until it is under way. */
static GstHarness *
start_long_generation (void)
{
  /* Enough steps that it cannot finish before the test interrupts it. */
  GstHarness *h = new_extend (1000);
  guint i;

  gst_harness_set_src_caps_str (h, RGB_CAPS ",framerate=16/1");
  for (i = 0; i < 5; i++)
    fail_unless_equals_int (
        gst_harness_push (h, input_frame (i, 16)), GST_FLOW_OK);
  push_eos (h);
  gst_structure_free (wait_element_message (h, "sora/progress"));
  return h;
}

GST_START_TEST (test_flush_during_generation)
{
  GstHarness *h = start_long_generation ();
  GstBuffer *buf;
  GstEvent *event;
  GstSegment segment;
  gint64 t0, dt;
  guint i;

  t0 = g_get_monotonic_time ();
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  dt = g_get_monotonic_time () - t0;
  g_test_message ("flush-start returned after %.3f s", dt / 1e6);
  fail_unless (dt < PROMPT_LIMIT_US, "flush-start took %.1f s", dt / 1e6);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  fail_if (has_element_message (h, "sora/clip"), "generation not stopped");

  /* The 5 input frames went through before; nothing new after them. */
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 5);
  for (i = 0; i < 5; i++)
    gst_buffer_unref (gst_harness_pull (h));

  /* Working again after the flush (which ended the segment). */
  while ((event = gst_harness_try_pull_event (h)))
    gst_event_unref (event);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  fail_unless_equals_int (
      gst_harness_push (h, input_frame (0, 16)), GST_FLOW_OK);
  buf = gst_harness_pull (h);
  fail_unless (buf != NULL);
  gst_buffer_unref (buf);
  teardown (h);
}

GST_END_TEST;

/* Leaves PLAYING for @state in the middle of a generation: promptly, and
 * the generation does not finish. */
static void
stop_during_generation (GstState state)
{
  GstHarness *h = start_long_generation ();
  const gchar *name = gst_element_state_get_name (state);
  gint64 t0, dt;

  t0 = g_get_monotonic_time ();
  fail_unless_equals_int (
      gst_element_set_state (h->element, state), GST_STATE_CHANGE_SUCCESS);
  dt = g_get_monotonic_time () - t0;
  g_test_message ("PLAYING→%s took %.3f s", name, dt / 1e6);
  fail_unless (dt < PROMPT_LIMIT_US, "PLAYING→%s took %.1f s", name, dt / 1e6);
  fail_if (has_element_message (h, "sora/clip"), "generation not stopped");
  teardown (h);
}

GST_START_TEST (test_stop_during_generation)
{
  stop_during_generation (GST_STATE_READY);
}

GST_END_TEST;

/* NULL also gives the model back. */
GST_START_TEST (test_null_during_generation)
{
  stop_during_generation (GST_STATE_NULL);
}

GST_END_TEST;

/* Flushes @h from its source task once the extension reports step @step
 * (flush-start waits for the task, so no other thread could flush while
 * the task is held at a step; from the task itself it does not wait). */
typedef struct
{
  GMutex lock;
  GCond cond;
  GstHarness *h;
  guint step;
  gboolean flushed, accepted;
} FlushAtStep;

static GstBusSyncReply
flush_at_step (GstBus *bus, GstMessage *msg, gpointer user_data)
{
  FlushAtStep *f = user_data;
  const GstStructure *s = gst_message_get_structure (msg);
  guint step;

  if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ELEMENT ||
      !gst_structure_has_name (s, "sora/progress") ||
      !gst_structure_get_uint (s, "step", &step) || step != f->step)
    return GST_BUS_PASS;
  f->accepted = gst_harness_push_event (f->h, gst_event_new_flush_start ());
  g_mutex_lock (&f->lock);
  f->flushed = TRUE;
  g_cond_broadcast (&f->cond);
  g_mutex_unlock (&f->lock);
  return GST_BUS_PASS;
}

/* A causal model's extension flushed after step 5 of the engine's 8 (2
 * chunks of 4), past the steps property's 2: its "denoise" PROGRESS ends
 * with CANCELED, counted against the engine's total. */
GST_START_TEST (test_progress_canceled_causal)
{
  GstHarness *h = new_extend_on ("wan-tiny-causal", NULL, N_STEPS);
  GstBus *bus = gst_element_get_bus (h->element);
  GstPad *srcpad = gst_element_get_static_pad (h->element, "src");
  FlushAtStep f = { .h = h, .step = 5 };
  gchar *text = NULL;
  guint i;

  g_mutex_init (&f.lock);
  g_cond_init (&f.cond);
  gst_bus_set_sync_handler (bus, flush_at_step, &f, NULL);
  g_object_set (h->element, "extend-frames", CAUSAL_EXTEND_FRAMES, NULL);
  gst_harness_set_src_caps_str (h, RGB_CAPS ",framerate=16/1");
  for (i = 0; i < 9; i++)
    fail_unless_equals_int (
        gst_harness_push (h, input_frame (i, 16)), GST_FLOW_OK);
  push_eos (h);
  g_mutex_lock (&f.lock);
  while (!f.flushed)
    g_cond_wait (&f.cond, &f.lock);
  g_mutex_unlock (&f.lock);
  fail_unless (f.accepted, "flush-start refused");
  /* Waits for the task's loop to return, as flush-start does from another
   * thread: the stopped extension has posted all its messages, so none is
   * waited for below. */
  GST_PAD_STREAM_LOCK (srcpad);
  GST_PAD_STREAM_UNLOCK (srcpad);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);

  do {
    g_free (text);
    pop_denoise (h, 0, &text);
  } while (!g_str_has_prefix (text, "Clip 0: step 5 of 8 done"));
  g_free (text);
  fail_unless_equals_int (
      pop_denoise (h, 0, &text), GST_PROGRESS_TYPE_CANCELED);
  fail_unless_equals_string (text, "Clip 0: stopped after 5 of 8 steps");
  g_free (text);

  gst_object_unref (srcpad);
  gst_object_unref (bus);
  teardown (h);
  g_mutex_clear (&f.lock);
  g_cond_clear (&f.cond);
}

GST_END_TEST;

GST_START_TEST (test_prompt_change_applies_to_next_extension)
{
  GstHarness *h = new_extend (N_STEPS);
  GstStructure *s;
  gboolean queued = FALSE;
  guint i;

  gst_harness_set_src_caps_str (h, RGB_CAPS ",framerate=16/1");
  for (i = 0; i < 5; i++)
    fail_unless_equals_int (
        gst_harness_push (h, input_frame (i, 16)), GST_FLOW_OK);
  g_signal_emit_by_name (h->element, "extend", &queued);
  fail_unless (queued);
  /* The extension has read its prompt: the change waits for the next one,
   * at EOS. */
  gst_structure_free (wait_element_message (h, "sora/progress"));
  g_object_set (h->element, "prompt", "a storm over the sea", NULL);
  push_eos (h);

  s = wait_element_message (h, "sora/clip");
  fail_unless_equals_string (
      gst_structure_get_string (s, "prompt"), "a kite over a beach");
  gst_structure_free (s);
  s = wait_element_message (h, "sora/clip");
  fail_unless_equals_string (
      gst_structure_get_string (s, "prompt"), "a storm over the sea");
  gst_structure_free (s);
  teardown (h);
}

GST_END_TEST;

/* 9 input frames and the 8 new ones, paused in the middle. */
GST_START_TEST (test_paused_playing)
{
  gchar *launch = g_strdup_printf (
      "videotestsrc num-buffers=9 ! " RGB_CAPS ",framerate=16/1 ! "
      "soraextend model=%s/wan-tiny steps=%d seed=5 extend-frames=8 ! "
      "fakesink name=sink sync=true",
      g_getenv ("SORA_FIXTURES"), N_STEPS);

  check_pause_resume (launch, 17);
  g_free (launch);
}

GST_END_TEST;

GST_START_TEST (test_size_not_multiple_of_16)
{
  GstHarness *h = new_extend (N_STEPS);
  GstMessage *msg;
  GError *error = NULL;
  GstSegment segment;
  GstCaps *caps;

  /* The push itself may succeed: the caps event stays sticky on the pad
   * whether the element takes it or not.  The error says what to change. */
  caps = gst_caps_from_string (
      "video/x-raw,format=RGB,width=50,height=40,framerate=16/1");
  gst_harness_push_event (h, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  msg = pop_message (h, GST_MESSAGE_ERROR);
  gst_message_parse_error (msg, &error, NULL);
  g_test_message ("%s", error->message);
  fail_unless (
      g_error_matches (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION));
  fail_unless (strstr (error->message, "48x48") != NULL, "%s", error->message);
  g_error_free (error);
  gst_message_unref (msg);
  /* Frames are refused. */
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_harness_push_event (h, gst_event_new_segment (&segment));
  fail_unless_equals_int (
      gst_harness_push (h, input_frame (0, 16)), GST_FLOW_NOT_NEGOTIATED);
  teardown (h);
}

GST_END_TEST;

/* A model that does not load is fatal: once the error is posted, no more
 * buffers go through (chain returns the flow error) and the stream ends
 * (gst-launch-1.0 passed every frame on and then hung). */
GST_START_TEST (test_error_model_stops_stream)
{
  /* A device that does not exist fails the load on the loading thread,
   * after the start (a missing model folder fails the start itself). */
  GstHarness *h = new_extend_on ("wan-tiny", "no-such-gpu", N_STEPS);
  GstMessage *msg = pop_message (h, GST_MESSAGE_ERROR);
  GError *error = NULL;

  gst_message_parse_error (msg, &error, NULL);
  g_test_message ("%s", error->message);
  fail_unless (
      g_error_matches (error, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS));
  g_error_free (error);
  gst_message_unref (msg);

  gst_harness_set_src_caps_str (h, RGB_CAPS ",framerate=16/1");
  fail_unless_equals_int (
      gst_harness_push (h, input_frame (0, 16)), GST_FLOW_ERROR);
  pull_eos (h, GST_SEQNUM_INVALID);
  teardown (h);
}

GST_END_TEST;

/* Values out of range are refused with an error naming the property (not
 * only GObject's warning, with the run going on). */
GST_START_TEST (test_error_property_values)
{
  GstHarness *h = new_extend (N_STEPS);

  gst_element_set_state (h->element, GST_STATE_NULL);
  expect_refused (h, "extend-frames", "0",
      "Property \"extend-frames\" must be 1 to 4096, not 0", "6");
  gst_util_set_object_arg (G_OBJECT (h->element), "extend-frames", "8");
  expect_refused (h, "context-frames", "0",
      "Property \"context-frames\" must be 1 to 256, not 0", "17");
  teardown (h);
}

GST_END_TEST;

/* Refused while PLAYING: the next extension fails with the error, and the
 * stream ends without new frames. */
GST_START_TEST (test_error_property_while_playing)
{
  GstHarness *h = new_extend (N_STEPS);
  guint i;

  gst_harness_set_src_caps_str (h, RGB_CAPS ",framerate=16/1");
  for (i = 0; i < 5; i++)
    fail_unless_equals_int (
        gst_harness_push (h, input_frame (i, 16)), GST_FLOW_OK);
  g_object_set (h->element, "extend-frames", 0, NULL);
  push_eos (h);
  expect_error (h, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "Property \"extend-frames\" must be 1 to 4096, not 0");
  for (i = 0; i < 5; i++)
    gst_buffer_unref (gst_harness_pull (h));
  pull_eos (h, GST_SEQNUM_INVALID);
  fail_if (has_element_message (h, "sora/clip"));
  teardown (h);
}

GST_END_TEST;

static Suite *
soraextend_suite (void)
{
  Suite *s = suite_create ("soraextend");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_extend_on_eos);
  tcase_add_test (tc, test_extend_on_eos_causal);
  tcase_add_test (tc, test_still_image);
  tcase_add_test (tc, test_still_image_causal);
  tcase_add_test (tc, test_still_image_downstream_rate);
  tcase_add_test (tc, test_extend_signal);
  tcase_add_test (tc, test_flush_during_generation);
  tcase_add_test (tc, test_stop_during_generation);
  tcase_add_test (tc, test_null_during_generation);
  tcase_add_test (tc, test_progress_canceled_causal);
  tcase_add_test (tc, test_prompt_change_applies_to_next_extension);
  tcase_add_test (tc, test_paused_playing);
  tcase_add_test (tc, test_size_not_multiple_of_16);
  tcase_add_test (tc, test_error_model_stops_stream);
  tcase_add_test (tc, test_error_property_values);
  tcase_add_test (tc, test_error_property_while_playing);
  return s;
}

GST_CHECK_MAIN (soraextend);
