/* gst-sora engine: a model folder against the tables of the models
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-model.h"
#include "sora-umt5.h"
#include "sora-wan-dit.h"
#include "sora-wan-vae.h"

GPtrArray *
sora_model_expected_tensors (
    const SoraModelFolder *folder, SoraComponent component)
{
  switch (component) {
    case SORA_COMPONENT_TRANSFORMER:
      return sora_wan_transformer_expected_tensors (
          sora_model_folder_get_transformer_config (folder));
    case SORA_COMPONENT_VAE:
      return sora_wan_vae_expected_tensors (
          sora_model_folder_get_vae_config (folder));
    case SORA_COMPONENT_TEXT_ENCODER:
      return sora_umt5_expected_tensors (
          sora_model_folder_get_text_encoder_config (folder));
    default:
      return NULL;
  }
}

gboolean
sora_model_folder_validate (const SoraModelFolder *folder, GError **error)
{
  g_autofree char *tokenizer = sora_model_folder_get_file (
      folder, SORA_COMPONENT_TOKENIZER, "tokenizer.json");

  for (guint c = 0; c < SORA_N_COMPONENTS; c++) {
    g_autoptr (GPtrArray) expected = sora_model_expected_tensors (folder, c);

    if (expected && !sora_weights_validate (folder, c, expected, error))
      return FALSE;
  }
  if (!g_file_test (tokenizer, G_FILE_TEST_IS_REGULAR)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
        "%s: missing (the tokenizer needs tokenizer.json)", tokenizer);
    return FALSE;
  }
  return TRUE;
}
