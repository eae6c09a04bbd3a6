/* gst-sora: diffusers model folders (WanPipeline)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * DIR/model_index.json names the components; each lives in DIR/<name>/ with
 * its config and its weights as one *.safetensors file or as shards listed
 * by a *.safetensors.index.json ("weight_map": tensor name -> shard).
 */
#include <string.h>

#include "sora-diffusers.h"
#include "sora-error.h"

#define INDEX_MAX_DEPTH 4

static const struct
{
  const char *name;
  const char *config; /* NULL: no config parsed */
  const char *const classes[3];
} components[SORA_N_COMPONENTS] = {
  [SORA_COMPONENT_TRANSFORMER] = { "transformer", "config.json",
      { "WanTransformer3DModel" } },
  [SORA_COMPONENT_VAE] = { "vae", "config.json", { "AutoencoderKLWan" } },
  [SORA_COMPONENT_TEXT_ENCODER] = { "text_encoder", "config.json",
      { "UMT5EncoderModel" } },
  [SORA_COMPONENT_TOKENIZER] = { "tokenizer", NULL,
      { "T5TokenizerFast", "AutoTokenizer" } },
  [SORA_COMPONENT_SCHEDULER] = { "scheduler", "scheduler_config.json",
      { "UniPCMultistepScheduler", "FlowMatchEulerDiscreteScheduler" } },
};

/* Text-to-video and video-to-video share the components. */
static const char *const pipeline_classes[] = { "WanPipeline",
  "WanVideoToVideoPipeline", NULL };

typedef struct
{
  GPtrArray *files; /* SoraSafetensors, owned */
  GHashTable *weight_map; /* name -> SoraSafetensors, NULL if one file */
} Weights;

struct _SoraModelFolder
{
  char *path;
  SoraModelIndex index;
  SoraWanTransformerConfig transformer;
  SoraWanVaeConfig vae;
  SoraUmt5Config text_encoder;
  SoraSchedulerConfig scheduler;
  Weights weights[SORA_N_COMPONENTS];
};

const char *
sora_component_name (SoraComponent component)
{
  g_return_val_if_fail (component < SORA_N_COMPONENTS, "?");
  return components[component].name;
}

void
sora_model_index_clear (SoraModelIndex *index)
{
  g_clear_pointer (&index->pipeline_class, g_free);
  for (guint i = 0; i < SORA_N_COMPONENTS; i++) {
    g_clear_pointer (&index->library[i], g_free);
    g_clear_pointer (&index->class_name[i], g_free);
  }
}

static gboolean
is_string (JsonNode *n)
{
  return n && JSON_NODE_HOLDS_VALUE (n) &&
      json_node_get_value_type (n) == G_TYPE_STRING;
}

static gboolean
in_list (const char *s, const char *const *list)
{
  for (guint i = 0; list[i]; i++)
    if (strcmp (s, list[i]) == 0)
      return TRUE;
  return FALSE;
}

/* One "key": [library, class] entry; [null, null] marks an absent one. */
static gboolean
parse_index_component (SoraModelIndex *index, const char *key, JsonArray *pair,
    const char *what, GError **error)
{
  JsonNode *lib, *cls;
  guint c;

  if (json_array_get_length (pair) != 2)
    goto bad;
  lib = json_array_get_element (pair, 0);
  cls = json_array_get_element (pair, 1);
  if (JSON_NODE_HOLDS_NULL (lib) && JSON_NODE_HOLDS_NULL (cls))
    return TRUE;
  if (!is_string (lib) || !is_string (cls))
    goto bad;
  for (c = 0; c < SORA_N_COMPONENTS; c++)
    if (strcmp (key, components[c].name) == 0)
      break;
  if (c == SORA_N_COMPONENTS) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
        "%s: component \"%s\" (%s) is not supported", what, key,
        json_node_get_string (cls));
    return FALSE;
  }
  if (!in_list (json_node_get_string (cls), components[c].classes)) {
    g_autofree char *list =
        g_strjoinv ("\", \"", (char **)components[c].classes);
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
        "%s: \"%s\" has unknown class \"%s\" (supported: \"%s\")", what, key,
        json_node_get_string (cls), list);
    return FALSE;
  }
  g_free (index->library[c]);
  g_free (index->class_name[c]);
  index->library[c] = g_strdup (json_node_get_string (lib));
  index->class_name[c] = g_strdup (json_node_get_string (cls));
  return TRUE;

bad:
  g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
      "%s: \"%s\" must be a [library, class] pair", what, key);
  return FALSE;
}

static gboolean
parse_index (const char *json, gsize len, const char *what,
    SoraModelIndex *index, GError **error)
{
  g_autoptr (JsonObject) obj =
      sora_json_parse_object (json, len, INDEX_MAX_DEPTH, what, error);
  JsonObjectIter iter;
  const char *key;
  JsonNode *node;

  if (obj == NULL)
    return FALSE;
  node = json_object_get_member (obj, "_class_name");
  if (!is_string (node) ||
      !in_list (json_node_get_string (node), pipeline_classes)) {
    g_autofree char *list = g_strjoinv ("\", \"", (char **)pipeline_classes);
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
        "%s: \"_class_name\" is %s%s%s; supported: \"%s\"", what,
        is_string (node) ? "\"" : "",
        is_string (node) ? json_node_get_string (node)
                         : "missing or not a string",
        is_string (node) ? "\"" : "", list);
    return FALSE;
  }
  index->pipeline_class = g_strdup (json_node_get_string (node));

  json_object_iter_init (&iter, obj);
  while (json_object_iter_next (&iter, &key, &node)) {
    if (key[0] == '_')
      continue;
    if (JSON_NODE_HOLDS_ARRAY (node)) {
      if (!parse_index_component (
              index, key, json_node_get_array (node), what, error))
        return FALSE;
    } else if (!JSON_NODE_HOLDS_NULL (node) &&
        (strcmp (key, "boundary_ratio") == 0 ||
            (strcmp (key, "expand_timesteps") == 0 &&
                (!JSON_NODE_HOLDS_VALUE (node) ||
                    json_node_get_value_type (node) != G_TYPE_BOOLEAN ||
                    json_node_get_boolean (node))))) {
      /* Wan2.2 options: two experts, per-token timesteps. */
      g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
          "%s: \"%s\" is set, which is not supported", what, key);
      return FALSE;
    } else {
      g_debug ("%s: ignoring \"%s\"", what, key);
    }
  }
  for (guint c = 0; c < SORA_N_COMPONENTS; c++)
    if (index->class_name[c] == NULL) {
      g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
          "%s: component \"%s\" is missing", what, components[c].name);
      return FALSE;
    }
  return TRUE;
}

gboolean
sora_model_index_parse (const char *json, gsize len, const char *what,
    SoraModelIndex *index, GError **error)
{
  memset (index, 0, sizeof (*index));
  if (!parse_index (json, len, what, index, error)) {
    sora_model_index_clear (index);
    return FALSE;
  }
  return TRUE;
}

/* A shard must sit next to its index: a plain file name. */
static gboolean
is_plain_name (const char *s)
{
  return s[0] != '\0' && strcmp (s, ".") != 0 && strcmp (s, "..") != 0 &&
      strchr (s, '/') == NULL && strchr (s, '\\') == NULL;
}

GHashTable *
sora_shard_index_parse (
    const char *json, gsize len, const char *what, GError **error)
{
  g_autoptr (JsonObject) obj =
      sora_json_parse_object (json, len, INDEX_MAX_DEPTH, what, error);
  g_autoptr (GHashTable) map = NULL;
  JsonObjectIter iter;
  JsonNode *node;
  const char *name;

  if (obj == NULL)
    return NULL;
  node = json_object_get_member (obj, "weight_map");
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
        "%s: \"weight_map\" missing or not an object", what);
    return NULL;
  }
  map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  json_object_iter_init (&iter, json_node_get_object (node));
  while (json_object_iter_next (&iter, &name, &node)) {
    if (!is_string (node) || !is_plain_name (json_node_get_string (node))) {
      g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
          "%s: tensor \"%s\": the shard must be a file name in the same "
          "folder",
          what, name);
      return NULL;
    }
    g_hash_table_insert (
        map, g_strdup (name), g_strdup (json_node_get_string (node)));
  }
  return g_steal_pointer (&map);
}

static void
weights_clear (Weights *w)
{
  g_clear_pointer (&w->files, g_ptr_array_unref);
  g_clear_pointer (&w->weight_map, g_hash_table_unref);
}

void
sora_model_folder_free (SoraModelFolder *self)
{
  if (self == NULL)
    return;
  for (guint c = 0; c < SORA_N_COMPONENTS; c++)
    weights_clear (&self->weights[c]);
  sora_model_index_clear (&self->index);
  g_free (self->path);
  g_free (self);
}

static char *
read_text (const char *path, gsize *len, GError **error)
{
  g_autoptr (GError) io_error = NULL;
  char *text;

  if (!g_file_get_contents (path, &text, len, &io_error)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL, "%s: cannot read: %s",
        path, io_error->message);
    return NULL;
  }
  return text;
}

/* Picks the index (else the single file) among @names, preferring the names
 * diffusers and transformers write when there are several (variants). */
static const char *
pick_weights (
    GPtrArray *names, const char *suffix, const char *dir, GError **error)
{
  static const char *const preferred[] = { "diffusion_pytorch_model", "model" };
  const char *found = NULL;
  guint n = 0;

  for (guint i = 0; i < names->len; i++)
    if (g_str_has_suffix (names->pdata[i], suffix)) {
      found = names->pdata[i];
      n++;
    }
  if (n <= 1)
    return found;
  for (guint p = 0; p < G_N_ELEMENTS (preferred); p++)
    for (guint i = 0; i < names->len; i++) {
      g_autofree char *want = g_strconcat (preferred[p], suffix, NULL);
      if (strcmp (names->pdata[i], want) == 0)
        return names->pdata[i];
    }
  g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
      "%s: %u *%s files and none is named diffusion_pytorch_model%s or "
      "model%s: which to use is ambiguous",
      dir, n, suffix, suffix, suffix);
  return NULL;
}

static gboolean
open_sharded (
    Weights *w, const char *dir, const char *index_name, GError **error)
{
  g_autofree char *index_path = g_build_filename (dir, index_name, NULL);
  g_autofree char *text = NULL;
  g_autoptr (GHashTable) map = NULL;
  g_autoptr (GHashTable) shards = NULL; /* file name -> SoraSafetensors */
  g_autoptr (GList) names = NULL;
  gsize len;

  if (!(text = read_text (index_path, &len, error)) ||
      !(map = sora_shard_index_parse (text, len, index_path, error)))
    return FALSE;
  shards = g_hash_table_new (g_str_hash, g_str_equal);
  w->weight_map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  /* Sorted, so files and errors come in a stable order. */
  names = g_list_sort (g_hash_table_get_keys (map), (GCompareFunc)strcmp);
  for (GList *l = names; l; l = l->next) {
    const char *shard_name = g_hash_table_lookup (map, l->data);
    SoraSafetensors *shard = g_hash_table_lookup (shards, shard_name);

    if (shard == NULL) {
      g_autofree char *path = g_build_filename (dir, shard_name, NULL);
      g_autoptr (GError) open_error = NULL;

      if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
        g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
            "%s: shard \"%s\" of tensor \"%s\" is missing", index_path,
            shard_name, (char *)l->data);
        return FALSE;
      }
      if (!(shard = sora_safetensors_open (path, error)))
        return FALSE;
      g_ptr_array_add (w->files, shard);
      g_hash_table_insert (shards, (gpointer)shard_name, shard);
    }
    if (sora_safetensors_find (shard, l->data) == NULL) {
      g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
          "%s: tensor \"%s\" is listed in shard %s, which lacks it", index_path,
          (char *)l->data, sora_safetensors_get_path (shard));
      return FALSE;
    }
    g_hash_table_insert (w->weight_map, g_strdup (l->data), shard);
  }
  return TRUE;
}

static gboolean
open_weights (Weights *w, const char *dir, GError **error)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDir) d = NULL;
  g_autoptr (GError) dir_error = NULL;
  const char *name;

  w->files =
      g_ptr_array_new_with_free_func ((GDestroyNotify)sora_safetensors_free);
  if (!(d = g_dir_open (dir, 0, &dir_error))) {
    g_set_error (
        error, SORA_ERROR, SORA_ERROR_MODEL, "%s: %s", dir, dir_error->message);
    return FALSE;
  }
  while ((name = g_dir_read_name (d)))
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, (GCompareFunc)g_ascii_strcasecmp);

  name = pick_weights (names, ".safetensors.index.json", dir, error);
  if (name)
    return open_sharded (w, dir, name, error);
  if (error && *error)
    return FALSE;
  name = pick_weights (names, ".safetensors", dir, error);
  if (name) {
    g_autofree char *path = g_build_filename (dir, name, NULL);
    SoraSafetensors *file = sora_safetensors_open (path, error);
    if (file == NULL)
      return FALSE;
    g_ptr_array_add (w->files, file);
    return TRUE;
  }
  if (error && *error)
    return FALSE;
  g_set_error (
      error, SORA_ERROR, SORA_ERROR_MODEL, "%s: no *.safetensors weights", dir);
  return FALSE;
}

static gboolean
parse_config (SoraModelFolder *self, SoraComponent c, GError **error)
{
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  gsize len;

  if (components[c].config == NULL)
    return TRUE;
  path = g_build_filename (
      self->path, components[c].name, components[c].config, NULL);
  if (!(text = read_text (path, &len, error)))
    return FALSE;
  switch (c) {
    case SORA_COMPONENT_TRANSFORMER:
      return sora_wan_transformer_config_parse (
          text, len, path, &self->transformer, error);
    case SORA_COMPONENT_VAE:
      return sora_wan_vae_config_parse (text, len, path, &self->vae, error);
    case SORA_COMPONENT_TEXT_ENCODER:
      return sora_umt5_config_parse (
          text, len, path, &self->text_encoder, error);
    case SORA_COMPONENT_SCHEDULER:
      return sora_scheduler_config_parse (
          self->index.class_name[c], text, len, path, &self->scheduler, error);
    default:
      g_assert_not_reached ();
  }
}

static gboolean
has_weights (SoraComponent c)
{
  return c == SORA_COMPONENT_TRANSFORMER || c == SORA_COMPONENT_VAE ||
      c == SORA_COMPONENT_TEXT_ENCODER;
}

SoraModelFolder *
sora_model_folder_open (const char *dir, GError **error)
{
  g_autoptr (SoraModelFolder) self = g_new0 (SoraModelFolder, 1);
  g_autofree char *index_path =
      g_build_filename (dir, "model_index.json", NULL);
  g_autofree char *text = NULL;
  gsize len;

  self->path = g_strdup (dir);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
        "%s: not a model folder (no such directory)", dir);
    return NULL;
  }
  if (!(text = read_text (index_path, &len, error)) ||
      !sora_model_index_parse (text, len, index_path, &self->index, error))
    return NULL;
  for (guint c = 0; c < SORA_N_COMPONENTS; c++) {
    if (!parse_config (self, c, error))
      return NULL;
    if (has_weights (c)) {
      g_autofree char *sub = g_build_filename (dir, components[c].name, NULL);
      if (!open_weights (&self->weights[c], sub, error))
        return NULL;
    }
  }
  return g_steal_pointer (&self);
}

const char *
sora_model_folder_get_path (const SoraModelFolder *self)
{
  return self->path;
}

const SoraModelIndex *
sora_model_folder_get_index (const SoraModelFolder *self)
{
  return &self->index;
}

const SoraWanTransformerConfig *
sora_model_folder_get_transformer_config (const SoraModelFolder *self)
{
  return &self->transformer;
}

const SoraWanVaeConfig *
sora_model_folder_get_vae_config (const SoraModelFolder *self)
{
  return &self->vae;
}

const SoraUmt5Config *
sora_model_folder_get_text_encoder_config (const SoraModelFolder *self)
{
  return &self->text_encoder;
}

const SoraSchedulerConfig *
sora_model_folder_get_scheduler_config (const SoraModelFolder *self)
{
  return &self->scheduler;
}

char *
sora_model_folder_get_file (
    const SoraModelFolder *self, SoraComponent component, const char *file)
{
  return g_build_filename (
      self->path, sora_component_name (component), file, NULL);
}

GPtrArray *
sora_model_folder_get_weights (
    const SoraModelFolder *self, SoraComponent component)
{
  g_return_val_if_fail (has_weights (component), NULL);
  return self->weights[component].files;
}

static const SoraSafetensor *
lookup (const Weights *w, const char *name)
{
  if (w->weight_map) {
    SoraSafetensors *file = g_hash_table_lookup (w->weight_map, name);
    return file ? sora_safetensors_find (file, name) : NULL;
  }
  return sora_safetensors_find (w->files->pdata[0], name);
}

/* "a.safetensors, b.safetensors" for messages. */
static char *
describe_files (const Weights *w)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < w->files->len; i++)
    g_string_append_printf (s, "%s%s", i ? ", " : "",
        sora_safetensors_get_path (w->files->pdata[i]));
  return g_string_free (s, FALSE);
}

const SoraSafetensor *
sora_model_folder_find_tensor (const SoraModelFolder *self,
    SoraComponent component, const char *name, GError **error)
{
  const SoraSafetensor *t;

  g_return_val_if_fail (has_weights (component), NULL);
  t = lookup (&self->weights[component], name);
  if (t == NULL) {
    g_autofree char *files = describe_files (&self->weights[component]);
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
        "%s: %s has no tensor \"%s\" (in %s)", self->path,
        sora_component_name (component), name, files);
  }
  return t;
}
