/* gst-sora tests: does models/sora-demo, run by our engine, make what the
 * prompt asks?  Prompts are held-out combinations of the training world
 * (tests/fixtures/demo-quality, made by tools/make_demo_quality_fixtures.py);
 * each clip is measured with the rules of tools/demo_measure.py
 * measure() (tests/sora-test-demo.h): colour = the nearest of the world's
 * six hues to the clip's dominant hue; direction = that of the foreground
 * centroid from the first frame to the last.  Rates are printed; the test
 * fails below the bars.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "sora-safetensors.h"
#include "sora-test-demo.h"
#include "sora-test-engine.h"

#define SIZE 64
#define CLIP_FRAMES 17
#define CONTEXT_FRAMES 9
#define NEW_FRAMES 8
#define STEPS 20
#define GUIDANCE 5.0

/* The bars of the issue, as fractions. */
#define MIN_COLOUR 0.80
#define MIN_MOTION 0.70
#define MAX_LANGUAGE_GAP 0.10
#define MIN_EXTEND 0.70
/* #7's continuity check: the first new latent frame's distance to the last
 * context latent, conditioned over unconditioned on the same noise,
 * averaged over the first CONTINUITY_CASES extension cases.  Random
 * weights give 1.01 (tests/test-extend.c), models/sora-demo 0.80 (PoCL);
 * the bar sits between them. */
#define CONTINUITY_CASES 20
#define MAX_CONTINUITY_RATIO 0.90

static SoraEngine *engine;
static JsonObject *prompts;
static JsonParser *parser;
/* [cases, CONTEXT_FRAMES, SIZE, SIZE, 3] U8: the "extend" cases' frames */
static SoraSafetensors *contexts_file;
static const SoraSafetensor *contexts;

/* The colour name of a clip's dominant hue, or NULL. */
static const char *
dominant_colour (const guint8 *frames, guint n_frames, const float bg[3])
{
  double hue;

  if (!sora_test_demo_hue (frames, n_frames, bg, &hue))
    return NULL;
  return sora_test_demo_colour_name (hue);
}

static SoraGenerateParams
params_for (const char *prompt, guint64 seed, guint frames)
{
  SoraGenerateParams p = {
    .prompt = prompt,
    .seed = seed,
    .steps = STEPS,
    .guidance_scale = GUIDANCE,
    .scheduler = SORA_SCHEDULER_UNIPC,
    .width = SIZE,
    .height = SIZE,
    .frames = frames,
    .format = SORA_PIXEL_RGB,
  };
  return p;
}

typedef struct
{
  guint colour_ok, colour_n, motion_ok, motion_n;
} Rates;

/* Generates every held-out prompt in @lang ("en" or "zh") and scores it. */
static Rates
score_language (const char *lang)
{
  JsonArray *cases = json_object_get_array_member (prompts, "generate");
  Rates r = { 0 };

  for (guint i = 0; i < json_array_get_length (cases); i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    const char *prompt = json_object_get_string_member (c, lang);
    const char *want_colour = json_object_get_string_member (c, "colour");
    const char *motion = json_object_get_string_member (c, "motion");
    SoraGenerateParams p = params_for (
        prompt, json_object_get_int_member (c, "seed"), CLIP_FRAMES);
    GByteArray *clip = g_byte_array_new ();
    GError *error = NULL;
    const char *colour, *dir = NULL;
    float bg[3];

    sora_test_demo_background (
        json_object_get_string_member (c, "background"), bg);
    g_assert_true (sora_engine_generate (
        engine, &p, NULL, sora_test_demo_append_rgb, clip, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (clip->len, ==, CLIP_FRAMES * SIZE * SIZE * 3);
    colour = dominant_colour (clip->data, CLIP_FRAMES, bg);
    r.colour_n++;
    r.colour_ok += colour && g_str_equal (colour, want_colour);
    if (sora_test_demo_is_direction (motion)) {
      dir = sora_test_demo_direction (clip->data,
          clip->data + (gsize)(CLIP_FRAMES - 1) * SIZE * SIZE * 3, bg);
      r.motion_n++;
      r.motion_ok += dir && g_str_equal (dir, motion);
    }
    g_test_message ("%s | colour %s | motion %s", prompt, colour ? colour : "-",
        dir ? dir : "-");
    g_byte_array_unref (clip);
  }
  return r;
}

static Rates english, chinese;

static void
test_english (void)
{
  english = score_language ("en");
  g_assert_cmpuint (english.colour_n, >=, 50);
  g_assert_cmpuint (english.motion_n, >=, 50);
  sora_test_demo_report (
      "English colour", english.colour_ok, english.colour_n, MIN_COLOUR);
  sora_test_demo_report (
      "English motion", english.motion_ok, english.motion_n, MIN_MOTION);
  g_assert_cmpfloat (
      (double)english.colour_ok / english.colour_n, >=, MIN_COLOUR);
  g_assert_cmpfloat (
      (double)english.motion_ok / english.motion_n, >=, MIN_MOTION);
}

/* Chinese against English on the same combinations and seeds: each rate
 * within 10 points. */
static void
test_chinese (void)
{
  double en_score, zh_score;

  if (english.colour_n == 0)
    english = score_language ("en");
  chinese = score_language ("zh");
  sora_test_demo_report (
      "Chinese colour", chinese.colour_ok, chinese.colour_n, MIN_COLOUR);
  sora_test_demo_report (
      "Chinese motion", chinese.motion_ok, chinese.motion_n, MIN_MOTION);
  en_score = (double)english.colour_ok / english.colour_n;
  zh_score = (double)chinese.colour_ok / chinese.colour_n;
  g_assert_cmpfloat (zh_score, >=, en_score - MAX_LANGUAGE_GAP);
  en_score = (double)english.motion_ok / english.motion_n;
  zh_score = (double)chinese.motion_ok / chinese.motion_n;
  g_assert_cmpfloat (zh_score, >=, en_score - MAX_LANGUAGE_GAP);
}

/* Extension of generator clips: 9 context frames of an object moving one
 * way; the 8 new frames must move it the same way (centroid from the first
 * to the last new frame). */
static void
test_extend (void)
{
  JsonArray *cases = json_object_get_array_member (prompts, "extend");
  gsize clip_bytes = (gsize)CONTEXT_FRAMES * SIZE * SIZE * 3;
  guint ok = 0, n = json_array_get_length (cases);
  GError *error = NULL;

  for (guint i = 0; i < n; i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    const char *motion = json_object_get_string_member (c, "motion");
    SoraGenerateParams p = params_for (json_object_get_string_member (c, "en"),
        json_object_get_int_member (c, "seed"), NEW_FRAMES);
    guint8 *context = g_memdup2 (contexts->data + i * clip_bytes, clip_bytes);
    GByteArray *clip = g_byte_array_new ();
    const char *dir;
    float bg[3];

    sora_test_demo_background (
        json_object_get_string_member (c, "background"), bg);
    g_assert_true (sora_engine_extend (engine, &p, context, CONTEXT_FRAMES,
        NULL, sora_test_demo_append_rgb, clip, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (clip->len, ==, NEW_FRAMES * SIZE * SIZE * 3);
    dir = sora_test_demo_direction (
        clip->data, clip->data + (gsize)(NEW_FRAMES - 1) * SIZE * SIZE * 3, bg);
    ok += dir && g_str_equal (dir, motion);
    g_test_message ("extend %s | new frames go %s", p.prompt, dir ? dir : "-");
    g_free (context);
    g_byte_array_unref (clip);
  }
  sora_test_demo_report ("soraextend continues the motion", ok, n, MIN_EXTEND);
  g_assert_cmpfloat ((double)ok / n, >=, MIN_EXTEND);
}

static void
test_continuity (void)
{
  JsonArray *cases = json_object_get_array_member (prompts, "extend");
  gsize clip_bytes = (gsize)CONTEXT_FRAMES * SIZE * SIZE * 3;
  double ratio_sum = 0;

  for (guint i = 0; i < CONTINUITY_CASES; i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    SoraGenerateParams p = params_for (json_object_get_string_member (c, "en"),
        json_object_get_int_member (c, "seed"), NEW_FRAMES);
    /* 9 context frames are 3 latent frames (1 + 4 + 4) */
    SoraTestContinuity r =
        sora_test_continuity (engine, &p, SORA_WAN_TEXT_LENGTH,
            contexts->data + i * clip_bytes, CONTEXT_FRAMES, 3);

    ratio_sum += r.d_cond / r.d_uncond;
    g_test_message ("continuity %s | %.3f conditioned, %.3f unconditioned",
        p.prompt, r.d_cond, r.d_uncond);
  }
  g_test_message ("first new latent to last context latent, conditioned / "
                  "unconditioned: %.3f on average (bar %.2f)",
      ratio_sum / CONTINUITY_CASES, MAX_CONTINUITY_RATIO);
  g_assert_cmpfloat (ratio_sum / CONTINUITY_CASES, <, MAX_CONTINUITY_RATIO);
}

int
main (int argc, char **argv)
{
  char *path;
  GError *error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  engine = sora_test_open_demo_model ("demo-quality");
  if (engine == NULL)
    return g_test_run ();
  path = sora_test_fixture ("demo-quality/prompts.json");
  parser = json_parser_new ();
  g_assert_true (json_parser_load_from_file (parser, path, &error));
  g_assert_no_error (error);
  prompts = json_node_get_object (json_parser_get_root (parser));
  g_free (path);
  path = sora_test_fixture ("demo-quality/contexts.safetensors");
  contexts_file = sora_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_free (path);
  contexts = sora_safetensors_find (contexts_file, "contexts");
  g_assert_nonnull (contexts);
  g_assert_cmpint (contexts->dtype, ==, SORA_SAFE_U8);
  g_assert_cmpuint (
      json_array_get_length (json_object_get_array_member (prompts, "extend")),
      >=, 50);
  g_assert_cmpuint (contexts->numel, ==,
      json_array_get_length (json_object_get_array_member (prompts, "extend")) *
          CONTEXT_FRAMES * SIZE * SIZE * 3);

  g_test_add_func ("/demo-quality/english", test_english);
  g_test_add_func ("/demo-quality/chinese", test_chinese);
  g_test_add_func ("/demo-quality/extend", test_extend);
  g_test_add_func ("/demo-quality/continuity", test_continuity);
  ret = g_test_run ();
  sora_safetensors_free (contexts_file);
  g_object_unref (parser);
  sora_engine_free (engine);
  return ret;
}
