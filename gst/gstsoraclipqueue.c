/* gst-sora: sorasrc's generation thread, which fills the frame queue
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The worker loads the model, then makes the stream's clips one after the
 * other (each continuing the last) while the element wants them, and queues
 * their frames as the engine decodes them; create() takes them from there
 * (gstsorasrc.c).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>

#include "gstsorasrcpriv.h"

void
gst_sora_src_reset_locked (GstSoraSrc *self, guint num_frames)
{
  self->loaded = self->engine != NULL;
  self->failed = FALSE;
  self->flushing = FALSE;
  self->stopping = FALSE;
  self->have_info = FALSE;
  self->want_clip = TRUE;
  self->clip_done = FALSE;
  self->skip = 0;
  self->made = 0;
  self->clip_frames = 0;
  self->clip_index = 0;
  self->n_frames = 0;
  self->processed = self->dropped = 0;
  self->pipeline_latency = GST_CLOCK_TIME_NONE;
  self->offset = GST_CLOCK_TIME_NONE;
  self->last_cost.passes = 0;
  self->last_cost.seconds = 0;
  self->warned_speed = 0;
  self->total_frames = num_frames;
  self->random_seed = gst_sora_random_seed ();
}

void
gst_sora_src_restart_clip_locked (GstSoraSrc *self, guint64 frame)
{
  self->clip_gen++;
  g_queue_clear_full (&self->frames, (GDestroyNotify)gst_buffer_unref);
  self->skip = frame;
  self->made = 0;
  self->n_frames = frame;
  self->clip_index = 0;
  self->clip_done = FALSE;
  self->want_clip = TRUE;
  g_cond_broadcast (&self->cond);
}

/* The frames clip @index of the stream adds: the first @first (4k+1), each
 * continuation the 4k new ones that bring it to as many again. */
static guint
frames_of_clip (guint first, guint index)
{
  return index == 0 ? first : sora_engine_extend_round_frames (first - 1);
}

guint64
gst_sora_src_frames_of_clips (guint first, guint clips)
{
  return first + (guint64)(clips - 1) * frames_of_clip (first, 1);
}

gint64
gst_sora_src_duration (GstSoraSrc *self, GstFormat format)
{
  gint64 duration = -1;
  guint clips;

  GST_OBJECT_LOCK (self);
  clips = self->clips;
  GST_OBJECT_UNLOCK (self);
  g_mutex_lock (&self->lock);
  /* An endless stream has none. */
  if (self->have_info && self->total_frames > 0 && clips > 0) {
    guint64 frames = gst_sora_src_frames_of_clips (self->total_frames, clips);

    if (format == GST_FORMAT_TIME)
      duration =
          gst_sora_frame_position (frames, GST_VIDEO_INFO_FPS_N (&self->info),
              GST_VIDEO_INFO_FPS_D (&self->info));
    else if (format == GST_FORMAT_DEFAULT)
      duration = frames;
  }
  g_mutex_unlock (&self->lock);
  return duration;
}

double
gst_sora_src_frames_seconds (guint frames, const GstVideoInfo *info)
{
  return (double)frames * GST_VIDEO_INFO_FPS_D (info) /
      GST_VIDEO_INFO_FPS_N (info);
}

gboolean
gst_sora_src_run_current_locked (ClipRun *run)
{
  return run->gen == run->self->clip_gen && !run->self->stopping;
}

gboolean
gst_sora_src_on_progress (
    guint step, guint total_steps, double seconds_per_step, gpointer user_data)
{
  ClipRun *run = user_data;
  GstSoraSrc *self = run->self;
  guint frames_ready;
  gboolean current;

  g_mutex_lock (&self->lock);
  current = gst_sora_src_run_current_locked (run);
  frames_ready = self->clip_frames;
  g_mutex_unlock (&self->lock);
  if (!current)
    return FALSE;

  GST_LOG_OBJECT (
      self, "step %u/%u, %.3f s/step", step, total_steps, seconds_per_step);
  run->steps_done = step;
  gst_sora_post_step_progress (GST_ELEMENT (self), step, total_steps, run->clip,
      frames_ready, seconds_per_step);
  return TRUE;
}

gboolean
gst_sora_src_on_frames (const guint8 *pixels, guint n_frames, guint width,
    guint height, gpointer user_data)
{
  ClipRun *run = user_data;
  GstSoraSrc *self = run->self;
  GstBuffer **bufs = g_newa (GstBuffer *, n_frames);
  gboolean current, latency_changed = FALSE;
  guint i;

  /* Copy outside the lock: create() may be taking frames meanwhile. */
  for (i = 0; i < n_frames; i++)
    bufs[i] =
        gst_buffer_new_memdup (pixels + i * run->frame_size, run->frame_size);

  g_mutex_lock (&self->lock);
  current = gst_sora_src_run_current_locked (run);
  if (current && run->first_frame_us == 0) {
    run->first_frame_us = g_get_monotonic_time ();
    run->first_frame = self->made;
  }
  for (i = 0; i < n_frames; i++) {
    /* a causal stream's last chunk may reach past the stream's end */
    gboolean keep = current && (run->end == 0 || self->made < run->end);

    if (keep && self->skip == 0) {
      g_queue_push_tail (&self->frames, bufs[i]);
    } else {
      if (keep)
        self->skip--;
      gst_buffer_unref (bufs[i]);
    }
    if (keep) {
      self->clip_frames++;
      self->made++;
    }
  }
  /* A continuation's frames queue behind the clip before: only the first
   * clip's wait is the stream's latency. */
  if (current && run->clip == 0 && !run->first_frame_seen) {
    GstClockTime latency =
        (g_get_monotonic_time () - run->start_us) * GST_USECOND;

    run->first_frame_seen = TRUE;
    latency_changed = latency != self->measured_latency;
    self->measured_latency = latency;
  }
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  GST_LOG_OBJECT (self, "%u frames of %ux%u decoded", n_frames, width, height);
  if (latency_changed && gst_base_src_is_live (GST_BASE_SRC (self)))
    gst_element_post_message (
        GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
  return current;
}

void
gst_sora_src_end_denoise (ClipRun *run, guint total_steps, gboolean ok)
{
  GstSoraSrc *self = run->self;
  gboolean current;

  if (run->steps_done >= total_steps)
    return;
  g_mutex_lock (&self->lock);
  current = gst_sora_src_run_current_locked (run);
  g_mutex_unlock (&self->lock);
  gst_sora_post_denoise_stopped (GST_ELEMENT (self), run->clip, run->steps_done,
      total_steps, current && !ok);
}

/* Runs the engine for @run with the properties as they are now (keep-up
 * may lower steps and guidance). */
static gboolean
gst_sora_src_generate (GstSoraSrc *self, ClipRun *run, const GstVideoInfo *info,
    guint64 random_seed, SoraGenerateParams *params, GError **error)
{
  gboolean ok;

  gst_sora_settings_fill_params (
      &self->settings, GST_ELEMENT (self), random_seed, params);
  /* Another seed per clip: the same noise again would repeat its motion. */
  params->seed += run->clip;
  run->frame_size = gst_sora_params_set_video (params, info);
  gst_sora_src_keep_up (self, info, params);

  GST_INFO_OBJECT (self,
      "clip %u: %ux%u, %u frames, %u steps, seed %" G_GUINT64_FORMAT
      ", prompt \"%s\"",
      run->clip, params->width, params->height, params->frames, params->steps,
      params->seed, params->prompt);
  gst_sora_settings_warn_long_prompt (
      &self->settings, GST_ELEMENT (self), self->engine, params);
  if (run->clip == 0)
    ok = sora_engine_generate (self->engine, params, gst_sora_src_on_progress,
        gst_sora_src_on_frames, run, self->cancellable, error);
  else
    ok = sora_engine_continue (self->engine, params, gst_sora_src_on_progress,
        gst_sora_src_on_frames, run, self->cancellable, error);

  gst_sora_src_end_denoise (run, params->steps, ok);
  return ok;
}

/* Makes the stream's next clip, the first or one continuing the last, with
 * the properties as they are now.  Called without the lock; the clip's
 * frames land in the queue. */
static void
gst_sora_src_run_clip (GstSoraSrc *self, guint gen, const GstVideoInfo *info)
{
  SoraGenerateParams params = { 0 };
  ClipRun run = { self, gen };
  GError *error = NULL;
  guint64 random_seed;
  guint clips;
  gboolean ok = FALSE, current;
  double seconds, speed = 0;

  g_mutex_lock (&self->lock);
  run.clip = self->clip_index++;
  random_seed = self->random_seed;
  params.frames = frames_of_clip (self->total_frames, run.clip);
  self->clip_frames = 0;
  g_mutex_unlock (&self->lock);

  run.start_us = g_get_monotonic_time ();
  /* A value refused while PLAYING fails the clip that would read it (the
   * error is posted). */
  if (gst_sora_settings_check (&self->settings, GST_ELEMENT (self)))
    ok = gst_sora_src_generate (self, &run, info, random_seed, &params, &error);
  seconds = (g_get_monotonic_time () - run.start_us) / 1e6;

  g_mutex_lock (&self->lock);
  current = gst_sora_src_run_current_locked (&run);
  if (current && ok) {
    self->last_cost.passes = params.steps * (params.guidance_scale > 1 ? 2 : 1);
    self->last_cost.seconds = seconds;
    speed = gst_sora_src_frames_seconds (params.frames, info) / seconds;
  }
  g_mutex_unlock (&self->lock);

  /* Messages first: once create() sees the clip end, EOS or the flow error
   * goes out and an application may shut down before a later message. */
  if (current && ok) {
    GST_INFO_OBJECT (self, "clip %u done in %.2f s", run.clip, seconds);
    gst_sora_post_clip_done (GST_ELEMENT (self), run.clip, &params, seconds,
        "prompt", G_TYPE_STRING, params.prompt, "steps", G_TYPE_UINT,
        params.steps, "guidance-scale", G_TYPE_DOUBLE, params.guidance_scale,
        "speed", G_TYPE_DOUBLE, speed, NULL);
    gst_sora_src_check_speed (self, run.clip, speed, seconds, &params);
  } else if (current && error) {
    gst_sora_post_engine_error (GST_ELEMENT (self), error, FALSE, NULL, NULL);
  } else if (!current) {
    GST_DEBUG_OBJECT (self, "clip %u abandoned", run.clip);
  }

  GST_OBJECT_LOCK (self);
  clips = self->clips;
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  if (current && gst_sora_src_run_current_locked (&run)) {
    if (!ok)
      self->failed = TRUE;
    else if (clips != 0 && run.clip + 1 >= clips)
      self->clip_done = TRUE;
    else
      self->want_clip = TRUE;
    g_cond_broadcast (&self->cond);
  }
  g_mutex_unlock (&self->lock);
  g_clear_error (&error);
  gst_sora_settings_clear_params (&params);
}

/* Opens the model if it is not open yet.  FALSE when it could not be (the
 * error is posted unless the element is stopping). */
static gboolean
gst_sora_src_load (GstSoraSrc *self)
{
  SoraEngine *engine;
  GError *error = NULL;
  guint width, height, frames, chunk;
  gboolean cancelled;

  g_mutex_lock (&self->lock);
  engine = self->engine;
  g_mutex_unlock (&self->lock);

  if (engine == NULL)
    engine = gst_sora_settings_open_engine (
        &self->settings, GST_ELEMENT (self), self->cancellable, &error);
  if (engine == NULL) {
    /* Posted unless stop() cancelled the load, before create() fails (its
     * flow error is posted too, and the cause must come first). */
    cancelled = g_cancellable_is_cancelled (self->cancellable);
    if (!cancelled)
      gst_sora_settings_post_open_error (
          &self->settings, GST_ELEMENT (self), error);
    g_error_free (error);
    g_mutex_lock (&self->lock);
    self->loaded = TRUE;
    self->failed = !cancelled;
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
    return FALSE;
  }

  sora_engine_get_native_size (engine, &width, &height, &frames);
  g_mutex_lock (&self->lock);
  self->engine = engine;
  /* A causal model's chunk of n latent frames adds 4n frames. */
  self->chunk_frames =
      sora_engine_get_causal (engine, &chunk, NULL, NULL) ? 4 * chunk : 0;
  self->loaded = TRUE;
  if (self->total_frames == 0)
    self->total_frames = frames;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  GST_INFO_OBJECT (
      self, "model ready: native %ux%u, %u frames", width, height, frames);
  return TRUE;
}

/* The frames queued below which the next clip starts: a clip's; for a
 * causal model a chunk's, and when live only what covers three times the
 * recent chunks' time (the last, or a slower one decaying by 5% a chunk; a
 * prompt set waits behind the queue: it takes effect at the next chunk),
 * plus two frames.  Lock held. */
static guint
gst_sora_src_lead_locked (GstSoraSrc *self)
{
  double seconds = self->last_cost.seconds * 3;
  guint lead;

  if (self->chunk_frames == 0)
    return self->total_frames;
  if (!gst_base_src_is_live (GST_BASE_SRC (self)) ||
      self->last_cost.passes == 0)
    return self->chunk_frames;
  lead = (guint)ceil (seconds * GST_VIDEO_INFO_FPS_N (&self->info) /
             GST_VIDEO_INFO_FPS_D (&self->info)) +
      2;
  return MIN (lead, self->chunk_frames);
}

gpointer
gst_sora_src_worker (gpointer data)
{
  GstSoraSrc *self = data;

  if (!gst_sora_src_load (self))
    return NULL;

  g_mutex_lock (&self->lock);
  while (TRUE) {
    GstVideoInfo info;
    guint gen;

    /* A continuation waits until less than a clip is queued: faster than
     * the stream plays, an endless one would fill memory. */
    while (!self->stopping &&
        !(self->want_clip && self->have_info &&
            (self->clip_index == 0 ||
                g_queue_get_length (&self->frames) <
                    gst_sora_src_lead_locked (self))))
      g_cond_wait (&self->cond, &self->lock);
    if (self->stopping)
      break;
    self->want_clip = FALSE;
    gen = self->clip_gen;
    info = self->info;
    g_mutex_unlock (&self->lock);

    if (self->chunk_frames > 0)
      gst_sora_src_run_chunk (self, gen, &info);
    else
      gst_sora_src_run_clip (self, gen, &info);

    g_mutex_lock (&self->lock);
  }
  g_mutex_unlock (&self->lock);
  return NULL;
}
