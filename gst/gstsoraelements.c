/* gst-sora: what the sora elements share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstsoraelements.h"

const char *
gst_sora_default_model_dir (void)
{
  const char *dir = GST_SORA_DEFAULT_MODEL_DIR;

  if (dir == NULL || !g_file_test (dir, G_FILE_TEST_IS_DIR))
    return NULL;
  return dir;
}

guint
gst_sora_nearest_multiple_of_16 (guint v)
{
  return MAX (16, (v + 8) / 16 * 16);
}

GType
gst_sora_scheduler_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { SORA_SAMPLER_UNIPC, "Flow-matching UniPC multistep (Wan's own)",
        "unipc" },
    { SORA_SAMPLER_EULER, "Flow-matching Euler", "euler" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstSoraScheduler", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

void
gst_sora_post_engine_error (GstElement *element, const GError *error,
    gboolean loading, const char *model_dir, const char *device)
{
  GQuark domain = GST_STREAM_ERROR;
  gint code = GST_STREAM_ERROR_FAILED;
  char *text;

  if (loading) {
    gboolean sora = error->domain == SORA_ERROR;

    if (sora && error->code == SORA_ERROR_DEVICE) {
      domain = GST_LIBRARY_ERROR;
      code = GST_LIBRARY_ERROR_SETTINGS;
      text = g_strdup_printf ("Cannot use the OpenCL device \"%s\" (set "
                              "device= to one listed by sora-tool devices): %s",
          device ? device : "auto", error->message);
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
                              "device \"%s\": %s",
          model_dir, device ? device : "auto", error->message);
    }
  } else {
    text = g_strdup_printf ("Video generation failed: %s", error->message);
  }

  gst_element_message_full (element, GST_MESSAGE_ERROR, domain, code, text,
      g_strdup_printf (
          "%s error %d", g_quark_to_string (error->domain), error->code),
      __FILE__, GST_FUNCTION, __LINE__);
}
