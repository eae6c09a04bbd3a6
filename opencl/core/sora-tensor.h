/* gst-sora engine: device tensors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_TENSOR_H__
#define __SORA_TENSOR_H__

#include "sora-arena.h"
#include "sora-device.h"

G_BEGIN_DECLS

#define SORA_MAX_DIMS 5

typedef enum {
  SORA_DTYPE_F32,
  SORA_DTYPE_F16,
  SORA_DTYPE_BF16,
} SoraDType;

gsize sora_dtype_size (SoraDType dtype);
const char *sora_dtype_name (SoraDType dtype);

/* Host conversions (round to nearest even), used for uploads and tests. */
guint16 sora_f32_to_f16 (float f);
float sora_f16_to_f32 (guint16 h);
guint16 sora_f32_to_bf16 (float f);
float sora_bf16_to_f32 (guint16 b);
void sora_convert_to_f32 (
    SoraDType dtype, const void *src, float *dst, gsize n);
void sora_convert_from_f32 (
    SoraDType dtype, const float *src, void *dst, gsize n);

/* A contiguous row-major buffer on one device.  Strides (in elements) are
 * kept for kernels that take explicit strides; every tensor the engine makes
 * is contiguous. */
typedef struct
{
  SoraDevice *dev;
  cl_mem buf;
  SoraDType dtype;
  guint ndim;
  gsize shape[SORA_MAX_DIMS];
  gsize strides[SORA_MAX_DIMS];
  gsize numel;
  gsize nbytes;
  char *name;
  /* The named lifetime that holds a reused scratch tensor, NULL when none
   * does (sora_tensor_lease). */
  const char *role;
  /* The arena the buffer came from, NULL when the tensor's own. */
  SoraArena *arena;
} SoraTensor;

SoraTensor *sora_tensor_new (SoraDevice *dev, const char *name, SoraDType dtype,
    guint ndim, const gsize *shape, GError **error);
/* The same with its buffer from @arena (NULL: a buffer of its own), given
 * back when the tensor is freed. */
SoraTensor *sora_tensor_new_in (SoraArena *arena, SoraDevice *dev,
    const char *name, SoraDType dtype, guint ndim, const gsize *shape,
    GError **error);
/* The same with the shape given inline: sora_tensor_new_v (dev, "x", F32,
 * error, 3, 2, 4, 8). */
SoraTensor *sora_tensor_new_v (SoraDevice *dev, const char *name,
    SoraDType dtype, GError **error, guint ndim, ...);
void sora_tensor_free (SoraTensor *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SoraTensor, sora_tensor_free);

/* Reinterprets the tensor's shape (same element count).  FALSE and an error
 * naming the tensor otherwise. */
gboolean sora_tensor_reshape (
    SoraTensor *t, guint ndim, const gsize *shape, GError **error);

/* Raw copies in the storage dtype. */
gboolean sora_tensor_write (SoraTensor *t, const void *host, GError **error);
gboolean sora_tensor_read (SoraTensor *t, void *host, GError **error);
/* Copies converting from/to f32 on the host. */
gboolean sora_tensor_write_f32 (
    SoraTensor *t, const float *host, GError **error);
gboolean sora_tensor_read_f32 (SoraTensor *t, float *host, GError **error);
/* Sets every element to zero, on the device. */
gboolean sora_tensor_zero (SoraTensor *t, GError **error);

/* Named lifetimes of a scratch tensor that a forward reuses for several
 * values: @role (a static string) holds @t from the op that writes it until
 * sora_tensor_unlease after its last read.  Leasing a tensor that another
 * role holds, or ending a role that does not hold it, fails with an error
 * naming the tensor and both roles.  With the device's lease poisoning on
 * (sora_device_set_lease_poison, for tests), an ended role's tensor is
 * filled with NaN, so that a read outside the lifetime shows in the
 * result. */
gboolean sora_tensor_lease (SoraTensor *t, const char *role, GError **error);
gboolean sora_tensor_unlease (SoraTensor *t, const char *role, GError **error);

/* "name [2, 3, 4] f32", for error messages. */
char *sora_tensor_describe (const SoraTensor *t);

/* Fails with an error naming @op and the tensor unless its shape is @shape. */
gboolean sora_tensor_check_shape (const SoraTensor *t, const char *op,
    guint ndim, const gsize *shape, GError **error);

G_END_DECLS

#endif /* __SORA_TENSOR_H__ */
