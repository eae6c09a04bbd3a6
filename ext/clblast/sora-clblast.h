/* gst-sora: CLBlast glue
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_CLBLAST_H__
#define __SORA_CLBLAST_H__

#include <CL/cl.h>
#include <glib.h>

G_BEGIN_DECLS

/* Y[m, n] = X[m, k] * W[n, k]^T (row-major, leading dimensions given), f32,
 * through CLBlast's SGEMM.  Errors name @what and CLBlast's status. */
gboolean sora_clblast_sgemm_xwt (cl_command_queue queue, gsize m, gsize n,
    gsize k, cl_mem x, gsize x_offset, gsize ldx, cl_mem w, gsize w_offset,
    gsize ldw, cl_mem y, gsize y_offset, gsize ldy, const char *what,
    GError **error);

G_END_DECLS

#endif /* __SORA_CLBLAST_H__ */
