/* gst-sora: sorasrc with a causal model, one chunk per turn of the worker
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The worker (gstsoraclipqueue.c) calls gst_sora_src_run_chunk where it
 * would make a clip; the stream has as many frames as the clips would
 * (num-frames, then num-frames - 1 per clip; endless with clips=0), the
 * last chunk cut there.  The stream lives from the first chunk until the
 * element stops or the stream restarts (a seek, new caps).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstsorasrcpriv.h"

/* The `sora/prompt-switched` element message: @chunk, the first made with
 * @prompt, its first @frame (the buffer offset), and latency (seconds from
 * the prompt property's set to that frame's decode). */
static void
post_prompt_switched (
    GstSoraSrc *self, ClipRun *run, const char *prompt, gint64 set_us)
{
  double latency = (run->first_frame_us - set_us) / 1e6;

  GST_INFO_OBJECT (self,
      "prompt switched at chunk %u, frame %" G_GUINT64_FORMAT
      ", %.3f s after it was set: \"%s\"",
      run->clip, run->first_frame, latency, prompt);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("sora/prompt-switched", "chunk", G_TYPE_UINT,
              run->clip, "frame", G_TYPE_UINT64, run->first_frame, "latency",
              G_TYPE_DOUBLE, latency, "prompt", G_TYPE_STRING, prompt, NULL)));
}

/* Makes chunk run->clip of the stream with @params: a new stream for chunk
 * 0, else the prompt set on the one going on.  *@switched: whether the
 * prompt differs from the last chunk's.  A chunk stopped before its last
 * step ends its PROGRESS as a clip's does. */
static gboolean
gst_sora_src_stream_chunk (GstSoraSrc *self, ClipRun *run,
    SoraGenerateParams *params, gboolean *switched, GError **error)
{
  gboolean ok;

  *switched = FALSE;
  if (run->clip == 0) {
    g_clear_pointer (&self->stream, sora_stream_free);
    g_clear_pointer (&self->stream_prompt, g_free);
    self->stream = sora_stream_new (self->engine, params, error);
    if (self->stream == NULL)
      return FALSE;
  } else if (g_strcmp0 (params->prompt, self->stream_prompt) != 0) {
    *switched = TRUE;
    sora_stream_set_prompt (self->stream, params->prompt);
  }
  g_free (self->stream_prompt);
  self->stream_prompt = g_strdup (params->prompt);
  ok = sora_stream_next (self->stream, gst_sora_src_on_progress,
      gst_sora_src_on_frames, run, self->cancellable, error);
  gst_sora_src_end_denoise (run, sora_stream_get_steps (self->stream), ok);
  return ok;
}

void
gst_sora_src_run_chunk (GstSoraSrc *self, guint gen, const GstVideoInfo *info)
{
  SoraGenerateParams params = { 0 };
  ClipRun run = { self, gen };
  GError *error = NULL;
  guint64 random_seed;
  gint64 set_us;
  guint clips;
  gboolean ok = FALSE, current, switched = FALSE, more;
  double seconds, speed = 0;

  GST_OBJECT_LOCK (self);
  clips = self->clips;
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  run.clip = self->clip_index++;
  random_seed = self->random_seed;
  set_us = self->prompt_set_us;
  self->clip_frames = 0;
  run.end =
      clips ? gst_sora_src_frames_of_clips (self->total_frames, clips) : 0;
  g_mutex_unlock (&self->lock);

  run.start_us = g_get_monotonic_time ();
  if (gst_sora_settings_check (&self->settings, GST_ELEMENT (self))) {
    gst_sora_settings_fill_params (
        &self->settings, GST_ELEMENT (self), random_seed, &params);
    run.frame_size = gst_sora_params_set_video (&params, info);
    gst_sora_settings_warn_long_prompt (
        &self->settings, GST_ELEMENT (self), self->engine, &params);
    ok = gst_sora_src_stream_chunk (self, &run, &params, &switched, &error);
  }
  seconds = (g_get_monotonic_time () - run.start_us) / 1e6;

  g_mutex_lock (&self->lock);
  current = gst_sora_src_run_current_locked (&run);
  params.frames = self->clip_frames;
  if (current && ok) {
    speed = gst_sora_src_frames_seconds (params.frames, info) / seconds;
    /* The first chunk compiles kernels: the lead starts from the second.
     * A slow chunk (a busy machine) holds the lead up for a while. */
    if (run.clip > 0) {
      self->last_cost.passes = run.steps_done;
      self->last_cost.seconds = MAX (seconds, 0.95 * self->last_cost.seconds);
    }
  }
  params.steps = run.steps_done;
  params.guidance_scale = 1;
  g_mutex_unlock (&self->lock);

  if (current && ok) {
    GST_DEBUG_OBJECT (self, "chunk %u done in %.3f s", run.clip, seconds);
    if (switched)
      post_prompt_switched (self, &run, params.prompt, MAX (set_us, 0));
    gst_sora_post_clip_done (GST_ELEMENT (self), run.clip, &params, seconds,
        "prompt", G_TYPE_STRING, params.prompt, "steps", G_TYPE_UINT,
        params.steps, "speed", G_TYPE_DOUBLE, speed, NULL);
    if (run.clip > 0)
      gst_sora_src_check_speed (self, run.clip, speed, seconds, &params);
  } else if (current && error) {
    gst_sora_post_engine_error (GST_ELEMENT (self), error, FALSE, NULL, NULL);
  }

  g_mutex_lock (&self->lock);
  if (current && gst_sora_src_run_current_locked (&run)) {
    more = run.end == 0 || self->made < run.end;
    self->failed = !ok;
    self->clip_done = ok && !more;
    self->want_clip = ok && more;
    g_cond_broadcast (&self->cond);
  }
  g_mutex_unlock (&self->lock);
  g_clear_error (&error);
  gst_sora_settings_clear_params (&params);
}
