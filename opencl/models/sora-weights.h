/* gst-sora engine: uploading a model folder's tensors to the device
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_WEIGHTS_H__
#define __SORA_WEIGHTS_H__

#include "sora-diffusers.h"
#include "sora-op-gemm.h"
#include "sora-tensor.h"

G_BEGIN_DECLS

/* Where a model's tensors come from: one component of a model folder.
 * Every error names the file and the tensor. */
typedef struct
{
  SoraDevice *dev;
  const SoraModelFolder *folder;
  SoraComponent component;
  /* Store f16/bf16 weights widened to f32 on the device (more memory, and
   * faster on devices where vload_half is slow). */
  gboolean widen;
} SoraWeights;

/* Maps a safetensors dtype to a storage dtype; FALSE for others. */
gboolean sora_weights_dtype (SoraSafeDType safe, SoraDType *dtype);

/* A host copy of the tensor converted to f32 (g_free it), checking that it
 * has @numel elements (0: any; the count is stored in @numel_out). */
float *sora_weights_read_f32 (const SoraWeights *w, const char *name,
    gsize numel, gsize *numel_out, GError **error);

/* The tensor on the device as f32, shaped as in the file (small tensors:
 * gains, biases, tables). */
SoraTensor *sora_weights_tensor_f32 (
    const SoraWeights *w, const char *name, GError **error);

/* The tensor on the device in its stored dtype (f32 when w->widen), shaped
 * as in the file (convolution kernels). */
SoraTensor *sora_weights_tensor (
    const SoraWeights *w, const char *name, GError **error);

/* A linear layer from PREFIX.weight ([out, in], or a convolution kernel
 * [out, ...] flattened to [out, in]) and PREFIX.bias when @has_bias. */
SoraLinear *sora_weights_linear (const SoraWeights *w, const char *prefix,
    gboolean has_bias, GError **error);

G_END_DECLS

#endif /* __SORA_WEIGHTS_H__ */
