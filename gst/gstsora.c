/* gst-sora: generative video elements
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:plugin-sora
 *
 * Text-to-video and video extension with a Wan2.1-architecture diffusion
 * transformer running on any OpenCL 1.2 device.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gstsoraextend.h"
#include "gstsorasrc.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  /* The elements register here as they land (sorasrc, soraextend). */
  if (!GST_ELEMENT_REGISTER (sorasrc, plugin))
    return FALSE;
  if (!GST_ELEMENT_REGISTER (soraextend, plugin))
    return FALSE;
  return TRUE;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, sora,
    "Generative video with a diffusion transformer on OpenCL", plugin_init,
    VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
