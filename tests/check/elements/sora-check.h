/* gst-sora element tests: bus helpers shared by the gst-check programs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_CHECK_H__
#define __SORA_CHECK_H__

#include <string.h>

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

/* The first clip on PoCL compiles kernels: wait long. */
#define BUS_TIMEOUT (300 * GST_SECOND)

/* A flush or state change waits for at most one denoising step or decoded
 * chunk of the tiny model (about 3 ms here); the limit allows for a loaded
 * machine yet stays well under the ~3 s that 1000 steps take when the
 * cancellation is broken. */
#define PROMPT_LIMIT_US (G_USEC_PER_SEC)

/* The bus would keep the element alive through its messages (a reference
 * cycle the leaks tracer reports): drop them before the harness goes. */
static inline void
flush_bus (GstHarness *h)
{
  GstBus *bus = gst_element_get_bus (h->element);

  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}

/* The element stops before the harness goes: gst_harness_teardown() drops
 * its sink caps first, and a streaming thread still negotiating would query
 * them. */
static inline void
teardown (GstHarness *h)
{
  flush_bus (h);
  gst_element_set_state (h->element, GST_STATE_NULL);
  gst_harness_teardown (h);
}

/* Pops the next message of @types, waiting up to @timeout (0: one on the
 * bus already); the others before it are dropped. */
static inline GstMessage *
pop_message_within (GstHarness *h, GstMessageType types, GstClockTime timeout)
{
  GstBus *bus = gst_element_get_bus (h->element);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, timeout, types);

  gst_object_unref (bus);
  fail_unless (msg != NULL, "no message of type %x on the bus", types);
  return msg;
}

static inline GstMessage *
pop_message (GstHarness *h, GstMessageType types)
{
  return pop_message_within (h, types, BUS_TIMEOUT);
}

/* Whether a message of @types is on the bus now (the first is dropped). */
static inline gboolean
has_message (GstHarness *h, GstMessageType types)
{
  GstBus *bus = gst_element_get_bus (h->element);
  GstMessage *msg = gst_bus_pop_filtered (bus, types);

  gst_object_unref (bus);
  if (msg == NULL)
    return FALSE;
  gst_message_unref (msg);
  return TRUE;
}

/* Pulls events up to EOS, which must carry @seqnum (unless it is
 * GST_SEQNUM_INVALID), with no buffer left. */
static inline void
pull_eos (GstHarness *h, guint32 seqnum)
{
  while (TRUE) {
    GstEvent *event = gst_harness_pull_event (h);
    gboolean eos;

    fail_unless (event != NULL, "no EOS");
    eos = GST_EVENT_TYPE (event) == GST_EVENT_EOS;
    if (eos && seqnum != GST_SEQNUM_INVALID)
      fail_unless_equals_int (gst_event_get_seqnum (event), seqnum);
    gst_event_unref (event);
    if (eos)
      break;
  }
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
}

/* Waits for the element message @name; fails on an error first. */
static inline GstStructure *
wait_element_message (GstHarness *h, const gchar *name)
{
  while (TRUE) {
    GstMessage *msg = pop_message (h, GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR);
    const GstStructure *s = gst_message_get_structure (msg);
    GstStructure *copy;

    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError *error = NULL;

      gst_message_parse_error (msg, &error, NULL);
      fail ("error while waiting for %s: %s", name, error->message);
    }
    if (!gst_structure_has_name (s, name)) {
      gst_message_unref (msg);
      continue;
    }
    copy = gst_structure_copy (s);
    gst_message_unref (msg);
    return copy;
  }
}

/* Waits for the element's error and checks its domain, code and that its
 * text contains @text. */
static inline void
expect_error (GstHarness *h, GQuark domain, gint code, const gchar *text)
{
  GstMessage *msg = pop_message (h, GST_MESSAGE_ERROR);
  GError *error = NULL;
  gchar *debug = NULL;

  gst_message_parse_error (msg, &error, &debug);
  GST_INFO ("error: %s (%s)", error->message, debug);
  fail_unless (g_error_matches (error, domain, code), "got %s %d: %s",
      g_quark_to_string (error->domain), error->code, error->message);
  fail_unless (strstr (error->message, text) != NULL, "\"%s\" not in \"%s\"",
      text, error->message);
  g_error_free (error);
  g_free (debug);
  gst_message_unref (msg);
}

/* Pops the messages of the next generation's denoising: after each step
 * the element message sora/progress, then PROGRESS COMPLETE with code
 * "denoise" naming the step (never START or CONTINUE, which gst-launch-1.0
 * would wait for).  Those of the model load (code "load") are skipped, other
 * messages dropped.  Returns the first sora/progress. */
static inline GstStructure *
expect_denoise_progress (GstHarness *h, guint steps)
{
  GstStructure *first_step = NULL;
  guint progress = 0, step = 0;

  while (progress < steps) {
    GstMessage *msg =
        pop_message (h, GST_MESSAGE_PROGRESS | GST_MESSAGE_ELEMENT);
    const GstStructure *s = gst_message_get_structure (msg);
    GstProgressType type;
    gchar *code, *text, *want;

    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT) {
      if (gst_structure_has_name (s, "sora/progress")) {
        fail_unless (gst_structure_get_uint (s, "step", &step));
        fail_unless_equals_int (step, progress + 1);
        if (first_step == NULL)
          first_step = gst_structure_copy (s);
      }
      gst_message_unref (msg);
      continue;
    }
    gst_message_parse_progress (msg, &type, &code, &text);
    GST_INFO ("progress %d (%s): %s", type, code, text);
    if (g_strcmp0 (code, "load") != 0) {
      fail_unless_equals_string (code, "denoise");
      fail_unless_equals_int (type, GST_PROGRESS_TYPE_COMPLETE);
      /* After the sora/progress of its step. */
      fail_unless_equals_int (step, progress + 1);
      want = g_strdup_printf ("step %u of %u done", step, steps);
      fail_unless (strstr (text, want) != NULL, "%s", text);
      g_free (want);
      progress++;
    }
    g_free (code);
    g_free (text);
    gst_message_unref (msg);
  }
  return first_step;
}

/* Pops the next PROGRESS message with code "denoise" (those of the load
 * skipped), each waited for as pop_message_within does: its type, and its
 * text in *@text. */
static inline GstProgressType
pop_denoise (GstHarness *h, GstClockTime timeout, gchar **text)
{
  GstProgressType type;
  gchar *code = NULL;

  do {
    GstMessage *msg = pop_message_within (h, GST_MESSAGE_PROGRESS, timeout);

    if (code) {
      g_free (code);
      g_free (*text);
    }
    gst_message_parse_progress (msg, &type, &code, text);
    gst_message_unref (msg);
    GST_INFO ("progress %d (%s): %s", type, code, *text);
  } while (g_strcmp0 (code, "denoise") != 0);
  g_free (code);
  return type;
}

/* Sets @name to @value (parsed as gst-launch-1.0 does) on the element of
 * @h, which is in NULL, then checks that starting it fails with a RESOURCE
 * SETTINGS error containing @text, and no other error, and that @name kept
 * @kept. */
static inline void
expect_refused (GstHarness *h, const gchar *name, const gchar *value,
    const gchar *text, const gchar *kept)
{
  GstMessage *msg;
  GError *error = NULL;
  GValue v = G_VALUE_INIT;
  gchar *now;

  gst_util_set_object_arg (G_OBJECT (h->element), name, value);
  g_object_get_property (G_OBJECT (h->element), name,
      g_value_init (&v,
          g_object_class_find_property (G_OBJECT_GET_CLASS (h->element), name)
              ->value_type));
  now = G_VALUE_HOLDS_STRING (&v) ? g_value_dup_string (&v)
                                  : gst_value_serialize (&v);
  g_value_unset (&v);
  fail_unless_equals_string (now, kept);
  g_free (now);
  fail_unless_equals_int (gst_element_set_state (h->element, GST_STATE_PLAYING),
      GST_STATE_CHANGE_FAILURE);
  msg = pop_message (h, GST_MESSAGE_ERROR);
  gst_message_parse_error (msg, &error, NULL);
  g_test_message ("%s=%s: %s", name, value, error->message);
  fail_unless (
      g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS),
      "%s", error->message);
  fail_unless (strstr (error->message, text) != NULL, "\"%s\" not in \"%s\"",
      text, error->message);
  g_error_free (error);
  gst_message_unref (msg);
  /* and nothing else */
  fail_if (has_message (h, GST_MESSAGE_ERROR), "a second error");
  gst_element_set_state (h->element, GST_STATE_NULL);
}

/* Whether a message named @name is on the bus now. */
static inline gboolean
has_element_message (GstHarness *h, const gchar *name)
{
  GstBus *bus = gst_element_get_bus (h->element);
  GstMessage *msg;
  gboolean found = FALSE;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    found |= gst_structure_has_name (gst_message_get_structure (msg), name);
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
  return found;
}

/* The timestamps of the frames a fakesink rendered (not its preroll). */
typedef struct
{
  GMutex lock;
  GCond cond;
  GArray *pts;
} Rendered;

static inline void
rendered_on_handoff (
    GstElement *sink, GstBuffer *buf, GstPad *pad, Rendered *rendered)
{
  g_mutex_lock (&rendered->lock);
  g_array_append_val (rendered->pts, GST_BUFFER_PTS (buf));
  g_cond_broadcast (&rendered->cond);
  g_mutex_unlock (&rendered->lock);
}

/* Records in @rendered what @sink (a fakesink) renders from now on. */
static inline void
rendered_watch (Rendered *rendered, GstElement *sink)
{
  g_mutex_init (&rendered->lock);
  g_cond_init (&rendered->cond);
  rendered->pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  g_object_set (sink, "signal-handoffs", TRUE, NULL);
  g_signal_connect (
      sink, "handoff", G_CALLBACK (rendered_on_handoff), rendered);
}

/* After the sink stopped. */
static inline void
rendered_clear (Rendered *rendered)
{
  g_array_unref (rendered->pts);
  g_mutex_clear (&rendered->lock);
  g_cond_clear (&rendered->cond);
}

static inline guint
rendered_count (Rendered *rendered)
{
  guint n;

  g_mutex_lock (&rendered->lock);
  n = rendered->pts->len;
  g_mutex_unlock (&rendered->lock);
  return n;
}

/* Plays @launch, whose sink is "fakesink name=sink sync=true", to 3
 * rendered frames, pauses it for 0.3 s (nothing may be rendered then),
 * plays it to EOS and checks that @n_frames frames at 16/1 were rendered,
 * each once and in order.  Timestamps are compared from the first one: a
 * live source may start its stream later than 0. */
static inline void
check_pause_resume (const gchar *launch, guint n_frames)
{
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (launch, &error);
  GstElement *sink;
  Rendered rendered;
  GstMessage *msg;
  GstBus *bus;
  gint64 end;
  guint i, paused_at;

  fail_unless (pipeline != NULL, "%s", error ? error->message : "");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  fail_unless (sink != NULL);
  rendered_watch (&rendered, sink);

  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
  end = g_get_monotonic_time () + BUS_TIMEOUT / GST_USECOND;
  g_mutex_lock (&rendered.lock);
  while (rendered.pts->len < 3)
    fail_unless (g_cond_wait_until (&rendered.cond, &rendered.lock, end),
        "only %u frames rendered", rendered.pts->len);
  g_mutex_unlock (&rendered.lock);

  fail_if (gst_element_set_state (pipeline, GST_STATE_PAUSED) ==
      GST_STATE_CHANGE_FAILURE);
  /* A non-live sink completes PAUSED on the next frame, which it holds. */
  fail_if (gst_element_get_state (pipeline, NULL, NULL, BUS_TIMEOUT) ==
      GST_STATE_CHANGE_FAILURE);
  paused_at = rendered_count (&rendered);
  g_usleep (G_USEC_PER_SEC * 3 / 10);
  fail_unless_equals_int (rendered_count (&rendered), paused_at);
  GST_INFO ("paused after %u frames", paused_at);

  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_timed_pop_filtered (
      bus, BUS_TIMEOUT, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no EOS");
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    gst_message_parse_error (msg, &error, NULL);
    fail ("error after PAUSED -> PLAYING: %s", error->message);
  }
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);

  fail_unless_equals_int (rendered.pts->len, n_frames);
  for (i = 0; i < n_frames; i++)
    fail_unless_equals_uint64 (g_array_index (rendered.pts, GstClockTime, i) -
            g_array_index (rendered.pts, GstClockTime, 0),
        gst_util_uint64_scale (i, GST_SECOND, 16));
  rendered_clear (&rendered);
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
}

#endif /* __SORA_CHECK_H__ */
