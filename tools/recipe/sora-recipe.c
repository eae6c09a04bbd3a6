/* gst-sora: the counter-based weight generator of tools/make_fixtures.py
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "sora-error.h"
#include "sora-recipe.h"
#include "sora-safetensors.h"

static guint64
fnv1a64 (const char *s)
{
  guint64 h = G_GUINT64_CONSTANT (0xCBF29CE484222325);

  for (; *s; s++)
    h = (h ^ (guint8)*s) * G_GUINT64_CONSTANT (0x100000001B3);
  return h;
}

void
sora_recipe_values (
    const char *name, float scale, float offset, float *v, gsize n)
{
  guint64 base = fnv1a64 (name);

  for (gsize i = 0; i < n; i++) {
    guint64 z = base + (guint64)i * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15);
    float u, centred, scaled;

    z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);
    z ^= z >> 31;
    u = (float)(z >> 40) * (1.0f / 16777216.0f);
    /* Separate float32 steps, as numpy rounds them (no fused multiply-add
     * contraction across them). */
    centred = u * 2.0f - 1.0f;
    scaled = scale * centred;
    v[i] = offset + scaled;
  }
}

static SoraSafeDType
safe_dtype (SoraDType dtype)
{
  switch (dtype) {
    case SORA_DTYPE_F16:
      return SORA_SAFE_F16;
    case SORA_DTYPE_BF16:
      return SORA_SAFE_BF16;
    default:
      return SORA_SAFE_F32;
  }
}

/* One shard: the recipe's tensors whose names start with @prefix (all
 * others when @prefix is NULL), renamed to start with @rename. */
static gboolean
write_shard (JsonObject *tensors, const char *prefix, const char *rename,
    SoraDType dtype, const char *path, JsonObject *weight_map, gsize *bytes,
    GError **error)
{
  const char *file = strrchr (path, G_DIR_SEPARATOR) + 1;
  GList *names = json_object_get_members (tensors);
  GPtrArray *keep = g_ptr_array_new_with_free_func (g_free);
  GArray *st = g_array_new (FALSE, TRUE, sizeof (SoraSafetensor));
  gboolean ok;

  for (GList *l = names; l; l = l->next) {
    const char *name = l->data;
    JsonObject *t = json_object_get_object_member (tensors, name);
    JsonArray *shape = json_object_get_array_member (t, "shape");
    SoraSafetensor s = { 0 };
    char *renamed;
    float *v;

    if (prefix ? !g_str_has_prefix (name, prefix)
               : g_str_has_prefix (name, "blocks."))
      continue;
    renamed = prefix ? g_strconcat (rename, name + strlen (prefix), NULL)
                     : g_strdup (name);
    g_ptr_array_add (keep, renamed);
    s.name = renamed;
    s.dtype = safe_dtype (dtype);
    s.ndim = json_array_get_length (shape);
    s.numel = 1;
    for (guint k = 0; k < s.ndim; k++) {
      s.shape[k] = json_array_get_int_element (shape, k);
      s.numel *= s.shape[k];
    }
    v = g_new (float, s.numel);
    sora_recipe_values (renamed,
        (float)json_object_get_double_member (t, "scale"),
        (float)json_object_get_double_member (t, "offset"), v, s.numel);
    /* f16/bf16 take half the room: converted in place, front to back. */
    if (dtype != SORA_DTYPE_F32)
      sora_convert_from_f32 (dtype, v, v, s.numel);
    g_ptr_array_add (keep, v);
    s.data = (const guint8 *)v;
    *bytes += s.numel * sora_dtype_size (dtype);
    g_array_append_val (st, s);
    json_object_set_string_member (weight_map, renamed, file);
  }
  ok =
      sora_safetensors_write (path, (SoraSafetensor *)st->data, st->len, error);
  g_array_free (st, TRUE);
  g_ptr_array_free (keep, TRUE);
  g_list_free (names);
  return ok;
}

static gboolean
write_json (JsonObject *object, const char *path, GError **error)
{
  JsonNode *node = json_node_init_object (json_node_alloc (), object);
  char *text = json_to_string (node, TRUE);
  gboolean ok = g_file_set_contents (path, text, -1, error);

  g_free (text);
  json_node_unref (node);
  return ok;
}

gboolean
sora_recipe_write_transformer (const char *recipe_path, guint num_layers,
    SoraDType dtype, const char *dir, GError **error)
{
  char *json = NULL, *sub = g_build_filename (dir, "transformer", NULL);
  gsize len;
  JsonObject *recipe = NULL, *cfg, *tensors, *index = NULL, *map, *meta;
  gsize bytes = 0;
  gboolean ok = FALSE;

  if (!g_file_get_contents (recipe_path, &json, &len, error) ||
      !(recipe = sora_json_parse_object (json, len, 16, recipe_path, error)))
    goto out;
  cfg = json_object_get_object_member (recipe, "config");
  tensors = json_object_get_object_member (recipe, "tensors");
  if (cfg == NULL || tensors == NULL ||
      !json_object_has_member (tensors, "blocks.0.scale_shift_table")) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
        "%s: not a transformer recipe (config, tensors with blocks.0)",
        recipe_path);
    goto out;
  }
  if (num_layers == 0)
    num_layers = json_object_get_int_member (cfg, "num_layers");
  json_object_set_int_member (cfg, "num_layers", num_layers);
  json_object_set_string_member (cfg, "_class_name", "WanTransformer3DModel");
  if (g_mkdir_with_parents (sub, 0755) != 0) {
    int err = errno;

    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err), "%s: %s",
        sub, g_strerror (err));
    goto out;
  }
  {
    char *path = g_build_filename (sub, "config.json", NULL);

    ok = write_json (cfg, path, error);
    g_free (path);
    if (!ok)
      goto out;
  }

  index = json_object_new ();
  map = json_object_new ();
  json_object_set_object_member (index, "weight_map", map);
  for (guint i = 0; i <= num_layers && ok; i++) {
    char *file =
        g_strdup_printf ("diffusion_pytorch_model-%05u-of-%05u.safetensors",
            i + 1, num_layers + 1);
    char *path = g_build_filename (sub, file, NULL);
    char *rename = i < num_layers ? g_strdup_printf ("blocks.%u.", i) : NULL;

    /* Shard i holds block i; the last one the tensors outside the blocks. */
    ok = write_shard (tensors, rename ? "blocks.0." : NULL, rename, dtype, path,
        map, &bytes, error);
    g_free (rename);
    g_free (path);
    g_free (file);
  }
  /* diffusers reads the index's metadata (total_size) as well. */
  meta = json_object_new ();
  json_object_set_int_member (meta, "total_size", bytes);
  json_object_set_object_member (index, "metadata", meta);
  if (ok) {
    char *path = g_build_filename (
        sub, "diffusion_pytorch_model.safetensors.index.json", NULL);

    ok = write_json (index, path, error);
    g_free (path);
  }

out:
  if (index)
    json_object_unref (index);
  if (recipe)
    json_object_unref (recipe);
  g_free (json);
  g_free (sub);
  return ok;
}
