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
  const char *dir = g_getenv ("GST_SORA_MODEL");

  if (dir != NULL && *dir != '\0')
    return dir;
  dir = GST_SORA_DEFAULT_MODEL_DIR;
  return g_file_test (dir, G_FILE_TEST_IS_DIR) ? dir : NULL;
}

/* The nearest width or height the model takes: a multiple of 16, ≥ 16. */
static guint
nearest_multiple_of_16 (guint v)
{
  return MAX (16, (v + 8) / 16 * 16);
}

gboolean
gst_sora_video_info_from_caps (
    GstElement *element, GstCaps *caps, GstVideoInfo *info)
{
  guint width, height;

  if (!gst_video_info_from_caps (info, caps))
    goto bad_caps;
  width = GST_VIDEO_INFO_WIDTH (info);
  height = GST_VIDEO_INFO_HEIGHT (info);
  if (width % 16 != 0 || height % 16 != 0)
    goto bad_size;
  return TRUE;

  /* ERRORS */
bad_caps:
  GST_ELEMENT_ERROR (element, CORE, NEGOTIATION, (NULL),
      ("unusable caps %" GST_PTR_FORMAT, caps));
  return FALSE;
bad_size:
  GST_ELEMENT_ERROR (element, CORE, NEGOTIATION,
      ("Width and height must be multiples of 16: %ux%u is not; the "
       "nearest valid size is %ux%u",
          width, height, nearest_multiple_of_16 (width),
          nearest_multiple_of_16 (height)),
      ("caps %" GST_PTR_FORMAT, caps));
  return FALSE;
}

GType
gst_sora_scheduler_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { SORA_SAMPLER_UNIPC,
        "UniPC multistep predictor-corrector on the flow-matching schedule, "
        "as diffusers' UniPCMultistepScheduler (Wan's own sampler)",
        "unipc" },
    { SORA_SAMPLER_EULER,
        "First-order Euler on the flow-matching schedule, as diffusers' "
        "FlowMatchEulerDiscreteScheduler",
        "euler" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstSoraScheduler", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define DEFAULT_PROMPT ""
#define DEFAULT_NEGATIVE_PROMPT ""
#define DEFAULT_SEED -1
#define DEFAULT_STEPS 50
#define DEFAULT_GUIDANCE_SCALE 5.0
#define DEFAULT_FLOW_SHIFT 0.0
#define DEFAULT_SCHEDULER SORA_SAMPLER_UNIPC
#define DEFAULT_DEVICE NULL

void
gst_sora_settings_install_properties (GObjectClass *klass, guint first_id,
    const char *prompt_blurb, const char *negative_prompt_blurb,
    const char *steps_blurb)
{
  const GParamFlags rw =
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_DOC_SHOW_DEFAULT;

  g_object_class_install_property (klass,
      first_id + GST_SORA_SETTINGS_PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Model folder in the diffusers layout: a Wan2.1 text-to-video "
          "model such as Wan2.1-T2V-1.3B-Diffusers, as downloaded.  The "
          "default is $GST_SORA_MODEL when set, else the demo model "
          "installed with the plugin.  Loaded when the element starts",
          GST_SORA_DEFAULT_MODEL_DIR, rw | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (klass,
      first_id + GST_SORA_SETTINGS_PROP_PROMPT,
      g_param_spec_string ("prompt", "Prompt", prompt_blurb, DEFAULT_PROMPT,
          rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (klass,
      first_id + GST_SORA_SETTINGS_PROP_NEGATIVE_PROMPT,
      g_param_spec_string ("negative-prompt", "Negative prompt",
          negative_prompt_blurb, DEFAULT_NEGATIVE_PROMPT,
          rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (klass,
      first_id + GST_SORA_SETTINGS_PROP_SEED,
      g_param_spec_int64 ("seed", "Seed",
          "Noise seed, read when a generation starts: the same seed, prompt "
          "and settings make the same frames on the same device.  -1 draws "
          "one when the element starts and reports it in sora/clip; "
          "sorasrc's clip n uses seed + n",
          -1, G_MAXINT64, DEFAULT_SEED, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (klass,
      first_id + GST_SORA_SETTINGS_PROP_STEPS,
      g_param_spec_uint ("steps", "Steps", steps_blurb, 1, 1000, DEFAULT_STEPS,
          rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (klass,
      first_id + GST_SORA_SETTINGS_PROP_GUIDANCE_SCALE,
      g_param_spec_double ("guidance-scale", "Guidance scale",
          "Classifier-free guidance: how strongly the prompt (against the "
          "negative prompt) steers the video (Wan uses 5).  1 or less turns "
          "it off, which halves the work per step.  Read when a generation "
          "starts",
          0.0, 100.0, DEFAULT_GUIDANCE_SCALE, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (klass,
      first_id + GST_SORA_SETTINGS_PROP_FLOW_SHIFT,
      g_param_spec_double ("flow-shift", "Flow shift",
          "Timestep shift of the flow-matching schedule: larger values spend "
          "more of the steps at high noise, on composition and motion.  0 "
          "uses the shift in the model's scheduler config.  Read when a "
          "generation starts",
          0.0, 100.0, DEFAULT_FLOW_SHIFT, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (klass,
      first_id + GST_SORA_SETTINGS_PROP_SCHEDULER,
      g_param_spec_enum ("scheduler", "Scheduler",
          "Sampler of the denoising loop, read when a generation starts",
          GST_TYPE_SORA_SCHEDULER, DEFAULT_SCHEDULER,
          rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (klass,
      first_id + GST_SORA_SETTINGS_PROP_DEVICE,
      g_param_spec_string ("device", "Device",
          "OpenCL device: auto (the first GPU, else the first CPU), gpu, "
          "cpu, P:D (platform and device index) or a case-insensitive part "
          "of its name, as sora-tool devices lists them.  Unset: "
          "$SORA_DEVICE, else auto.  Opened when the element starts",
          DEFAULT_DEVICE, rw | GST_PARAM_MUTABLE_READY));

  gst_type_mark_as_plugin_api (GST_TYPE_SORA_SCHEDULER, 0);
}

void
gst_sora_settings_init (GstSoraSettings *settings)
{
  settings->model = g_strdup (gst_sora_default_model_dir ());
  settings->prompt = g_strdup (DEFAULT_PROMPT);
  settings->negative_prompt = g_strdup (DEFAULT_NEGATIVE_PROMPT);
  settings->seed = DEFAULT_SEED;
  settings->steps = DEFAULT_STEPS;
  settings->guidance_scale = DEFAULT_GUIDANCE_SCALE;
  settings->flow_shift = DEFAULT_FLOW_SHIFT;
  settings->scheduler = DEFAULT_SCHEDULER;
  settings->device = g_strdup (DEFAULT_DEVICE);
}

void
gst_sora_settings_clear (GstSoraSettings *settings)
{
  g_clear_pointer (&settings->model, g_free);
  g_clear_pointer (&settings->prompt, g_free);
  g_clear_pointer (&settings->negative_prompt, g_free);
  g_clear_pointer (&settings->device, g_free);
}

gboolean
gst_sora_settings_set_property (GstSoraSettings *settings, GstElement *element,
    guint first_id, guint prop_id, const GValue *value, GParamSpec *pspec,
    gboolean *reload)
{
  gboolean refused = FALSE;
  gchar **ready_only = NULL;

  if (prop_id < first_id || prop_id - first_id >= GST_SORA_SETTINGS_N_PROPS)
    return FALSE;

  *reload = FALSE;
  GST_OBJECT_LOCK (element);
  switch (prop_id - first_id) {
    case GST_SORA_SETTINGS_PROP_MODEL:
      ready_only = &settings->model;
      break;
    case GST_SORA_SETTINGS_PROP_DEVICE:
      ready_only = &settings->device;
      break;
    case GST_SORA_SETTINGS_PROP_PROMPT:
      g_free (settings->prompt);
      settings->prompt = g_value_dup_string (value);
      break;
    case GST_SORA_SETTINGS_PROP_NEGATIVE_PROMPT:
      g_free (settings->negative_prompt);
      settings->negative_prompt = g_value_dup_string (value);
      break;
    case GST_SORA_SETTINGS_PROP_SEED:
      settings->seed = g_value_get_int64 (value);
      break;
    case GST_SORA_SETTINGS_PROP_STEPS:
      settings->steps = g_value_get_uint (value);
      break;
    case GST_SORA_SETTINGS_PROP_GUIDANCE_SCALE:
      settings->guidance_scale = g_value_get_double (value);
      break;
    case GST_SORA_SETTINGS_PROP_FLOW_SHIFT:
      settings->flow_shift = g_value_get_double (value);
      break;
    case GST_SORA_SETTINGS_PROP_SCHEDULER:
      settings->scheduler = g_value_get_enum (value);
      break;
    default:
      g_assert_not_reached ();
  }
  if (ready_only && GST_STATE (element) > GST_STATE_READY) {
    refused = TRUE;
  } else if (ready_only) {
    g_free (*ready_only);
    *ready_only = g_value_dup_string (value);
    *reload = TRUE;
  }
  GST_OBJECT_UNLOCK (element);

  /* Outside the object lock: posting takes it. */
  if (refused)
    gst_sora_warn_ready_only (element, pspec);
  return TRUE;
}

gboolean
gst_sora_settings_get_property (GstSoraSettings *settings, GstElement *element,
    guint first_id, guint prop_id, GValue *value)
{
  if (prop_id < first_id || prop_id - first_id >= GST_SORA_SETTINGS_N_PROPS)
    return FALSE;

  GST_OBJECT_LOCK (element);
  switch (prop_id - first_id) {
    case GST_SORA_SETTINGS_PROP_MODEL:
      g_value_set_string (value, settings->model);
      break;
    case GST_SORA_SETTINGS_PROP_PROMPT:
      g_value_set_string (value, settings->prompt);
      break;
    case GST_SORA_SETTINGS_PROP_NEGATIVE_PROMPT:
      g_value_set_string (value, settings->negative_prompt);
      break;
    case GST_SORA_SETTINGS_PROP_SEED:
      g_value_set_int64 (value, settings->seed);
      break;
    case GST_SORA_SETTINGS_PROP_STEPS:
      g_value_set_uint (value, settings->steps);
      break;
    case GST_SORA_SETTINGS_PROP_GUIDANCE_SCALE:
      g_value_set_double (value, settings->guidance_scale);
      break;
    case GST_SORA_SETTINGS_PROP_FLOW_SHIFT:
      g_value_set_double (value, settings->flow_shift);
      break;
    case GST_SORA_SETTINGS_PROP_SCHEDULER:
      g_value_set_enum (value, settings->scheduler);
      break;
    case GST_SORA_SETTINGS_PROP_DEVICE:
      g_value_set_string (value, settings->device);
      break;
    default:
      g_assert_not_reached ();
  }
  GST_OBJECT_UNLOCK (element);
  return TRUE;
}

void
gst_sora_settings_fill_params (GstSoraSettings *settings, GstElement *element,
    guint64 random_seed, SoraGenerateParams *params)
{
  GST_OBJECT_LOCK (element);
  params->prompt = g_strdup (settings->prompt ? settings->prompt : "");
  params->negative_prompt = g_strdup (settings->negative_prompt);
  params->seed = settings->seed >= 0 ? (guint64)settings->seed : random_seed;
  params->steps = settings->steps;
  params->guidance_scale = settings->guidance_scale;
  params->flow_shift = settings->flow_shift;
  params->sampler = settings->scheduler;
  GST_OBJECT_UNLOCK (element);
}

void
gst_sora_settings_clear_params (SoraGenerateParams *params)
{
  /* fill_params made them: the engine's struct is const for its callers. */
  g_free ((gchar *)params->prompt);
  g_free ((gchar *)params->negative_prompt);
  params->prompt = params->negative_prompt = NULL;
}

gboolean
gst_sora_settings_check_model (GstSoraSettings *settings, GstElement *element)
{
  gboolean have_model;

  GST_OBJECT_LOCK (element);
  have_model = settings->model != NULL;
  GST_OBJECT_UNLOCK (element);

  if (!have_model)
    GST_ELEMENT_ERROR (element, RESOURCE, NOT_FOUND,
        ("No model: set model= to a Wan2.1 text-to-video folder in the "
         "diffusers layout"),
        ("the demo model is not installed at %s and GST_SORA_MODEL is unset",
            GST_SORA_DEFAULT_MODEL_DIR));
  return have_model;
}

static void
post_load_progress (GstElement *element, GstProgressType type, const char *text)
{
  gst_element_post_message (element,
      gst_message_new_progress (GST_OBJECT (element), type, "load", text));
}

SoraEngine *
gst_sora_settings_open_engine (
    GstSoraSettings *settings, GstElement *element, GCancellable *cancellable)
{
  SoraEngine *engine;
  gchar *model, *device, *text;
  GError *error = NULL;

  GST_OBJECT_LOCK (element);
  model = g_strdup (settings->model);
  device = g_strdup (settings->device);
  GST_OBJECT_UNLOCK (element);

  text = g_strdup_printf ("Loading model %s", model);
  post_load_progress (element, GST_PROGRESS_TYPE_START, text);
  g_free (text);

  engine = sora_engine_open (model, device, cancellable, &error);
  if (engine) {
    text = g_strdup_printf (
        "Loaded model %s on %s", model, sora_engine_get_device_name (engine));
    post_load_progress (element, GST_PROGRESS_TYPE_COMPLETE, text);
    g_free (text);
  } else {
    gboolean cancelled = g_cancellable_is_cancelled (cancellable);

    post_load_progress (element,
        cancelled ? GST_PROGRESS_TYPE_CANCELED : GST_PROGRESS_TYPE_ERROR,
        error->message);
    if (!cancelled)
      gst_sora_post_engine_error (element, error, TRUE, model, device);
    g_error_free (error);
  }
  g_free (model);
  g_free (device);
  return engine;
}

void
gst_sora_post_step_progress (GstElement *element, guint step, guint total_steps,
    guint clip, guint frames_ready, double seconds_per_step)
{
  gst_element_post_message (element,
      gst_message_new_element (GST_OBJECT (element),
          gst_structure_new ("sora/progress", "step", G_TYPE_UINT, step,
              "total-steps", G_TYPE_UINT, total_steps, "clip", G_TYPE_UINT,
              clip, "frames-ready", G_TYPE_UINT, frames_ready,
              "seconds-per-step", G_TYPE_DOUBLE, seconds_per_step, NULL)));
}

void
gst_sora_drop_engine (SoraEngine **engine, GMutex *lock)
{
  SoraEngine *dropped;

  g_mutex_lock (lock);
  dropped = g_steal_pointer (engine);
  g_mutex_unlock (lock);
  g_clear_pointer (&dropped, sora_engine_free);
}

guint64
gst_sora_random_seed (void)
{
  return (((guint64)g_random_int () << 32) | g_random_int ()) & G_MAXINT64;
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
