/* gst-sora engine: helpers shared by the op files
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_OP_H__
#define __SORA_OP_H__

#include "sora-tensor.h"

G_BEGIN_DECLS

/* Build options selecting how a program reads its stored_t buffers. */
const char *sora_storage_options (SoraDType dtype);

/* Fails with an error naming @op unless @t has @dtype. */
gboolean sora_op_check_dtype (
    const SoraTensor *t, const char *op, SoraDType dtype, GError **error);

/* Fails with an error naming @op unless @a and @b have the same element
 * count. */
gboolean sora_op_check_numel (
    const SoraTensor *a, const SoraTensor *b, const char *op, GError **error);

/* Fails unless @n fits a kernel's int index. */
gboolean sora_op_check_int (
    gsize n, const char *op, const SoraTensor *t, GError **error);

/* How many of @rows (≥ 1) rows of work-groups a big op launches at once,
 * each row @groups_per_row work-groups doing @row_flops in all: on a CPU
 * device about 2 GFLOP per core (30 ms), so that a stop, which waits for
 * the kernel running and the one queued (sora_device_set_cancellable),
 * comes at once, but never fewer work-groups than the device has cores,
 * which would leave cores idle; all of them on other devices. */
gsize sora_op_launch_rows (
    SoraDevice *dev, gsize rows, gsize groups_per_row, double row_flops);

G_END_DECLS

#endif /* __SORA_OP_H__ */
