/* gst-sora: sorasrc's state and the functions its files share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * gstsorasrc.c is the element (its GObject and GstBaseSrc functions, in the
 * order they are declared), gstsorasrcprops.c its properties,
 * gstsoraclipqueue.c the generation thread that fills the frame queue,
 * gstsoralive.c the live timing: timestamps, lateness and QoS, keep-up, the
 * slow-generation warning.
 */
#ifndef __GST_SORA_SRC_PRIV_H__
#define __GST_SORA_SRC_PRIV_H__

#include <gst/video/video.h>

#include "gstsoramessages.h"
#include "gstsorasrc.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_sora_src_debug);
#define GST_CAT_DEFAULT gst_sora_src_debug

#define DEFAULT_NUM_FRAMES 0
#define DEFAULT_IS_LIVE FALSE
#define DEFAULT_LATENCY 0
#define DEFAULT_CLIPS 1
#define DEFAULT_KEEP_UP FALSE
#define DEFAULT_MIN_STEPS 4

/* What the last clip took: keep-up plans the next from it. */
typedef struct
{
  guint passes; /* transformer passes: steps, twice with guidance; 0: none */
  double seconds;
} SoraClipCost;

struct _GstSoraSrc
{
  GstPushSrc parent;

  /* Properties, under the object lock. */
  GstSoraSettings settings;
  guint num_frames;
  GstClockTime latency;
  guint clips;
  gboolean keep_up;
  guint min_steps;

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
  guint64 made; /* frames made for the stream since it (re)started */
  guint clip_frames; /* frames the engine gave for this clip */
  guint clip_index; /* of the next clip since the stream (re)started */
  guint total_frames; /* frames of the first clip; 0 until known */
  guint64 random_seed; /* drawn at start for seed=-1 */
  guint64 n_frames; /* number of the next frame out */
  GstClockTime measured_latency;
  /* The LATENCY event's, which sinks wait on top of a frame's running time;
   * GST_CLOCK_TIME_NONE until one comes. */
  GstClockTime pipeline_latency;
  /* Live: added to each frame's position to make its timestamp, so that the
   * first frame out is stamped with the running time it became available
   * at; GST_CLOCK_TIME_NONE until then. */
  GstClockTime offset;
  GstClockID clock_id; /* create() waits on it for a frame's time */
  guint64 processed, dropped; /* frames, for QoS messages */
  SoraClipCost last_cost; /* of the last clip made; passes 0: none yet */
  double warned_speed; /* in the last slow-generation warning; 0: none */

  /* A causal model's stream (gstsorasrcstream.c), only the worker's. */
  guint chunk_frames; /* frames per chunk after the first; 0: not causal */
  SoraStream *stream;
  char *stream_prompt; /* the prompt its last chunk was made with */
  gint64 prompt_set_us; /* when prompt was last set, monotonic; lock */
};

/* One clip (or chunk) the worker makes, as its callbacks see it. */
typedef struct
{
  GstSoraSrc *self;
  guint gen;
  guint clip;
  gsize frame_size;
  gint64 start_us;
  gboolean first_frame_seen;
  guint steps_done; /* denoising steps reported */
  gint64 first_frame_us; /* when its first frame was queued; 0: not yet */
  guint64 first_frame; /* that frame's number in the stream */
  guint64 end; /* frames of the stream it may make up to; 0: no bound */
} ClipRun;

/* gstsoraclipqueue.c */

/* Readies the streaming state for a stream from the start whose first
 * clip has @num_frames (0: the model's), with a seed drawn for seed=-1.
 * Lock held. */
G_GNUC_INTERNAL void gst_sora_src_reset_locked (
    GstSoraSrc *self, guint num_frames);
/* The generation thread: loads the model, then makes clips while the
 * element wants them and queues their frames. */
G_GNUC_INTERNAL gpointer gst_sora_src_worker (gpointer data);
/* Abandons the clip in progress and asks the worker to make the stream again
 * from its first clip, out from @frame.  Called with the lock held. */
G_GNUC_INTERNAL void gst_sora_src_restart_clip_locked (
    GstSoraSrc *self, guint64 frame);
/* The stream's duration in @format (TIME, or DEFAULT in frames) once the
 * caps and the first clip's frames are known; -1 for an endless stream
 * (clips=0), before then or in another format. */
G_GNUC_INTERNAL gint64 gst_sora_src_duration (
    GstSoraSrc *self, GstFormat format);
/* The seconds @frames play for at @info's frame rate. */
G_GNUC_INTERNAL double gst_sora_src_frames_seconds (
    guint frames, const GstVideoInfo *info);

/* Frames of a stream of @clips clips whose first has @first frames. */
G_GNUC_INTERNAL guint64 gst_sora_src_frames_of_clips (guint first, guint clips);
/* Whether @run is still the clip the element wants.  Lock held. */
G_GNUC_INTERNAL gboolean gst_sora_src_run_current_locked (ClipRun *run);
/* The engine's callbacks for a ClipRun: progress messages, and frames into
 * the queue. */
G_GNUC_INTERNAL gboolean gst_sora_src_on_progress (
    guint step, guint total_steps, double seconds_per_step, gpointer user_data);
G_GNUC_INTERNAL gboolean gst_sora_src_on_frames (const guint8 *pixels,
    guint n_frames, guint width, guint height, gpointer user_data);
/* After the engine ran @run (@ok: it succeeded) at @total_steps: a clip
 * or chunk stopped before its last step ends its PROGRESS with CANCELED,
 * or ERROR when it failed while still wanted. */
G_GNUC_INTERNAL void gst_sora_src_end_denoise (
    ClipRun *run, guint total_steps, gboolean ok);

/* gstsorasrcstream.c */

/* Makes the next chunk of a causal model's stream (a new stream for clip
 * 0), with the prompt as it is now. */
G_GNUC_INTERNAL void gst_sora_src_run_chunk (
    GstSoraSrc *self, guint gen, const GstVideoInfo *info);

/* gstsoralive.c */

G_GNUC_INTERNAL void gst_sora_src_keep_up (
    GstSoraSrc *self, const GstVideoInfo *info, SoraGenerateParams *params);
G_GNUC_INTERNAL void gst_sora_src_check_speed (GstSoraSrc *self, guint clip,
    double speed, double seconds, const SoraGenerateParams *params);
G_GNUC_INTERNAL GstClockTime gst_sora_src_get_latency (GstSoraSrc *self);
G_GNUC_INTERNAL GstClockTime gst_sora_src_get_deadline (GstSoraSrc *self);
G_GNUC_INTERNAL GstFlowReturn gst_sora_src_next_frame_locked (GstSoraSrc *self,
    GstClockTime deadline, gint fps_n, gint fps_d, GstBuffer **buf, guint64 *n,
    GstClockTime *now);
G_GNUC_INTERNAL void gst_sora_src_post_qos (GstSoraSrc *self, guint64 first,
    guint64 end, GstClockTime now, gint fps_n, gint fps_d, GstClockTime offset,
    guint64 processed, guint64 dropped);

/* The properties (gstsorasrcprops.c). */
G_GNUC_INTERNAL void gst_sora_src_install_properties (
    GObjectClass *gobject_class);
G_GNUC_INTERNAL void gst_sora_src_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec);
G_GNUC_INTERNAL void gst_sora_src_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec);

G_END_DECLS

#endif /* __GST_SORA_SRC_PRIV_H__ */
