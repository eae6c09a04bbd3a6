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
#include "sora-wan-dit.h"

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

/* The recipe's entry for @name (NULL when absent): blocks past the
 * recipe's repeat blocks.0's scale and offset. */
static JsonObject *
recipe_entry (JsonObject *tensors, const char *name)
{
  g_autofree char *key = NULL;

  if (g_str_has_prefix (name, "blocks.") && strchr (name + 7, '.'))
    name = key = g_strconcat ("blocks.0", strchr (name + 7, '.'), NULL);
  if (!json_object_has_member (tensors, name))
    return NULL;
  return json_object_get_object_member (tensors, name);
}

static gboolean
same_shape (JsonObject *entry, const SoraExpectedTensor *e)
{
  JsonArray *shape = json_object_get_array_member (entry, "shape");

  if (shape == NULL || json_array_get_length (shape) != e->ndim)
    return FALSE;
  for (guint k = 0; k < e->ndim; k++)
    if ((gsize)json_array_get_int_element (shape, k) != e->shape[k])
      return FALSE;
  return TRUE;
}

/* The recipe must name the tensors of the engine's table for its config,
 * with their shapes, and no others: make_fixtures.py and the engine
 * cannot drift apart unnoticed. */
static gboolean
check_recipe (
    JsonObject *tensors, GPtrArray *expected, const char *path, GError **error)
{
  g_autoptr (GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GList) members = json_object_get_members (tensors);

  for (guint i = 0; i < expected->len; i++) {
    const SoraExpectedTensor *e = expected->pdata[i];
    JsonObject *entry = json_object_has_member (tensors, e->name)
        ? json_object_get_object_member (tensors, e->name)
        : NULL;

    if (entry == NULL || !same_shape (entry, e)) {
      g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
          "%s: tensor \"%s\" of the engine's table is %s in the recipe", path,
          e->name, entry ? "shaped otherwise" : "missing");
      return FALSE;
    }
    g_hash_table_add (names, e->name);
  }
  for (GList *l = members; l; l = l->next)
    if (!g_hash_table_contains (names, l->data)) {
      g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
          "%s: tensor \"%s\" is not in the engine's table", path,
          (char *)l->data);
      return FALSE;
    }
  return TRUE;
}

/* One shard: the tensors of @uses (SoraModuleUse), with the recipe's scale
 * and offset, stored in @dtype. */
static gboolean
write_shard (JsonObject *tensors, GPtrArray *uses, SoraDType dtype,
    const char *path, JsonObject *weight_map, gsize *bytes, GError **error)
{
  const char *file = strrchr (path, G_DIR_SEPARATOR) + 1;
  g_autoptr (GPtrArray) expected = sora_module_uses_expected (uses);
  g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) st = g_array_new (FALSE, TRUE, sizeof (SoraSafetensor));

  for (guint i = 0; i < expected->len; i++) {
    const SoraExpectedTensor *e = expected->pdata[i];
    JsonObject *t = recipe_entry (tensors, e->name);
    SoraSafetensor s = { .name = e->name, .ndim = e->ndim, .numel = 1 };
    float *v;

    s.dtype = safe_dtype (dtype);
    for (guint k = 0; k < s.ndim; k++) {
      s.shape[k] = e->shape[k];
      s.numel *= s.shape[k];
    }
    v = g_new (float, s.numel);
    sora_recipe_values (e->name,
        (float)json_object_get_double_member (t, "scale"),
        (float)json_object_get_double_member (t, "offset"), v, s.numel);
    /* f16/bf16 take half the room: converted in place, front to back. */
    if (dtype != SORA_DTYPE_F32)
      sora_convert_from_f32 (dtype, v, v, s.numel);
    g_ptr_array_add (keep, v);
    s.data = (const guint8 *)v;
    *bytes += s.numel * sora_dtype_size (dtype);
    g_array_append_val (st, s);
    json_object_set_string_member (weight_map, e->name, file);
  }
  return sora_safetensors_write (
      path, (SoraSafetensor *)st->data, st->len, error);
}

static char *
json_text (JsonObject *object)
{
  JsonNode *node = json_node_init_object (json_node_alloc (), object);
  char *text = json_to_string (node, TRUE);

  json_node_unref (node);
  return text;
}

static gboolean
write_json (JsonObject *object, const char *path, GError **error)
{
  g_autofree char *text = json_text (object);

  return g_file_set_contents (path, text, -1, error);
}

/* The config's transformer, checked against the recipe's tensors. */
static gboolean
recipe_config (JsonObject *recipe, const char *recipe_path,
    SoraWanTransformerConfig *tc, GError **error)
{
  JsonObject *cfg = json_object_get_object_member (recipe, "config");
  JsonObject *tensors = json_object_get_object_member (recipe, "tensors");
  g_autofree char *text = NULL;
  g_autoptr (GPtrArray) expected = NULL;

  if (cfg == NULL || tensors == NULL) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
        "%s: not a transformer recipe (config, tensors)", recipe_path);
    return FALSE;
  }
  json_object_set_string_member (cfg, "_class_name", "WanTransformer3DModel");
  text = json_text (cfg);
  if (!sora_wan_transformer_config_parse (
          text, strlen (text), recipe_path, tc, error))
    return FALSE;
  expected = sora_wan_transformer_expected_tensors (tc);
  return check_recipe (tensors, expected, recipe_path, error);
}

/* The uses of shard @i of @num_layers + 1: block i, the last one the
 * modules outside the blocks. */
static GPtrArray *
shard_uses (GPtrArray *uses, guint i, guint num_layers)
{
  g_autofree char *block = g_strdup_printf ("blocks.%u", i);
  GPtrArray *part = g_ptr_array_new ();

  for (guint u = 0; u < uses->len; u++) {
    const SoraModuleUse *use = uses->pdata[u];
    gboolean in_block =
        use->prefix && g_str_has_prefix (use->prefix, "blocks.");

    if (i < num_layers ? in_block && strcmp (use->prefix, block) == 0
                       : !in_block)
      g_ptr_array_add (part, (gpointer)use);
  }
  return part;
}

static gboolean
write_shards (JsonObject *tensors, const SoraWanTransformerConfig *tc,
    SoraDType dtype, const char *sub, GError **error)
{
  g_autoptr (GPtrArray) uses = sora_wan_dit_modules (tc);
  g_autoptr (JsonObject) index = json_object_new ();
  JsonObject *map = json_object_new (), *meta = json_object_new ();
  g_autofree char *path = NULL;
  gsize bytes = 0;

  json_object_set_object_member (index, "weight_map", map);
  for (guint i = 0; i <= tc->num_layers; i++) {
    g_autoptr (GPtrArray) part = shard_uses (uses, i, tc->num_layers);
    g_autofree char *file =
        g_strdup_printf ("diffusion_pytorch_model-%05u-of-%05u.safetensors",
            i + 1, tc->num_layers + 1);
    g_autofree char *shard = g_build_filename (sub, file, NULL);

    if (!write_shard (tensors, part, dtype, shard, map, &bytes, error))
      return FALSE;
  }
  /* diffusers reads the index's metadata (total_size) as well. */
  json_object_set_int_member (meta, "total_size", bytes);
  json_object_set_object_member (index, "metadata", meta);
  path = g_build_filename (
      sub, "diffusion_pytorch_model.safetensors.index.json", NULL);
  return write_json (index, path, error);
}

gboolean
sora_recipe_write_transformer (const char *recipe_path, guint num_layers,
    SoraDType dtype, const char *dir, GError **error)
{
  g_autofree char *json = NULL;
  g_autofree char *sub = g_build_filename (dir, "transformer", NULL);
  g_autofree char *path = g_build_filename (sub, "config.json", NULL);
  g_autoptr (JsonObject) recipe = NULL;
  SoraWanTransformerConfig tc;
  JsonObject *cfg;
  gsize len;

  if (!g_file_get_contents (recipe_path, &json, &len, error) ||
      !(recipe = sora_json_parse_object (json, len, 16, recipe_path, error)) ||
      !recipe_config (recipe, recipe_path, &tc, error))
    return FALSE;
  cfg = json_object_get_object_member (recipe, "config");
  if (num_layers)
    tc.num_layers = num_layers;
  json_object_set_int_member (cfg, "num_layers", tc.num_layers);
  if (g_mkdir_with_parents (sub, 0755) != 0) {
    int err = errno;

    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err), "%s: %s",
        sub, g_strerror (err));
    return FALSE;
  }
  return write_json (cfg, path, error) &&
      write_shards (json_object_get_object_member (recipe, "tensors"), &tc,
          dtype, sub, error);
}
