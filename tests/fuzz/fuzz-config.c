/* gst-sora fuzzing: the model_index, shard index and component config
 * parsers on arbitrary JSON text.
 * The first byte picks the parser.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-diffusers.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

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
      ok = sora_wan_transformer_config_parse (json, size, "f", &c, &error);
      break;
    }
    case 1: {
      SoraWanVaeConfig c;
      ok = sora_wan_vae_config_parse (json, size, "f", &c, &error);
      break;
    }
    case 2: {
      SoraUmt5Config c;
      ok = sora_umt5_config_parse (json, size, "f", &c, &error);
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
