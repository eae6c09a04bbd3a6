/* gst-sora engine: the op library, one header per op file
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_OPS_H__
#define __SORA_OPS_H__

#include "sora-tensor.h"
#include "sora-op-convert.h"
#include "sora-op-pixels.h"
#include "sora-op-gemm.h"
#include "sora-op-attention.h"
#include "sora-op-norm.h"
#include "sora-op-elementwise.h"
#include "sora-op-rope.h"
#include "sora-op-conv.h"
#include "sora-op-layout.h"

#endif /* __SORA_OPS_H__ */
