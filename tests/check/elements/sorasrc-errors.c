/* gst-sora: sorasrc refusing bad properties, models and devices on the
 * tiny fixture model
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "sora-check.h"
#include "sorasrc-test-util.h"

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
  /* refused on the generation thread while clip 0 runs, so clip 1, which
   * reads it when it starts, fails */
  gst_bus_set_sync_handler (
      bus, set_in_clip_0, &(SetInClip0){ h->element, "steps", "0" }, NULL);
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

static Suite *
sorasrc_errors_suite (void)
{
  Suite *s = suite_create ("sorasrc-errors");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_model_unset_is_default);
  tcase_add_test (tc, test_error_no_model_set);
  tcase_add_test (tc, test_error_property_values);
  tcase_add_test (tc, test_error_text_values);
  tcase_add_test (tc, test_property_refusal_forgotten);
  tcase_add_test (tc, test_error_property_while_playing);
  tcase_add_test (tc, test_error_missing_model);
  tcase_add_test (tc, test_error_corrupt_weights);
  tcase_add_test (tc, test_error_unknown_device_from_env);
  tcase_add_test (tc, test_error_unknown_device);
  tcase_add_test (tc, test_ready_only_properties);
  return s;
}

GST_CHECK_MAIN (sorasrc_errors);
