/* gst-sora engine op: CPU matrix products, gemm.cl (register tiles)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-op.h"
#include "sora-op-gemm-private.h"

char *
sora_gemm_tiled_options (SoraDType dtype, gboolean strided, GemmTile tile)
{
  return g_strdup_printf ("%s%s -DTILE_M=%d -DTILE_N=%d -DVW=%d",
      sora_storage_options (dtype), strided ? " -DW_STRIDED" : "", tile.m,
      tile.n, tile.vw);
}

/* Large products run in blocks of BLOCK_N columns and of a K slice
 * (tuned per device, as the W block must stay in the core's own cache:
 * 768 KB in f32 at 256 rows, which took the DiT's shapes on an AVX-512
 * Xeon with 2 MB of L2 per core from 0.79-0.88x to 0.97-1.03x of OpenBLAS,
 * against 1024 rows, the best on 2 Zen 3 cores with a 32 MB L3).  A
 * work-group is one row tile across the block's panels, so its slice of X
 * stays in L1 while W's block streams from L2. */
#define BLOCK_N 768

/* One block of columns [n0, n1) over the K slice [k0, k0 + kc), @step
 * row tiles per launch. */
static gboolean
run_tiled_block (SoraDevice *dev, const TiledKernel *t, gsize step, gsize batch,
    gsize m, gsize n, gsize n0, gsize n1, gsize k0, gsize kc, cl_mem x,
    gsize x_bs, gsize ldx, cl_mem w, gsize w_bs, gsize ldw, cl_mem bias,
    cl_mem y, gsize y_bs, gsize ldy, GError **error)
{
  gsize panels = MAX (BLOCK_N / t->tile.n, 1);
  gsize panel0 = n0 / t->tile.n;
  gsize row_tiles = (m + t->tile.m - 1) / t->tile.m;
  /* A work-group is a row tile across the block's panels, the same for
   * every M and N (a narrower block rounds its panels up, the extra
   * work-items returning at once): PoCL compiles a kernel for each
   * work-group size it meets. */
  gsize local[3] = { 1, panels, 1 };
  const char *options = t->options;
  gsize w_panel0 = 0, w_k0 = k0;

  if (t->wide_options) {
    gsize nv = t->tile.n / t->tile.vw;
    gsize widen[2] = { kc * nv, panels };
    cl_mem wide = sora_device_scratch (dev, SORA_SCRATCH_GEMM_WIDE,
        panels * t->tile.n * t->block_k * sizeof (float),
        "gemm's widened weight block", error);

    if (wide == NULL ||
        !sora_device_run (dev, "gemm", t->options, "gemm_widen", 2, widen, NULL,
            error, SORA_MEM (w), SORA_INT (ldw), SORA_INT (panel0),
            SORA_INT ((n + t->tile.n - 1) / t->tile.n), SORA_INT (k0),
            SORA_INT (kc), SORA_MEM (wide), SORA_END))
      return FALSE;
    options = t->wide_options;
    w = wide;
    ldw = kc;
    w_panel0 = panel0;
    w_k0 = 0;
  }
  for (gsize r0 = 0; r0 < row_tiles; r0 += step) {
    gsize offset[3] = { r0, 0, 0 };
    gsize global[3] = { MIN (step, row_tiles - r0), panels, batch };

    /* The first K slice writes Y with the bias, the others add to it. */
    if (!sora_device_run_at (dev, "gemm", options, "gemm", 3, offset, global,
            local, error, SORA_MEM (x), SORA_INT (x_bs), SORA_INT (ldx),
            SORA_MEM (w), SORA_INT (w_bs), SORA_INT (ldw), SORA_INT (w_panel0),
            SORA_INT (w_k0), SORA_MEM (bias),
            SORA_INT (bias != NULL && k0 == 0), SORA_MEM (y), SORA_INT (y_bs),
            SORA_INT (ldy), SORA_INT (m), SORA_INT (panel0), SORA_INT (n1),
            SORA_INT (k0), SORA_INT (kc), SORA_INT (k0 > 0), SORA_END))
      return FALSE;
  }
  return TRUE;
}

/* Launches gemm.cl's kernel over the blocks; the arguments are in elements
 * and fit int (the callers check). */
gboolean
sora_gemm_run_tiled (SoraDevice *dev, const TiledKernel *t, gsize batch,
    gsize m, gsize n, gsize k, cl_mem x, gsize x_bs, gsize ldx, cl_mem w,
    gsize w_bs, gsize ldw, cl_mem bias, cl_mem y, gsize y_bs, gsize ldy,
    GError **error)
{
  gsize block_n = MAX (BLOCK_N / t->tile.n, 1) * t->tile.n;
  gsize row_tiles = (m + t->tile.m - 1) / t->tile.m;
  /* Row tiles per launch, so that a stop waits for little; a block's W
   * stays in cache from one launch to the next. */
  gsize step = sora_op_launch_rows (dev, row_tiles, batch,
      2.0 * t->tile.m * block_n * MIN (k, t->block_k) * batch);

  for (gsize n0 = 0; n0 < n; n0 += block_n) {
    gsize k0 = 0;

    /* k = 0 still writes Y (the bias, or zeros). */
    do {
      gsize kc = MIN (t->block_k, k - k0);

      if (!run_tiled_block (dev, t, step, batch, m, n, n0,
              MIN (n, n0 + block_n), k0, kc, x, x_bs, ldx, w, w_bs, ldw, bias,
              y, y_bs, ldy, error))
        return FALSE;
      k0 += kc;
    } while (k0 < k);
  }
  return TRUE;
}

/* The tiled kernel reads W as [ceil(out / tile_n)][in][tile_n] panels. */
void *
sora_gemm_pack_panels (const void *weight, gsize esize, gsize out, gsize in,
    gsize tile_n, gsize *bytes)
{
  gsize panels = (out + tile_n - 1) / tile_n;
  guint8 *packed;

  *bytes = panels * in * tile_n * esize;
  packed = g_malloc0 (*bytes);
  for (gsize o = 0; o < out; o++) {
    gsize base = (o / tile_n) * in * tile_n + o % tile_n;

    for (gsize i = 0; i < in; i++) {
      gsize src = o * in + i, dst = base + i * tile_n;

      if (esize == 4)
        ((guint32 *)packed)[dst] = ((const guint32 *)weight)[src];
      else
        ((guint16 *)packed)[dst] = ((const guint16 *)weight)[src];
    }
  }
  return packed;
}
