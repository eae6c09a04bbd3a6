/* gst-sora fuzzing: the tokenizer on arbitrary text (with the fixture
 * tokenizer.json), on arbitrary tokenizer.json files, and on arbitrary
 * precompiled charsmaps. The first byte picks the path. Text is also
 * encoded after Wan's prompt cleaning (ftfy's fix_text and more).
 * SORA_FUZZ_TOKENIZER overrides the fixture's path.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sora-charsmap.h"
#include "sora-prompt-clean.h"
#include "sora-tokenizer.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static const char *const samples[] = {
  "",
  " a  b\t",
  "Hello, world!",
  "你好，世界。",
  "e\xcc\x81 \xf0\x9f\x91\xa9"
  "\xe2\x80\x8d\xf0\x9f\x92\xbb",
  "<extra_id_0></s>x",
};

static SoraTokenizer *
fixture (void)
{
  static SoraTokenizer *tok;

  if (tok == NULL) {
    const char *env = g_getenv ("SORA_FUZZ_TOKENIZER");
    char *dir = g_path_get_dirname (__FILE__);
    char *path = env ? g_strdup (env)
                     : g_build_filename (dir, "..", "fixtures", "tokenizer",
                           "tokenizer.json", NULL);
    GError *error = NULL;

    tok = sora_tokenizer_new_from_file (path, &error);
    if (tok == NULL)
      g_error ("fuzz-tokenizer: %s", error->message);
    g_free (dir);
    g_free (path);
  }
  return tok;
}

static void
encode (SoraTokenizer *tok, const char *text, gsize max_length)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  GArray *mask = g_array_new (FALSE, FALSE, sizeof (guint8));
  GError *error = NULL;

  if (sora_tokenizer_encode (tok, text, max_length, ids, mask, &error)) {
    g_assert (max_length == 0 || ids->len == max_length);
    g_assert (mask->len == ids->len);
  } else {
    g_assert (error != NULL);
    g_error_free (error);
  }
  g_array_unref (ids);
  g_array_unref (mask);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  char *text;

  if (size < 1)
    return 0;
  text = g_strndup ((const char *)data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      /* Text, raw and as Wan cleans it: max_length 0 (none) or small, so
       * truncation runs too. */
      char *clean = sora_prompt_clean (text);
      gsize max_length = data[0] / 3 % 2 ? 0 : data[0] / 6 % 16 + 1;

      encode (fixture (), text, max_length);
      encode (fixture (), clean, max_length);
      g_free (clean);
      break;
    }
    case 1: {
      GError *error = NULL;
      SoraTokenizer *tok = sora_tokenizer_new_from_data (
          (const char *)data + 1, size - 1, "fuzz.json", &error);

      if (tok == NULL) {
        g_assert (error != NULL);
        g_error_free (error);
        break;
      }
      for (guint i = 0; i < G_N_ELEMENTS (samples); i++)
        encode (tok, samples[i], 0);
      sora_tokenizer_free (tok);
      break;
    }
    case 2: {
      GError *error = NULL;
      SoraCharsmap *map =
          sora_charsmap_new (data + 1, size - 1, "fuzz", &error);
      GString *out = g_string_new (NULL);

      if (map == NULL) {
        g_error_free (error);
      } else {
        for (guint i = 0; i < G_N_ELEMENTS (samples); i++)
          sora_charsmap_normalize (map, samples[i], strlen (samples[i]), out);
        sora_charsmap_free (map);
      }
      g_string_free (out, TRUE);
      break;
    }
  }
  g_free (text);
  return 0;
}
