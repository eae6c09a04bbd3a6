/* gst-sora engine: a model's weights, described once as tables, and
 * uploading a model folder's tensors to the device
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

/* --- the tables ----------------------------------------------------------
 *
 * Each model describes each of its modules once, as a table of SoraParam:
 * the tensor's name under the module's prefix, its shape from the module's
 * sizes, its role (how the model reads it) and the field of the model's
 * struct it loads into.  A model's list of module uses (SoraModuleUse: a
 * prefix, sizes and flags per instance, from the config) is what
 * validation, loading, the memory estimates, sora-tool inspect and the
 * recipe generator read.  Every weight may be stored as F32, F16 or BF16;
 * the role decides what the device holds. */

#define SORA_MODULE_MAX_SIZES 12
/* A dimension of a tensor: @mul times the module's size @size, or @mul
 * itself for SORA_SIZE_ONE. */
#define SORA_SIZE_ONE 0xff
typedef struct
{
  guint8 size;
  guint8 mul;
} SoraDim;
/* clang-format off */
#define SORA_DIM(size) { (size), 1 }
#define SORA_DIM_MUL(size, mul) { (size), (mul) }
#define SORA_DIM_K(k) { SORA_SIZE_ONE, (k) }
/* clang-format on */

typedef enum {
  /* NAME.weight [out, in...] and NAME.bias [out]: a SoraLinear * (the
   * weight flattened to [out, in], in its stored dtype) */
  SORA_PARAM_LINEAR,
  /* NAME.weight alone: a SoraLinear * without bias */
  SORA_PARAM_MATRIX,
  /* NAME: a SoraTensor * in f32 (gains, biases, modulation tables) */
  SORA_PARAM_F32,
  /* NAME: a float * on the host */
  SORA_PARAM_HOST,
  /* NAME (or its alt_name): a const SoraSafetensor * left in the mapping */
  SORA_PARAM_MAPPED,
  /* NAME.weight and NAME.bias, read by the param's own load function */
  SORA_PARAM_CUSTOM,
} SoraParamKind;

/* @shape: the expected shape of NAME.weight; @field: the struct member to
 * fill; @user_data: what the model passed to sora_weights_load. */
typedef gboolean (*SoraParamLoadFunc) (const SoraWeights *w, const char *name,
    const gsize *shape, gpointer field, gpointer user_data, GError **error);

#define SORA_NO_FIELD G_MAXSIZE

typedef struct
{
  const char *name; /* under the prefix; NULL: the prefix itself */
  SoraParamKind kind;
  guint when; /* present when the use has one of these flags; 0: always */
  guint ndim;
  SoraDim shape[5];
  gsize field; /* offsetof in the model's struct; SORA_NO_FIELD: not read */
  SoraParamLoadFunc load; /* SORA_PARAM_CUSTOM */
  const char *alt_name; /* another accepted name (tied weights) */
} SoraParam;

typedef struct
{
  const SoraParam *params;
  guint n_params;
} SoraModule;

/* clang-format off */
#define SORA_MODULE(table) { (table), G_N_ELEMENTS (table) }
/* clang-format on */

/* One instance of a module in a model; @part, @tag and @index are the
 * model's own (which struct the module loads into). */
typedef struct
{
  char *prefix; /* NULL: none */
  const SoraModule *module;
  guint flags;
  gsize sizes[SORA_MODULE_MAX_SIZES];
  guint part, tag, index;
} SoraModuleUse;

/* A GPtrArray of SoraModuleUse that frees its elements. */
GPtrArray *sora_module_uses_new (void);
/* Appends a use of @module; @sizes has SORA_MODULE_MAX_SIZES entries; the
 * prefix is printf-formatted (NULL: none). */
SoraModuleUse *sora_module_uses_add (GPtrArray *uses, const SoraModule *module,
    guint flags, const gsize *sizes, const char *prefix_fmt, ...)
    G_GNUC_PRINTF (5, 6);

typedef struct
{
  char *name;
  char *alt_name; /* another accepted name (tied weights) */
  guint ndim;
  gsize shape[SORA_SAFETENSORS_MAX_DIMS];
} SoraExpectedTensor;

void sora_expected_tensor_free (SoraExpectedTensor *t);

/* Every tensor the uses name, in their order: a GPtrArray of
 * SoraExpectedTensor that frees its elements. */
GPtrArray *sora_module_uses_expected (GPtrArray *uses);

/* Fills the fields of @base from the tensors of @use; @user_data goes to
 * the custom load functions. */
gboolean sora_weights_load (const SoraWeights *w, const SoraModuleUse *use,
    gpointer base, gpointer user_data, GError **error);

/* The bytes the folder stores for the tensors of @use (0 for those it
 * lacks). */
guint64 sora_weights_use_bytes (const SoraWeights *w, const SoraModuleUse *use);

/* Checks that every tensor of @expected exists in the component with its
 * shape and a weight dtype: errors name the file, the tensor, the expected
 * and the found shape. */
gboolean sora_weights_validate (const SoraModelFolder *folder,
    SoraComponent component, GPtrArray *expected, GError **error);

G_END_DECLS

#endif /* __SORA_WEIGHTS_H__ */
