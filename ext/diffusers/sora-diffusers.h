/* gst-sora: diffusers model folders (WanPipeline)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_DIFFUSERS_H__
#define __SORA_DIFFUSERS_H__

#include "sora-safetensors.h"
#include "sora-wan-config.h"

G_BEGIN_DECLS

typedef enum {
  SORA_COMPONENT_TRANSFORMER,
  SORA_COMPONENT_VAE,
  SORA_COMPONENT_TEXT_ENCODER,
  SORA_COMPONENT_TOKENIZER,
  SORA_COMPONENT_SCHEDULER,
  SORA_N_COMPONENTS,
} SoraComponent;

/* The model_index.json key: "transformer", "vae", ... */
const char *sora_component_name (SoraComponent component);

/* model_index.json: the pipeline class and each component's
 * [library, class]. */
typedef struct
{
  char *pipeline_class;
  char *library[SORA_N_COMPONENTS];
  char *class_name[SORA_N_COMPONENTS];
} SoraModelIndex;

/* Checks the classes against those the engine implements: an unknown class,
 * a missing component or an unsupported extra one is SORA_ERROR_MODEL. */
gboolean sora_model_index_parse (const char *json, gsize len, const char *what,
    SoraModelIndex *index, GError **error);
void sora_model_index_clear (SoraModelIndex *index);

/* *.safetensors.index.json: a table of tensor name -> shard file name (a
 * plain name in the same folder). */
GHashTable *sora_shard_index_parse (
    const char *json, gsize len, const char *what, GError **error);

typedef struct _SoraModelFolder SoraModelFolder;

/* Reads model_index.json, every component config and every weights file
 * header (all mapped, nothing read or uploaded). */
SoraModelFolder *sora_model_folder_open (const char *dir, GError **error);
void sora_model_folder_free (SoraModelFolder *folder);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SoraModelFolder, sora_model_folder_free);

const char *sora_model_folder_get_path (const SoraModelFolder *folder);
const SoraModelIndex *sora_model_folder_get_index (
    const SoraModelFolder *folder);
const SoraWanTransformerConfig *sora_model_folder_get_transformer_config (
    const SoraModelFolder *folder);
const SoraWanVaeConfig *sora_model_folder_get_vae_config (
    const SoraModelFolder *folder);
const SoraUmt5Config *sora_model_folder_get_text_encoder_config (
    const SoraModelFolder *folder);
const SoraSchedulerConfig *sora_model_folder_get_scheduler_config (
    const SoraModelFolder *folder);
/* DIR/component/tokenizer.json and the like (g_free the result). */
char *sora_model_folder_get_file (
    const SoraModelFolder *folder, SoraComponent component, const char *file);

/* The weights files of a component (one, or the shards in index order). */
GPtrArray *sora_model_folder_get_weights (
    const SoraModelFolder *folder, SoraComponent component);

/* Looks a tensor up across the component's shards; NULL and a
 * SORA_ERROR_MODEL error naming the component, its files and the tensor
 * when it is absent. */
const SoraSafetensor *sora_model_folder_find_tensor (
    const SoraModelFolder *folder, SoraComponent component, const char *name,
    GError **error);

G_END_DECLS

#endif /* __SORA_DIFFUSERS_H__ */
