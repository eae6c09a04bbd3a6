/* gst-sora: soraextend's state and the functions its files share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * gstsoraextend.c is the element (its GObject and GstElement functions and
 * its pads' in the order they are declared), gstsoraextendprops.c its
 * properties, gstsoraextendtask.c the source
 * pad's task and the queue it pushes from: input passed through, and the
 * extensions generated between.
 */
#ifndef __GST_SORA_EXTEND_PRIV_H__
#define __GST_SORA_EXTEND_PRIV_H__

#include <gst/video/video.h>

#include "gstsoraextend.h"
#include "gstsoramessages.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_sora_extend_debug);
#define GST_CAT_DEFAULT gst_sora_extend_debug

#define DEFAULT_EXTEND_FRAMES 32
#define DEFAULT_CONTEXT_FRAMES 17
#define DEFAULT_FRAMERATE_N 16
#define DEFAULT_FRAMERATE_D 1
#define DEFAULT_EXTEND_ON_EOS TRUE

/* A generation request: references to the context frames as they were when
 * it was made. */
typedef struct
{
  GstBuffer **frames;
  guint n_frames;
  GstVideoInfo info;
} ExtendJob;

/* What the source task pushes, in order: a buffer, a serialized event or a
 * job (object NULL). */
typedef struct
{
  GstMiniObject *object;
  ExtendJob *job;
} ExtendItem;

struct _GstSoraExtend
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* Properties, under the object lock. */
  GstSoraSettings settings;
  guint extend_frames;
  guint context_frames;
  gint fps_n, fps_d;
  gboolean extend_on_eos;

  /* Under lock; cond is broadcast on every change. */
  GMutex lock;
  GCond cond;
  GThread *loader;
  GCancellable *load_cancellable;
  SoraEngine *engine; /* kept from start until READY→NULL */
  gboolean loaded; /* the load finished, with or without engine */
  /* The model load failed (the error is posted): nothing flows until the
   * element starts again. */
  gboolean failed;
  gboolean holding; /* the loader is posting that error: input waits */
  gboolean flushing;
  GstFlowReturn srcresult; /* why the task stopped; chain returns it */
  GCancellable *cancellable; /* cancels the generation in progress */
  GQueue items; /* ExtendItem */
  gboolean eos; /* upstream's EOS came: nothing more to extend */
  gboolean have_info; /* in_info is set */
  GstVideoInfo in_info;
  GQueue context; /* GstBuffer, the last context_frames input frames */
  guint64 random_seed; /* drawn at start for seed=-1 */

  /* The source task's own: reset only while it is stopped. */
  GstVideoInfo out_info;
  GstClockTime last_end; /* where the last pushed frame ended */
  GstClockTime shift; /* added to input timestamps after insertions */
  guint clip_index;
};

/* gstsoraextendtask.c */

G_GNUC_INTERNAL void gst_sora_extend_item_free (ExtendItem *item);
/* Puts an item in the queue for the source task.  Lock held. */
G_GNUC_INTERNAL void gst_sora_extend_enqueue_locked (
    GstSoraExtend *self, GstMiniObject *object, ExtendJob *job);
/* A job on the context as it is now; NULL without context.  Lock held. */
G_GNUC_INTERNAL ExtendJob *gst_sora_extend_new_job_locked (GstSoraExtend *self);
/* The source pad's task: pushes the next item, running a job. */
G_GNUC_INTERNAL void gst_sora_extend_loop (gpointer data);

/* gstsoraextendprops.c */
G_GNUC_INTERNAL void gst_sora_extend_install_properties (
    GObjectClass *gobject_class);
G_GNUC_INTERNAL void gst_sora_extend_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec);
G_GNUC_INTERNAL void gst_sora_extend_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec);

G_END_DECLS

#endif /* __GST_SORA_EXTEND_PRIV_H__ */
