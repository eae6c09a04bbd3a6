/* sora-tool tokenize: the ids of a prompt
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>

#include "sora-tokenizer.h"
#include "sora-tool.h"

/* A bound on MAX_LENGTH, far above any text encoder's (Wan's is 512), that
 * keeps the padded ids to a few MiB. */
#define MAX_LENGTH_LIMIT (1 << 20)

int
sora_tool_tokenize (int argc, char **argv)
{
  GError *error = NULL;
  g_autofree char *path = NULL;
  g_autoptr (SoraTokenizer) tok = NULL;
  GArray *ids;
  gsize max_length = 0;

  if (argc < 3 || argc > 4) {
    fprintf (stderr,
        "usage: sora-tool tokenize DIR|tokenizer.json TEXT "
        "[MAX_LENGTH]\n  DIR is a model folder (DIR/tokenizer/tokenizer.json)"
        "; MAX_LENGTH (1 to 1048576) pads and truncates (512 for Wan)\n");
    return 2;
  }
  path = g_file_test (argv[1], G_FILE_TEST_IS_DIR)
      ? g_build_filename (argv[1], "tokenizer", "tokenizer.json", NULL)
      : g_strdup (argv[1]);
  if (argc == 4) {
    guint64 value;

    if (!g_ascii_string_to_unsigned (
            argv[3], 10, 1, MAX_LENGTH_LIMIT, &value, &error)) {
      fprintf (stderr, "sora-tool: bad MAX_LENGTH: %s\n", error->message);
      g_error_free (error);
      return 2;
    }
    max_length = value;
  }
  tok = sora_tokenizer_new_from_file (path, &error);
  ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  if (tok == NULL ||
      !sora_tokenizer_encode (tok, argv[2], max_length, ids, NULL, &error)) {
    fprintf (stderr, "sora-tool: %s\n", error->message);
    g_error_free (error);
    g_array_unref (ids);
    return 1;
  }
  for (guint i = 0; i < ids->len; i++)
    printf ("%s%d", i ? " " : "", g_array_index (ids, gint32, i));
  printf ("\n");
  g_array_unref (ids);
  return 0;
}
