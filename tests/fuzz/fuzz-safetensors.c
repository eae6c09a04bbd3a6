/* gst-sora fuzzing: the safetensors header parser on arbitrary bytes
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sora-safetensors.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  GError *error = NULL;
  SoraSafetensors *f =
      sora_safetensors_new_from_data (data, size, "fuzz", &error);

  if (f == NULL) {
    g_assert (error != NULL);
    g_error_free (error);
    return 0;
  }
  /* Touch every byte the parser vouched for, so ASan checks the bounds. */
  for (guint i = 0; i < sora_safetensors_get_n_tensors (f); i++) {
    const SoraSafetensor *t = sora_safetensors_get_tensor (f, i);
    volatile guint8 sum = 0;
    for (gsize j = 0; j < t->nbytes; j++)
      sum += t->data[j];
    g_assert (sora_safetensors_find (f, t->name) == t);
    g_free (sora_safetensor_describe (t));
  }
  sora_safetensors_free (f);
  return 0;
}
