/* gst-sora tests: Wan's prompt cleaning against diffusers 0.35.2 with
 * ftfy 6.3.1 and Python's html module (tests/fixtures/tokenizer/
 * text-fix.json, made by tools/make_text_fix_fixtures.py): ftfy's output,
 * the cleaned prompt and its token ids must be identical, case by case.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <json-glib/json-glib.h>
#include <string.h>

#include "sora-prompt-clean.h"
#include "sora-test-util.h"
#include "sora-text-fix.h"
#include "sora-tokenizer.h"

static char *
fixture (const char *name)
{
  const char *dir = g_getenv ("SORA_FIXTURES");
  return g_build_filename (
      dir ? dir : "tests/fixtures", "tokenizer", name, NULL);
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

/* Whether @got is @want; says which case and step differ if not. */
static gboolean
same_text (const char *got, const char *want, guint i, const char *step)
{
  if (strcmp (got, want) == 0)
    return TRUE;
  g_test_message ("case %u: %s gives \"%s\", not \"%s\"", i, step, got, want);
  return FALSE;
}

static void
test_fixture (void)
{
  g_autofree char *json_path = fixture ("text-fix.json");
  g_autofree char *tok_path = fixture ("tokenizer.json");
  g_autoptr (JsonParser) parser = json_parser_new ();
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  GArray *mask = g_array_new (FALSE, FALSE, sizeof (guint8));
  GError *error = NULL;
  SoraTokenizer *tok = sora_tokenizer_new_from_file (tok_path, &error);
  JsonArray *cases;
  guint n, fixed_ok = 0, clean_ok = 0, ids_ok = 0;

  g_assert_no_error (error);
  g_assert_true (json_parser_load_from_file (parser, json_path, &error));
  g_assert_no_error (error);
  cases = json_object_get_array_member (
      json_node_get_object (json_parser_get_root (parser)), "cases");
  n = json_array_get_length (cases);
  g_assert_cmpuint (n, >=, 2000);
  for (guint i = 0; i < n; i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    const char *text = json_object_get_string_member (c, "text");
    const char *clean = json_object_get_string_member (c, "clean");
    /* "ftfy" is left out where it equals "clean". */
    const char *want_fixed =
        json_object_get_string_member_with_default (c, "ftfy", clean);
    g_autofree char *fixed = sora_text_fix (text);
    g_autofree char *got = sora_prompt_clean (text);

    fixed_ok += same_text (fixed, want_fixed, i, "sora_text_fix");
    clean_ok += same_text (got, clean, i, "sora_prompt_clean");
    g_assert_true (sora_tokenizer_encode (tok, got, 0, ids, mask, &error));
    g_assert_no_error (error);
    if (ids_equal (ids, json_object_get_array_member (c, "ids")))
      ids_ok++;
    else
      g_test_message ("case %u: token ids differ", i);
  }
  g_printerr ("# %u cases: ftfy %u, cleaned %u, ids %u match\n", n, fixed_ok,
      clean_ok, ids_ok);
  g_assert_cmpuint (fixed_ok, ==, n);
  g_assert_cmpuint (clean_ok, ==, n);
  g_assert_cmpuint (ids_ok, ==, n);
  sora_tokenizer_free (tok);
  g_array_unref (ids);
  g_array_unref (mask);
}

/* What the engine does with input that the fixture cannot hold. */
static void
test_prompt_clean (void)
{
  static const struct
  {
    const char *text, *clean;
  } cases[] = {
    { "  a &amp;amp; b\t\n c\xe3\x80\x80 ", "a & b c" },
    { "the cat\xe2\x80\x99s toy", "the cat's toy" },
    { "caf\xc3\x83\xc2\xa9", "caf\xc3\xa9" },
    /* Invalid UTF-8 becomes U+FFFD, as Python's errors="replace" would. */
    { "a\xff b", "a\xef\xbf\xbd b" },
    { NULL, "" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *s = sora_prompt_clean (cases[i].text);
    g_assert_cmpstr (s, ==, cases[i].clean);
  }
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/text-fix/fixture", test_fixture);
  g_test_add_func ("/text-fix/prompt-clean", test_prompt_clean);
  return g_test_run ();
}
