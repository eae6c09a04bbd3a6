/* gst-sora: CLBlast glue
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <clblast_c.h>

#include "sora-clblast.h"
#include "sora-error.h"

gboolean
sora_clblast_sgemm_xwt (cl_command_queue queue, gsize m, gsize n, gsize k,
    cl_mem x, gsize x_offset, gsize ldx, cl_mem w, gsize w_offset, gsize ldw,
    cl_mem y, gsize y_offset, gsize ldy, const char *what, GError **error)
{
  CLBlastStatusCode status;

  status = CLBlastSgemm (CLBlastLayoutRowMajor, CLBlastTransposeNo,
      CLBlastTransposeYes, m, n, k, 1.0f, x, x_offset, ldx, w, w_offset, ldw,
      0.0f, y, y_offset, ldy, &queue, NULL);
  if (status != CLBlastSuccess) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_CLBLAST,
        "CLBlastSgemm failed for %s (%" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT
        "x%" G_GSIZE_FORMAT "): status %d",
        what, m, n, k, (int)status);
    return FALSE;
  }
  return TRUE;
}
