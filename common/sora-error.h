/* gst-sora: the error domain of the engine and its adapters (GLib only)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_ERROR_H__
#define __SORA_ERROR_H__

#include <glib.h>

G_BEGIN_DECLS

#define SORA_ERROR (sora_error_quark ())

typedef enum {
  SORA_ERROR_DEVICE, /* no such device, or it cannot be used */
  SORA_ERROR_OPENCL, /* an OpenCL call failed */
  SORA_ERROR_CLBLAST, /* a CLBlast routine failed */
  SORA_ERROR_INVALID_ARGUMENT, /* shapes, dtypes or values an op refuses */
  SORA_ERROR_OUT_OF_MEMORY, /* the device cannot hold what is asked */
  SORA_ERROR_FORMAT, /* a file is malformed */
  SORA_ERROR_MODEL, /* a model folder or config is unusable */
  SORA_ERROR_CANCELLED,
} SoraError;

GQuark sora_error_quark (void);

G_END_DECLS

#endif /* __SORA_ERROR_H__ */
