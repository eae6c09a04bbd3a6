/* gst-sora tests: the recipe generator writes the tensors of the engine's
 * DiT table, with make_fixtures.py's values, and refuses a recipe that
 * names other tensors than the table.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>
#include <string.h>

#include "sora-recipe.h"
#include "sora-test-util.h"
#include "sora-wan-dit.h"

static char *
recipe_path (void)
{
  g_autofree char *ref = sora_test_fixture ("reference");

  return g_build_filename (ref, "wide-recipe.json", NULL);
}

/* The recipe's text with @from replaced by @to (once). */
static char *
edited_recipe (const char *dir, const char *from, const char *to)
{
  g_autofree char *path = recipe_path ();
  g_autofree char *text = NULL;
  g_autofree char *out = g_build_filename (dir, "recipe.json", NULL);
  const char *at;
  GString *s;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  at = strstr (text, from);
  g_assert_nonnull (at);
  s = g_string_new_len (text, at - text);
  g_string_append (s, to);
  g_string_append (s, at + strlen (from));
  g_assert_true (g_file_set_contents (out, s->str, s->len, NULL));
  g_string_free (s, TRUE);
  return g_steal_pointer (&out);
}

/* One block of the 1.3B widths in bf16: every tensor of the table for that
 * config, with the generator's values rounded to bf16 (exact). */
static void
test_write (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sora-recipe-XXXXXX", NULL);
  g_autofree char *recipe = recipe_path ();
  g_autofree char *sub = g_build_filename (dir, "transformer", NULL);
  g_autoptr (GError) error = NULL;
  const char *shards[] = { "diffusion_pytorch_model-00001-of-00002.safetensors",
    "diffusion_pytorch_model-00002-of-00002.safetensors" };
  /* name, scale, offset as make_fixtures.py's scale_for gives them */
  const struct
  {
    const char *name;
    float scale, offset;
  } probes[] = { { "blocks.0.attn1.norm_q.weight", 0.2f, 1.0f },
    { "blocks.0.attn2.to_k.bias", 0.1f, 0.0f },
    { "scale_shift_table", 0.2f, 0.0f } };
  SoraWanTransformerConfig cfg = { 0 };
  g_autoptr (GPtrArray) expected = NULL;
  guint found = 0;

  g_assert_true (
      sora_recipe_write_transformer (recipe, 1, SORA_DTYPE_BF16, dir, &error));
  g_assert_no_error (error);
  {
    g_autofree char *path = g_build_filename (sub, "config.json", NULL);
    g_autofree char *text = NULL;
    gsize len;

    g_assert_true (g_file_get_contents (path, &text, &len, NULL));
    g_assert_true (
        sora_wan_transformer_config_parse (text, len, path, &cfg, &error));
    g_assert_cmpuint (cfg.num_layers, ==, 1);
  }
  expected = sora_wan_transformer_expected_tensors (&cfg);
  for (guint s = 0; s < G_N_ELEMENTS (shards); s++) {
    g_autofree char *path = g_build_filename (sub, shards[s], NULL);
    SoraSafetensors *f = sora_safetensors_open (path, &error);

    g_assert_no_error (error);
    found += sora_safetensors_get_n_tensors (f);
    for (guint i = 0; i < expected->len; i++) {
      const SoraExpectedTensor *e = expected->pdata[i];
      const SoraSafetensor *t = sora_safetensors_find (f, e->name);

      /* shard 1 holds block 0, shard 2 the rest */
      g_assert_true (
          (t != NULL) == ((s == 0) == g_str_has_prefix (e->name, "blocks.0.")));
      if (t) {
        g_assert_cmpuint (t->ndim, ==, e->ndim);
        g_assert_cmpmem (t->shape, e->ndim * sizeof (gsize), e->shape,
            e->ndim * sizeof (gsize));
        g_assert_cmpint (t->dtype, ==, SORA_SAFE_BF16);
      }
    }
    for (guint p = 0; p < G_N_ELEMENTS (probes); p++) {
      const SoraSafetensor *t = sora_safetensors_find (f, probes[p].name);
      g_autofree float *want = NULL;
      g_autofree float *got = NULL;

      if (t == NULL)
        continue;
      want = g_new (float, t->numel);
      got = g_new (float, t->numel);
      sora_recipe_values (
          t->name, probes[p].scale, probes[p].offset, want, t->numel);
      sora_test_round_to_dtype (want, t->numel, SORA_DTYPE_BF16);
      sora_convert_to_f32 (SORA_DTYPE_BF16, t->data, got, t->numel);
      g_assert_cmpmem (got, t->numel * 4, want, t->numel * 4);
    }
    sora_safetensors_free (f);
  }
  g_assert_cmpuint (found, ==, expected->len);
  sora_test_remove_tree (dir);
}

/* A recipe that lacks a tensor of the table, has one the table lacks, or
 * shapes one otherwise is refused, naming the tensor, before writing. */
static void
test_drift (void)
{
  const struct
  {
    const char *from, *to, *named;
  } cases[] = {
    { "\"blocks.0.attn1.to_q.bias\"", "\"blocks.0.attn1.to_q.bias_gone\"",
        "blocks.0.attn1.to_q.bias" },
    { "\"proj_out.bias\"",
        "\"proj_out.extra\": {\"shape\": [1], \"scale\": "
        "0.1, \"offset\": 0.0}, \"proj_out.bias\"",
        "proj_out.extra" },
    { "    2,\n    1536\n   ]", "    2,\n    1537\n   ]",
        "\"scale_shift_table\" of the engine's table is shaped otherwise" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *dir = g_dir_make_tmp ("sora-recipe-XXXXXX", NULL);
    g_autofree char *recipe = edited_recipe (dir, cases[i].from, cases[i].to);
    g_autofree char *sub = g_build_filename (dir, "transformer", NULL);
    g_autoptr (GError) error = NULL;

    g_assert_false (sora_recipe_write_transformer (
        recipe, 1, SORA_DTYPE_BF16, dir, &error));
    g_assert_error (error, SORA_ERROR, SORA_ERROR_FORMAT);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, cases[i].named));
    g_assert_false (g_file_test (sub, G_FILE_TEST_EXISTS));
    sora_test_remove_tree (dir);
  }
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/recipe/write", test_write);
  g_test_add_func ("/recipe/drift", test_drift);
  return sora_test_run ();
}
