/* gst-sora: soraextend's source pad task
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The sink pad queues input buffers, serialized events and extension jobs
 * (gstsoraextend.c); the task pushes them in order, shifting the input's
 * timestamps past the frames inserted before it, and runs each job: an
 * extension whose new frames go out as the engine decodes them.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gstsoraextendpriv.h"

static void
extend_job_free (ExtendJob *job)
{
  guint i;

  for (i = 0; i < job->n_frames; i++)
    gst_buffer_unref (job->frames[i]);
  g_free (job->frames);
  g_free (job);
}

void
gst_sora_extend_item_free (ExtendItem *item)
{
  if (item->object)
    gst_mini_object_unref (item->object);
  if (item->job)
    extend_job_free (item->job);
  g_free (item);
}

void
gst_sora_extend_enqueue_locked (
    GstSoraExtend *self, GstMiniObject *object, ExtendJob *job)
{
  ExtendItem *item = g_new0 (ExtendItem, 1);

  item->object = object;
  item->job = job;
  g_queue_push_tail (&self->items, item);
  g_cond_broadcast (&self->cond);
}

ExtendJob *
gst_sora_extend_new_job_locked (GstSoraExtend *self)
{
  ExtendJob *job;
  GList *l;
  guint i = 0;

  if (g_queue_is_empty (&self->context))
    return NULL;
  job = g_new0 (ExtendJob, 1);
  job->n_frames = g_queue_get_length (&self->context);
  job->frames = g_new (GstBuffer *, job->n_frames);
  for (l = self->context.head; l; l = l->next)
    job->frames[i++] = gst_buffer_ref (l->data);
  job->info = self->in_info;
  return job;
}

/* Where a frame of @duration (NONE: one output frame) at @pts ends. */
static void
gst_sora_extend_advance (
    GstSoraExtend *self, GstClockTime pts, GstClockTime duration)
{
  if (!GST_CLOCK_TIME_IS_VALID (duration))
    duration =
        gst_sora_frame_position (1, GST_VIDEO_INFO_FPS_N (&self->out_info),
            GST_VIDEO_INFO_FPS_D (&self->out_info));
  if (GST_CLOCK_TIME_IS_VALID (pts))
    self->last_end = pts + duration;
  else if (GST_CLOCK_TIME_IS_VALID (self->last_end))
    self->last_end += duration;
}

static GstFlowReturn
gst_sora_extend_push_input (GstSoraExtend *self, GstBuffer *buffer)
{
  /* A still image lasts one output frame, so the new frames follow it. */
  if (self->shift > 0 || !GST_BUFFER_DURATION_IS_VALID (buffer)) {
    buffer = gst_buffer_make_writable (buffer);
    if (GST_BUFFER_PTS_IS_VALID (buffer))
      GST_BUFFER_PTS (buffer) += self->shift;
    if (GST_BUFFER_DTS_IS_VALID (buffer))
      GST_BUFFER_DTS (buffer) += self->shift;
    if (!GST_BUFFER_DURATION_IS_VALID (buffer))
      GST_BUFFER_DURATION (buffer) =
          gst_sora_frame_position (1, GST_VIDEO_INFO_FPS_N (&self->out_info),
              GST_VIDEO_INFO_FPS_D (&self->out_info));
  }
  gst_sora_extend_advance (
      self, GST_BUFFER_PTS (buffer), GST_BUFFER_DURATION (buffer));
  return gst_pad_push (self->srcpad, buffer);
}

typedef struct
{
  GstSoraExtend *self;
  guint clip;
  gsize frame_size;
  GstClockTime start;
  guint n_out; /* new frames pushed */
  guint steps_done; /* denoising steps reported */
  guint total_steps; /* as the engine counts them (a causal model's over its
                      * chunks) */
  GstFlowReturn ret;
} ExtendRun;

static gboolean
gst_sora_extend_on_progress (
    guint step, guint total_steps, double seconds_per_step, gpointer user_data)
{
  ExtendRun *run = user_data;
  GstSoraExtend *self = run->self;
  gboolean flushing;

  g_mutex_lock (&self->lock);
  flushing = self->flushing;
  g_mutex_unlock (&self->lock);
  if (flushing)
    return FALSE;

  GST_LOG_OBJECT (
      self, "step %u/%u, %.3f s/step", step, total_steps, seconds_per_step);
  run->steps_done = step;
  gst_sora_post_step_progress (GST_ELEMENT (self), step, total_steps, run->clip,
      run->n_out, seconds_per_step);
  return TRUE;
}

/* New frames go out as they are decoded, one frame duration apart from
 * where the input ended. */
static gboolean
gst_sora_extend_on_frames (const guint8 *pixels, guint n_frames, guint width,
    guint height, gpointer user_data)
{
  ExtendRun *run = user_data;
  GstSoraExtend *self = run->self;
  gint fps_n = GST_VIDEO_INFO_FPS_N (&self->out_info);
  gint fps_d = GST_VIDEO_INFO_FPS_D (&self->out_info);
  guint i;

  for (i = 0; i < n_frames && run->ret == GST_FLOW_OK; i++) {
    GstBuffer *buf =
        gst_buffer_new_memdup (pixels + i * run->frame_size, run->frame_size);
    guint n = run->n_out++;
    GstClockTime pts = run->start + gst_sora_frame_position (n, fps_n, fps_d);

    GST_BUFFER_PTS (buf) = pts;
    /* From the next frame's time, so durations add up without drift. */
    GST_BUFFER_DURATION (buf) =
        run->start + gst_sora_frame_position (n + 1, fps_n, fps_d) - pts;
    self->last_end = pts + GST_BUFFER_DURATION (buf);
    GST_LOG_OBJECT (
        self, "new frame %u at %" GST_TIME_FORMAT, n, GST_TIME_ARGS (pts));
    run->ret = gst_pad_push (self->srcpad, buf);
  }
  return run->ret == GST_FLOW_OK;
}

/* The job's frames as packed RGB, the context sora_engine_extend takes. */
static guint8 *
extend_job_pack_rgb (ExtendJob *job)
{
  guint width = GST_VIDEO_INFO_WIDTH (&job->info);
  guint height = GST_VIDEO_INFO_HEIGHT (&job->info);
  gsize frame_size = (gsize)width * height * 3;
  guint8 *rgb = g_malloc (frame_size * job->n_frames);
  guint i, y, x;

  for (i = 0; i < job->n_frames; i++) {
    GstVideoFrame frame;
    guint8 *out = rgb + i * frame_size;

    if (!gst_video_frame_map (&frame, &job->info, job->frames[i], GST_MAP_READ))
      goto map_failed;
    for (y = 0; y < height; y++) {
      const guint8 *row =
          (const guint8 *)GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) +
          y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);
      guint8 *dst = out + (gsize)y * width * 3;

      if (GST_VIDEO_INFO_FORMAT (&job->info) == GST_VIDEO_FORMAT_RGB) {
        memcpy (dst, row, width * 3);
      } else {
        for (x = 0; x < width; x++)
          memcpy (dst + x * 3, row + x * 4, 3);
      }
    }
    gst_video_frame_unmap (&frame);
  }
  return rgb;

map_failed:
  g_free (rgb);
  return NULL;
}

/* Waits for the model load to end, then takes what a job needs: the
 * engine, a reference to the cancellable and the clip's index.  FLUSHING,
 * or ERROR when the model did not load (the loader posted why). */
static GstFlowReturn
gst_sora_extend_wait_engine (GstSoraExtend *self, SoraEngine **engine,
    GCancellable **cancellable, ExtendRun *run, guint64 *random_seed)
{
  GstFlowReturn ret = GST_FLOW_OK;

  g_mutex_lock (&self->lock);
  while (!self->loaded && !self->flushing)
    g_cond_wait (&self->cond, &self->lock);
  if (self->flushing) {
    ret = GST_FLOW_FLUSHING;
  } else if (self->failed) {
    ret = GST_FLOW_ERROR;
  } else {
    *engine = self->engine;
    *cancellable = g_object_ref (self->cancellable);
    run->clip = self->clip_index++;
    *random_seed = self->random_seed;
  }
  g_mutex_unlock (&self->lock);
  return ret;
}

/* The settings as they are now, extend-frames and the output's size and
 * format into @params; where the new frames start into @run. */
static void
gst_sora_extend_fill_params (GstSoraExtend *self, guint64 random_seed,
    ExtendRun *run, SoraGenerateParams *params)
{
  gst_sora_settings_fill_params (
      &self->settings, GST_ELEMENT (self), random_seed, params);
  GST_OBJECT_LOCK (self);
  params->frames = sora_engine_extend_round_frames (self->extend_frames);
  GST_OBJECT_UNLOCK (self);

  run->frame_size = gst_sora_params_set_video (params, &self->out_info);
  run->start = GST_CLOCK_TIME_IS_VALID (self->last_end) ? self->last_end : 0;
  run->ret = GST_FLOW_OK;
}

/* Runs the engine on @job's frames; the new frames go out as decoded. */
static gboolean
gst_sora_extend_generate (GstSoraExtend *self, SoraEngine *engine,
    ExtendJob *job, SoraGenerateParams *params, ExtendRun *run,
    GCancellable *cancellable, GError **error)
{
  guint8 *context = extend_job_pack_rgb (job);
  gboolean ok;

  if (context == NULL) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "cannot map a context frame");
    return FALSE;
  }
  ok = sora_engine_extend (engine, params, context, job->n_frames,
      gst_sora_extend_on_progress, gst_sora_extend_on_frames, run, cancellable,
      error);
  g_free (context);
  return ok;
}

/* After a generation: its messages, and the flow return of the job.  A
 * generation stopped before its last step ends its PROGRESS with CANCELED
 * (by a flush) or ERROR. */
static GstFlowReturn
gst_sora_extend_finish (GstSoraExtend *self, ExtendJob *job, ExtendRun *run,
    const SoraGenerateParams *params, gboolean ok, const GError *error,
    double seconds)
{
  gboolean flushing;

  g_mutex_lock (&self->lock);
  flushing = self->flushing;
  g_mutex_unlock (&self->lock);

  if (!ok && run->steps_done < run->total_steps)
    gst_sora_post_denoise_stopped (GST_ELEMENT (self), run->clip,
        run->steps_done, run->total_steps, !flushing);
  if (ok) {
    GST_INFO_OBJECT (self, "extension %u done in %.2f s", run->clip, seconds);
    gst_sora_post_clip_done (GST_ELEMENT (self), run->clip, params, seconds,
        "context-frames", G_TYPE_UINT, job->n_frames, "prompt", G_TYPE_STRING,
        params->prompt, NULL);
    /* Later input follows the inserted frames. */
    self->shift += gst_sora_frame_position (params->frames,
        GST_VIDEO_INFO_FPS_N (&self->out_info),
        GST_VIDEO_INFO_FPS_D (&self->out_info));
  } else if (flushing) {
    GST_DEBUG_OBJECT (self, "extension %u stopped by a flush", run->clip);
    run->ret = GST_FLOW_FLUSHING;
  } else if (run->ret == GST_FLOW_OK) {
    gst_sora_post_engine_error (GST_ELEMENT (self), error, FALSE, NULL, NULL);
    run->ret = GST_FLOW_ERROR;
  }
  return run->ret;
}

/* Runs a generation on the source task.  Errors are posted here. */
static GstFlowReturn
gst_sora_extend_run_job (GstSoraExtend *self, ExtendJob *job)
{
  SoraGenerateParams params = { 0 };
  ExtendRun run = { self };
  GCancellable *cancellable;
  SoraEngine *engine;
  GError *error = NULL;
  guint64 random_seed;
  GstFlowReturn ret;
  gint64 t0;
  gboolean ok;

  ret = gst_sora_extend_wait_engine (
      self, &engine, &cancellable, &run, &random_seed);
  if (ret != GST_FLOW_OK)
    return ret;
  /* A value refused while PLAYING fails the extension that would read it
   * (the error is posted). */
  if (!gst_sora_settings_check (&self->settings, GST_ELEMENT (self))) {
    g_object_unref (cancellable);
    return GST_FLOW_ERROR;
  }
  gst_sora_extend_fill_params (self, random_seed, &run, &params);
  run.total_steps = sora_engine_extend_steps (engine, &params);

  GST_INFO_OBJECT (self,
      "extension %u: %u new frames from %u context frames at %" GST_TIME_FORMAT
      ", %u steps, seed %" G_GUINT64_FORMAT ", prompt \"%s\"",
      run.clip, params.frames, job->n_frames, GST_TIME_ARGS (run.start),
      run.total_steps, params.seed, params.prompt);
  gst_sora_settings_warn_long_prompt (
      &self->settings, GST_ELEMENT (self), engine, &params);
  t0 = g_get_monotonic_time ();
  ok = gst_sora_extend_generate (
      self, engine, job, &params, &run, cancellable, &error);
  ret = gst_sora_extend_finish (self, job, &run, &params, ok, error,
      (g_get_monotonic_time () - t0) / 1e6);

  g_clear_error (&error);
  gst_sora_settings_clear_params (&params);
  g_object_unref (cancellable);
  return ret;
}

void
gst_sora_extend_loop (gpointer data)
{
  GstPad *pad = data;
  GstSoraExtend *self = GST_SORA_EXTEND (GST_PAD_PARENT (pad));
  GstFlowReturn ret = GST_FLOW_OK;
  gboolean posted = FALSE;
  ExtendItem *item;

  g_mutex_lock (&self->lock);
  while (self->srcresult == GST_FLOW_OK &&
      (self->holding || g_queue_is_empty (&self->items)))
    g_cond_wait (&self->cond, &self->lock);
  ret = self->srcresult;
  if (ret != GST_FLOW_OK) {
    g_mutex_unlock (&self->lock);
    /* Failed elsewhere, and posted: the stream ends here. */
    if (ret == GST_FLOW_ERROR)
      gst_pad_push_event (pad, gst_event_new_eos ());
    goto pause;
  }
  item = g_queue_pop_head (&self->items);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  if (item->job) {
    ret = gst_sora_extend_run_job (self, item->job);
    /* Its own failures are on the bus already. */
    posted = ret == GST_FLOW_ERROR;
  } else if (GST_IS_BUFFER (item->object)) {
    ret = gst_sora_extend_push_input (
        self, GST_BUFFER (g_steal_pointer (&item->object)));
  } else {
    GstEvent *event = GST_EVENT (g_steal_pointer (&item->object));
    gboolean eos = GST_EVENT_TYPE (event) == GST_EVENT_EOS;

    if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
      GstCaps *caps;

      gst_event_parse_caps (event, &caps);
      gst_video_info_from_caps (&self->out_info, caps);
    }
    gst_pad_push_event (pad, event);
    if (eos)
      ret = GST_FLOW_EOS;
  }
  gst_sora_extend_item_free (item);
  if (ret == GST_FLOW_OK)
    return;

  g_mutex_lock (&self->lock);
  if (!self->flushing)
    self->srcresult = ret;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  if (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS) {
    if (!posted)
      GST_ELEMENT_FLOW_ERROR (self, ret);
    gst_pad_push_event (pad, gst_event_new_eos ());
  }

pause:
  GST_DEBUG_OBJECT (self, "pausing the task: %s", gst_flow_get_name (ret));
  gst_pad_pause_task (pad);
}
