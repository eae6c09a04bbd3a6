/* gst-sora engine op: dtype conversion
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_OP_CONVERT_H__
#define __SORA_OP_CONVERT_H__

#include "sora-tensor.h"

G_BEGIN_DECLS

/* dst = src converted to dst's dtype; one side must be f32 (or both the same
 * dtype, a copy). */
gboolean sora_op_convert (SoraTensor *src, SoraTensor *dst, GError **error);

G_END_DECLS

#endif /* __SORA_OP_CONVERT_H__ */
