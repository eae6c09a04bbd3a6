/* gst-sora engine: kernel parameters chosen per device by timing
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_TUNE_H__
#define __SORA_TUNE_H__

#include "sora-device.h"
#include "sora-tensor.h"

G_BEGIN_DECLS

/* One tunable parameter of an op.  Its values are short strings the op
 * parses ("tiled", "6x64x16").  When measuring, @init makes the probe's
 * inputs in the op's @data (FALSE, with a warning, when it cannot),
 * @setup prepares one timed run of a candidate (kernels built) and
 * returns NULL with @error when the candidate cannot run on the device,
 * @run runs it and returns when the device is done, and @clear frees
 * what @init made (also after a failed @init). */
typedef struct
{
  const char *name; /* the cache entry: "gemm-tile-f16" */
  const char *env; /* forces the value when set and valid */
  const char *probe; /* the probe's shape, recorded with the choice */
  double flops; /* of one probe run */
  gboolean (*valid) (SoraDevice *dev, const char *value);
  gboolean (*init) (SoraDevice *dev, gpointer data);
  void (*clear) (gpointer data);
  gpointer (*setup) (
      SoraDevice *dev, const char *candidate, gpointer data, GError **error);
  gboolean (*run) (gpointer run, GError **error);
  void (*free) (gpointer run);
} SoraTuneSpec;

/* The value of @spec on @dev: $env when it is set and valid (else a
 * warning); else the value stored for this device and driver in
 * sora_device_cache_dir ("choices")/tuning.ini; else the fastest of
 * @candidates (NULL-terminated, a fixed set per device, never derived
 * from the data), each set up, run once untimed, then timed in
 * interleaved rounds; the winner is then stored.  An unreadable file or
 * invalid stored value is ignored with a warning and the file rewritten.
 * Returns a string to g_free. */
char *sora_tune_choose (SoraDevice *dev, const SoraTuneSpec *spec,
    const char *const *candidates, gpointer data);

/* A register tile: m rows x nv vectors of vw floats. */
typedef struct
{
  int m, nv, vw;
} SoraRegTile;

#define SORA_MAX_REG_TILES 16

/* The register tiles worth timing on @dev, the widest preferred vector
 * width (4, 8 or 16) first: those whose m·nv accumulators, nv operand
 * vectors and one broadcast fit the vector registers (32 at width 16, as
 * AVX-512; else 16, as AVX2) and fill at least three quarters of them:
 * 6x4, 8x3 and 12x2 vectors at width 16 (6x4 was the hand-tuned AVX-512
 * tile), 4x3, 6x2 and 12x1 at width 8 (6x2 the AVX2 one).  Tiles filling
 * half measured 2-25% slower on AVX-512, and each candidate is a kernel
 * to compile on first use (the cold start).  Returns how many were written
 * to @tiles. */
guint sora_tune_register_tiles (
    SoraDevice *dev, SoraRegTile tiles[SORA_MAX_REG_TILES]);

/* A GEMM-like kernel's tile: m rows x n columns, in vectors of vw. */
typedef struct
{
  int m, n, vw;
} SoraTile;

/* Parses "MxN[xVW]": VW 4, 8 or 16 dividing N, the device's preferred
 * width when left out; at most 16 rows and 8 vectors (a kernel's
 * accumulators). */
gboolean sora_tune_parse_tile (SoraDevice *dev, const char *s, SoraTile *tile);
gboolean sora_tune_valid_tile (SoraDevice *dev, const char *value);

/* Those tiles as "MxNxVW" (N = nv·vw columns), the candidates of the GEMM
 * and convolution tiles; a NULL-terminated array to g_strfreev. */
char **sora_tune_tile_candidates (SoraDevice *dev);

/* gemm-gpu.cl's tile, shared by its GEMM and convolution: a work-group's
 * WG_M x WG_N block of the output over slices of WG_K of K, each
 * work-item's RM x RN block of it. */
typedef struct
{
  int wm, wn, wk, rm, rn;
} SoraGpuTile;

/* What a work-group may stage on any GPU (the resource check's bound). */
#define SORA_GPU_LOCAL_BUDGET (48 * 1024)

/* Parses "WMxWNxWKxRMxRN": WK a multiple of 4, RM and RN dividing WM and
 * WN, at most 64 accumulators, the staged slices within
 * SORA_GPU_LOCAL_BUDGET. */
gboolean sora_tune_parse_gpu_tile (const char *s, SoraGpuTile *tile);
/* A tile sora_tune_parse_gpu_tile() takes whose work-group @dev runs. */
gboolean sora_tune_valid_gpu_tile (SoraDevice *dev, const char *value);
/* Its work-group: (WM / RM)·(WN / RN) work-items. */
gsize sora_tune_gpu_tile_threads (SoraGpuTile tile);
/* Its build options, "-DWG_M=.. -DWG_N=.. -DWG_K=.. -DRM=.. -DRN=..", a
 * string to g_free. */
char *sora_tune_gpu_tile_options (SoraGpuTile tile);
/* The tiles timed on a device, a NULL-terminated array to g_strfreev. */
char **sora_tune_gpu_tile_candidates (void);

/* gemm-gpu.cl's matrix-unit tile (-DMMA): a work-group's WM x WN block of
 * the output over WK-deep slices of K, its warps (sora_tune_mma_wave's
 * work-items each) in a WARPS_M x WARPS_N grid, each warp's block a whole
 * number of 16 x 16 pieces. */
typedef struct
{
  int wm, wn, wk, warps_m, warps_n;
} SoraMmaTile;

/* Parses "WMxWNxWKxWARPS_MxWARPS_N": WK a multiple of 16, each warp's block
 * 16 x 16 pieces, at most 128 accumulators a work-item and 1024
 * work-items, the staged slices within SORA_GPU_LOCAL_BUDGET. */
gboolean sora_tune_parse_mma_tile (const char *s, SoraMmaTile *tile);
/* A parsed tile that fits @dev's form (sora_tune_mma_tile_fits) and
 * work-group. */
gboolean sora_tune_valid_mma_tile (SoraDevice *dev, const char *value);
/* Its build options, a string to g_free. */
char *sora_tune_mma_tile_options (SoraMmaTile tile);
/* The tiles timed on a device, a NULL-terminated array to g_strfreev. */
char **sora_tune_mma_tile_candidates (void);

/* How the matrix-unit kernels issue their products on a device: which
 * instructions, and so which fragments (common.cl's MMA section). */
typedef enum {
  SORA_MMA_NONE, /* no matrix instructions we can issue */
  SORA_MMA_PTX, /* PTX mma.sync m16n8k16 and ldmatrix: NVIDIA sm_80+ */
  SORA_MMA_EMULATE, /* PTX's fragments by the portable stand-in (tests) */
  SORA_MMA_MFMA, /* v_mfma_f32_16x16x16 bf16/f16: AMD CDNA2/3, GEMM only */
  SORA_MMA_WMMA, /* v_wmma_f32_16x16x16 bf16/f16: AMD RDNA3, GEMM only */
  SORA_MMA_XMX8, /* Intel's intel_sub_group_*_matrix_mad_k16, sub-groups
                    of 8 (cl_intel_subgroup_matrix_multiply_accumulate's
                    devices of minimum sub-group size 8), GEMM only */
  SORA_MMA_XMX16, /* the same, sub-groups of 16 (minimum size 16) */
  SORA_MMA_EMULATE_MFMA, /* MFMA's fragments by the stand-in (tests) */
  SORA_MMA_EMULATE_WMMA, /* WMMA's fragments by the stand-in (tests) */
  SORA_MMA_EMULATE_XMX8, /* Intel's fragments by the stand-in (tests) */
  SORA_MMA_EMULATE_XMX16,
} SoraMmaForm;

/* $SORA_MMA = "emulate", "emulate-mfma", "emulate-wmma", "emulate-xmx8"
 * or "emulate-xmx16" forces that stand-in (any other value is ignored with
 * a warning); else PTX where the device's vendor id is NVIDIA's (0x10de),
 * it reports cl_nv_device_attribute_query and its compute capability is
 * 8.0 or later; MFMA where the vendor is AMD (0x1002) and the device's
 * name starts with gfx90a or gfx94; WMMA where it starts with gfx11; XMX8
 * or XMX16 where the device reports
 * cl_intel_subgroup_matrix_multiply_accumulate and
 * cl_intel_required_subgroup_size and its smallest sub-group size
 * (CL_DEVICE_SUB_GROUP_SIZES_INTEL) is 8 or 16; else none. */
SoraMmaForm sora_tune_mma_form (SoraDevice *dev);
/* Whether @form issues a device's own instructions (not a stand-in). */
gboolean sora_tune_mma_native (SoraMmaForm form);
/* Whether @form has PTX's fragments (attention_mma has no other). */
gboolean sora_tune_mma_ptx_layout (SoraMmaForm form);
/* The work-items of a warp in @form: 32 (AMD's MFMA waves 64, Intel's
 * sub-groups 8 or 16). */
gsize sora_tune_mma_wave (SoraMmaForm form);
/* A matrix-unit tile's work-group in @form: its warps. */
gsize sora_tune_mma_tile_threads (SoraMmaTile tile, SoraMmaForm form);
/* Whether @tile's warps in @form hold at most 128 accumulators a
 * work-item (at 256, Intel's sub-groups of 8 would hold more than the
 * 128 registers a lane of a thread has). */
gboolean sora_tune_mma_tile_fits (SoraMmaTile tile, SoraMmaForm form);
/* The build options of a matrix-unit kernel with @op_dtype operands (bf16
 * or f16) issued in @form (not NONE): "-DMMA -DMMA_BF16 -DMMA_PTX",
 * a string to g_free. */
char *sora_tune_mma_options (SoraDType op_dtype, SoraMmaForm form);

/* $SORA_PRECISION, the operands of the matrix-unit paths: *@op_dtype
 * SORA_DTYPE_BF16 or _F16 for "bf16" or "f16" (forced), else
 * SORA_DTYPE_F32; *@measure TRUE for "auto" alone, where each op takes its
 * measured choice (sora_tune_precision).  Unset or empty is "f32": the
 * matrix units stay off until they are measured on hardware.  FALSE,
 * naming the variable and the values it takes, for any other value. */
gboolean sora_tune_requested_precision (
    SoraDType *op_dtype, gboolean *measure, GError **error);

/* The bound on the relative L2 error of a matrix-unit path against the f32
 * path on its first-use check (random operands in [-1, 1)): bf16 rounds
 * each operand by up to 2^-9 of itself, which came to about 3e-3 on the
 * GEMM's and attention's checks; a misplaced fragment or a dropped slice
 * errs by the size of the result itself. */
#define SORA_MMA_CHECK_TOL 1e-2

/* Whether @got is within SORA_MMA_CHECK_TOL of @want (f32 tensors of the
 * same size), with an error naming @what and both figures when not. */
gboolean sora_tune_check_close (
    SoraTensor *got, SoraTensor *want, const char *what, GError **error);

/* A precision choice: "f32", or "bf16" where @dev has matrix units. */
gboolean sora_tune_valid_precision (SoraDevice *dev, const char *value);

/* The operands of an op's matrix products on @dev where $SORA_PRECISION is
 * "auto":
 * f32 where sora_tune_mma_form() is SORA_MMA_NONE (nothing is measured),
 * else @spec's choice between "f32" and "bf16", timed on first use and
 * stored per device and driver as any other: its setup must refuse the
 * bf16 candidate unless sora_tune_check_close() passes it against the f32
 * path on a random problem, so that the matrix units are taken only where
 * they were measured correct and faster. */
SoraDType sora_tune_precision (
    SoraDevice *dev, const SoraTuneSpec *spec, gpointer data);

/* Whether @dev gets the GPU forms of the heavy kernels (work-group tiles
 * staged through local memory): $SORA_KERNELS = "gpu" or "cpu" when set
 * (to test the GPU forms on a CPU runtime), else whether it is a GPU. */
gboolean sora_tune_gpu_kernels (SoraDevice *dev);

/* The preferred float width rounded to 4, 8 or 16. */
int sora_tune_vector_width (SoraDevice *dev);

/* What is stored for the device @info describes, one "name = value
 * (GFLOP/s on probe)" line each, or NULL when nothing is yet. */
char *sora_tune_report (const SoraDeviceInfo *info);

G_END_DECLS

#endif /* __SORA_TUNE_H__ */
