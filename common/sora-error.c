/* gst-sora: errors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-error.h"

GQuark
sora_error_quark (void)
{
  return g_quark_from_static_string ("sora-error-quark");
}
