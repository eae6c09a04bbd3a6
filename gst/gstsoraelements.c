/* gst-sora: what the sora elements share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstsoramessages.h"

const char *
gst_sora_default_model_dir (void)
{
  const char *dir = g_getenv ("GST_SORA_MODEL");

  if (dir != NULL && *dir != '\0')
    return dir;
  dir = GST_SORA_DEFAULT_MODEL_DIR;
  return g_file_test (dir, G_FILE_TEST_IS_DIR) ? dir : NULL;
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
  if (sora_engine_nearest_side (width) != width ||
      sora_engine_nearest_side (height) != height)
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
          width, height, sora_engine_nearest_side (width),
          sora_engine_nearest_side (height)),
      ("caps %" GST_PTR_FORMAT, caps));
  return FALSE;
}

GType
gst_sora_scheduler_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { SORA_SCHEDULER_UNIPC,
        "UniPC multistep predictor-corrector on the flow-matching schedule, "
        "as diffusers' UniPCMultistepScheduler (Wan's own sampler)",
        "unipc" },
    { SORA_SCHEDULER_EULER,
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
#define DEFAULT_SCHEDULER SORA_SCHEDULER_UNIPC
#define DEFAULT_DEVICE NULL

/* The values taken; the specs allow the whole type (GstSoraSettings). */
#define MAX_SCALE 100.0 /* of guidance-scale and flow-shift, from 0 */

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
          "model such as Wan2.1-T2V-1.3B-Diffusers, as downloaded.  Unset "
          "(the default) is $GST_SORA_MODEL when set, else the demo model "
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
          "Noise seed, -1 or 0 to 9223372036854775807, read when a "
          "generation starts: the same seed, prompt and settings make the "
          "same frames on the same device.  -1 draws one when the element "
          "starts and reports it in sora/clip; sorasrc's clip n uses "
          "seed + n",
          G_MININT64, G_MAXINT64, DEFAULT_SEED,
          rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (klass,
      first_id + GST_SORA_SETTINGS_PROP_STEPS,
      g_param_spec_uint ("steps", "Steps", steps_blurb, 0, G_MAXUINT,
          DEFAULT_STEPS, rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (klass,
      first_id + GST_SORA_SETTINGS_PROP_GUIDANCE_SCALE,
      g_param_spec_double ("guidance-scale", "Guidance scale",
          "Classifier-free guidance, 0 to 100: how strongly the prompt "
          "(against the negative prompt) steers the video (Wan uses 5).  1 "
          "or less turns it off, which halves the work per step.  Read when "
          "a generation starts.  Not used by a causal model (its steps are "
          "distilled to run without guidance)",
          -G_MAXDOUBLE, G_MAXDOUBLE, DEFAULT_GUIDANCE_SCALE,
          rw | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (klass,
      first_id + GST_SORA_SETTINGS_PROP_FLOW_SHIFT,
      g_param_spec_double ("flow-shift", "Flow shift",
          "Timestep shift of the flow-matching schedule, 0 to 100: larger "
          "values spend more of the steps at high noise, on composition and "
          "motion.  0 uses the shift in the model's scheduler config.  Read "
          "when a generation starts.  A causal model uses its own shift",
          -G_MAXDOUBLE, G_MAXDOUBLE, DEFAULT_FLOW_SHIFT,
          rw | GST_PARAM_MUTABLE_PLAYING));
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
  settings->refused =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  settings->checked_prompts = NULL;
}

void
gst_sora_settings_clear (GstSoraSettings *settings)
{
  g_clear_pointer (&settings->model, g_free);
  g_clear_pointer (&settings->prompt, g_free);
  g_clear_pointer (&settings->negative_prompt, g_free);
  g_clear_pointer (&settings->device, g_free);
  g_clear_pointer (&settings->refused, g_hash_table_unref);
  g_clear_pointer (&settings->checked_prompts, g_free);
}

void
gst_sora_settings_refuse_locked (
    GstSoraSettings *settings, GParamSpec *pspec, gchar *why)
{
  if (why)
    g_hash_table_replace (settings->refused, (gpointer)pspec->name, why);
  else
    g_hash_table_remove (settings->refused, pspec->name);
}

gboolean
gst_sora_settings_accept_uint_locked (GstSoraSettings *settings,
    GParamSpec *pspec, guint value, guint min, guint max)
{
  gboolean ok = value >= min && value <= max;
  gchar *negative = NULL;

  /* gst_util_set_object_arg, as gst-launch-1.0 uses it, reads "-3" as
   * 2^32 - 3 for an unsigned property. */
  if (!ok && value > G_MAXINT)
    negative = g_strdup_printf (" (%d read as unsigned)", (gint)value);
  gst_sora_settings_refuse_locked (settings, pspec,
      ok ? NULL
         : g_strdup_printf ("Property \"%s\" must be %u to %u, not %u%s",
               pspec->name, min, max, value, negative ? negative : ""));
  g_free (negative);
  return ok;
}

static gboolean
accept_double_locked (GstSoraSettings *settings, GParamSpec *pspec,
    gdouble value, gdouble min, gdouble max)
{
  gboolean ok = value >= min && value <= max;

  gst_sora_settings_refuse_locked (settings, pspec,
      ok ? NULL
         : g_strdup_printf ("Property \"%s\" must be %g to %g, not %g",
               pspec->name, min, max, value));
  return ok;
}

static gboolean
accept_seed_locked (GstSoraSettings *settings, GParamSpec *pspec, gint64 seed)
{
  gboolean ok = seed >= -1;

  gst_sora_settings_refuse_locked (settings, pspec,
      ok ? NULL
         : g_strdup_printf (
               "Property \"%s\" must be -1 (random) or 0 to %" G_GINT64_FORMAT
               ", not %" G_GINT64_FORMAT,
               pspec->name, G_MAXINT64, seed));
  return ok;
}

/* Sets *@text to @value's string unless that is not UTF-8 (which the
 * tokenizer and the sora/clip message cannot take). */
static void
take_text_locked (GstSoraSettings *settings, GParamSpec *pspec,
    const GValue *value, gchar **text)
{
  const gchar *s = g_value_get_string (value), *end;

  if (s && !g_utf8_validate (s, -1, &end)) {
    gst_sora_settings_refuse_locked (settings, pspec,
        g_strdup_printf ("Property \"%s\" is not valid UTF-8 (at byte %td)",
            pspec->name, end - s));
    return;
  }
  gst_sora_settings_refuse_locked (settings, pspec, NULL);
  g_free (*text);
  *text = g_strdup (s);
}

/* Sets the model folder: unset (NULL) is the default one; an empty string
 * names no folder, so it is refused rather than opened.  Whether it was
 * taken. */
static gboolean
take_model_locked (
    GstSoraSettings *settings, GParamSpec *pspec, const GValue *value)
{
  const gchar *model = g_value_get_string (value);

  if (model && *model == '\0') {
    gst_sora_settings_refuse_locked (settings, pspec,
        g_strdup_printf ("Property \"%s\" is empty: set it to a model "
                         "folder, or leave it unset for the default one",
            pspec->name));
    return FALSE;
  }
  gst_sora_settings_refuse_locked (settings, pspec, NULL);
  g_free (settings->model);
  settings->model = g_strdup (model ? model : gst_sora_default_model_dir ());
  return TRUE;
}

/* Sets a setting, property @id; whether the engine is stale for it.  Object
 * lock held. */
static gboolean
set_setting_locked (
    GstSoraSettings *settings, guint id, const GValue *value, GParamSpec *pspec)
{
  gboolean reload = FALSE;

  switch (id) {
    case GST_SORA_SETTINGS_PROP_MODEL:
      reload = take_model_locked (settings, pspec, value);
      break;
    case GST_SORA_SETTINGS_PROP_DEVICE:
      g_free (settings->device);
      settings->device = g_value_dup_string (value);
      reload = TRUE;
      break;
    case GST_SORA_SETTINGS_PROP_PROMPT:
      take_text_locked (settings, pspec, value, &settings->prompt);
      break;
    case GST_SORA_SETTINGS_PROP_NEGATIVE_PROMPT:
      take_text_locked (settings, pspec, value, &settings->negative_prompt);
      break;
    case GST_SORA_SETTINGS_PROP_SEED:
      if (accept_seed_locked (settings, pspec, g_value_get_int64 (value)))
        settings->seed = g_value_get_int64 (value);
      break;
    case GST_SORA_SETTINGS_PROP_STEPS:
      if (gst_sora_settings_accept_uint_locked (settings, pspec,
              g_value_get_uint (value), GST_SORA_MIN_STEPS, GST_SORA_MAX_STEPS))
        settings->steps = g_value_get_uint (value);
      break;
    case GST_SORA_SETTINGS_PROP_GUIDANCE_SCALE:
      if (accept_double_locked (
              settings, pspec, g_value_get_double (value), 0.0, MAX_SCALE))
        settings->guidance_scale = g_value_get_double (value);
      break;
    case GST_SORA_SETTINGS_PROP_FLOW_SHIFT:
      if (accept_double_locked (
              settings, pspec, g_value_get_double (value), 0.0, MAX_SCALE))
        settings->flow_shift = g_value_get_double (value);
      break;
    case GST_SORA_SETTINGS_PROP_SCHEDULER:
      settings->scheduler = g_value_get_enum (value);
      break;
    default:
      g_assert_not_reached ();
  }
  return reload;
}

gboolean
gst_sora_settings_set_property (GstSoraSettings *settings, GstElement *element,
    guint first_id, guint prop_id, const GValue *value, GParamSpec *pspec,
    SoraEngine **engine, GMutex *lock)
{
  guint id = prop_id - first_id;
  gboolean ready_only =
      id == GST_SORA_SETTINGS_PROP_MODEL || id == GST_SORA_SETTINGS_PROP_DEVICE;
  gboolean reload;

  if (prop_id < first_id || id >= GST_SORA_SETTINGS_N_PROPS)
    return FALSE;

  GST_OBJECT_LOCK (element);
  if (ready_only && GST_STATE (element) > GST_STATE_READY) {
    GST_OBJECT_UNLOCK (element);
    /* Outside the object lock: posting takes it. */
    gst_sora_warn_ready_only (element, pspec);
    return TRUE;
  }
  reload = set_setting_locked (settings, id, value, pspec);
  GST_OBJECT_UNLOCK (element);
  /* The next start opens the new model or device. */
  if (reload)
    gst_sora_drop_engine (engine, lock);
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
  params->scheduler = settings->scheduler;
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

/* The refusals, sorted so that the message does not depend on hashing.
 * Object lock held. */
static gchar *
join_refusals_locked (GstSoraSettings *settings)
{
  GList *why = g_list_sort (
      g_hash_table_get_values (settings->refused), (GCompareFunc)g_strcmp0);
  GString *text = g_string_new (NULL);
  GList *l;

  for (l = why; l; l = l->next)
    g_string_append_printf (
        text, "%s%s", text->len ? "; " : "", (const gchar *)l->data);
  g_list_free (why);
  return g_string_free (text, FALSE);
}

/* A folder that is not a model fails the start at once: posted from the
 * loading thread, such an error can reach gst-launch-1.0 while it is still
 * changing state, where it is lost and the pipeline hangs. */
static gboolean
check_model_folder (GstSoraSettings *settings, GstElement *element)
{
  GError *error = NULL;
  gchar *model;
  gboolean ok;

  GST_OBJECT_LOCK (element);
  model = g_strdup (settings->model);
  GST_OBJECT_UNLOCK (element);
  ok = sora_engine_check_model (model, &error);
  if (!ok) {
    gst_sora_settings_post_open_error (settings, element, error);
    g_error_free (error);
  }
  g_free (model);
  return ok;
}

gboolean
gst_sora_settings_check (GstSoraSettings *settings, GstElement *element)
{
  gchar *refused = NULL;
  gboolean have_model;

  GST_OBJECT_LOCK (element);
  have_model = settings->model != NULL;
  if (g_hash_table_size (settings->refused) > 0)
    refused = join_refusals_locked (settings);
  GST_OBJECT_UNLOCK (element);

  if (refused) {
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS, ("%s", refused), (NULL));
    g_free (refused);
    return FALSE;
  }
  if (!have_model) {
    GST_ELEMENT_ERROR (element, RESOURCE, NOT_FOUND,
        ("No model: set model= to a Wan2.1 text-to-video folder in the "
         "diffusers layout"),
        ("the demo model is not installed at %s and GST_SORA_MODEL is unset",
            GST_SORA_DEFAULT_MODEL_DIR));
    return FALSE;
  }
  return check_model_folder (settings, element);
}

/* Warns when @text (the prompt called @name) is cut. */
static void
warn_if_cut (GstElement *element, SoraEngine *engine, const gchar *name,
    const gchar *text)
{
  guint n_tokens, max_tokens;
  GError *error = NULL;

  if (!sora_engine_count_tokens (
          engine, text, &n_tokens, &max_tokens, &error)) {
    /* The generation fails on it too, and reports it. */
    GST_WARNING_OBJECT (
        element, "cannot count the tokens of the %s: %s", name, error->message);
    g_error_free (error);
    return;
  }
  if (n_tokens > max_tokens)
    GST_ELEMENT_WARNING (element, LIBRARY, SETTINGS,
        ("The %s is %u tokens long, but the model reads only %u: the last %u "
         "are cut",
            name, n_tokens, max_tokens, n_tokens - max_tokens),
        (NULL));
}

void
gst_sora_settings_warn_long_prompt (GstSoraSettings *settings,
    GstElement *element, SoraEngine *engine, const SoraGenerateParams *params)
{
  /* The negative prompt is used only with guidance. */
  const gchar *negative =
      params->guidance_scale > 1.0 ? params->negative_prompt : NULL;
  gchar *key =
      g_strdup_printf ("%s\n%s", params->prompt, negative ? negative : "");
  gboolean checked;

  GST_OBJECT_LOCK (element);
  checked = g_strcmp0 (key, settings->checked_prompts) == 0;
  if (!checked) {
    g_free (settings->checked_prompts);
    settings->checked_prompts = g_strdup (key);
  }
  GST_OBJECT_UNLOCK (element);
  g_free (key);
  if (checked)
    return;

  warn_if_cut (element, engine, "prompt", params->prompt);
  if (negative)
    warn_if_cut (element, engine, "negative prompt", negative);
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

gsize
gst_sora_params_set_video (SoraGenerateParams *params, const GstVideoInfo *info)
{
  params->width = GST_VIDEO_INFO_WIDTH (info);
  params->height = GST_VIDEO_INFO_HEIGHT (info);
  switch (GST_VIDEO_INFO_FORMAT (info)) {
    case GST_VIDEO_FORMAT_NV12:
      params->format = SORA_PIXEL_NV12;
      break;
    case GST_VIDEO_FORMAT_RGB:
      params->format = SORA_PIXEL_RGB;
      break;
    case GST_VIDEO_FORMAT_RGBA:
      params->format = SORA_PIXEL_RGBA;
      break;
    default:
      /* The templates allow nothing else. */
      params->format = SORA_PIXEL_I420;
      break;
  }
  return sora_pixel_frame_size (params->format, params->width, params->height);
}

GstClockTime
gst_sora_frame_position (guint64 n, gint fps_n, gint fps_d)
{
  return gst_util_uint64_scale (n, fps_d * GST_SECOND, fps_n);
}
