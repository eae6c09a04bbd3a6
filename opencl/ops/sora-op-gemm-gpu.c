/* gst-sora engine op: GPU matrix products, gemm-gpu.cl (tiles, matrix units)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-op.h"
#include "sora-op-gemm-private.h"

char *
sora_gemm_gpu_options (SoraDType dtype, GpuTile t)
{
  char *tile = sora_tune_gpu_tile_options (t);
  char *options = g_strdup_printf ("%s %s", sora_storage_options (dtype), tile);

  g_free (tile);
  return options;
}

/* gemm_mma's options: W's storage, the operand type, the tile and how the
 * matrix products are issued. */
char *
sora_gemm_mma_options (
    SoraDType dtype, SoraDType op_dtype, SoraMmaTile t, SoraMmaForm form)
{
  char *tile = sora_tune_mma_tile_options (t);
  char *mma = sora_tune_mma_options (op_dtype, form);
  char *options =
      g_strdup_printf ("%s %s %s", sora_storage_options (dtype), mma, tile);

  g_free (tile);
  g_free (mma);
  return options;
}

/* Every one of @tiles (freed) for each weight dtype, made by @make (NULL:
 * a tile the form never takes). */
static void
add_variants (GPtrArray *all, char **tiles,
    gpointer (*make) (SoraDType, const char *, gpointer), gpointer data)
{
  static const SoraDType dtypes[] = { SORA_DTYPE_F32, SORA_DTYPE_F16,
    SORA_DTYPE_BF16 };

  for (guint d = 0; d < G_N_ELEMENTS (dtypes); d++)
    for (guint i = 0; tiles[i]; i++) {
      gpointer v = make (dtypes[d], tiles[i], data);

      if (v != NULL)
        g_ptr_array_add (all, v);
    }
  g_strfreev (tiles);
}

static gpointer
gpu_variant (SoraDType dtype, const char *tile, gpointer data)
{
  GpuTile t;

  sora_tune_parse_gpu_tile (tile, &t);
  return sora_gemm_gpu_options (dtype, t);
}

/* The native forms only: the stand-ins are for tests, never picked on a
 * GPU.  @data: the operands, then the form, 8 bits each. */
static gpointer
mma_variant (SoraDType dtype, const char *tile, gpointer data)
{
  SoraMmaTile t;
  guint packed = GPOINTER_TO_UINT (data);

  sora_tune_parse_mma_tile (tile, &t);
  if (!sora_tune_mma_tile_fits (t, packed >> 8))
    return NULL;
  return sora_gemm_mma_options (dtype, packed & 0xff, t, packed >> 8);
}

char **
sora_gemm_gpu_variants (void)
{
  GPtrArray *all = g_ptr_array_new ();

  add_variants (all, sora_tune_gpu_tile_candidates (), gpu_variant, NULL);
  for (SoraMmaForm f = SORA_MMA_PTX; f <= SORA_MMA_EMULATE_XMX16; f++)
    for (int op = 0; sora_tune_mma_native (f) && op < 2; op++)
      add_variants (all, sora_tune_mma_tile_candidates (), mma_variant,
          GUINT_TO_POINTER (
              (op ? SORA_DTYPE_F16 : SORA_DTYPE_BF16) | (guint)f << 8));
  g_ptr_array_add (all, NULL);
  return (char **)g_ptr_array_free (all, FALSE);
}

GpuKernel
sora_gemm_gpu_kernel (const char *options, GpuTile t)
{
  return (GpuKernel){ options, "gemm_gpu", sora_tune_gpu_tile_threads (t), t.wm,
    t.wn };
}

GpuKernel
sora_gemm_mma_kernel (const char *options, SoraMmaTile t, SoraMmaForm form)
{
  return (GpuKernel){ options, "gemm_mma", sora_tune_mma_tile_threads (t, form),
    t.wm, t.wn };
}

/* Launches it: a work-group per block of Y (columns along the first axis),
 * all of K at once. */
gboolean
sora_gemm_run_gpu (SoraDevice *dev, const GpuKernel *g, gsize batch, gsize m,
    gsize n, gsize k, cl_mem x, gsize x_bs, gsize ldx, cl_mem w, gsize w_bs,
    gsize ldw, cl_mem bias, cl_mem y, gsize y_bs, gsize ldy, GError **error)
{
  gsize global[3] = { (n + g->wn - 1) / g->wn * g->threads,
    (m + g->wm - 1) / g->wm, batch };
  gsize local[3] = { g->threads, 1, 1 };

  return sora_device_run (dev, "gemm-gpu", g->options, g->kernel, 3, global,
      local, error, SORA_MEM (x), SORA_INT (x_bs), SORA_INT (ldx), SORA_MEM (w),
      SORA_INT (w_bs), SORA_INT (ldw), SORA_MEM (bias), SORA_INT (bias != NULL),
      SORA_MEM (y), SORA_INT (y_bs), SORA_INT (ldy), SORA_INT (m), SORA_INT (n),
      SORA_INT (k), SORA_END);
}
