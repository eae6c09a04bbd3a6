/* sora-tool devices: the device report
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>

#include "sora-device.h"
#include "sora-op-attention.h"
#include "sora-op-conv.h"
#include "sora-op-gemm.h"
#include "sora-tune.h"
#include "sora-tool.h"

int
sora_tool_devices (int argc, char **argv)
{
  GError *error = NULL;
  GArray *list = sora_device_list (&error);
  SoraDevice *chosen;

  if (list == NULL) {
    fprintf (stderr, "sora-tool: %s\n", error->message);
    g_error_free (error);
    return 1;
  }
  for (guint i = 0; i < list->len; i++) {
    const SoraDeviceInfo *info = &g_array_index (list, SoraDeviceInfo, i);
    char *report = sora_device_info_report (info);
    char *tuned = sora_tune_report (info);

    printf ("%s", report);
    if (tuned) {
      char **lines = g_strsplit (tuned, "\n", -1);
      char *dir = sora_device_cache_dir ("choices");

      printf ("  tuned (%s/tuning.ini):\n", dir);
      g_free (dir);
      for (guint l = 0; lines[l] && *lines[l]; l++)
        printf ("    %s\n", lines[l]);
      g_strfreev (lines);
    } else {
      printf ("  tuned parameters: none yet (timed on first use)\n");
    }
    printf ("\n");
    g_free (tuned);
    g_free (report);
  }
  g_array_unref (list);

  chosen = sora_device_open (argc > 1 ? argv[1] : NULL, &error);
  if (chosen == NULL) {
    fprintf (stderr, "sora-tool: %s\n", error->message);
    g_error_free (error);
    return 1;
  }
  printf ("selected (%s): %u:%u %s\n",
      argc > 1 ? argv[1]
               : "SORA_DEVICE or "
                 "auto",
      sora_device_get_info (chosen)->platform_index,
      sora_device_get_info (chosen)->device_index,
      sora_device_get_info (chosen)->name);
  sora_device_free (chosen);
  return 0;
}

/* For tools/check-gpu-resources.sh: what the engine builds for a GPU,
 * without opening a device. */
int
sora_tool_gpu_variants (int argc, char **argv)
{
  char **gemm = sora_gemm_gpu_variants ();
  char **attention = sora_attention_gpu_variants ();
  char **conv = sora_conv_gpu_variants ();

  for (guint i = 0; gemm[i]; i++)
    printf ("gemm-gpu %s\n", gemm[i]);
  g_strfreev (gemm);
  for (guint i = 0; attention[i]; i++)
    printf ("attention-gpu %s\n", attention[i]);
  g_strfreev (attention);
  /* The convolution's GPU form is gemm-gpu.cl's conv3d_gpu. */
  for (guint i = 0; conv[i]; i++)
    printf ("gemm-gpu %s\n", conv[i]);
  g_strfreev (conv);
  return 0;
}
