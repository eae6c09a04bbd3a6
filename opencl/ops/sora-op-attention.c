/* gst-sora engine op: fused multi-head attention
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "sora-op.h"
#include "sora-op-attention-private.h"
#include "sora-tune.h"

#define OP "attention"

/* Private output rows, and as many query rows, per work-item, in floats
 * (192 KB in all, in L2): more rows per work-item read K and V fewer
 * times.  On PoCL, 48 -> 192 rows at head dim 128 took N = 32760 from 0.65x
 * to 0.82x of the GEMM rate. */
#define PRIVATE_FLOATS 24576

/* Register blocking (see kernels/attention.cl): ROWS query rows x NVK key
 * vectors of the device's preferred width, and BK keys per key block (a
 * multiple of the panel, KT = VW·NVK keys: the block's K and V, 128 KB at
 * head dim 128 and 128 keys, stay in L2 while a work-item's row blocks use
 * them).  Chosen per device by timing (sora-tune.h); "ROWSxNVKxBK". */
typedef struct
{
  int rows, nvk, bk, vw;
} AttnTile;

/* Tuning probe: self-attention of 1024 tokens, 2 heads of 128. */
#define PROBE_N 1024
#define PROBE_HEADS 2
#define PROBE_DIM 128

static gboolean
parse_tile (SoraDevice *dev, const char *s, AttnTile *t)
{
  *t = (AttnTile){ 0, 0, 0, sora_tune_vector_width (dev) };
  return s[strspn (s, "0123456789x")] == '\0' &&
      sscanf (s, "%dx%dx%d", &t->rows, &t->nvk, &t->bk) == 3 && t->rows > 0 &&
      t->rows <= 16 && t->nvk > 0 && t->nvk <= 4 && t->bk > 0 &&
      t->bk <= 1024 && t->bk % (t->vw * t->nvk) == 0;
}

static gboolean
valid_tile (SoraDevice *dev, const char *value)
{
  AttnTile t;

  return parse_tile (dev, value, &t);
}

/* The K and V panels of the slices one launch does stay under this many
 * bytes (at least one slice): all 24 slices of a 480p CFG step at once
 * would take 805 MB. */
#define PACK_BUDGET (96u << 20)

/* The key panels of a launch's slices. */
typedef struct
{
  gsize panels;
  gsize slice_bytes; /* K (or V) panels of one slice */
  gsize slices; /* per launch */
} PackPlan;

static PackPlan
pack_plan (const AttnTile *tile, gsize total_slices, gsize nk, gsize dim)
{
  gsize kt = tile->vw * tile->nvk;
  PackPlan plan;

  plan.panels = (nk + kt - 1) / kt;
  plan.slice_bytes = plan.panels * kt * dim * sizeof (float);
  plan.slices = CLAMP (
      PACK_BUDGET / 2 / MAX (plan.slice_bytes, 1), 1, MAX (total_slices, 1));
  return plan;
}

static AttnTile device_tile (SoraDevice *dev);
static GpuAttnTile device_gpu_tile (SoraDevice *dev);

guint64
sora_op_attention_temp_bytes (
    SoraDevice *dev, gsize batch, guint heads, gsize nk, gsize dim)
{
  AttnTile tile = device_tile (dev);
  PackPlan plan = pack_plan (&tile, batch * heads, nk, dim);

  return 2ull * plan.slices * plan.slice_bytes;
}

static gboolean
check_f32_shape (
    const SoraTensor *t, guint ndim, const gsize *shape, GError **error)
{
  return sora_op_check_dtype (t, OP, SORA_DTYPE_F32, error) &&
      sora_tensor_check_shape (t, OP, ndim, shape, error) &&
      sora_op_check_int (t->numel, OP, t, error);
}

/* Checks q, k, v, out and p's tensors against each other, giving the
 * batch, query and key tokens and head dim. */
static gboolean
check_shapes (SoraTensor *q, SoraTensor *k, SoraTensor *v, SoraTensor *out,
    const SoraAttentionParams *p, gsize *batch, gsize *nq, gsize *nk,
    gsize *dim, GError **error)
{
  gsize channels;

  if (q->ndim != 3 || k->ndim != 3) {
    char *d = sora_tensor_describe (q->ndim != 3 ? q : k);
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "%s: tensor %s should be [batch, tokens, channels]", OP, d);
    g_free (d);
    return FALSE;
  }
  *batch = q->shape[0];
  *nq = q->shape[1];
  channels = q->shape[2];
  *nk = k->shape[1];
  if (p->heads == 0 || channels % p->heads != 0) {
    char *d = sora_tensor_describe (q);
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "%s: tensor %s has channels that %u heads do not divide", OP, d,
        p->heads);
    g_free (d);
    return FALSE;
  }
  *dim = channels / p->heads;
  {
    gsize qs[] = { *batch, *nq, channels }, ks[] = { *batch, *nk, channels };
    gsize bs[] = { p->heads, *nq, *nk }, ms[] = { *batch, *nk };

    if (!check_f32_shape (q, 3, qs, error) ||
        !check_f32_shape (k, 3, ks, error) ||
        !check_f32_shape (v, 3, ks, error) ||
        !check_f32_shape (out, 3, qs, error) ||
        (p->bias && !check_f32_shape (p->bias, 3, bs, error)) ||
        (p->key_mask && !check_f32_shape (p->key_mask, 2, ms, error)))
      return FALSE;
  }
  if (*nk == 0) {
    char *d = sora_tensor_describe (k);
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "%s: tensor %s has no keys", OP, d);
    g_free (d);
    return FALSE;
  }
  return TRUE;
}

/* attention.cl's build for @tile, head dim @dim and @rb row blocks per
 * work-item. */
static char *
cpu_options (
    const AttnTile *tile, const SoraAttentionParams *p, gsize dim, gsize rb)
{
  gsize dv, nc;

  for (dv = tile->vw; dim % dv != 0; dv /= 2)
    ;
  nc = dim / dv % tile->nvk == 0 ? tile->nvk : dim / dv % 2 == 0 ? 2 : 1;
  return g_strdup_printf ("-DHEAD_DIM=%" G_GSIZE_FORMAT " -DVW=%" G_GSIZE_FORMAT
                          " -DNVK=%" G_GSIZE_FORMAT " -DBK=%" G_GSIZE_FORMAT
                          " -DDV=%" G_GSIZE_FORMAT " -DNC=%" G_GSIZE_FORMAT
                          " -DRB=%" G_GSIZE_FORMAT " -DROWS=%d%s%s",
      dim, (gsize)tile->vw, (gsize)tile->nvk, (gsize)tile->bk, dv, nc, rb,
      tile->rows, p->bias ? " -DHAS_BIAS" : "",
      p->key_mask ? " -DHAS_MASK" : "");
}

/* One attention on the CPU form: its tensors, build and K/V panels. */
typedef struct
{
  SoraTensor *q, *k, *v, *out;
  const SoraAttentionParams *p;
  const AttnTile *tile;
  PackPlan plan;
  char *options;
  cl_mem kp, vp;
  gsize nq, nk, dim, rb, blocks;
} CpuAttention;

/* Packs the K/V panels of the @n slices from @bh0, then runs their query
 * blocks, a few per launch. */
static gboolean
run_slices (const CpuAttention *a, gsize bh0, gsize n, GError **error)
{
  const SoraAttentionParams *p = a->p;
  SoraDevice *dev = a->q->dev;
  gsize pack_global[3] = { a->dim, a->plan.panels, n };
  /* One work-item per group: each already reuses its K/V tiles from cache,
   * and PoCL's barriers cost more than local memory would save. */
  gsize local[2] = { 1, 1 };
  /* Query blocks per launch: one head over 32760 keys (480p, 81 frames)
   * takes seconds on a CPU. */
  gsize step = sora_op_launch_rows (
      dev, a->blocks, n, 4.0 * a->rb * a->tile->rows * a->nk * a->dim * n);

  if (!sora_device_run (dev, "attention", a->options, "attention_pack", 3,
          pack_global, NULL, error, SORA_MEM (a->k->buf), SORA_MEM (a->v->buf),
          SORA_MEM (a->kp), SORA_MEM (a->vp), SORA_INT (a->nk),
          SORA_INT (p->heads), SORA_INT (a->plan.panels), SORA_FLOAT (p->scale),
          SORA_INT (bh0), SORA_END))
    return FALSE;
  for (gsize r0 = 0; r0 < a->blocks; r0 += step) {
    gsize offset[2] = { r0, 0 }, global[2] = { MIN (step, a->blocks - r0), n };

    if (!sora_device_run_at (dev, "attention", a->options, "attention", 2,
            offset, global, local, error, SORA_MEM (a->q->buf),
            SORA_MEM (a->kp), SORA_MEM (a->vp), SORA_MEM (a->out->buf),
            SORA_MEM (p->bias ? p->bias->buf : NULL),
            SORA_MEM (p->key_mask ? p->key_mask->buf : NULL), SORA_INT (a->nq),
            SORA_INT (a->nk), SORA_INT (p->heads), SORA_INT (bh0), SORA_END))
      return FALSE;
  }
  return TRUE;
}

/* The CPU form with @tile on checked tensors. */
static gboolean
attention_cpu (SoraTensor *q, SoraTensor *k, SoraTensor *v, SoraTensor *out,
    const SoraAttentionParams *p, const AttnTile *tile, gsize batch, gsize nq,
    gsize nk, gsize dim, GError **error)
{
  CpuAttention a = { q, k, v, out, p, tile };
  gsize slices = batch * p->heads, pack_bytes;
  gboolean ok = TRUE;

  a.plan = pack_plan (tile, slices, nk, dim);
  /* A 480p step's 24 slices in one launch would take seconds on a CPU. */
  a.plan.slices =
      sora_op_launch_rows (q->dev, a.plan.slices, 1, 4.0 * nq * nk * dim);
  a.nq = nq;
  a.nk = nk;
  a.dim = dim;
  /* From the head dim alone: a value from the sequence length would be a
   * kernel to compile for each frame size. */
  a.rb = CLAMP (PRIVATE_FLOATS / (tile->rows * dim), 1, 32);
  a.blocks = (nq + a.rb * tile->rows - 1) / (a.rb * tile->rows);
  pack_bytes = a.plan.slices * a.plan.slice_bytes;
  if (!sora_op_check_int (pack_bytes / sizeof (float), OP, k, error))
    return FALSE;
  a.kp = sora_device_scratch (q->dev, SORA_SCRATCH_ATTN_KEYS, pack_bytes,
      "attention key panels", error);
  a.vp = a.kp ? sora_device_scratch (q->dev, SORA_SCRATCH_ATTN_VALUES,
                    pack_bytes, "attention value rows", error)
              : NULL;
  if (a.vp == NULL)
    return FALSE;
  a.options = cpu_options (tile, p, dim, a.rb);
  /* The panels are reused by the next slices once the queue (in order) has
   * run the attention of these. */
  for (gsize bh0 = 0; ok && bh0 < slices; bh0 += a.plan.slices)
    ok = run_slices (&a, bh0, MIN (a.plan.slices, slices - bh0), error);
  g_free (a.options);
  return ok;
}

/* Which kernel an attention runs, with its tile. */
typedef enum {
  FORM_CPU, /* attention.cl */
  FORM_GPU, /* attention-gpu.cl's attention_gpu */
  FORM_MMA, /* attention-gpu.cl's attention_mma */
} AttnKind;

typedef struct
{
  AttnKind kind;
  AttnTile tile;
  GpuAttnTile gpu;
  MmaAttnTile mma; /* not yet fitted to the head dim */
  SoraDType op_dtype;
  SoraMmaForm form;
} AttnForm;

/* sora_op_attention in form @f; FORM_MMA falls back to FORM_GPU's tile
 * @f->gpu for a head dim it does not fit. */
static gboolean
attention (SoraTensor *q, SoraTensor *k, SoraTensor *v, SoraTensor *out,
    const SoraAttentionParams *p, const AttnForm *f, GError **error)
{
  gsize batch, nq, nk, dim;
  MmaAttnTile mma = f->mma;

  if (!check_shapes (q, k, v, out, p, &batch, &nq, &nk, &dim, error))
    return FALSE;
  if (nq == 0 || batch == 0)
    return TRUE;
  if (f->kind == FORM_MMA &&
      sora_attention_mma_fit (
          &mma, dim, f->form, sora_attention_gpu_local_mem (q->dev)))
    return sora_attention_run_mma (
        q, k, v, out, p, mma, f->op_dtype, f->form, batch, nq, nk, dim, error);
  if (f->kind != FORM_CPU)
    return sora_attention_run_gpu (
        q, k, v, out, p, f->gpu, batch, nq, nk, dim, error);
  return attention_cpu (q, k, v, out, p, &f->tile, batch, nq, nk, dim, error);
}

static MmaAttnTile device_mma_tile (SoraDevice *dev, SoraDType op_dtype);
static SoraDType attention_precision (SoraDevice *dev);

/* The form @dev takes: the matrix units where $SORA_PRECISION forces them
 * (an error where there are none), or, where it is "auto", where they were
 * measured correct and faster on a device given the GPU forms; else the
 * GPU or CPU form.
 * @dim is the head dim, 0 when the shapes are wrong (then reported). */
static gboolean
device_form (SoraDevice *dev, gsize dim, AttnForm *f, GError **error)
{
  gboolean measure, gpu = sora_tune_gpu_kernels (dev);

  *f = (AttnForm){ FORM_CPU };
  if (!sora_tune_requested_precision (&f->op_dtype, &measure, error))
    return FALSE;
  if (measure && gpu)
    f->op_dtype = attention_precision (dev);
  if (f->op_dtype != SORA_DTYPE_F32) {
    f->form = sora_tune_mma_form (dev);
    if (f->form == SORA_MMA_NONE) {
      g_set_error (error, SORA_ERROR, SORA_ERROR_DEVICE,
          "%s: %s has no matrix units this engine can use (it needs NVIDIA "
          "compute capability 8.0 or later, or AMD gfx90a, gfx94x or "
          "gfx11xx, or an Intel GPU reporting "
          "cl_intel_subgroup_matrix_multiply_accumulate); unset "
          "SORA_PRECISION for f32",
          OP, sora_device_get_info (dev)->name);
      return FALSE;
    }
    /* AMD's fragments are the GEMM's alone: the f32 GPU form here. */
    if (sora_tune_mma_ptx_layout (f->form)) {
      f->mma = device_mma_tile (dev, f->op_dtype);
      f->kind = FORM_MMA;
      if (sora_attention_mma_fit (&(MmaAttnTile){ f->mma.bq, f->mma.bk }, dim,
              f->form, sora_attention_gpu_local_mem (dev)))
        return TRUE;
    }
  }
  f->kind = gpu || f->op_dtype != SORA_DTYPE_F32 ? FORM_GPU : FORM_CPU;
  if (f->kind == FORM_GPU)
    f->gpu = device_gpu_tile (dev);
  else
    f->tile = device_tile (dev);
  return TRUE;
}

gboolean
sora_op_attention (SoraTensor *q, SoraTensor *k, SoraTensor *v, SoraTensor *out,
    const SoraAttentionParams *p, GError **error)
{
  gsize dim = q->ndim == 3 && p->heads > 0 ? q->shape[2] / p->heads : 0;
  AttnForm f;

  return device_form (q->dev, dim, &f, error) &&
      attention (q, k, v, out, p, &f, error);
}

gboolean
sora_attention_operand_dtype (
    SoraDevice *dev, gsize head_dim, SoraDType *dtype, GError **error)
{
  AttnForm f;

  if (!device_form (dev, head_dim, &f, error))
    return FALSE;
  *dtype = f.kind == FORM_MMA ? f.op_dtype : SORA_DTYPE_F32;
  return TRUE;
}

/* Tuning. */

typedef struct
{
  SoraTensor *q, *k, *v, *out;
  SoraDType op_dtype; /* the matrix-unit tile's operands */
} AttnProbe;

static gboolean
probe_init (SoraDevice *dev, gpointer data)
{
  AttnProbe *a = data;
  gsize shape[3] = { 1, PROBE_N, PROBE_HEADS * PROBE_DIM };
  gsize n = PROBE_N * PROBE_HEADS * PROBE_DIM;
  float *values = g_new (float, n);
  SoraTensor **t[] = { &a->q, &a->k, &a->v, &a->out };
  GError *error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (t) && error == NULL; i++) {
    /* Values in [-1, 1) with 16 significant bits, apart for Q, K and V,
     * which bf16 and f16 round (the matrix-unit check, precision_setup). */
    for (gsize e = 0; e < n; e++)
      values[e] =
          (float)(((guint32)(e + i * n) * 2654435761u >> 8) & 0xffff) / 32768 -
          1;
    if ((*t[i] = sora_tensor_new (
             dev, "attention-probe", SORA_DTYPE_F32, 3, shape, &error)))
      sora_tensor_write (*t[i], values, &error);
  }
  g_free (values);
  if (error == NULL)
    return TRUE;
  g_warning ("attention: cannot set up the tuning probe: %s", error->message);
  g_error_free (error);
  return FALSE;
}

static void
probe_clear (gpointer data)
{
  AttnProbe *a = data;

  sora_tensor_free (a->q);
  sora_tensor_free (a->k);
  sora_tensor_free (a->v);
  sora_tensor_free (a->out);
}

typedef struct
{
  AttnProbe *a;
  AttnForm f;
} AttnRun;

static AttnRun *
run_new (gpointer data, AttnKind kind)
{
  AttnRun *r = g_new0 (AttnRun, 1);

  r->a = data;
  r->f.kind = kind;
  return r;
}

static gpointer
probe_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  AttnRun *r = run_new (data, FORM_CPU);

  parse_tile (dev, candidate, &r->f.tile);
  return r;
}

static gpointer
gpu_probe_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  AttnRun *r = run_new (data, FORM_GPU);

  sora_attention_parse_gpu_tile (candidate, &r->f.gpu);
  return r;
}

/* The matrix units with tile @candidate in the probe's operands. */
static gpointer
mma_probe_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  AttnRun *r = run_new (data, FORM_MMA);

  sora_attention_parse_mma_tile (candidate, &r->f.mma);
  r->f.op_dtype = r->a->op_dtype;
  r->f.form = sora_tune_mma_form (dev);
  if (sora_attention_mma_fit (&(MmaAttnTile){ r->f.mma.bq, r->f.mma.bk },
          PROBE_DIM, r->f.form, sora_attention_gpu_local_mem (dev)))
    return r;
  g_set_error (error, SORA_ERROR, SORA_ERROR_DEVICE,
      "%s: matrix-unit tile %s does not fit %s's local memory", OP, candidate,
      sora_device_get_info (dev)->name);
  g_free (r);
  return NULL;
}

static gboolean
attention_probe (
    AttnProbe *a, const AttnForm *f, SoraTensor *out, GError **error)
{
  SoraAttentionParams p = { PROBE_HEADS, 1.0f / 11.3f };

  return attention (a->q, a->k, a->v, out, &p, f, error) &&
      sora_device_finish (a->q->dev, error);
}

static gboolean
probe_run (gpointer run, GError **error)
{
  AttnRun *r = run;

  return attention_probe (r->a, &r->f, r->a->out, error);
}

/* sora_tune_precision's candidates: the GPU form, or the matrix units in
 * bf16, refused unless close to the former on the probe. */
static gpointer
precision_setup (
    SoraDevice *dev, const char *candidate, gpointer data, GError **error)
{
  AttnRun *r = run_new (data, FORM_GPU);
  SoraTensor *want;
  gboolean ok;

  r->f.gpu = device_gpu_tile (dev);
  if (g_strcmp0 (candidate, "f32") == 0)
    return r;
  want = sora_tensor_new (dev, "attention-probe.want", SORA_DTYPE_F32,
      r->a->out->ndim, r->a->out->shape, error);
  ok = want && attention_probe (r->a, &r->f, want, error);
  r->f.kind = FORM_MMA;
  r->f.op_dtype = SORA_DTYPE_BF16;
  r->f.form = sora_tune_mma_form (dev);
  r->f.mma = device_mma_tile (dev, SORA_DTYPE_BF16);
  ok = ok &&
      sora_attention_mma_fit (&(MmaAttnTile){ r->f.mma.bq, r->f.mma.bk },
          PROBE_DIM, r->f.form, sora_attention_gpu_local_mem (dev)) &&
      probe_run (r, error) &&
      sora_tune_check_close (r->a->out, want, "attention bf16 check", error);
  sora_tensor_free (want);
  if (!ok)
    g_clear_pointer (&r, g_free);
  return r;
}

/* The register tiles with about 128 keys per block, in whole panels. */
char **
sora_attention_tile_candidates (SoraDevice *dev)
{
  SoraRegTile reg[SORA_MAX_REG_TILES];
  guint n = sora_tune_register_tiles (dev, reg);
  char **candidates = g_new0 (char *, n + 1);

  for (guint i = 0; i < n; i++) {
    int kt = reg[i].vw * reg[i].nv;

    candidates[i] = g_strdup_printf (
        "%dx%dx%d", reg[i].m, reg[i].nv, MAX (128 / kt, 1) * kt);
  }
  return candidates;
}

static SoraTuneSpec
attention_spec (const char *name, const char *env,
    gboolean (*valid) (SoraDevice *, const char *),
    gpointer (*setup) (SoraDevice *, const char *, gpointer, GError **))
{
  return (SoraTuneSpec){ name, env,
    G_STRINGIFY (PROBE_N) "x" G_STRINGIFY (PROBE_HEADS) "x" G_STRINGIFY (
        PROBE_DIM),
    4.0 * PROBE_N * PROBE_N * PROBE_DIM * PROBE_HEADS, valid, probe_init,
    probe_clear, setup, probe_run, g_free };
}

char *
sora_attention_gpu_tile_name (SoraDevice *dev)
{
  SoraTuneSpec spec =
      attention_spec ("attention-gpu-tile", "SORA_ATTENTION_GPU_TILE",
          sora_attention_valid_gpu_tile, gpu_probe_setup);
  AttnProbe probe = { NULL };

  return sora_tune_choose (dev, &spec, sora_attention_gpu_tiles, &probe);
}

static GpuAttnTile
device_gpu_tile (SoraDevice *dev)
{
  char *value = sora_attention_gpu_tile_name (dev);
  GpuAttnTile tile;

  sora_attention_parse_gpu_tile (value, &tile);
  g_free (value);
  return tile;
}

char *
sora_attention_tile_name (SoraDevice *dev)
{
  SoraTuneSpec spec = attention_spec (
      "attention-tile", "SORA_ATTENTION_TILE", valid_tile, probe_setup);
  char **candidates = sora_attention_tile_candidates (dev);
  AttnProbe probe = { NULL };
  char *value;

  value =
      sora_tune_choose (dev, &spec, (const char *const *)candidates, &probe);
  g_strfreev (candidates);
  return value;
}

static AttnTile
device_tile (SoraDevice *dev)
{
  char *value = sora_attention_tile_name (dev);
  AttnTile tile;

  parse_tile (dev, value, &tile);
  g_free (value);
  return tile;
}

char *
sora_attention_mma_tile_name (SoraDevice *dev, SoraDType op_dtype)
{
  char *name =
      g_strdup_printf ("attention-mma-tile-%s", sora_dtype_name (op_dtype));
  SoraTuneSpec spec = attention_spec (name, "SORA_ATTENTION_MMA_TILE",
      sora_attention_valid_mma_tile, mma_probe_setup);
  AttnProbe probe = { NULL };
  char *value;

  probe.op_dtype = op_dtype;
  value = sora_tune_choose (dev, &spec, sora_attention_mma_tiles, &probe);
  g_free (name);
  return value;
}

char **
sora_attention_mma_tile_candidates (void)
{
  return g_strdupv ((char **)sora_attention_mma_tiles);
}

static MmaAttnTile
device_mma_tile (SoraDevice *dev, SoraDType op_dtype)
{
  char *value = sora_attention_mma_tile_name (dev, op_dtype);
  MmaAttnTile tile;

  sora_attention_parse_mma_tile (value, &tile);
  g_free (value);
  return tile;
}

static SoraDType
attention_precision (SoraDevice *dev)
{
  SoraTuneSpec spec = attention_spec (
      "attention-precision", NULL, sora_tune_valid_precision, precision_setup);
  AttnProbe probe = { NULL };

  if (!sora_tune_mma_ptx_layout (sora_tune_mma_form (dev)))
    return SORA_DTYPE_F32;
  return sora_tune_precision (dev, &spec, &probe);
}
