/* gst-sora engine op: dtype conversion
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-op.h"
#include "sora-op-convert.h"

gboolean
sora_op_convert (SoraTensor *src, SoraTensor *dst, GError **error)
{
  gsize global = src->numel;
  const char *kernel;

  if (!sora_op_check_numel (src, dst, "convert", error) ||
      !sora_op_check_int (src->numel, "convert", src, error))
    return FALSE;

  if (src->dtype == dst->dtype)
    return sora_cl_check (
        clEnqueueCopyBuffer (sora_device_get_queue (src->dev), src->buf,
            dst->buf, 0, 0, src->nbytes, 0, NULL, NULL),
        "clEnqueueCopyBuffer", src->name, error);

  if (dst->dtype == SORA_DTYPE_F32) {
    return sora_device_run (src->dev, "convert",
        sora_storage_options (src->dtype), "convert_to_f32", 1, &global, NULL,
        error, SORA_MEM (src->buf), SORA_MEM (dst->buf), SORA_INT (src->numel),
        SORA_END);
  }
  if (!sora_op_check_dtype (src, "convert", SORA_DTYPE_F32, error))
    return FALSE;
  kernel = dst->dtype == SORA_DTYPE_F16 ? "convert_f32_to_f16"
                                        : "convert_f32_to_bf16";
  return sora_device_run (src->dev, "convert", NULL, kernel, 1, &global, NULL,
      error, SORA_MEM (src->buf), SORA_MEM (dst->buf), SORA_INT (src->numel),
      SORA_END);
}
