/* gst-sora engine: OpenCL headers and error checking
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_CL_H__
#define __SORA_CL_H__

#include <CL/cl.h>
#include <CL/cl_ext.h>
#include <glib.h>

#include "sora-error.h"

G_BEGIN_DECLS

const char *sora_cl_error_name (cl_int status);

/* Turns a failed OpenCL status into a GError naming the call and the object
 * (tensor, kernel, device) it was about.  Returns TRUE when @status is
 * CL_SUCCESS. */
gboolean sora_cl_check (
    cl_int status, const char *call, const char *what, GError **error);

G_END_DECLS

#endif /* __SORA_CL_H__ */
