/* gst-sora tests: the umT5 tokenizer against ids from Hugging Face's
 * tokenizers library (tests/fixtures/tokenizer, made by
 * tools/make_tokenizer_fixtures.py), and its errors on hostile files.
 * Token ids are exact: any difference is a failure.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <json-glib/json-glib.h>
#include <string.h>

#include "sora-error.h"
#include "sora-test-util.h"
#include "sora-tokenizer.h"

static char *
fixture (const char *name)
{
  const char *dir = g_getenv ("SORA_FIXTURES");
  return g_build_filename (
      dir ? dir : "tests/fixtures", "tokenizer", name, NULL);
}

static JsonNode *
load_json (const char *name)
{
  g_autofree char *path = fixture (name);
  g_autoptr (JsonParser) parser = json_parser_new ();
  GError *error = NULL;

  g_assert_true (json_parser_load_from_file (parser, path, &error));
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static gboolean
ids_equal (GArray *ids, JsonArray *want)
{
  if (ids->len != json_array_get_length (want))
    return FALSE;
  for (guint i = 0; i < ids->len; i++)
    if (g_array_index (ids, gint32, i) != json_array_get_int_element (want, i))
      return FALSE;
  return TRUE;
}

/* Encodes every case with @tok and compares with the ids of the variant
 * @variant (NULL: the plain file), padded ones too. */
static void
check_cases (SoraTokenizer *tok, const char *variant, JsonArray *cases)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  GArray *mask = g_array_new (FALSE, FALSE, sizeof (guint8));
  guint passed = 0, padded = 0, n = json_array_get_length (cases);

  for (guint i = 0; i < n; i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    const char *text = json_object_get_string_member (c, "text");
    JsonArray *want = json_object_get_array_member (c, "ids");
    GError *error = NULL;

    if (variant && json_object_has_member (c, "variants") &&
        json_object_has_member (
            json_object_get_object_member (c, "variants"), variant))
      want = json_object_get_array_member (
          json_object_get_object_member (c, "variants"), variant);
    g_assert_true (sora_tokenizer_encode (tok, text, 0, ids, mask, &error));
    g_assert_no_error (error);
    if (ids_equal (ids, want))
      passed++;
    else
      g_test_message (
          "%s case %u differs: \"%s\"", variant ? variant : "plain", i, text);

    if (variant == NULL && json_object_has_member (c, "ids_512")) {
      JsonArray *want_mask = json_object_get_array_member (c, "mask_512");
      gboolean same;

      g_assert_true (sora_tokenizer_encode (tok, text, 512, ids, mask, &error));
      g_assert_no_error (error);
      same = ids_equal (ids, json_object_get_array_member (c, "ids_512")) &&
          mask->len == json_array_get_length (want_mask);
      for (guint j = 0; same && j < mask->len; j++)
        same = g_array_index (mask, guint8, j) ==
            json_array_get_int_element (want_mask, j);
      if (same)
        padded++;
      else
        g_test_message ("case %u differs at max_length 512", i);
      passed -= !same;
    }
  }
  g_test_message ("%s: %u of %u cases match tokenizers exactly (%u padded to "
                  "512)",
      variant ? variant : "plain", passed, n, padded);
  g_printerr ("# %s: %u of %u cases match (%u padded to 512)\n",
      variant ? variant : "plain", passed, n, padded);
  g_assert_cmpuint (passed, ==, n);
  g_array_unref (ids);
  g_array_unref (mask);
}

static void
test_fixture_cases (void)
{
  g_autofree char *path = fixture ("tokenizer.json");
  JsonNode *cases = load_json ("cases.json");
  GError *error = NULL;
  SoraTokenizer *tok = sora_tokenizer_new_from_file (path, &error);

  g_assert_no_error (error);
  check_cases (tok, NULL,
      json_object_get_array_member (json_node_get_object (cases), "cases"));
  sora_tokenizer_free (tok);
  json_node_unref (cases);
}

/* The same cases through the other shapes of tokenizer.json that
 * cases.json describes (byte fallback, the legacy converter's normalizer
 * and Metaspace, prepend_scheme "first", WhitespaceSplit, single_word
 * added tokens). Byte fallback shows what the normalizer made of unknown
 * characters, so its ids check the grapheme clusters too. */
static void
test_fixture_variants (void)
{
  JsonNode *cases = load_json ("cases.json");
  JsonObject *variants =
      json_object_get_object_member (json_node_get_object (cases), "variants");
  GList *names = json_object_get_members (variants);

  for (GList *l = names; l; l = l->next) {
    JsonObject *patch = json_object_get_object_member (variants, l->data);
    /* Loaded afresh: json_node_copy would share the objects. */
    JsonNode *copy = load_json ("tokenizer.json");
    JsonObject *spec = json_node_get_object (copy);
    GError *error = NULL;
    SoraTokenizer *tok;
    char *json;
    gsize len;

    if (json_object_has_member (patch, "byte_fallback"))
      json_object_set_boolean_member (
          json_object_get_object_member (spec, "model"), "byte_fallback",
          json_object_get_boolean_member (patch, "byte_fallback"));
    if (json_object_has_member (patch, "normalizer_tail")) {
      JsonArray *list = json_object_get_array_member (
          json_object_get_object_member (spec, "normalizer"), "normalizers");
      JsonArray *tail = json_object_get_array_member (patch, "normalizer_tail");
      while (json_array_get_length (list) > 1)
        json_array_remove_element (list, 1);
      for (guint i = 0; i < json_array_get_length (tail); i++)
        json_array_add_element (
            list, json_node_copy (json_array_get_element (tail, i)));
    }
    if (json_object_has_member (patch, "pre_tokenizer"))
      json_object_set_member (spec, "pre_tokenizer",
          json_node_copy (json_object_get_member (patch, "pre_tokenizer")));
    if (json_object_has_member (patch, "single_word")) {
      JsonArray *added = json_object_get_array_member (spec, "added_tokens");
      for (guint i = 0; i < json_array_get_length (added); i++)
        json_object_set_boolean_member (
            json_array_get_object_element (added, i), "single_word",
            json_object_get_boolean_member (patch, "single_word"));
    }
    json = json_to_string (copy, FALSE);
    len = strlen (json);
    tok = sora_tokenizer_new_from_data (json, len, l->data, &error);
    g_assert_no_error (error);
    check_cases (tok, l->data,
        json_object_get_array_member (json_node_get_object (cases), "cases"));
    sora_tokenizer_free (tok);
    g_free (json);
    json_node_unref (copy);
  }
  g_list_free (names);
  json_node_unref (cases);
}

/* A hand-made tokenizer.json with a few pieces of the real umT5 vocab (ids
 * from transformers' umT5 test, docs/model.md §Prompt), so the
 * known vectors come out through the same code. Scores are made up; each
 * word here is a single piece, so any negative scores give these ids. The
 * normalizer is the current converter's: Strip(right) drops the space
 * before "<extra_id_0>", which those ids need. */
static const char tiny_json[] =
    "{\"added_tokens\":["
    "{\"id\":0,\"content\":\"<pad>\",\"single_word\":false,\"lstrip\":false,"
    "\"rstrip\":false,\"normalized\":false,\"special\":true},"
    "{\"id\":1,\"content\":\"</s>\",\"single_word\":false,\"lstrip\":false,"
    "\"rstrip\":false,\"normalized\":false,\"special\":true},"
    "{\"id\":2,\"content\":\"<unk>\",\"single_word\":false,\"lstrip\":false,"
    "\"rstrip\":false,\"normalized\":false,\"special\":true},"
    "{\"id\":17,\"content\":\"<extra_id_0>\",\"single_word\":false,"
    "\"lstrip\":false,\"rstrip\":false,\"normalized\":false,"
    "\"special\":true}],"
    "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":["
    "{\"type\":\"Strip\",\"strip_left\":false,\"strip_right\":true},"
    "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" {2,}\"},"
    "\"content\":\"\\u2581\"}]},"
    "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\","
    "\"add_prefix_space\":true},"
    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":["
    "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
    "{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}],"
    "\"special_tokens\":{\"</s>\":{\"id\":\"</s>\",\"ids\":[1],"
    "\"tokens\":[\"</s>\"]}}},"
    "\"model\":{\"type\":\"Unigram\",\"unk_id\":2,\"vocab\":["
    "[\"<pad>\",0.0],[\"</s>\",0.0],[\"<unk>\",0.0],"
    "[\"\\u2581This\",-5],[\"\\u2581is\",-5],[\"\\u2581the\",-5],"
    "[\"\\u2581reason\",-5],[\"\\u2581why\",-5],[\"\\u2581we\",-5],"
    "[\"\\u2581them\",-5],[\".\",-3],[\"\\u2581\",-4],[\"\\u2581walk\",-6],"
    "[\"s\",-4],[\"\\u2581a\",-5],[\"a\",-9],[\"b\",-9],"
    "[\"<extra_id_0>\",0.0],[\"ab\",-10]]}}";

static const struct
{
  const char *text;
  gint32 ids[16];
} tiny_cases[] = {
  /* transformers' ids, mapped to the tiny ones: 1460 -> 3, 339 -> 4, 312 -> 5,
   * 19014 -> 6, 10620 -> 7, 758 -> 8, 256299 -> 17, 2355 -> 9, 274 -> 10. */
  { "This is the reason why we <extra_id_0> them.",
      { 3, 4, 5, 6, 7, 8, 17, 9, 10, 1, -1 } },
  { "This is the reason why we them.", { 3, 4, 5, 6, 7, 8, 9, 10, 1, -1 } },
  /* "walks": the longer "▁walk" + "s" beats unknown characters. */
  { "walks", { 12, 13, 1, -1 } },
  /* Unknown characters fuse into one <unk> per run. */
  { "xyz.", { 11, 2, 10, 1, -1 } },
  /* "  " becomes one "▁", so no prefix is added. */
  { "  a", { 14, 1, -1 } },
  { "", { 1, -1 } },
  /* A tie, "▁" + "ab" = "▁a" + "b" = -14: the earlier start wins. */
  { "ab", { 11, 18, 1, -1 } },
};

static void
test_known_vectors (void)
{
  GError *error = NULL;
  SoraTokenizer *tok = sora_tokenizer_new_from_data (
      tiny_json, sizeof tiny_json - 1, "tiny", &error);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  GArray *mask = g_array_new (FALSE, FALSE, sizeof (gint32));

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (tiny_cases); i++) {
    guint n = 0;
    g_assert_true (
        sora_tokenizer_encode (tok, tiny_cases[i].text, 0, ids, NULL, &error));
    while (tiny_cases[i].ids[n] >= 0)
      n++;
    g_assert_cmpmem (ids->data, ids->len * 4, tiny_cases[i].ids, n * 4);
  }

  /* Truncation keeps </s> last; padding is id 0 with mask 0. */
  g_assert_true (
      sora_tokenizer_encode (tok, "This is the reason", 3, ids, mask, &error));
  g_assert_cmpuint (ids->len, ==, 3);
  g_assert_cmpint (g_array_index (ids, gint32, 0), ==, 3);
  g_assert_cmpint (g_array_index (ids, gint32, 1), ==, 4);
  g_assert_cmpint (g_array_index (ids, gint32, 2), ==, 1);
  g_assert_true (sora_tokenizer_encode (tok, "", 4, ids, mask, &error));
  g_assert_cmpint (g_array_index (ids, gint32, 0), ==, 1);
  g_assert_cmpint (g_array_index (mask, gint32, 0), ==, 1);
  for (guint i = 1; i < 4; i++) {
    g_assert_cmpint (g_array_index (ids, gint32, i), ==, 0);
    g_assert_cmpint (g_array_index (mask, gint32, i), ==, 0);
  }

  /* Invalid UTF-8 is refused. */
  g_assert_false (sora_tokenizer_encode (tok, "ab\xff", 0, ids, NULL, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  sora_tokenizer_free (tok);
  g_array_unref (ids);
  g_array_unref (mask);
}

/* Each hostile tokenizer.json must fail with an error that names the file
 * and the key. */
static void
test_hostile_files (void)
{
  static const struct
  {
    const char *json, *key;
  } bad[] = {
    { "[]", "not a JSON object" },
    { "{\"model\":", "not JSON" },
    { "{}", "\"model\" is missing" },
    { "{\"model\":{\"type\":\"BPE\"}}", "\"model.type\"" },
    { "{\"model\":{\"type\":\"Unigram\",\"vocab\":{}}}", "\"model.vocab\"" },
    { "{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}", "\"model.vocab\"" },
    { "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",\"x\"]]}}",
        "\"model.vocab[0]\"" },
    { "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1]],"
      "\"unk_id\":5}}",
        "\"model.unk_id\"" },
    { "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1]],"
      "\"byte_fallback\":1}}",
        "\"model.byte_fallback\"" },
    { "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1]]},"
      "\"normalizer\":{\"type\":\"Precompiled\","
      "\"precompiled_charsmap\":\"@@@@\"}}",
        "\"normalizer.precompiled_charsmap\"" },
    /* A trie size larger than the blob: a truncated charsmap. */
    { "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1]]},"
      "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":["
      "{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"AAEAAAAAAAA=\""
      "}]}}",
        "\"normalizer.normalizers[0].precompiled_charsmap\"" },
    { "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1]]},"
      "\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"(\"},"
      "\"content\":\"\"}}",
        "\"normalizer.pattern\"" },
    { "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1]]},"
      "\"normalizer\":{\"type\":\"NFD\"}}",
        "\"normalizer.type\"" },
    { "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1]]},"
      "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"ab\"}}",
        "\"pre_tokenizer.replacement\"" },
    { "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1]]},"
      "\"added_tokens\":[{\"content\":\"x\"}]}",
        "\"added_tokens[0].id\"" },
    { "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1]]},"
      "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":"
      "[{\"SpecialToken\":{\"id\":\"</s>\"}}],\"special_tokens\":{}}}",
        "\"post_processor.special_tokens.</s>\"" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    GError *error = NULL;
    SoraTokenizer *tok = sora_tokenizer_new_from_data (
        bad[i].json, strlen (bad[i].json), "hostile.json", &error);

    g_assert_null (tok);
    g_assert_error (error, SORA_ERROR, SORA_ERROR_FORMAT);
    g_test_message ("%s", error->message);
    g_assert_true (g_str_has_prefix (error->message, "hostile.json: "));
    g_assert_nonnull (strstr (error->message, bad[i].key));
    g_error_free (error);
  }
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/tokenizer/fixture-cases", test_fixture_cases);
  g_test_add_func ("/tokenizer/fixture-variants", test_fixture_variants);
  g_test_add_func ("/tokenizer/known-vectors", test_known_vectors);
  g_test_add_func ("/tokenizer/hostile-files", test_hostile_files);
  return sora_test_run ();
}
