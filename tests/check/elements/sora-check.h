/* gst-sora element tests: bus helpers shared by the gst-check programs
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_CHECK_H__
#define __SORA_CHECK_H__

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

/* The first clip on PoCL compiles kernels: wait long. */
#define BUS_TIMEOUT (300 * GST_SECOND)

/* The bus would keep the element alive through its messages (a reference
 * cycle the leaks tracer reports): drop them first. */
static inline void
teardown (GstHarness *h)
{
  GstBus *bus = gst_element_get_bus (h->element);

  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

static inline GstMessage *
pop_message (GstHarness *h, GstMessageType types)
{
  GstBus *bus = gst_element_get_bus (h->element);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, BUS_TIMEOUT, types);

  gst_object_unref (bus);
  fail_unless (msg != NULL, "no message of type %x on the bus", types);
  return msg;
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

#endif /* __SORA_CHECK_H__ */
