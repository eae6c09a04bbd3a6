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
 * With is-live=true the element reports the latency property (or, when it is
 * 0, the time the first clip took to produce its first frame) as its
 * latency.  When generation falls behind the clock it skips ahead as
 * imagefreeze's live loop does rather than falling ever later: a frame whose
 * end, plus that latency, is past in running time is dropped when a newer
 * frame is already queued, and otherwise goes out at the clock's current
 * frame slot, so the timestamps jump over the frames that never came.
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
 *   start to its last frame), frames (uint, the frames it added) and prompt
 *   (string).
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
 *     num-frames=17 steps=20 is-live=true ! \
 *     video/x-raw,width=64,height=64 ! videoconvert ! autovideosink
 * ]| Shows an endless stream on screen, each clip continuing the last.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/video/video.h>

#include "gstsoraelements.h"
#include "gstsorasrc.h"

GST_DEBUG_CATEGORY_STATIC (gst_sora_src_debug);
#define GST_CAT_DEFAULT gst_sora_src_debug

#define DEFAULT_NUM_FRAMES 0
#define DEFAULT_IS_LIVE FALSE
#define DEFAULT_LATENCY 0
#define DEFAULT_CLIPS 1

/* Until the model says otherwise: Wan2.1's 480p size and frame rate. */
#define FALLBACK_WIDTH 832
#define FALLBACK_HEIGHT 480
#define NATIVE_FPS_N 16
#define NATIVE_FPS_D 1

enum {
  PROP_0,
  PROP_SETTINGS, /* the first of GstSoraSettings' */
  PROP_NUM_FRAMES = PROP_SETTINGS + GST_SORA_SETTINGS_N_PROPS,
  PROP_IS_LIVE,
  PROP_LATENCY,
  PROP_CLIPS,
};

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

struct _GstSoraSrc
{
  GstPushSrc parent;

  /* Properties, under the object lock. */
  GstSoraSettings settings;
  guint num_frames;
  GstClockTime latency;
  guint clips;

  /* Streaming state, under lock; cond is broadcast on every change. */
  GMutex lock;
  GCond cond;
  GThread *worker;
  GCancellable *cancellable;
  SoraEngine *engine; /* kept from start until READY→NULL */
  gboolean loaded; /* the load finished, with or without engine */
  gboolean failed; /* an error was posted: create fails */
  gboolean flushing;
  gboolean stopping;
  gboolean have_info;
  GstVideoInfo info;
  guint clip_gen; /* bumped to abandon the clip in progress */
  gboolean want_clip;
  gboolean clip_done; /* every frame of the last clip is queued */
  GQueue frames; /* GstBuffer, in order */
  guint64 skip; /* leading frames of the stream still to drop */
  guint clip_frames; /* frames the engine gave for this clip */
  guint clip_index; /* of the next clip since the stream (re)started */
  guint total_frames; /* frames of the first clip; 0 until known */
  guint64 random_seed; /* drawn at start for seed=-1 */
  guint64 n_frames; /* number of the next frame out */
  GstClockTime measured_latency;
  guint64 processed, dropped; /* frames, for QoS messages */
};

#define gst_sora_src_parent_class parent_class
G_DEFINE_TYPE (GstSoraSrc, gst_sora_src, GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE (
    sorasrc, "sorasrc", GST_RANK_NONE, GST_TYPE_SORA_SRC);

static void gst_sora_src_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec);
static void gst_sora_src_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec);
static void gst_sora_src_finalize (GObject *object);
static GstStateChangeReturn gst_sora_src_change_state (
    GstElement *element, GstStateChange transition);
static gboolean gst_sora_src_start (GstBaseSrc *bsrc);
static gboolean gst_sora_src_stop (GstBaseSrc *bsrc);
static GstCaps *gst_sora_src_get_caps (GstBaseSrc *bsrc, GstCaps *filter);
static gboolean gst_sora_src_negotiate (GstBaseSrc *bsrc);
static GstCaps *gst_sora_src_fixate (GstBaseSrc *bsrc, GstCaps *caps);
static gboolean gst_sora_src_set_caps (GstBaseSrc *bsrc, GstCaps *caps);
static gboolean gst_sora_src_query (GstBaseSrc *bsrc, GstQuery *query);
static gboolean gst_sora_src_is_seekable (GstBaseSrc *bsrc);
static gboolean gst_sora_src_do_seek (GstBaseSrc *bsrc, GstSegment *segment);
static gboolean gst_sora_src_unlock (GstBaseSrc *bsrc);
static gboolean gst_sora_src_unlock_stop (GstBaseSrc *bsrc);
static void gst_sora_src_get_times (GstBaseSrc *bsrc, GstBuffer *buffer,
    GstClockTime *start, GstClockTime *end);
static GstFlowReturn gst_sora_src_create (GstPushSrc *psrc, GstBuffer **buffer);

static void
gst_sora_src_class_init (GstSoraSrcClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *bsrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *psrc_class = GST_PUSH_SRC_CLASS (klass);
  const GParamFlags rw =
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_DOC_SHOW_DEFAULT;

  GST_DEBUG_CATEGORY_INIT (
      gst_sora_src_debug, "sorasrc", 0, "Text-to-video source");

  gobject_class->set_property = gst_sora_src_set_property;
  gobject_class->get_property = gst_sora_src_get_property;
  gobject_class->finalize = gst_sora_src_finalize;

  gst_sora_settings_install_properties (gobject_class, PROP_SETTINGS,
      "What the video shows.  Read when each clip starts: a change while "
      "PLAYING steers the next clip of the stream",
      "What the video should not show (used when guidance-scale is above "
      "1).  Read when each clip starts",
      "Denoising steps per clip, 1 to 1000: the time a clip takes grows in "
      "proportion; fewer are faster and coarser (Wan uses 50).  Read when "
      "each clip starts");
  g_object_class_install_property (gobject_class, PROP_NUM_FRAMES,
      g_param_spec_uint ("num-frames", "Number of frames",
          "Frames of the first clip, 4k+1 up to 2147483647 (81 are 5 s at "
          "Wan's 16 fps); each later clip adds num-frames - 1.  0 uses the "
          "model's native count",
          0, G_MAXUINT, DEFAULT_NUM_FRAMES, rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_IS_LIVE,
      g_param_spec_boolean ("is-live", "Is live",
          "Act as a live source: frames go out at their clock time, the "
          "latency property is reported, and frames that come too late are "
          "skipped with a QoS message",
          DEFAULT_IS_LIVE, rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_LATENCY,
      g_param_spec_uint64 ("latency", "Latency",
          "Latency reported when live, in nanoseconds: how long after its "
          "timestamp a frame may be ready.  0 reports the measured time to "
          "the first frame of the first clip.  A change posts a LATENCY "
          "message",
          0, G_MAXUINT64, DEFAULT_LATENCY, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_CLIPS,
      g_param_spec_uint ("clips", "Clips",
          "Clips before EOS, each continuing the last without a cut; 0 "
          "never ends.  Read when a clip ends, so a change while PLAYING "
          "lengthens or ends the stream",
          0, G_MAXUINT, DEFAULT_CLIPS, rw | GST_PARAM_MUTABLE_PLAYING));

  gst_element_class_set_static_metadata (element_class, "Text to video source",
      "Source/Video",
      "Generates video from a text prompt with a Wan2.1 diffusion "
      "transformer (umT5, DiT, causal VAE) on an OpenCL device, pushing "
      "frames as they are decoded: one clip, several, or an endless stream "
      "of clips continuing each other.  Posts PROGRESS (code load) around "
      "the model load and (code denoise) for each denoising step, element "
      "messages sora/progress (step, total-steps, "
      "clip, frames-ready, seconds-per-step) after each denoising step and "
      "sora/clip (clip, seed, generation-time, frames, prompt) after each "
      "clip, and, when live, QoS for frames it skips",
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
  bsrc_class->unlock = GST_DEBUG_FUNCPTR (gst_sora_src_unlock);
  bsrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_sora_src_unlock_stop);
  bsrc_class->get_times = GST_DEBUG_FUNCPTR (gst_sora_src_get_times);
  psrc_class->create = GST_DEBUG_FUNCPTR (gst_sora_src_create);
}

static void
gst_sora_src_init (GstSoraSrc *self)
{
  gst_sora_settings_init (&self->settings);
  self->num_frames = DEFAULT_NUM_FRAMES;
  self->latency = DEFAULT_LATENCY;
  self->clips = DEFAULT_CLIPS;

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

/* Wan's VAE decodes 1 frame, then 4 per latent frame: num-frames is 4k+1
 * (or 0).  A value refused fails the next start (GstSoraSettings). */
static void
gst_sora_src_take_num_frames_locked (
    GstSoraSrc *self, GParamSpec *pspec, const GValue *value)
{
  guint n = g_value_get_uint (value);

  if (!gst_sora_settings_accept_uint_locked (
          &self->settings, pspec, n, 0, G_MAXINT))
    return;
  if (n != 0 && (n - 1) % 4 != 0) {
    gst_sora_settings_refuse_locked (&self->settings, pspec,
        g_strdup_printf ("Property \"%s\" must be 4k+1 (or 0 for the "
                         "model's): %u is not; the nearest valid value is %u",
            pspec->name, n, (n + 1) / 4 * 4 + 1));
    return;
  }
  self->num_frames = n;
}

static void
gst_sora_src_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstSoraSrc *self = GST_SORA_SRC (object);
  gboolean refused = FALSE, reload;
  GstClockTime latency = GST_CLOCK_TIME_NONE;

  if (gst_sora_settings_set_property (&self->settings, GST_ELEMENT (self),
          PROP_SETTINGS, prop_id, value, pspec, &reload)) {
    /* The next start opens the new model or device. */
    if (reload)
      gst_sora_drop_engine (&self->engine, &self->lock);
    return;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_NUM_FRAMES:
      if (GST_STATE (self) > GST_STATE_READY)
        refused = TRUE;
      else
        gst_sora_src_take_num_frames_locked (self, pspec, value);
      break;
    case PROP_IS_LIVE:
      if (GST_STATE (self) > GST_STATE_READY)
        refused = TRUE;
      break;
    case PROP_LATENCY:
      self->latency = latency = g_value_get_uint64 (value);
      break;
    case PROP_CLIPS:
      self->clips = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);

  /* Outside the object lock: these take it themselves. */
  if (refused)
    gst_sora_warn_ready_only (GST_ELEMENT (self), pspec);
  else if (prop_id == PROP_IS_LIVE) {
    gst_base_src_set_live (GST_BASE_SRC (self), g_value_get_boolean (value));
  } else if (GST_CLOCK_TIME_IS_VALID (latency)) {
    gst_element_post_message (
        GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
  }
}

static void
gst_sora_src_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstSoraSrc *self = GST_SORA_SRC (object);

  if (gst_sora_settings_get_property (
          &self->settings, GST_ELEMENT (self), PROP_SETTINGS, prop_id, value))
    return;
  if (prop_id == PROP_IS_LIVE) {
    /* basesrc keeps it, under the object lock itself. */
    g_value_set_boolean (value, gst_base_src_is_live (GST_BASE_SRC (self)));
    return;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_NUM_FRAMES:
      g_value_set_uint (value, self->num_frames);
      break;
    case PROP_LATENCY:
      g_value_set_uint64 (value, self->latency);
      break;
    case PROP_CLIPS:
      g_value_set_uint (value, self->clips);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* Abandons the clip in progress and asks the worker to make the stream again
 * from its first clip, out from @frame.  Called with the lock held. */
static void
gst_sora_src_restart_clip_locked (GstSoraSrc *self, guint64 frame)
{
  self->clip_gen++;
  g_queue_clear_full (&self->frames, (GDestroyNotify)gst_buffer_unref);
  self->skip = frame;
  self->n_frames = frame;
  self->clip_index = 0;
  self->clip_done = FALSE;
  self->want_clip = TRUE;
  g_cond_broadcast (&self->cond);
}

typedef struct
{
  GstSoraSrc *self;
  guint gen;
  guint clip;
  gsize frame_size;
  gint64 start_us;
  gboolean first_frame_seen;
  guint steps_done; /* denoising steps reported */
} ClipRun;

/* Whether @run is still the clip the element wants.  Lock held. */
static gboolean
clip_run_current_locked (ClipRun *run)
{
  return run->gen == run->self->clip_gen && !run->self->stopping;
}

static gboolean
gst_sora_src_on_progress (
    guint step, guint total_steps, double seconds_per_step, gpointer user_data)
{
  ClipRun *run = user_data;
  GstSoraSrc *self = run->self;
  guint frames_ready;
  gboolean current;

  g_mutex_lock (&self->lock);
  current = clip_run_current_locked (run);
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

static gboolean
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
  current = clip_run_current_locked (run);
  for (i = 0; i < n_frames; i++) {
    if (current && self->skip == 0) {
      g_queue_push_tail (&self->frames, bufs[i]);
    } else {
      if (current)
        self->skip--;
      gst_buffer_unref (bufs[i]);
    }
  }
  if (current)
    self->clip_frames += n_frames;
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

static SoraPixelFormat
sora_pixel_format_from_video (GstVideoFormat format)
{
  switch (format) {
    case GST_VIDEO_FORMAT_NV12:
      return SORA_PIXEL_NV12;
    case GST_VIDEO_FORMAT_RGB:
      return SORA_PIXEL_RGB;
    case GST_VIDEO_FORMAT_RGBA:
      return SORA_PIXEL_RGBA;
    default:
      /* The template allows nothing else. */
      return SORA_PIXEL_I420;
  }
}

/* The frames clip @index of the stream adds: the first @first (4k+1), each
 * continuation the 4k new ones that bring it to as many again. */
static guint
frames_of_clip (guint first, guint index)
{
  return index == 0 ? first : sora_engine_extend_round_frames (first - 1);
}

/* Frames of the stream up to the end of clip @clips - 1. */
static guint64
frames_of_clips (guint first, guint clips)
{
  return first + (guint64)(clips - 1) * frames_of_clip (first, 1);
}

/* Runs the engine for @run with the properties as they are now; a clip
 * stopped before its last step ends its PROGRESS with CANCELED or ERROR. */
static gboolean
gst_sora_src_generate (GstSoraSrc *self, ClipRun *run, const GstVideoInfo *info,
    guint64 random_seed, SoraGenerateParams *params, GError **error)
{
  gboolean ok, current;

  gst_sora_settings_fill_params (
      &self->settings, GST_ELEMENT (self), random_seed, params);
  /* Another seed per clip: the same noise again would repeat its motion. */
  params->seed += run->clip;
  params->width = GST_VIDEO_INFO_WIDTH (info);
  params->height = GST_VIDEO_INFO_HEIGHT (info);
  params->format = sora_pixel_format_from_video (GST_VIDEO_INFO_FORMAT (info));
  run->frame_size =
      sora_pixel_frame_size (params->format, params->width, params->height);

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

  if (run->steps_done < params->steps) {
    g_mutex_lock (&self->lock);
    current = clip_run_current_locked (run);
    g_mutex_unlock (&self->lock);
    gst_sora_post_denoise_stopped (GST_ELEMENT (self), run->clip,
        run->steps_done, params->steps, current && !ok);
  }
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
  double seconds;

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
  current = clip_run_current_locked (&run);
  g_mutex_unlock (&self->lock);

  /* Messages first: once create() sees the clip end, EOS or the flow error
   * goes out and an application may shut down before a later message. */
  if (current && ok) {
    GST_INFO_OBJECT (self, "clip %u done in %.2f s", run.clip, seconds);
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_element (GST_OBJECT (self),
            gst_structure_new ("sora/clip", "clip", G_TYPE_UINT, run.clip,
                "seed", G_TYPE_UINT64, params.seed, "generation-time",
                G_TYPE_DOUBLE, seconds, "frames", G_TYPE_UINT, params.frames,
                "prompt", G_TYPE_STRING, params.prompt, NULL)));
  } else if (current && error) {
    gst_sora_post_engine_error (GST_ELEMENT (self), error, FALSE, NULL, NULL);
  } else if (!current) {
    GST_DEBUG_OBJECT (self, "clip %u abandoned", run.clip);
  }

  GST_OBJECT_LOCK (self);
  clips = self->clips;
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  if (current && clip_run_current_locked (&run)) {
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
  guint width, height, frames;
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
  self->loaded = TRUE;
  if (self->total_frames == 0)
    self->total_frames = frames;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  GST_INFO_OBJECT (
      self, "model ready: native %ux%u, %u frames", width, height, frames);
  return TRUE;
}

static gpointer
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
                g_queue_get_length (&self->frames) < self->total_frames)))
      g_cond_wait (&self->cond, &self->lock);
    if (self->stopping)
      break;
    self->want_clip = FALSE;
    gen = self->clip_gen;
    info = self->info;
    g_mutex_unlock (&self->lock);

    gst_sora_src_run_clip (self, gen, &info);

    g_mutex_lock (&self->lock);
  }
  g_mutex_unlock (&self->lock);
  return NULL;
}

static gboolean
gst_sora_src_start (GstBaseSrc *bsrc)
{
  GstSoraSrc *self = GST_SORA_SRC (bsrc);
  GError *error = NULL;
  guint num_frames;

  if (!gst_sora_settings_check (&self->settings, GST_ELEMENT (self)))
    return FALSE;

  GST_OBJECT_LOCK (self);
  num_frames = self->num_frames;
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  self->loaded = self->engine != NULL;
  self->failed = FALSE;
  self->flushing = FALSE;
  self->stopping = FALSE;
  self->have_info = FALSE;
  self->want_clip = TRUE;
  self->clip_done = FALSE;
  self->skip = 0;
  self->clip_frames = 0;
  self->clip_index = 0;
  self->n_frames = 0;
  self->processed = self->dropped = 0;
  self->total_frames = num_frames;
  self->random_seed = gst_sora_random_seed ();
  self->cancellable = g_cancellable_new ();
  g_mutex_unlock (&self->lock);

  self->worker =
      g_thread_try_new ("sorasrc", gst_sora_src_worker, self, &error);
  if (self->worker == NULL)
    goto no_thread;
  return TRUE;

  /* ERRORS */
no_thread:
  GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
      ("Cannot start the generation thread: %s", error->message), (NULL));
  g_error_free (error);
  g_clear_object (&self->cancellable);
  return FALSE;
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

/* The latency property, or when it is 0 the measured one.  Call without
 * self->lock. */
static GstClockTime
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
      gint64 duration = -1;
      guint clips;

      gst_query_parse_duration (query, &format, NULL);
      /* An endless stream has none. */
      GST_OBJECT_LOCK (self);
      clips = self->clips;
      GST_OBJECT_UNLOCK (self);
      g_mutex_lock (&self->lock);
      if (self->have_info && self->total_frames > 0 && clips > 0) {
        guint64 frames = frames_of_clips (self->total_frames, clips);

        if (format == GST_FORMAT_TIME)
          duration = gst_util_uint64_scale (frames,
              GST_VIDEO_INFO_FPS_D (&self->info) * GST_SECOND,
              GST_VIDEO_INFO_FPS_N (&self->info));
        else if (format == GST_FORMAT_DEFAULT)
          duration = frames;
      }
      g_mutex_unlock (&self->lock);
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

static gboolean
gst_sora_src_unlock (GstBaseSrc *bsrc)
{
  GstSoraSrc *self = GST_SORA_SRC (bsrc);

  /* Generation goes on: stop() and seeks cancel it, and a live source
   * pausing keeps its frames. */
  g_mutex_lock (&self->lock);
  self->flushing = TRUE;
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

static void
gst_sora_src_get_times (
    GstBaseSrc *bsrc, GstBuffer *buffer, GstClockTime *start, GstClockTime *end)
{
  /* Only a live source waits for the clock. */
  if (gst_base_src_is_live (bsrc)) {
    *start = GST_BUFFER_PTS (buffer);
    *end = *start + GST_BUFFER_DURATION (buffer);
  } else {
    *start = *end = GST_CLOCK_TIME_NONE;
  }
}

/* The number of the first frame a sink can still show: earlier ones end,
 * in running time and with @wait on top, before the clock's now (@now).  0
 * unless live and clocked.  Takes the object lock. */
static guint64
gst_sora_src_first_timely_frame (GstSoraSrc *self, GstClockTime wait,
    gint fps_n, gint fps_d, GstClockTime *now)
{
  GstClock *clock;
  GstClockTime base_time, pts;

  *now = GST_CLOCK_TIME_NONE;
  if (!gst_base_src_is_live (GST_BASE_SRC (self)) || fps_n <= 0)
    return 0;
  clock = gst_element_get_clock (GST_ELEMENT (self));
  if (clock == NULL)
    return 0;
  base_time = gst_element_get_base_time (GST_ELEMENT (self));
  *now = gst_clock_get_time (clock);
  gst_object_unref (clock);
  *now = *now > base_time ? *now - base_time : 0;
  if (*now <= wait)
    return 0;

  GST_OBJECT_LOCK (self);
  pts = gst_segment_position_from_running_time (
      &GST_BASE_SRC (self)->segment, GST_FORMAT_TIME, *now - wait);
  GST_OBJECT_UNLOCK (self);
  if (!GST_CLOCK_TIME_IS_VALID (pts))
    return 0;
  return gst_util_uint64_scale (pts, fps_n, fps_d * GST_SECOND);
}

/* Reports frames @first to @end - 1 as not shown (live: too late). */
static void
gst_sora_src_post_qos (GstSoraSrc *self, guint64 first, guint64 end,
    GstClockTime now, gint fps_n, gint fps_d, guint64 processed,
    guint64 dropped)
{
  GstBaseSrc *bsrc = GST_BASE_SRC (self);
  GstClockTime pts = gst_util_uint64_scale (first, fps_d * GST_SECOND, fps_n);
  GstClockTime duration =
      gst_util_uint64_scale (end, fps_d * GST_SECOND, fps_n) - pts;
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

/* Lock order: the object lock may be taken with self->lock held, never the
 * other way round. */
static GstFlowReturn
gst_sora_src_create (GstPushSrc *psrc, GstBuffer **buffer)
{
  GstSoraSrc *self = GST_SORA_SRC (psrc);
  GstBuffer *buf;
  GstClockTime latency = gst_sora_src_get_latency (self);
  GstClockTime now = GST_CLOCK_TIME_NONE;
  guint64 n, first_late, timely, processed, dropped;
  gint fps_n, fps_d;

  g_mutex_lock (&self->lock);
  fps_n = GST_VIDEO_INFO_FPS_N (&self->info);
  fps_d = GST_VIDEO_INFO_FPS_D (&self->info);
  first_late = self->n_frames;
  while (TRUE) {
    while (!self->flushing && !self->failed && !self->clip_done &&
        g_queue_is_empty (&self->frames))
      g_cond_wait (&self->cond, &self->lock);
    if (self->flushing)
      goto flushing;
    if (self->failed)
      goto failed;
    buf = g_queue_pop_head (&self->frames);
    if (buf == NULL)
      goto eos;
    /* The worker may be waiting for room. */
    g_cond_broadcast (&self->cond);
    n = self->n_frames;

    /* Live and late: catch up on the frames queued behind this one, or,
     * when it is the newest there is, show it now (imagefreeze's skip). */
    timely =
        gst_sora_src_first_timely_frame (self, latency, fps_n, fps_d, &now);
    if (timely > n && !g_queue_is_empty (&self->frames)) {
      gst_buffer_unref (buf);
      self->n_frames++;
      self->dropped++;
      continue;
    }
    if (timely > n) {
      self->dropped += timely - n;
      n = timely;
    }
    break;
  }
  self->n_frames = n + 1;
  self->processed++;
  processed = self->processed;
  dropped = self->dropped;
  g_mutex_unlock (&self->lock);

  if (n > first_late)
    gst_sora_src_post_qos (
        self, first_late, n, now, fps_n, fps_d, processed, dropped);

  GST_BUFFER_PTS (buf) = gst_util_uint64_scale (n, fps_d * GST_SECOND, fps_n);
  /* From the next frame's time, so durations add up without drift. */
  GST_BUFFER_DURATION (buf) =
      gst_util_uint64_scale (n + 1, fps_d * GST_SECOND, fps_n) -
      GST_BUFFER_PTS (buf);
  GST_BUFFER_OFFSET (buf) = n;
  GST_BUFFER_OFFSET_END (buf) = n + 1;
  gst_object_sync_values (GST_OBJECT (self), GST_BUFFER_PTS (buf));
  GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT " at %" GST_TIME_FORMAT, n,
      GST_TIME_ARGS (GST_BUFFER_PTS (buf)));
  *buffer = buf;
  return GST_FLOW_OK;

  /* ERRORS */
flushing:
  g_mutex_unlock (&self->lock);
  GST_DEBUG_OBJECT (self, "flushing");
  return GST_FLOW_FLUSHING;
failed:
  /* The error message is on the bus already. */
  g_mutex_unlock (&self->lock);
  return GST_FLOW_ERROR;
eos:
  GST_DEBUG_OBJECT (
      self, "stream done: EOS after frame %" G_GUINT64_FORMAT, self->n_frames);
  g_mutex_unlock (&self->lock);
  return GST_FLOW_EOS;
}
