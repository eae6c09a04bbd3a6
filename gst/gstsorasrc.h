/* gst-sora: sorasrc, text to video
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_SORA_SRC_H__
#define __GST_SORA_SRC_H__

#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

#define GST_TYPE_SORA_SRC (gst_sora_src_get_type ())
G_DECLARE_FINAL_TYPE (GstSoraSrc, gst_sora_src, GST, SORA_SRC, GstPushSrc)

GST_ELEMENT_REGISTER_DECLARE (sorasrc);

G_END_DECLS

#endif /* __GST_SORA_SRC_H__ */
