/* gst-sora: soraextend, image to video and video extension
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_SORA_EXTEND_H__
#define __GST_SORA_EXTEND_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_SORA_EXTEND (gst_sora_extend_get_type ())
G_DECLARE_FINAL_TYPE (
    GstSoraExtend, gst_sora_extend, GST, SORA_EXTEND, GstElement)

GST_ELEMENT_REGISTER_DECLARE (soraextend);

G_END_DECLS

#endif /* __GST_SORA_EXTEND_H__ */
