/* gst-sora engine: the op library, one header per op file
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_OPS_H__
#define __SORA_OPS_H__

#include "sora-tensor.h"
#include "sora-op-convert.h"

#endif /* __SORA_OPS_H__ */
