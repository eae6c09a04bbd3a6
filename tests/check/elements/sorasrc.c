/* gst-sora: sorasrc on the tiny fixture model: caps, sizes, buffers, seeds,
 * prompts and clips (sorasrc-errors.c, sorasrc-live.c and sorasrc-state.c
 * hold the rest)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The fixture has random weights: frames are noise, but the same seed and
 * prompt must give the same bytes on the same device.
 */
#include <string.h>

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "sora-check.h"
#include "sorasrc-test-util.h"

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
  pull_eos (h, GST_SEQNUM_INVALID);
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
  pull_eos (h, GST_SEQNUM_INVALID);
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
  pull_eos (h, GST_SEQNUM_INVALID);
  for (i = 0; i < 3; i++)
    g_free (expect_clip_message (h, i, i == 0 ? N_FRAMES : N_EXTEND, 5 + i));
  teardown (h);
}

GST_END_TEST;

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
  /* changed on the generation thread while clip 0 runs, so clip 1, which
   * reads it when it starts, is the first to use it */
  gst_bus_set_sync_handler (bus, set_in_clip_0,
      &(SetInClip0){ h->element, "prompt", "a volcano" }, NULL);
  gst_harness_play (h);
  sums = pull_contiguous (h, 0, N_FRAMES + N_EXTEND);
  pull_eos (h, GST_SEQNUM_INVALID);
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
  /* PLAYING to NULL while a continuation may run: cancels it and joins; a
   * hang times out.  The harness stops the element itself, after letting
   * the blocked push go (stopping it first would wait for that push). */
  flush_bus (h);
  gst_harness_teardown (h);
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
  pull_eos (h, GST_SEQNUM_INVALID);
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
  tcase_add_test (tc, test_long_prompt_warning);
  tcase_add_test (tc, test_clips_contiguous);
  tcase_add_test (tc, test_clips_prompt_steers_next_clip);
  tcase_add_test (tc, test_clips_endless);
  return s;
}

GST_CHECK_MAIN (sorasrc);
