/* gst-sora engine op: tuning the matrix products (sora-tune.h)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-op-gemm-private.h"

/* The K slices timed per device, and the one the tile is tuned with. */
static const char *const block_ks[] = { "256", "512", "1024", NULL };
#define PROBE_BLOCK_K 256

/* Tuning (sora-tune.h): the tile per weight dtype, then the f32 backend,
 * timed on a Wan attention projection for a short sequence. */
#define PROBE_M 512
#define PROBE_N 1536
#define PROBE_K 1536
#define PROBE_SHAPE "512x1536x1536"

typedef struct
{
  SoraDType dtype;
  void *w; /* [PROBE_N, PROBE_K] in dtype */
  SoraTensor *x, *y;
} GemmProbe;

static gboolean
gemm_probe_init (SoraDevice *dev, gpointer data)
{
  GemmProbe *p = data;
  SoraDType dtype = p->dtype;
  GError *error = NULL;
  float *w = g_new (float, (gsize)PROBE_N *PROBE_K);

  /* Values in [-1, 1) with 16 significant bits, which bf16 and f16 round:
   * the matrix-unit check (precision_setup) would pass a path that
   * ignored the rounding on values they hold exactly. */
  for (gsize i = 0; i < (gsize)PROBE_N * PROBE_K; i++)
    w[i] = (float)(((guint32)i * 2654435761u >> 8) & 0xffff) / 32768 - 1;
  p->dtype = dtype;
  p->w = g_malloc ((gsize)PROBE_N * PROBE_K * sora_dtype_size (dtype));
  sora_convert_from_f32 (dtype, w, p->w, (gsize)PROBE_N * PROBE_K);
  p->x = sora_tensor_new_v (dev, "gemm-probe.x", SORA_DTYPE_F32, &error, 2,
      (gsize)PROBE_M, (gsize)PROBE_K);
  p->y = p->x == NULL ? NULL
                      : sora_tensor_new_v (dev, "gemm-probe.y", SORA_DTYPE_F32,
                            &error, 2, (gsize)PROBE_M, (gsize)PROBE_N);
  if (p->y)
    sora_tensor_write (p->x, w, &error);
  g_free (w);
  if (error == NULL)
    return TRUE;
  /* Nothing to time; the op's own error will show on use. */
  g_warning ("gemm: cannot set up the tuning probe: %s", error->message);
  g_error_free (error);
  return FALSE;
}

static void
gemm_probe_clear (gpointer data)
{
  GemmProbe *p = data;

  sora_tensor_free (p->x);
  sora_tensor_free (p->y);
  g_free (p->w);
}

/* One timed product: a Linear of the candidate on the probe's tensors. */
typedef struct
{
  SoraLinear *l;
  GemmProbe *p;
} GemmRun;

static gboolean
gemm_probe_run (gpointer run, GError **error)
{
  GemmRun *r = run;

  return sora_op_linear (r->l, r->p->x, r->p->y, error) &&
      sora_device_finish (r->l->dev, error);
}

static void
gemm_probe_free (gpointer run)
{
  GemmRun *r = run;

  sora_linear_free (r->l);
  g_free (r);
}

static gpointer
gemm_run_new (SoraLinear *l, GemmProbe *p)
{
  GemmRun *r;

  if (l == NULL)
    return NULL;
  r = g_new (GemmRun, 1);
  r->l = l;
  r->p = p;
  return r;
}

/* A timed run of a Linear of the probe's weights. */
static gpointer
probe_linear (SoraDevice *dev, GemmProbe *p, SoraDType dtype,
    SoraGemmBackend backend, const char *tile, gsize block_k, GError **error)
{
  return gemm_run_new (
      sora_gemm_linear_new (dev, "gemm-probe", dtype, PROBE_N, PROBE_K, p->w,
          NULL, backend, SORA_DTYPE_F32, tile, block_k, error),
      p);
}

static gpointer
tile_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  GemmProbe *p = data;

  return probe_linear (
      dev, p, p->dtype, SORA_GEMM_TILED, candidate, PROBE_BLOCK_K, error);
}

static gpointer
gpu_tile_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  GemmProbe *p = data;

  return probe_linear (dev, p, p->dtype, SORA_GEMM_GPU, candidate, 0, error);
}

/* f32 weights, the operands SORA_PRECISION gives (f16, else bf16); a
 * tile too big for the device's warps or work-group is passed over. */
static gpointer
mma_tile_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  if (!sora_tune_valid_mma_tile (dev, candidate)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "tile %s does not fit %s's warps or work-group", candidate,
        sora_device_get_info (dev)->name);
    return NULL;
  }
  return probe_linear (
      dev, data, SORA_DTYPE_F32, SORA_GEMM_MMA, candidate, 0, error);
}

/* The device's f32 tile with the candidate K slice. */
static gpointer
block_k_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  return probe_linear (dev, data, SORA_DTYPE_F32, SORA_GEMM_TILED, NULL,
      g_ascii_strtoull (candidate, NULL, 10), error);
}

/* A K slice of 16 to 65536 rows ($SORA_GEMM_BLOCK_K, a stored choice). */
static gboolean
valid_block_k (SoraDevice *dev, const char *value)
{
  guint64 rows;

  return g_ascii_string_to_unsigned (value, 10, 16, 65536, &rows, NULL);
}

static gboolean
valid_backend (SoraDevice *dev, const char *value)
{
  return sora_gemm_backend_from_string (value) != SORA_GEMM_AUTO;
}

static gpointer
backend_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  GemmProbe *p = data;

  return gemm_run_new (
      sora_linear_new_full (dev, "gemm-probe", SORA_DTYPE_F32, PROBE_N, PROBE_K,
          p->w, NULL, sora_gemm_backend_from_string (candidate), error),
      p);
}

/* sora_tune_precision's candidates: the device's f32 backend, or the
 * matrix units in bf16, refused unless close to the former on the probe. */
static gpointer
precision_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  GemmProbe *p = data;
  GemmRun *f32, *mma;
  SoraTensor *want;
  gboolean ok;

  f32 = probe_linear (
      dev, p, SORA_DTYPE_F32, sora_gemm_backend (dev), NULL, 0, error);
  if (f32 == NULL || g_strcmp0 (candidate, "f32") == 0)
    return f32;
  mma = gemm_run_new (
      sora_gemm_linear_new (dev, "gemm-probe", SORA_DTYPE_F32, PROBE_N, PROBE_K,
          p->w, NULL, SORA_GEMM_MMA, SORA_DTYPE_BF16, NULL, 0, error),
      p);
  want = mma == NULL
      ? NULL
      : sora_tensor_new_v (dev, "gemm-probe.want", SORA_DTYPE_F32, error, 2,
            (gsize)PROBE_M, (gsize)PROBE_N);
  ok = mma && want && sora_op_linear (f32->l, p->x, want, error) &&
      gemm_probe_run (mma, error) &&
      sora_tune_check_close (p->y, want, "gemm bf16 check", error);
  sora_tensor_free (want);
  gemm_probe_free (f32);
  if (!ok)
    g_clear_pointer (&mma, gemm_probe_free);
  return mma;
}

static SoraTuneSpec
gemm_spec (const char *name, const char *env,
    gboolean (*valid) (SoraDevice *, const char *),
    gpointer (*setup) (SoraDevice *, const char *, gpointer, GError **))
{
  return (SoraTuneSpec){ name, env, PROBE_SHAPE,
    2.0 * PROBE_M * PROBE_N * PROBE_K, valid, gemm_probe_init, gemm_probe_clear,
    setup, gemm_probe_run, gemm_probe_free };
}

/* The choice named PREFIX-DTYPE among @candidates (freed here), timed with
 * @weights weights on the probe. */
static char *
choose_tile (SoraDevice *dev, const char *prefix, SoraDType dtype,
    const char *env, gboolean (*valid) (SoraDevice *, const char *),
    gpointer (*setup) (SoraDevice *, const char *, gpointer, GError **),
    char **candidates, SoraDType weights)
{
  char *name = g_strdup_printf ("%s-%s", prefix, sora_dtype_name (dtype));
  SoraTuneSpec spec = gemm_spec (name, env, valid, setup);
  GemmProbe probe = { weights };
  char *value =
      sora_tune_choose (dev, &spec, (const char *const *)candidates, &probe);

  g_strfreev (candidates);
  g_free (name);
  return value;
}

char *
sora_gemm_tile_name (SoraDevice *dev, SoraDType dtype)
{
  return choose_tile (dev, "gemm-tile", dtype, "SORA_GEMM_TILE",
      sora_tune_valid_tile, tile_setup, sora_tune_tile_candidates (dev), dtype);
}

char *
sora_gemm_gpu_tile_name (SoraDevice *dev, SoraDType dtype)
{
  return choose_tile (dev, "gemm-gpu-tile", dtype, "SORA_GEMM_GPU_TILE",
      sora_tune_valid_gpu_tile, gpu_tile_setup,
      sora_tune_gpu_tile_candidates (), dtype);
}

char *
sora_gemm_mma_tile_name (SoraDevice *dev, SoraDType op_dtype)
{
  return choose_tile (dev, "gemm-mma-tile", op_dtype, "SORA_GEMM_MMA_TILE",
      sora_tune_valid_mma_tile, mma_tile_setup,
      sora_tune_mma_tile_candidates (), SORA_DTYPE_F32);
}

SoraDType
sora_gemm_precision (SoraDevice *dev)
{
  SoraTuneSpec spec = gemm_spec (
      "gemm-precision", NULL, sora_tune_valid_precision, precision_setup);
  GemmProbe probe = { SORA_DTYPE_F32 };

  return sora_tune_precision (dev, &spec, &probe);
}

SoraMmaTile
sora_gemm_device_mma_tile (SoraDevice *dev, SoraDType op_dtype)
{
  char *value = sora_gemm_mma_tile_name (dev, op_dtype);
  SoraMmaTile tile;

  sora_tune_parse_mma_tile (value, &tile);
  g_free (value);
  return tile;
}

GpuTile
sora_gemm_device_gpu_tile (SoraDevice *dev, SoraDType dtype)
{
  char *value = sora_gemm_gpu_tile_name (dev, dtype);
  GpuTile tile;

  sora_tune_parse_gpu_tile (value, &tile);
  g_free (value);
  return tile;
}

char *
sora_gemm_block_k_name (SoraDevice *dev)
{
  SoraTuneSpec spec = gemm_spec (
      "gemm-block-k", "SORA_GEMM_BLOCK_K", valid_block_k, block_k_setup);
  GemmProbe probe = { SORA_DTYPE_F32 };

  return sora_tune_choose (dev, &spec, block_ks, &probe);
}

gsize
sora_gemm_device_block_k (SoraDevice *dev)
{
  char *value = sora_gemm_block_k_name (dev);
  gsize rows = g_ascii_strtoull (value, NULL, 10);

  g_free (value);
  return rows;
}

GemmTile
sora_gemm_device_tile (SoraDevice *dev, SoraDType dtype)
{
  char *value = sora_gemm_tile_name (dev, dtype);
  GemmTile tile;

  sora_tune_parse_tile (dev, value, &tile);
  g_free (value);
  return tile;
}

SoraGemmBackend
sora_gemm_backend (SoraDevice *dev)
{
  /* Ours first: the choice when neither can be timed.  The GPU forms'
   * choice is stored apart, so that forcing them on a CPU (SORA_KERNELS)
   * does not read back the CPU's. */
  static const char *const ours[] = { "tiled", "clblast", NULL };
  static const char *const gpu[] = { "gpu", "clblast", NULL };
  /* CLBlast, tuned for GPUs, ran at 0.04-0.08x of the tiled kernel on
   * every CPU measured (PoCL on Zen 3 and an AVX-512 Xeon): on a CPU it is
   * not timed, which saved 14 s of a cold start compiling it.
   * SORA_GEMM=clblast still forces it. */
  static const char *const cpu[] = { "tiled", NULL };
  gboolean on_gpu = sora_tune_gpu_kernels (dev);
  SoraTuneSpec spec = gemm_spec (on_gpu ? "gemm-backend-gpu" : "gemm-backend",
      "SORA_GEMM", valid_backend, backend_setup);
  GemmProbe probe = { SORA_DTYPE_F32 };
  char *value = sora_tune_choose (dev, &spec,
      on_gpu                                   ? gpu
          : sora_device_get_info (dev)->is_cpu ? cpu
                                               : ours,
      &probe);
  SoraGemmBackend backend = sora_gemm_backend_from_string (value);

  g_free (value);
  return backend;
}

const char *
sora_gemm_backend_name (SoraDevice *dev)
{
  return sora_gemm_backend_to_string (sora_gemm_backend (dev));
}
