/* gst-sora: sorasrc's live timing
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * With is-live=true: the timestamps (anchored to the running time the first
 * frame became available at), the frames skipped when generation falls
 * behind the clock and the QoS messages saying so, the latency, keep-up's
 * choice of steps and guidance, and the slow-generation warning.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstsorasrcpriv.h"

/* keep-up plans a clip to take this share of the time its frames play: the
 * rest absorbs a clip slower than the one it was planned from. */
#define KEEP_UP_SHARE 0.8
/* ... and gives it at most this many times the last clip's work, as one
 * fast clip (a load paused) promises little about the next. */
#define KEEP_UP_GROWTH 1.5
/* The slow-generation warning comes again when generation is this much
 * slower than when it last came. */
#define WARN_AGAIN_SPEED 0.9

/* keep-up's choice for a clip to be made in @budget seconds, where the
 * last one took @cost: the transformer passes scaled by the ratio of the
 * two (a step is one pass, two with guidance; the engine may time a step
 * before the device has finished it, so only the whole clip is timed).  As
 * a clip also decodes, whatever its steps, fewer passes shorten it by less
 * than in proportion and more lengthen it by less: the choice approaches
 * the budget from the last clip's side, clip by clip, and grows by
 * KEEP_UP_GROWTH at most.  The steps are the
 * most of those passes, up to params->steps, with guidance while that is
 * at least @min_steps, else without, never fewer than @min_steps (or
 * params->steps if lower). */
static void
keep_up_choose (const SoraClipCost *cost, double budget, guint min_steps,
    SoraGenerateParams *params)
{
  double passes = cost->passes * MIN (budget / cost->seconds, KEEP_UP_GROWTH);
  guint fewest = MIN (min_steps, params->steps);

  if (params->guidance_scale > 1 && passes / 2 >= fewest) {
    params->steps = MIN (params->steps, (guint)(passes / 2));
    return;
  }
  params->guidance_scale = MIN (params->guidance_scale, 1.0);
  params->steps =
      CLAMP ((guint)MIN (passes, GST_SORA_MAX_STEPS), fewest, params->steps);
}

/* With keep-up=true, live, and a clip made to plan from: chooses the steps
 * and guidance of the clip @params describes so that it takes
 * KEEP_UP_SHARE of the time its frames play. */
void
gst_sora_src_keep_up (
    GstSoraSrc *self, const GstVideoInfo *info, SoraGenerateParams *params)
{
  SoraClipCost cost;
  gboolean keep_up;
  guint min_steps;

  GST_OBJECT_LOCK (self);
  keep_up = self->keep_up;
  min_steps = self->min_steps;
  GST_OBJECT_UNLOCK (self);
  g_mutex_lock (&self->lock);
  cost = self->last_cost;
  g_mutex_unlock (&self->lock);
  if (!keep_up || cost.passes == 0 || cost.seconds <= 0 ||
      !gst_base_src_is_live (GST_BASE_SRC (self)))
    return;

  keep_up_choose (&cost,
      KEEP_UP_SHARE * gst_sora_src_frames_seconds (params->frames, info),
      min_steps, params);
  GST_DEBUG_OBJECT (self,
      "keep-up: last clip %u passes in %.2f s: now %u steps, "
      "guidance-scale %g",
      cost.passes, cost.seconds, params->steps, params->guidance_scale);
}

/* Live, from the second clip on (the first one's wait is the latency):
 * when generation ran slower than real time (@speed, seconds of video per
 * second, below 1), a warning saying so and what helps, once, and again
 * only when it gets slower still.  QoS messages count the frames skipped,
 * but users read warnings. */
void
gst_sora_src_check_speed (GstSoraSrc *self, guint clip, double speed,
    double seconds, const SoraGenerateParams *params)
{
  gboolean warn, keep_up;
  gchar *hint;

  if (clip == 0 || speed >= 1 || !gst_base_src_is_live (GST_BASE_SRC (self)))
    return;
  g_mutex_lock (&self->lock);
  warn =
      self->warned_speed == 0 || speed < self->warned_speed * WARN_AGAIN_SPEED;
  if (warn)
    self->warned_speed = speed;
  g_mutex_unlock (&self->lock);
  if (!warn)
    return;

  GST_OBJECT_LOCK (self);
  keep_up = self->keep_up;
  if (self->chunk_frames > 0)
    hint = g_strdup (" (a causal model's steps and guidance are its own)");
  else if (!keep_up)
    hint = g_strdup ("; keep-up=true chooses the steps by itself");
  else if (params->steps > self->min_steps)
    hint = g_strdup (" (keep-up=true takes fewer steps from the next clip)");
  else
    hint = g_strdup_printf (" (keep-up=true is at min-steps=%u: a lower one "
                            "lets it take fewer steps)",
        self->min_steps);
  GST_OBJECT_UNLOCK (self);
  GST_ELEMENT_WARNING (self, CORE, CLOCK,
      ("Live generation runs %.2fx slower than real time, so frames are "
       "skipped once the latency no longer covers it.  %sa smaller size, a "
       "GPU or a larger latency help%s",
          1 / speed,
          self->chunk_frames > 0 ? "" : "Fewer steps, guidance-scale=1, ",
          hint),
      ("clip %u: %u frames in %.2f s (%.2f s of video), %u steps, "
       "guidance-scale %g, %ux%u",
          clip, params->frames, seconds, seconds * speed, params->steps,
          params->guidance_scale, params->width, params->height));
  g_free (hint);
}

/* The latency property, or when it is 0 the measured one.  Call without
 * self->lock. */
GstClockTime
gst_sora_src_get_latency (GstSoraSrc *self)
{
  GstClockTime latency;

  GST_OBJECT_LOCK (self);
  latency = self->latency;
  GST_OBJECT_UNLOCK (self);
  if (latency == 0) {
    g_mutex_lock (&self->lock);
    latency = self->measured_latency;
    g_mutex_unlock (&self->lock);
  }
  return latency;
}

/* The running time now, GST_CLOCK_TIME_NONE unless live and clocked. */
static GstClockTime
gst_sora_src_running_time_now (GstSoraSrc *self)
{
  GstClock *clock;
  GstClockTime now, base_time;

  if (!gst_base_src_is_live (GST_BASE_SRC (self)))
    return GST_CLOCK_TIME_NONE;
  clock = gst_element_get_clock (GST_ELEMENT (self));
  if (clock == NULL)
    return GST_CLOCK_TIME_NONE;
  base_time = gst_element_get_base_time (GST_ELEMENT (self));
  now = gst_clock_get_time (clock);
  gst_object_unref (clock);
  return now > base_time ? now - base_time : 0;
}

/* How long after its running time a sink still shows a frame: the
 * pipeline's latency once configured, else the one reported.  Call without
 * self->lock. */
GstClockTime
gst_sora_src_get_deadline (GstSoraSrc *self)
{
  GstClockTime latency = gst_sora_src_get_latency (self);

  g_mutex_lock (&self->lock);
  if (GST_CLOCK_TIME_IS_VALID (self->pipeline_latency))
    latency = MAX (latency, self->pipeline_latency);
  g_mutex_unlock (&self->lock);
  return latency;
}

/* The running time of stream position @position: the offset added, as in
 * the timestamps.  Lock held; takes the object lock. */
static GstClockTime
gst_sora_src_running_time (GstSoraSrc *self, GstClockTime position)
{
  GstClockTime running_time;

  GST_OBJECT_LOCK (self);
  running_time = gst_segment_to_running_time (
      &GST_BASE_SRC (self)->segment, GST_FORMAT_TIME, position);
  GST_OBJECT_UNLOCK (self);
  if (!GST_CLOCK_TIME_IS_VALID (running_time))
    return running_time;
  return running_time +
      (GST_CLOCK_TIME_IS_VALID (self->offset) ? self->offset : 0);
}

/* Live, at the first frame out (@n) since start or a seek: the offset that
 * stamps it with @now, the running time it became available at, as a
 * camera stamps a frame with when it was captured.  Generation before it
 * (the model load, the first clip) is then no lateness, and each later
 * frame's lateness is what generation adds to that.  Lock held. */
static void
gst_sora_src_anchor_locked (
    GstSoraSrc *self, guint64 n, gint fps_n, gint fps_d, GstClockTime now)
{
  GstClockTime running_time;

  if (GST_CLOCK_TIME_IS_VALID (self->offset) || !GST_CLOCK_TIME_IS_VALID (now))
    return;
  self->offset = 0;
  running_time = gst_sora_src_running_time (
      self, gst_sora_frame_position (n, fps_n, fps_d));
  if (GST_CLOCK_TIME_IS_VALID (running_time) && now > running_time)
    self->offset = now - running_time;
  GST_DEBUG_OBJECT (self,
      "frame %" G_GUINT64_FORMAT " available at %" GST_TIME_FORMAT
      ": offset %" GST_TIME_FORMAT,
      n, GST_TIME_ARGS (now), GST_TIME_ARGS (self->offset));
}

/* The number of the first frame a sink can still show: earlier ones end,
 * in running time and with @deadline on top, before @now.  0 unless live
 * and clocked.  Lock held; takes the object lock. */
static guint64
gst_sora_src_first_timely_frame_locked (GstSoraSrc *self, GstClockTime deadline,
    gint fps_n, gint fps_d, GstClockTime now)
{
  GstClockTime wait, pts;

  if (!GST_CLOCK_TIME_IS_VALID (now) || fps_n <= 0)
    return 0;
  wait = deadline + self->offset;
  if (now <= wait)
    return 0;

  GST_OBJECT_LOCK (self);
  pts = gst_segment_position_from_running_time (
      &GST_BASE_SRC (self)->segment, GST_FORMAT_TIME, now - wait);
  GST_OBJECT_UNLOCK (self);
  if (!GST_CLOCK_TIME_IS_VALID (pts))
    return 0;
  return gst_util_uint64_scale (pts, fps_n, fps_d * GST_SECOND);
}

/* Waits until the clock reaches @running_time, as basesrc would for a
 * pseudo-live source (which would also shift the timestamps by the time of
 * the first frame, where the element could not see it).  Lock held,
 * released while waiting.  FALSE when unlock() ended the wait. */
static gboolean
gst_sora_src_wait_locked (GstSoraSrc *self, GstClockTime running_time)
{
  GstClock *clock = gst_element_get_clock (GST_ELEMENT (self));
  GstClockReturn ret;
  GstClockID id;

  if (clock == NULL || !GST_CLOCK_TIME_IS_VALID (running_time)) {
    g_clear_object (&clock);
    return TRUE;
  }
  /* unlock() unschedules it, which ends the wait even before it starts. */
  id = self->clock_id = gst_clock_new_single_shot_id (
      clock, running_time + gst_element_get_base_time (GST_ELEMENT (self)));
  gst_object_unref (clock);
  g_mutex_unlock (&self->lock);
  ret = gst_clock_id_wait (id, NULL);
  g_mutex_lock (&self->lock);
  self->clock_id = NULL;
  gst_clock_id_unref (id);
  return ret != GST_CLOCK_UNSCHEDULED && !self->flushing;
}

/* Waits for the next frame out and, live, for its time: sets *@buf to it
 * (still queued), *@n to its number and *@now to the running time when it
 * was picked (GST_CLOCK_TIME_NONE unless live and clocked).  Live and late,
 * it catches up on the frames queued behind a frame, or, when that is the
 * newest there is, shows it now (imagefreeze's skip).  Lock held, released
 * while waiting.  GST_FLOW_OK, else FLUSHING, ERROR (the error message is on
 * the bus already) or EOS. */
GstFlowReturn
gst_sora_src_next_frame_locked (GstSoraSrc *self, GstClockTime deadline,
    gint fps_n, gint fps_d, GstBuffer **buf, guint64 *n, GstClockTime *now)
{
  guint64 timely;

  while (TRUE) {
    while (!self->flushing && !self->failed && !self->clip_done &&
        g_queue_is_empty (&self->frames))
      g_cond_wait (&self->cond, &self->lock);
    if (self->flushing)
      return GST_FLOW_FLUSHING;
    if (self->failed)
      return GST_FLOW_ERROR;
    *buf = g_queue_peek_head (&self->frames);
    if (*buf == NULL)
      return GST_FLOW_EOS;
    *n = self->n_frames;
    *now = gst_sora_src_running_time_now (self);
    gst_sora_src_anchor_locked (self, *n, fps_n, fps_d, *now);

    timely = gst_sora_src_first_timely_frame_locked (
        self, deadline, fps_n, fps_d, *now);
    if (timely > *n && g_queue_get_length (&self->frames) > 1) {
      gst_buffer_unref (g_queue_pop_head (&self->frames));
      /* The worker may be waiting for room. */
      g_cond_broadcast (&self->cond);
      self->n_frames++;
      self->dropped++;
      continue;
    }
    *n = MAX (*n, timely);
    /* A live frame leaves at its time; a seek or flush meanwhile makes the
     * frame another or none. */
    if (!GST_CLOCK_TIME_IS_VALID (*now))
      return GST_FLOW_OK;
    if (!gst_sora_src_wait_locked (self,
            gst_sora_src_running_time (
                self, gst_sora_frame_position (*n, fps_n, fps_d))))
      return GST_FLOW_FLUSHING;
    if (g_queue_peek_head (&self->frames) == *buf)
      return GST_FLOW_OK;
  }
}

/* Reports frames @first to @end - 1 as not shown (live: too late). */
void
gst_sora_src_post_qos (GstSoraSrc *self, guint64 first, guint64 end,
    GstClockTime now, gint fps_n, gint fps_d, GstClockTime offset,
    guint64 processed, guint64 dropped)
{
  GstBaseSrc *bsrc = GST_BASE_SRC (self);
  GstClockTime pts = gst_sora_frame_position (first, fps_n, fps_d) + offset;
  GstClockTime duration =
      gst_sora_frame_position (end, fps_n, fps_d) + offset - pts;
  GstClockTime running_time, stream_time;
  GstMessage *msg;

  GST_OBJECT_LOCK (self);
  running_time =
      gst_segment_to_running_time (&bsrc->segment, GST_FORMAT_TIME, pts);
  stream_time =
      gst_segment_to_stream_time (&bsrc->segment, GST_FORMAT_TIME, pts);
  GST_OBJECT_UNLOCK (self);

  GST_INFO_OBJECT (self,
      "frames %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
      " too late at %" GST_TIME_FORMAT ": skipped",
      first, end - 1, GST_TIME_ARGS (now));
  msg = gst_message_new_qos (
      GST_OBJECT (self), TRUE, running_time, stream_time, pts, duration);
  gst_message_set_qos_values (
      msg, GST_CLOCK_DIFF (running_time, now), 1.0, 1000000);
  gst_message_set_qos_stats (msg, GST_FORMAT_BUFFERS, processed, dropped);
  gst_element_post_message (GST_ELEMENT (self), msg);
}
