/* gst-sora fuzzing: the model_index, shard index and component config
 * parsers (and the tensor lists a config implies) on arbitrary JSON text.
 * The first byte picks the parser.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-diffusers.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
check_list (GPtrArray *list)
{
  for (guint i = 0; i < list->len; i++) {
    const SoraExpectedTensor *e = list->pdata[i];
    g_assert (e->name && e->ndim <= SORA_SAFETENSORS_MAX_DIMS);
  }
  g_ptr_array_unref (list);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  const char *json = (const char *)data + 1;
  GError *error = NULL;
  gboolean ok = FALSE;

  if (size < 1)
    return 0;
  size--;
  switch (data[0] % 7) {
    case 0: {
      SoraWanTransformerConfig c;
      if ((ok = sora_wan_transformer_config_parse (
               json, size, "f", &c, &error)))
        check_list (sora_wan_transformer_expected_tensors (&c));
      break;
    }
    case 1: {
      SoraWanVaeConfig c;
      if ((ok = sora_wan_vae_config_parse (json, size, "f", &c, &error)))
        check_list (sora_wan_vae_expected_tensors (&c));
      break;
    }
    case 2: {
      SoraUmt5Config c;
      if ((ok = sora_umt5_config_parse (json, size, "f", &c, &error)))
        check_list (sora_umt5_expected_tensors (&c));
      break;
    }
    case 3:
    case 4: {
      SoraSchedulerConfig c;
      ok = sora_scheduler_config_parse (data[0] % 7 == 3
              ? "UniPCMultistepScheduler"
              : "FlowMatchEulerDiscreteScheduler",
          json, size, "f", &c, &error);
      break;
    }
    case 5: {
      SoraModelIndex index;
      if ((ok = sora_model_index_parse (json, size, "f", &index, &error)))
        sora_model_index_clear (&index);
      break;
    }
    case 6: {
      GHashTable *map = sora_shard_index_parse (json, size, "f", &error);
      if ((ok = map != NULL))
        g_hash_table_unref (map);
      break;
    }
  }
  g_assert (ok == (error == NULL));
  g_clear_error (&error);
  return 0;
}
