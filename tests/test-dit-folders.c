/* gst-sora tests: the DiT on model folders written for the test: the tiny
 * model with one weight perturbed (/dit/wrong-model) and the wide one
 * rebuilt from its weight recipe (/dit/wide); part of test-dit (test-dit.c)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>
#include <string.h>

#include "sora-recipe.h"
#include "sora-safetensors.h"
#include "sora-test-util.h"
#include "test-dit.h"

static void
copy_tree (const char *from, const char *to)
{
  GError *error = NULL;
  GDir *dir = g_dir_open (from, 0, &error);
  const char *name;

  g_assert_no_error (error);
  g_assert_cmpint (g_mkdir_with_parents (to, 0755), ==, 0);
  while ((name = g_dir_read_name (dir))) {
    char *src = g_build_filename (from, name, NULL);
    char *dst = g_build_filename (to, name, NULL);

    if (g_file_test (src, G_FILE_TEST_IS_DIR)) {
      copy_tree (src, dst);
    } else {
      char *data;
      gsize len;

      g_file_get_contents (src, &data, &len, &error);
      g_assert_no_error (error);
      g_file_set_contents (dst, data, len, &error);
      g_assert_no_error (error);
      g_free (data);
    }
    g_free (src);
    g_free (dst);
  }
  g_dir_close (dir);
}

/* The parity check tells a wrong model from a right one: the tiny model
 * with one weight scaled by 1.01 misses the reference. */
void
test_wrong_model (void)
{
  const char *victim = "blocks.0.ffn.net.2.weight";
  GError *error = NULL;
  char *src = sora_test_fixture ("wan-tiny");
  char *tmp = make_tmp_dir ();
  char *dir = g_build_filename (tmp, "model", NULL);
  char *weights = g_build_filename (
      dir, "transformer", "diffusion_pytorch_model.safetensors", NULL);
  SoraSafetensors *st;
  guint n;
  SoraSafetensor *tensors;
  float *scaled = NULL;
  double err;

  copy_tree (src, dir);
  st = sora_safetensors_open (weights, &error);
  g_assert_no_error (error);
  n = sora_safetensors_get_n_tensors (st);
  tensors = g_new (SoraSafetensor, n);
  for (guint i = 0; i < n; i++) {
    tensors[i] = *sora_safetensors_get_tensor (st, i);
    if (strcmp (tensors[i].name, victim) == 0) {
      g_assert_cmpint (tensors[i].dtype, ==, SORA_SAFE_F32);
      scaled = g_new (float, tensors[i].numel);
      memcpy (scaled, tensors[i].data, tensors[i].nbytes);
      for (gsize j = 0; j < tensors[i].numel; j++)
        scaled[j] *= 1.01f;
      tensors[i].data = (const guint8 *)scaled;
    }
  }
  g_assert_nonnull (scaled);
  /* The file is built in memory before it replaces the mapped one. */
  g_assert_true (sora_safetensors_write (weights, tensors, n, &error));
  g_assert_no_error (error);
  sora_safetensors_free (st);

  err = parity (dir, "tiny-dit.safetensors", 0);
  g_test_message (
      "%s scaled by 1.01: worst relative L2 error %.3g", victim, err);
  g_assert_cmpfloat (err, >, 1e-4);

  sora_test_remove_tree (tmp);
  g_free (scaled);
  g_free (tensors);
  g_free (weights);
  g_free (dir);
  g_free (tmp);
  g_free (src);
}

void
copy_tiny_parts (const char *dir)
{
  GError *error = NULL;
  const char *copied[] = { "scheduler", "tokenizer", "text_encoder", "vae" };
  char *tiny = sora_test_fixture ("wan-tiny");
  char *json, *path;
  gsize len;

  for (guint c = 0; c < G_N_ELEMENTS (copied); c++) {
    char *from = g_build_filename (tiny, copied[c], NULL);
    char *to = g_build_filename (dir, copied[c], NULL);

    copy_tree (from, to);
    g_free (from);
    g_free (to);
  }
  path = g_build_filename (tiny, "model_index.json", NULL);
  g_file_get_contents (path, &json, &len, &error);
  g_assert_no_error (error);
  g_free (path);
  path = g_build_filename (dir, "model_index.json", NULL);
  g_file_set_contents (path, json, len, &error);
  g_assert_no_error (error);
  g_free (path);
  g_free (json);
  g_free (tiny);
}

void
write_wide_model (const char *dir)
{
  GError *error = NULL;
  char *recipe_path = sora_test_fixture ("reference/wide-recipe.json");
  char *json, *path, *config;
  gsize len;
  JsonObject *recipe, *tensors, *cfg;
  GList *names;
  SoraSafetensor *st;
  guint n, i = 0;
  JsonNode *node;

  copy_tiny_parts (dir);
  g_file_get_contents (recipe_path, &json, &len, &error);
  g_assert_no_error (error);
  recipe = sora_json_parse_object (json, len, 16, recipe_path, &error);
  g_assert_no_error (error);
  g_free (json);

  cfg = json_object_get_object_member (recipe, "config");
  json_object_set_string_member (cfg, "_class_name", "WanTransformer3DModel");
  node = json_node_init_object (json_node_alloc (), cfg);
  config = json_to_string (node, TRUE);
  json_node_unref (node);
  path = g_build_filename (dir, "transformer", NULL);
  g_assert_cmpint (g_mkdir_with_parents (path, 0755), ==, 0);
  g_free (path);
  path = g_build_filename (dir, "transformer", "config.json", NULL);
  g_file_set_contents (path, config, -1, &error);
  g_assert_no_error (error);
  g_free (path);
  g_free (config);

  tensors = json_object_get_object_member (recipe, "tensors");
  names = json_object_get_members (tensors);
  n = g_list_length (names);
  st = g_new0 (SoraSafetensor, n);
  for (GList *l = names; l; l = l->next, i++) {
    JsonObject *t = json_object_get_object_member (tensors, l->data);
    JsonArray *shape = json_object_get_array_member (t, "shape");
    float *v;

    st[i].name = l->data;
    st[i].dtype = SORA_SAFE_F32;
    st[i].ndim = json_array_get_length (shape);
    st[i].numel = 1;
    for (guint k = 0; k < st[i].ndim; k++) {
      st[i].shape[k] = json_array_get_int_element (shape, k);
      st[i].numel *= st[i].shape[k];
    }
    v = g_new (float, st[i].numel);
    sora_recipe_values (st[i].name,
        (float)json_object_get_double_member (t, "scale"),
        (float)json_object_get_double_member (t, "offset"), v, st[i].numel);
    st[i].data = (const guint8 *)v;
  }
  path = g_build_filename (
      dir, "transformer", "diffusion_pytorch_model.safetensors", NULL);
  g_assert_true (sora_safetensors_write (path, st, n, &error));
  g_assert_no_error (error);
  g_free (path);

  for (i = 0; i < n; i++)
    g_free ((gpointer)st[i].data);
  g_free (st);
  g_list_free (names);
  json_object_unref (recipe);
  g_free (recipe_path);
}

void
test_wide (void)
{
  char *tmp = make_tmp_dir ();
  gint64 start = g_get_monotonic_time ();

  write_wide_model (tmp);
  g_test_message (
      "wide model written in %.1f s", (g_get_monotonic_time () - start) / 1e6);
  /* 1e-4 as for the tiny model: sums over up to 8960 terms measure
   * ~1e-6..1e-5 in f32. */
  parity (tmp, "wide-dit.safetensors", 1e-4);
  sora_test_remove_tree (tmp);
  g_free (tmp);
}
