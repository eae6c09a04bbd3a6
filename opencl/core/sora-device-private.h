/* gst-sora engine: the device structure, for engine files only
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_DEVICE_PRIVATE_H__
#define __SORA_DEVICE_PRIVATE_H__

#include "sora-device.h"

G_BEGIN_DECLS

struct _SoraDevice
{
  SoraDeviceInfo info;
  cl_platform_id platform;
  cl_device_id id;
  cl_context context;
  cl_command_queue queue;
  GHashTable *programs; /* "program|options" -> cl_program */
  GHashTable *kernels; /* "program|options|kernel" -> cl_kernel */
  GHashTable *launched; /* cl_kernel -> its limits and work-groups */
  guint variants; /* kernel and work-group pairs launched */
  guint64 bytes_current;
  guint64 bytes_peak;
  SoraDeviceCounts counts;
  gboolean lease_poison;
  cl_mem scratch[SORA_SCRATCH_N]; /* sora_device_scratch */
  gsize scratch_bytes[SORA_SCRATCH_N];
  /* Set: launches are throttled and stop once it is cancelled (see
   * sora_device_set_cancellable); last: the newest launch's event. */
  GCancellable *cancellable;
  cl_event last;
};

G_END_DECLS

#endif /* __SORA_DEVICE_PRIVATE_H__ */
