/* gst-sora: the bus messages both elements post
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstsoramessages.h"

static void
post_load_progress (GstElement *element, GstProgressType type, const char *text)
{
  gst_element_post_message (element,
      gst_message_new_progress (GST_OBJECT (element), type, "load", text));
}

SoraEngine *
gst_sora_settings_open_engine (GstSoraSettings *settings, GstElement *element,
    GCancellable *cancellable, GError **error)
{
  SoraEngine *engine;
  gchar *model, *device, *text;

  GST_OBJECT_LOCK (element);
  model = g_strdup (settings->model);
  device = g_strdup (settings->device);
  GST_OBJECT_UNLOCK (element);

  text = g_strdup_printf ("Loading model %s", model);
  post_load_progress (element, GST_PROGRESS_TYPE_START, text);
  g_free (text);

  engine = sora_engine_open (model, device, cancellable, error);
  if (engine) {
    text = g_strdup_printf (
        "Loaded model %s on %s", model, sora_engine_get_device_name (engine));
    post_load_progress (element, GST_PROGRESS_TYPE_COMPLETE, text);
    g_free (text);
  } else {
    post_load_progress (element,
        g_cancellable_is_cancelled (cancellable) ? GST_PROGRESS_TYPE_CANCELED
                                                 : GST_PROGRESS_TYPE_ERROR,
        (*error)->message);
  }
  g_free (model);
  g_free (device);
  return engine;
}

void
gst_sora_settings_post_open_error (
    GstSoraSettings *settings, GstElement *element, const GError *error)
{
  gchar *model, *device;

  /* As open_engine read them: they change only in NULL or READY. */
  GST_OBJECT_LOCK (element);
  model = g_strdup (settings->model);
  device = g_strdup (settings->device);
  GST_OBJECT_UNLOCK (element);
  gst_sora_post_engine_error (element, error, TRUE, model, device);
  g_free (model);
  g_free (device);
}

static void
post_denoise_progress (
    GstElement *element, GstProgressType type, guint clip, const gchar *text)
{
  gchar *full = g_strdup_printf ("Clip %u: %s", clip, text);

  gst_element_post_message (element,
      gst_message_new_progress (GST_OBJECT (element), type, "denoise", full));
  g_free (full);
}

void
gst_sora_post_step_progress (GstElement *element, guint step, guint total_steps,
    guint clip, guint frames_ready, double seconds_per_step)
{
  gchar *text = g_strdup_printf ("step %u of %u done (%.2f s per step)%s", step,
      total_steps, seconds_per_step,
      step >= total_steps ? "; decoding the frames" : "");

  gst_element_post_message (element,
      gst_message_new_element (GST_OBJECT (element),
          gst_structure_new ("sora/progress", "step", G_TYPE_UINT, step,
              "total-steps", G_TYPE_UINT, total_steps, "clip", G_TYPE_UINT,
              clip, "frames-ready", G_TYPE_UINT, frames_ready,
              "seconds-per-step", G_TYPE_DOUBLE, seconds_per_step, NULL)));
  post_denoise_progress (element, GST_PROGRESS_TYPE_COMPLETE, clip, text);
  g_free (text);
}

void
gst_sora_post_denoise_stopped (GstElement *element, guint clip,
    guint steps_done, guint total_steps, gboolean failed)
{
  gchar *text = g_strdup_printf ("%s after %u of %u steps",
      failed ? "failed" : "stopped", steps_done, total_steps);

  post_denoise_progress (element,
      failed ? GST_PROGRESS_TYPE_ERROR : GST_PROGRESS_TYPE_CANCELED, clip,
      text);
  g_free (text);
}

void
gst_sora_post_clip_done (GstElement *element, guint clip,
    const SoraGenerateParams *params, double seconds, const char *first_field,
    ...)
{
  GstStructure *s = gst_structure_new ("sora/clip", "clip", G_TYPE_UINT, clip,
      "seed", G_TYPE_UINT64, params->seed, "generation-time", G_TYPE_DOUBLE,
      seconds, "frames", G_TYPE_UINT, params->frames, NULL);
  va_list args;

  va_start (args, first_field);
  gst_structure_set_valist (s, first_field, args);
  va_end (args);
  gst_element_post_message (
      element, gst_message_new_element (GST_OBJECT (element), s));
}

void
gst_sora_warn_ready_only (GstElement *element, GParamSpec *pspec)
{
  GST_ELEMENT_WARNING (element, LIBRARY, SETTINGS,
      ("Property \"%s\" can only change in the NULL or READY state; "
       "the change is ignored",
          pspec->name),
      (NULL));
}

GThread *
gst_sora_start_thread (GstElement *element, const char *name, const char *what,
    GThreadFunc func, gpointer data)
{
  GError *error = NULL;
  GThread *thread = g_thread_try_new (name, func, data, &error);

  if (thread == NULL) {
    GST_ELEMENT_ERROR (element, RESOURCE, FAILED,
        ("Cannot start the %s thread: %s", what, error->message), (NULL));
    g_error_free (error);
  }
  return thread;
}

/* The device as the user asked for it, quoted: @device (the property),
 * else $SORA_DEVICE, else auto, as sora_device_open reads them. */
static char *
describe_device (const char *device)
{
  const char *env = g_getenv ("SORA_DEVICE");

  if (device == NULL && env && *env)
    return g_strdup_printf ("\"%s\" from $SORA_DEVICE", env);
  return g_strdup_printf ("\"%s\"", device && *device ? device : "auto");
}

void
gst_sora_post_engine_error (GstElement *element, const GError *error,
    gboolean loading, const char *model_dir, const char *device)
{
  GQuark domain = GST_STREAM_ERROR;
  gint code = GST_STREAM_ERROR_FAILED;
  char *text, *spec = describe_device (device);

  if (loading) {
    gboolean sora = error->domain == SORA_ERROR;

    if (sora && error->code == SORA_ERROR_DEVICE) {
      domain = GST_LIBRARY_ERROR;
      code = GST_LIBRARY_ERROR_SETTINGS;
      text = g_strdup_printf ("Cannot use the OpenCL device %s (set "
                              "device= to one listed by sora-tool devices): %s",
          spec, error->message);
    } else if (sora &&
        (error->code == SORA_ERROR_MODEL || error->code == SORA_ERROR_FORMAT)) {
      domain = GST_RESOURCE_ERROR;
      /* A folder that is not there is a wrong path; anything else is a
       * broken download. */
      code = g_file_test (model_dir, G_FILE_TEST_IS_DIR)
          ? GST_RESOURCE_ERROR_OPEN_READ
          : GST_RESOURCE_ERROR_NOT_FOUND;
      text = g_strdup_printf (
          "Cannot load the model folder \"%s\": %s", model_dir, error->message);
    } else if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ||
        g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
      domain = GST_RESOURCE_ERROR;
      code = GST_RESOURCE_ERROR_NOT_FOUND;
      text = g_strdup_printf (
          "Cannot load the model folder \"%s\": %s", model_dir, error->message);
    } else {
      domain = GST_LIBRARY_ERROR;
      code = GST_LIBRARY_ERROR_INIT;
      text = g_strdup_printf ("Cannot set up the model \"%s\" on the OpenCL "
                              "device %s: %s",
          model_dir, spec, error->message);
    }
  } else {
    text = g_strdup_printf ("Video generation failed: %s", error->message);
  }

  gst_element_message_full (element, GST_MESSAGE_ERROR, domain, code, text,
      g_strdup_printf (
          "%s error %d", g_quark_to_string (error->domain), error->code),
      __FILE__, GST_FUNCTION, __LINE__);
  g_free (spec);
}
