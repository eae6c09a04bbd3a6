/* gst-sora: sorasrc, text to video
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-sorasrc
 * @title: sorasrc
 *
 * Generates video from a text prompt with a Wan2.1-architecture diffusion
 * transformer (umT5 text encoder, DiT, causal 3D VAE) on an OpenCL device:
 * `clips` clips, then the stream ends.  The model is a folder in the
 * diffusers layout, such as Wan2.1-T2V-1.3B-Diffusers as downloaded: the
 * model property, else $GST_SORA_MODEL, else the demo model installed with
 * the plugin.
 *
 * Each clip after the first continues the one before from its last frames
 * (sora_engine_continue), so the stream runs on without a cut and its
 * timestamps without a gap; clips=0 goes on until the element stops.  The
 * first clip has num-frames frames, each later one num-frames − 1 (the
 * model makes new frames 4 at a time) and uses seed + its index, so the
 * noise of successive clips differs.  A continuation starts once less than
 * a clip of frames waits to go out, so a stream made faster than it plays
 * stays about two clips ahead instead of filling memory.
 *
 * Frames are pushed as soon as the model decodes them (1 frame, then 4 at a
 * time).  prompt, negative-prompt, seed, steps, guidance-scale, flow-shift
 * and scheduler may change while PLAYING: they are read when a clip starts,
 * so a change applies to the next clip, which steers the continuing stream.
 * clips and latency may change at any time; model, device, num-frames and
 * is-live only in NULL or READY (set later, the change is ignored with a
 * warning).  The model stays loaded in READY and is released in NULL.
 *
 * A flushing seek regenerates the clips from the first, with the current
 * properties, and drops the frames before the seek position (a seek to 0
 * restarts the stream; `clip` in the messages counts from 0 again).
 *
 * Output is I420 or NV12 (BT.709, limited range), RGB or RGBA; I420 comes
 * first, so x264enc makes High-profile H.264 without a videoconvert.  Width
 * and height are multiples of 16 and fixate to the model's native size; the
 * frame rate fixates to 16/1, Wan's own.
 *
 * With is-live=true the element stamps the first frame with the running
 * time it became available at, as a camera stamps a frame with when it was
 * captured (after a flushing seek, the first frame after it), and each
 * later one 1/framerate after the one before; a frame leaves at its time,
 * so the element plays straight into a clock-synchronised sink.  It
 * reports the latency property (or, when it is 0, the time the first clip
 * took to produce its first frame) as its latency.  When generation falls
 * behind the clock it skips ahead as imagefreeze's live loop does rather
 * than falling ever later: a frame whose end, plus the pipeline's latency,
 * is past in running time is dropped when a newer frame is already queued,
 * and otherwise goes out at the clock's current frame slot, so the
 * timestamps jump over the frames that never came.  A continuation slower
 * than its frames play posts a warning saying so and what helps.  With
 * keep-up=true the element holds real time by itself: each clip's steps
 * (down to min-steps) and guidance are chosen from how long the last clip
 * took, so that a clip takes 4/5 of the time its frames play.
 *
 * With a causal model (a transformer config with "_sora_causal":
 * Self-Forcing / LongLive class) the element makes a stream chunk by chunk
 * instead of clips (sora_stream_next): each chunk of a few latent frames
 * is denoised at the model's own step list while attending the chunks
 * before it through a KV cache, and its frames go out as soon as it is
 * decoded.  clips and num-frames say how long the stream is as for clips
 * (the last chunk is cut there; clips=0 never ends), and the messages of a
 * clip come per chunk.  prompt, read when each chunk starts, takes effect
 * at the next chunk (the cache is rebuilt for it from the kept latents, as
 * LongLive does) and posts sora/prompt-switched; steps, guidance-scale,
 * negative-prompt, flow-shift, scheduler and keep-up are not used (the
 * model's steps, without classifier-free guidance).  Live, the next chunk
 * starts once the queue holds less than three times the last chunk's time
 * plus two frames, so that a new prompt waits behind little video.
 *
 * ## Bus messages
 *
 * - GST_MESSAGE_PROGRESS with code "load": START when the model starts
 *   loading, on a thread of its own so that no state change waits for it,
 *   then COMPLETE (its text names the device), ERROR or CANCELED.
 * - GST_MESSAGE_PROGRESS with code "denoise", which gst-launch-1.0 prints:
 *   COMPLETE after each denoising step ("Clip 0: step 3 of 20 done (0.52 s
 *   per step)"; the frames are decoded after the last), CANCELED or ERROR
 *   when a clip stops before its last step.  Never START or CONTINUE,
 *   which gst-launch-1.0 would wait for before playing.
 * - Element message `sora/progress` after each denoising step: step (uint,
 *   1 to total-steps), total-steps (uint), clip (uint, from 0),
 *   frames-ready (uint, frames of that clip decoded so far) and
 *   seconds-per-step (double, the wall time of that step).
 * - Element message `sora/clip` when a clip is done: clip (uint), seed
 *   (uint64, the seed that clip used: with seed=-1 the one drawn at start,
 *   plus the clip index), generation-time (double, seconds from the clip's
 *   start to its last frame), frames (uint, the frames it added), prompt
 *   (string), steps (uint) and guidance-scale (double) it used (keep-up's
 *   choice) and speed (double, seconds of video made per second: below 1
 *   is slower than real time).
 * - Element message `sora/prompt-switched` (causal models) when the first
 *   chunk made with a new prompt is decoded: chunk (uint), frame (uint64,
 *   the buffer offset of its first frame, the first that shows the prompt),
 *   latency (double, seconds from the prompt's set to that frame's decode)
 *   and prompt (string).
 * - GST_MESSAGE_QOS (live only) for each run of frames skipped because they
 *   came too late: live, running-time, stream-time, timestamp and duration
 *   of the skipped frames, jitter, and processed and dropped frame counts
 *   since the start (format buffers).
 * - GST_MESSAGE_LATENCY (live only) when the reported latency changes.
 * - Errors: RESOURCE NOT_FOUND (no model, or the folder is not there),
 *   RESOURCE OPEN_READ (a folder the engine cannot use; the message names
 *   the file and what is wrong), RESOURCE SETTINGS (a property value was
 *   refused: out of range, num-frames not 4k+1, an empty model, a prompt
 *   that is not UTF-8; at start, or for one set while PLAYING when the next
 *   clip starts),
 *   LIBRARY SETTINGS (no such OpenCL device), LIBRARY INIT (the model cannot
 *   be set up on the device, e.g. out of memory), CORE NEGOTIATION (a size
 *   that is not a multiple of 16), STREAM FAILED (generation failed).  Each
 *   message says what to change; docs/troubleshooting.md lists them.
 *   RESOURCE FAILED: the generation thread could not be started.
 * - Warning LIBRARY SETTINGS: a property that only changes in NULL or READY
 *   was set later; the change is ignored.  Or the prompt is longer than the
 *   512 tokens the model reads: the warning says how many are cut.
 * - Warning CORE CLOCK (live only): a clip after the first took longer than
 *   its frames play ("Live generation runs 2.10x slower than real time, so
 *   frames are skipped once the latency no longer covers it.  Fewer steps,
 *   ..."); once, and again only when
 *   generation gets slower than that by a tenth.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 -e sorasrc \
 *     prompt="a red circle moving right on a black background" \
 *     num-frames=17 steps=20 ! video/x-raw,width=64,height=64 ! \
 *     x264enc ! mp4mux ! filesink location=circle.mp4
 * ]| Renders one clip of the demo model, at the size and length it was
 * trained for, into an H.264 MP4 file.
 * |[
 * gst-launch-1.0 -e sorasrc model=/path/to/Wan2.1-T2V-1.3B-Diffusers \
 *     prompt="a red fox running through snow" seed=7 num-frames=33 \
 *     steps=30 ! video/x-raw,width=832,height=480 ! x264enc ! mp4mux ! \
 *     filesink location=fox.mp4
 * ]| Renders 2 s of 480p video with Wan2.1-T2V-1.3B.
 * |[
 * gst-launch-1.0 sorasrc \
 *     prompt="a blue square moving up on a white background" clips=0 \
 *     num-frames=17 steps=20 is-live=true keep-up=true ! \
 *     video/x-raw,width=64,height=64 ! videoconvert ! autovideosink
 * ]| Shows an endless stream on screen, each clip continuing the last, with
 * as many of the 20 steps as keep real time.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstsorasrcpriv.h"

GST_DEBUG_CATEGORY (gst_sora_src_debug);

/* Until the model says otherwise: Wan2.1's 480p size and frame rate. */
#define FALLBACK_WIDTH 832
#define FALLBACK_HEIGHT 480
#define NATIVE_FPS_N 16
#define NATIVE_FPS_D 1

/* The engine converts to YUV with BT.709 limited range: say so. */
#define SORA_SIZE_FPS                                                          \
  "width = (int) [ 16, 16384 ], height = (int) [ 16, 16384 ], "                \
  "framerate = (fraction) [ 1/2147483647, 2147483647/1 ], "                    \
  "pixel-aspect-ratio = (fraction) 1/1, interlace-mode = (string) progressive"

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (
            "video/x-raw, format = (string) { I420, NV12 }, " SORA_SIZE_FPS
            ", colorimetry = (string) bt709; "
            "video/x-raw, format = (string) { RGB, RGBA }, " SORA_SIZE_FPS));

#define gst_sora_src_parent_class parent_class
G_DEFINE_TYPE (GstSoraSrc, gst_sora_src, GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE (
    sorasrc, "sorasrc", GST_RANK_NONE, GST_TYPE_SORA_SRC);

static void gst_sora_src_finalize (GObject *object);
static gboolean gst_sora_src_start (GstBaseSrc *bsrc);
static gboolean gst_sora_src_stop (GstBaseSrc *bsrc);
static GstStateChangeReturn gst_sora_src_change_state (
    GstElement *element, GstStateChange transition);
static GstCaps *gst_sora_src_get_caps (GstBaseSrc *bsrc, GstCaps *filter);
static gboolean gst_sora_src_negotiate (GstBaseSrc *bsrc);
static GstCaps *gst_sora_src_fixate (GstBaseSrc *bsrc, GstCaps *caps);
static gboolean gst_sora_src_set_caps (GstBaseSrc *bsrc, GstCaps *caps);
static gboolean gst_sora_src_query (GstBaseSrc *bsrc, GstQuery *query);
static gboolean gst_sora_src_is_seekable (GstBaseSrc *bsrc);
static gboolean gst_sora_src_do_seek (GstBaseSrc *bsrc, GstSegment *segment);
static gboolean gst_sora_src_event (GstBaseSrc *bsrc, GstEvent *event);
static gboolean gst_sora_src_unlock (GstBaseSrc *bsrc);
static gboolean gst_sora_src_unlock_stop (GstBaseSrc *bsrc);
static GstFlowReturn gst_sora_src_create (GstPushSrc *psrc, GstBuffer **buffer);

static void
gst_sora_src_class_init (GstSoraSrcClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *bsrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *psrc_class = GST_PUSH_SRC_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (
      gst_sora_src_debug, "sorasrc", 0, "Text-to-video source");

  gobject_class->set_property = gst_sora_src_set_property;
  gobject_class->get_property = gst_sora_src_get_property;
  gobject_class->finalize = gst_sora_src_finalize;

  gst_sora_src_install_properties (gobject_class);

  gst_element_class_set_static_metadata (element_class, "Text to video source",
      "Source/Video",
      "Generates video from a text prompt with a Wan2.1 diffusion "
      "transformer (umT5, DiT, causal VAE) on an OpenCL device, pushing "
      "frames as they are decoded: one clip, several, or an endless stream "
      "of clips continuing each other.  Posts PROGRESS (code load) around "
      "the model load and (code denoise) for each denoising step, element "
      "messages sora/progress (step, total-steps, "
      "clip, frames-ready, seconds-per-step) after each denoising step and "
      "sora/clip (clip, seed, generation-time, frames, prompt, steps, "
      "guidance-scale, speed) after each clip, and, when live, QoS for "
      "frames it skips and a warning when generation is slower than real "
      "time",
      "gst-sora developers");
  gst_element_class_add_static_pad_template (element_class, &src_template);

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_sora_src_change_state);

  bsrc_class->start = GST_DEBUG_FUNCPTR (gst_sora_src_start);
  bsrc_class->stop = GST_DEBUG_FUNCPTR (gst_sora_src_stop);
  bsrc_class->get_caps = GST_DEBUG_FUNCPTR (gst_sora_src_get_caps);
  bsrc_class->negotiate = GST_DEBUG_FUNCPTR (gst_sora_src_negotiate);
  bsrc_class->fixate = GST_DEBUG_FUNCPTR (gst_sora_src_fixate);
  bsrc_class->set_caps = GST_DEBUG_FUNCPTR (gst_sora_src_set_caps);
  bsrc_class->query = GST_DEBUG_FUNCPTR (gst_sora_src_query);
  bsrc_class->is_seekable = GST_DEBUG_FUNCPTR (gst_sora_src_is_seekable);
  bsrc_class->do_seek = GST_DEBUG_FUNCPTR (gst_sora_src_do_seek);
  bsrc_class->event = GST_DEBUG_FUNCPTR (gst_sora_src_event);
  bsrc_class->unlock = GST_DEBUG_FUNCPTR (gst_sora_src_unlock);
  bsrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_sora_src_unlock_stop);
  psrc_class->create = GST_DEBUG_FUNCPTR (gst_sora_src_create);
}

static void
gst_sora_src_init (GstSoraSrc *self)
{
  gst_sora_settings_init (&self->settings);
  self->num_frames = DEFAULT_NUM_FRAMES;
  self->latency = DEFAULT_LATENCY;
  self->clips = DEFAULT_CLIPS;
  self->keep_up = DEFAULT_KEEP_UP;
  self->min_steps = DEFAULT_MIN_STEPS;

  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->frames);

  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
  gst_base_src_set_live (GST_BASE_SRC (self), DEFAULT_IS_LIVE);
}

static void
gst_sora_src_finalize (GObject *object)
{
  GstSoraSrc *self = GST_SORA_SRC (object);

  g_clear_pointer (&self->engine, sora_engine_free);
  gst_sora_settings_clear (&self->settings);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);

  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static gboolean
gst_sora_src_start (GstBaseSrc *bsrc)
{
  GstSoraSrc *self = GST_SORA_SRC (bsrc);
  guint num_frames;

  GST_OBJECT_LOCK (self);
  num_frames = self->num_frames;
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  gst_sora_src_reset_locked (self, num_frames);
  self->cancellable = g_cancellable_new ();
  g_mutex_unlock (&self->lock);

  self->worker = gst_sora_start_thread (
      GST_ELEMENT (self), "sorasrc", "generation", gst_sora_src_worker, self);
  if (self->worker == NULL)
    g_clear_object (&self->cancellable);
  return self->worker != NULL;
}

static gboolean
gst_sora_src_stop (GstBaseSrc *bsrc)
{
  GstSoraSrc *self = GST_SORA_SRC (bsrc);

  g_mutex_lock (&self->lock);
  self->stopping = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  /* The engine checks it at every kernel launch: the join waits for at
   * most two kernels. */
  g_cancellable_cancel (self->cancellable);
  if (self->worker)
    g_thread_join (self->worker);
  self->worker = NULL;
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->stream, sora_stream_free);
  g_clear_pointer (&self->stream_prompt, g_free);

  g_mutex_lock (&self->lock);
  g_queue_clear_full (&self->frames, (GDestroyNotify)gst_buffer_unref);
  self->have_info = FALSE;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static GstStateChangeReturn
gst_sora_src_change_state (GstElement *element, GstStateChange transition)
{
  GstSoraSrc *self = GST_SORA_SRC (element);
  GstStateChangeReturn ret;

  /* Refused values fail here, with their error: a start() that failed
   * would have basesrc post its own "Failed to start" after it. */
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED &&
      !gst_sora_settings_check (&self->settings, element))
    return GST_STATE_CHANGE_FAILURE;

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);

  /* READY keeps the model loaded for the next start; NULL gives it back. */
  if (transition == GST_STATE_CHANGE_READY_TO_NULL)
    gst_sora_drop_engine (&self->engine, &self->lock);
  return ret;
}

/* The template, narrowed to the sizes the model's RoPE covers once it is
 * loaded (the device's memory bounds width x height x frames together: a
 * size beyond it fails before the first step, naming the nearest that
 * fits). */
static GstCaps *
gst_sora_src_get_caps (GstBaseSrc *bsrc, GstCaps *filter)
{
  GstSoraSrc *self = GST_SORA_SRC (bsrc);
  GstCaps *caps = gst_pad_get_pad_template_caps (GST_BASE_SRC_PAD (bsrc));
  guint width = 0, height = 0;

  g_mutex_lock (&self->lock);
  if (self->engine)
    sora_engine_get_max_size (self->engine, &width, &height, NULL);
  g_mutex_unlock (&self->lock);
  if (width > 0) {
    caps = gst_caps_make_writable (caps);
    gst_caps_set_simple (caps, "width", GST_TYPE_INT_RANGE, 16, width, "height",
        GST_TYPE_INT_RANGE, 16, height, NULL);
  }
  if (filter) {
    GstCaps *both =
        gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);

    gst_caps_unref (caps);
    caps = both;
  }
  return caps;
}

/* Waits for the model (on the streaming thread; unlock() ends the wait),
 * whose RoPE range bounds the caps and whose native size they fixate to;
 * when downstream wants none of the sizes it can make, says which it can. */
static gboolean
gst_sora_src_negotiate (GstBaseSrc *bsrc)
{
  GstSoraSrc *self = GST_SORA_SRC (bsrc);
  guint width = 0, height = 0;
  gboolean flushing;

  g_mutex_lock (&self->lock);
  while (!self->loaded && !self->flushing)
    g_cond_wait (&self->cond, &self->lock);
  if (self->engine)
    sora_engine_get_max_size (self->engine, &width, &height, NULL);
  g_mutex_unlock (&self->lock);

  if (GST_BASE_SRC_CLASS (parent_class)->negotiate (bsrc))
    return TRUE;
  g_mutex_lock (&self->lock);
  flushing = self->flushing;
  g_mutex_unlock (&self->lock);
  if (width > 0 && !flushing) {
    GstCaps *peer = gst_pad_peer_query_caps (GST_BASE_SRC_PAD (bsrc), NULL);
    gchar *want = gst_caps_to_string (peer);

    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("Downstream accepts no size the model can generate: widths 16 to "
         "%u and heights 16 to %u, in multiples of 16",
            width, height),
        ("downstream accepts %s", want));
    g_free (want);
    gst_caps_unref (peer);
  }
  return FALSE;
}

static GstCaps *
gst_sora_src_fixate (GstBaseSrc *bsrc, GstCaps *caps)
{
  GstSoraSrc *self = GST_SORA_SRC (bsrc);
  guint width = FALLBACK_WIDTH, height = FALLBACK_HEIGHT, frames, i;

  /* negotiate() waited for the model */
  g_mutex_lock (&self->lock);
  if (self->engine)
    sora_engine_get_native_size (self->engine, &width, &height, &frames);
  g_mutex_unlock (&self->lock);

  caps = gst_caps_make_writable (caps);
  for (i = 0; i < gst_caps_get_size (caps); i++) {
    GstStructure *s = gst_caps_get_structure (caps, i);

    gst_structure_fixate_field_nearest_int (s, "width", width);
    gst_structure_fixate_field_nearest_int (s, "height", height);
    gst_structure_fixate_field_nearest_fraction (
        s, "framerate", NATIVE_FPS_N, NATIVE_FPS_D);
  }
  GST_DEBUG_OBJECT (
      self, "fixating towards %ux%u: %" GST_PTR_FORMAT, width, height, caps);
  return GST_BASE_SRC_CLASS (parent_class)->fixate (bsrc, caps);
}

static gboolean
gst_sora_src_set_caps (GstBaseSrc *bsrc, GstCaps *caps)
{
  GstSoraSrc *self = GST_SORA_SRC (bsrc);
  GstVideoInfo info;

  if (!gst_sora_video_info_from_caps (GST_ELEMENT (self), caps, &info))
    return FALSE;

  g_mutex_lock (&self->lock);
  /* New caps mid-clip: the frames still to come are made again in the new
   * format. */
  if (self->have_info && !gst_video_info_is_equal (&info, &self->info))
    gst_sora_src_restart_clip_locked (self, self->n_frames);
  self->info = info;
  self->have_info = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  GST_INFO_OBJECT (self, "caps %" GST_PTR_FORMAT, caps);
  return TRUE;
}

static gboolean
gst_sora_src_query (GstBaseSrc *bsrc, GstQuery *query)
{
  GstSoraSrc *self = GST_SORA_SRC (bsrc);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_LATENCY: {
      GstClockTime latency;

      if (!gst_base_src_is_live (bsrc))
        break;
      latency = gst_sora_src_get_latency (self);
      /* Frames queue inside the element: no upper bound. */
      gst_query_set_latency (query, TRUE, latency, GST_CLOCK_TIME_NONE);
      GST_DEBUG_OBJECT (
          self, "latency %" GST_TIME_FORMAT, GST_TIME_ARGS (latency));
      return TRUE;
    }
    case GST_QUERY_DURATION: {
      GstFormat format;
      gint64 duration;

      gst_query_parse_duration (query, &format, NULL);
      duration = gst_sora_src_duration (self, format);
      if (duration < 0)
        break;
      gst_query_set_duration (query, format, duration);
      return TRUE;
    }
    default:
      break;
  }
  return GST_BASE_SRC_CLASS (parent_class)->query (bsrc, query);
}

static gboolean
gst_sora_src_is_seekable (GstBaseSrc *bsrc)
{
  return TRUE;
}

static gboolean
gst_sora_src_do_seek (GstBaseSrc *bsrc, GstSegment *segment)
{
  GstSoraSrc *self = GST_SORA_SRC (bsrc);
  guint64 frame = 0;

  if (segment->rate < 0)
    goto reverse;

  g_mutex_lock (&self->lock);
  /* Before caps only the initial seek to 0 comes. */
  if (self->have_info && GST_VIDEO_INFO_FPS_N (&self->info) > 0)
    frame = gst_util_uint64_scale (segment->position,
        GST_VIDEO_INFO_FPS_N (&self->info),
        GST_VIDEO_INFO_FPS_D (&self->info) * GST_SECOND);
  gst_sora_src_restart_clip_locked (self, frame);
  /* A flushing seek starts the running time again. */
  self->offset = GST_CLOCK_TIME_NONE;
  g_mutex_unlock (&self->lock);

  GST_DEBUG_OBJECT (self,
      "seek to %" GST_TIME_FORMAT ": clip restarts, "
      "frames from %" G_GUINT64_FORMAT,
      GST_TIME_ARGS (segment->position), frame);
  return TRUE;

  /* ERRORS */
reverse:
  GST_WARNING_OBJECT (self, "reverse playback is not supported");
  return FALSE;
}

/* Sinks show a frame until its running time plus the pipeline's latency,
 * which the LATENCY event brings: a frame is late only past that. */
static gboolean
gst_sora_src_event (GstBaseSrc *bsrc, GstEvent *event)
{
  GstSoraSrc *self = GST_SORA_SRC (bsrc);

  if (GST_EVENT_TYPE (event) == GST_EVENT_LATENCY) {
    GstClockTime latency;

    gst_event_parse_latency (event, &latency);
    g_mutex_lock (&self->lock);
    self->pipeline_latency = latency;
    g_mutex_unlock (&self->lock);
  }
  return GST_BASE_SRC_CLASS (parent_class)->event (bsrc, event);
}

static gboolean
gst_sora_src_unlock (GstBaseSrc *bsrc)
{
  GstSoraSrc *self = GST_SORA_SRC (bsrc);

  /* Generation goes on: stop() and seeks cancel it, and a live source
   * pausing keeps its frames. */
  g_mutex_lock (&self->lock);
  self->flushing = TRUE;
  if (self->clock_id)
    gst_clock_id_unschedule (self->clock_id);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static gboolean
gst_sora_src_unlock_stop (GstBaseSrc *bsrc)
{
  GstSoraSrc *self = GST_SORA_SRC (bsrc);

  g_mutex_lock (&self->lock);
  self->flushing = FALSE;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* Lock order: the object lock may be taken with self->lock held, never the
 * other way round. */
static GstFlowReturn
gst_sora_src_create (GstPushSrc *psrc, GstBuffer **buffer)
{
  GstSoraSrc *self = GST_SORA_SRC (psrc);
  GstBuffer *buf;
  GstClockTime deadline = gst_sora_src_get_deadline (self);
  GstClockTime now, offset;
  guint64 n, first_late, processed, dropped;
  gint fps_n, fps_d;
  GstFlowReturn ret;

  g_mutex_lock (&self->lock);
  fps_n = GST_VIDEO_INFO_FPS_N (&self->info);
  fps_d = GST_VIDEO_INFO_FPS_D (&self->info);
  first_late = self->n_frames;
  ret = gst_sora_src_next_frame_locked (
      self, deadline, fps_n, fps_d, &buf, &n, &now);
  if (ret != GST_FLOW_OK)
    goto stopped;
  g_queue_pop_head (&self->frames);
  g_cond_broadcast (&self->cond);
  self->dropped += n - self->n_frames;
  self->n_frames = n + 1;
  self->processed++;
  processed = self->processed;
  dropped = self->dropped;
  offset = GST_CLOCK_TIME_IS_VALID (self->offset) ? self->offset : 0;
  g_mutex_unlock (&self->lock);

  if (n > first_late)
    gst_sora_src_post_qos (
        self, first_late, n, now, fps_n, fps_d, offset, processed, dropped);

  GST_BUFFER_PTS (buf) = gst_sora_frame_position (n, fps_n, fps_d) + offset;
  /* From the next frame's time, so durations add up without drift. */
  GST_BUFFER_DURATION (buf) = gst_sora_frame_position (n + 1, fps_n, fps_d) +
      offset - GST_BUFFER_PTS (buf);
  GST_BUFFER_OFFSET (buf) = n;
  GST_BUFFER_OFFSET_END (buf) = n + 1;
  gst_object_sync_values (GST_OBJECT (self), GST_BUFFER_PTS (buf));
  GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT " at %" GST_TIME_FORMAT, n,
      GST_TIME_ARGS (GST_BUFFER_PTS (buf)));
  *buffer = buf;
  return GST_FLOW_OK;

  /* ERRORS */
stopped:
  /* On ERROR the error message is on the bus already. */
  if (ret == GST_FLOW_FLUSHING)
    GST_DEBUG_OBJECT (self, "flushing");
  else if (ret == GST_FLOW_EOS)
    GST_DEBUG_OBJECT (self, "stream done: EOS after frame %" G_GUINT64_FORMAT,
        self->n_frames);
  g_mutex_unlock (&self->lock);
  return ret;
}
