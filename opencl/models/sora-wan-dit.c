/* gst-sora engine: the Wan2.1 diffusion transformer (WanTransformer3DModel
 * in diffusers), read top to bottom.  Formulas and pitfalls: docs/model.md
 * §DiT and §RoPE.
 *
 *   X = patchify(latents)·Wpᵀ + bp                      tokens [B, L, d]
 *   temb = lin2(SiLU(lin1(sinusoid(t))));  M = time_proj(SiLU(temb)) [B, 6, d]
 *   C = lin2(GELU_tanh(lin1(text)))
 *   per block, (sh1, sc1, g1, sh2, sc2, g2) = M + table:
 *     Y = LN(X)·(1 + sc1) + sh1
 *     X += g1 · Attn(RoPE(RMS(Y·Wq)), RoPE(RMS(Y·Wk)), Y·Wv)·Wo
 *     Y = LN_affine(X);  X += Attn(RMS(Y·Wq), RMS(C·Wk), C·Wv)·Wo
 *     Y = LN(X)·(1 + sc2) + sh2;  X += g2 · lin(GELU_tanh(lin(Y)))
 *   (sh, sc) = temb + head table;  out = unpatchify(proj_out(LN(X)·(1+sc)+sh))
 *
 * Every product is a Linear with a bias; the attention has no mask, and the
 * pipeline's zeroed text padding rows are attended on purpose.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "sora-ops.h"
#include "sora-wan-dit-private.h"
#include "sora-weights.h"

/* Rows of a block's modulation (diffusers' chunk order). */
enum { SHIFT_MSA, SCALE_MSA, GATE_MSA, SHIFT_FFN, SCALE_FFN, GATE_FFN };
/* Rows of the head's modulation. */
enum { SHIFT_OUT, SCALE_OUT };

/* The FFN hidden layer [B·L, ffn_dim] f32 is the largest activation (1.17 GB
 * per batch item at 480p, over PoCL's 1 GiB buffer limit), so it runs over
 * chunks of token rows whose hidden buffer stays under this and the
 * device's max_alloc; 256 MiB still gives the products thousands of rows. */
#define FFN_BUDGET ((guint64)256 << 20)

const SoraWanTransformerConfig *
sora_wan_dit_get_config (SoraWanDit *dit)
{
  return &dit->cfg;
}

/* Acts holds nothing but tensor pointers. */
static void
acts_clear (Acts *a)
{
  SoraTensor **t = (SoraTensor **)a;

  for (gsize i = 0; i < sizeof (Acts) / sizeof (SoraTensor *); i++)
    sora_tensor_free (t[i]);
}

/* One f32 activation of the given dims, or, with @count, only its bytes
 * added to *@count: the memory estimate follows the same list. */
static gboolean
acts_new (SoraWanDit *dit, SoraTensor **t, guint64 *count, const char *name,
    GError **error, guint ndim, ...)
{
  gsize shape[SORA_MAX_DIMS];
  guint64 bytes = sizeof (float);
  va_list ap;

  va_start (ap, ndim);
  for (guint i = 0; i < ndim; i++) {
    shape[i] = va_arg (ap, gsize);
    bytes *= shape[i];
  }
  va_end (ap);
  if (count) {
    *count += bytes;
    return TRUE;
  }
  *t = sora_tensor_new (dit->dev, name, SORA_DTYPE_F32, ndim, shape, error);
  return *t != NULL;
}

/* Allocates the activations of a forward, or with @count only sums their
 * bytes. */
static gboolean
acts_alloc (SoraWanDit *dit, Acts *a, gsize batch, gsize frames, gsize height,
    gsize width, gsize tokens, gsize seq, guint64 *count, GError **error)
{
  const SoraWanTransformerConfig *c = &dit->cfg;
  gsize d = c->inner_dim, ffn = c->ffn_dim, freq = c->freq_dim;
  gsize patch = (gsize)c->patch_size[0] * c->patch_size[1] * c->patch_size[2];
  gsize in = c->in_channels, out = c->out_channels;
  gsize rows = batch * tokens;
  guint64 budget = MIN (FFN_BUDGET, sora_device_get_info (dit->dev)->max_alloc);
  gsize max_rows = MAX (budget / (ffn * sizeof (float)), 1);
  /* Equal chunks: the last one wastes fewer rows than there are chunks. */
  gsize chunks = (rows + max_rows - 1) / max_rows;
  gsize chunk = (rows + chunks - 1) / chunks;

#define NEW(field, ...)                                                        \
  if (!acts_new (                                                              \
          dit, &a->field, count, "wan dit " #field, error, __VA_ARGS__))       \
    return FALSE;
  NEW (in_item, 4, in, frames, height, width);
  NEW (in_tokens, 2, tokens, in * patch);
  NEW (patches, 3, batch, tokens, in * patch);
  NEW (sinusoid, 2, batch, freq);
  NEW (time_hidden, 2, batch, d);
  NEW (temb, 2, batch, d);
  NEW (temb_act, 2, batch, d);
  NEW (tproj, 2, batch, 6 * d);
  NEW (mod, 3, batch, (gsize)6, d);
  NEW (head_mod, 3, batch, (gsize)2, d);
  NEW (text_hidden, 3, batch, seq, d);
  NEW (ctx, 3, batch, seq, d);
  NEW (ck, 3, batch, seq, d);
  NEW (cv, 3, batch, seq, d);
  NEW (x, 3, batch, tokens, d);
  NEW (y, 3, batch, tokens, d);
  NEW (q, 3, batch, tokens, d);
  NEW (k, 3, batch, tokens, d);
  NEW (v, 3, batch, tokens, d);
  if (chunks == 1) {
    NEW (ffn, 3, batch, tokens, ffn);
  } else {
    NEW (ffn_in, 2, chunk, d);
    NEW (ffn, 2, chunk, ffn);
    NEW (ffn_out, 2, chunk, d);
  }
  NEW (proj, 3, batch, tokens, out * patch);
  NEW (out_tokens, 2, tokens, out * patch);
  NEW (out_item, 4, out, frames, height, width);
#undef NEW
  return TRUE;
}

void
sora_wan_dit_release_workspace (SoraWanDit *dit)
{
  acts_clear (&dit->ws);
  memset (&dit->ws, 0, sizeof (dit->ws));
  memset (dit->ws_shape, 0, sizeof (dit->ws_shape));
}

/* The workspace for a forward of this shape: the last one's when the shape
 * is the same (no role holds any of it, should that forward have failed
 * part-way), else a new one in its place. */
static Acts *
workspace (SoraWanDit *dit, gsize batch, gsize frames, gsize height,
    gsize width, gsize tokens, gsize seq, GError **error)
{
  const gsize shape[5] = { batch, frames, height, width, seq };
  SoraTensor **t = (SoraTensor **)&dit->ws;

  if (memcmp (shape, dit->ws_shape, sizeof (shape)) == 0) {
    for (gsize i = 0; i < sizeof (Acts) / sizeof (SoraTensor *); i++)
      if (t[i])
        t[i]->role = NULL;
    return &dit->ws;
  }
  sora_wan_dit_release_workspace (dit);
  if (!acts_alloc (dit, &dit->ws, batch, frames, height, width, tokens, seq,
          NULL, error)) {
    sora_wan_dit_release_workspace (dit);
    return NULL;
  }
  memcpy (dit->ws_shape, shape, sizeof (shape));
  return &dit->ws;
}

/* diffusers' get_timestep_embedding (flip_sin_to_cos, no frequency shift)
 * in float32 as it runs it: [cos (t·ω_j), sin (t·ω_j)] with
 * ω_j = exp (−ln (10000)·j / (dim/2)). */
static gboolean
timestep_sinusoid (
    const float *timesteps, gsize batch, SoraTensor *out, GError **error)
{
  gsize dim = out->shape[1], half = dim / 2;
  float *host = g_new0 (float, batch *dim);
  gboolean ok;

  for (gsize b = 0; b < batch; b++) {
    for (gsize j = 0; j < half; j++) {
      float exponent = (float)-log (10000.0) * (float)j / (float)half;
      float arg = timesteps[b] * expf (exponent);

      host[b * dim + j] = (float)cos ((double)arg);
      host[b * dim + half + j] = (float)sin ((double)arg);
    }
  }
  ok = sora_tensor_write (out, host, error);
  g_free (host);
  return ok;
}

/* The RoPE table of a grid from frame @first on, kept while they stay the
 * same (a chunk's denoising steps), its buffer while the grid does (a
 * stream's chunks). */
static SoraTensor *
rope_table (
    SoraWanDit *dit, gsize first, gsize f, gsize h, gsize w, GError **error)
{
  gsize d = dit->cfg.attention_head_dim;
  gboolean same_grid = dit->rope && dit->rope_grid[0] == f &&
      dit->rope_grid[1] == h && dit->rope_grid[2] == w;

  if (same_grid && dit->rope_first == first)
    return dit->rope;
  if (same_grid) {
    if (!sora_rope_table_write (dit->rope, first, f, h, w, d, 10000.0, error))
      g_clear_pointer (&dit->rope, sora_tensor_free);
  } else {
    g_clear_pointer (&dit->rope, sora_tensor_free);
    dit->rope =
        sora_rope_table_new (dit->dev, first, f, h, w, d, 10000.0, error);
  }
  dit->rope_first = first;
  dit->rope_grid[0] = f;
  dit->rope_grid[1] = h;
  dit->rope_grid[2] = w;
  return dit->rope;
}

/* out = lin2 (GELU_tanh (lin1 (y))), chunk by chunk when Acts has chunks;
 * the rows of a short last chunk past the end are stale and dropped. */
static gboolean
ffn_forward (Block *b, Acts *a, SoraTensor *y, SoraTensor *out, GError **error)
{
  gsize d = y->shape[y->ndim - 1], rows = y->numel / d;
  SoraTensor *in = a->ffn_in ? a->ffn_in : y;
  SoraTensor *res = a->ffn_out ? a->ffn_out : out;
  gsize chunk = a->ffn_in ? a->ffn_in->shape[0] : rows;

  for (gsize start = 0; start < rows; start += chunk) {
    gsize count = MIN (chunk, rows - start);

    if ((a->ffn_in &&
            !sora_op_copy_slab (
                y, in, 1, d, rows, start, chunk, 0, count, error)) ||
        !sora_op_linear (b->ffn0, in, a->ffn, error) ||
        !sora_op_activate (a->ffn, SORA_ACT_GELU_TANH, a->ffn, error) ||
        !sora_op_linear (b->ffn2, a->ffn, res, error) ||
        (a->ffn_out &&
            !sora_op_copy_slab (
                res, out, 1, d, chunk, 0, rows, start, count, error)))
      return FALSE;
  }
  return TRUE;
}

/* The values the scratch tensors y and q hold in turn, in the order of a
 * block and then the head: each role is leased before its writer and ends
 * after its last reader (sora_tensor_lease), so that neither tensor ever
 * holds two values at once; test-dit checks that no op reads one outside
 * its role's life. */
static const char SELF_IN[] = "self-attention input";
static const char SELF_Q[] = "self-attention queries";
static const char SELF_OUT[] = "self-attention output";
static const char SELF_PROJ[] = "projected self-attention";
static const char CROSS_IN[] = "cross-attention input";
static const char CROSS_Q[] = "cross-attention queries";
static const char CROSS_OUT[] = "cross-attention output";
static const char CROSS_PROJ[] = "projected cross-attention";
static const char FFN_IN[] = "feed-forward input";
static const char FFN_OUT[] = "feed-forward output";
static const char HEAD_IN[] = "head input";

/* @t's role @from ends and @to begins. */
static gboolean
hand_over (SoraTensor *t, const char *from, const char *to, GError **error)
{
  return sora_tensor_unlease (t, from, error) &&
      sora_tensor_lease (t, to, error);
}

/* A block's cross-attention K (after norm_k) and V of the embedded text. */
static gboolean
cross_kv (Block *b, SoraTensor *ctx, SoraTensor *k, SoraTensor *v, float eps,
    GError **error)
{
  return sora_op_linear (b->k2, ctx, k, error) &&
      sora_op_linear (b->v2, ctx, v, error) &&
      sora_op_rms_norm (k, b->norm_k2, eps, k, error);
}

/* Block @i; with @cache, the self-attention attends its frames too and the
 * cross-attention takes its text K/V. */
static gboolean
block_forward (SoraWanDit *dit, guint i, Acts *a, SoraTensor *rope,
    SoraWanDitCache *cache, GError **error)
{
  const SoraWanTransformerConfig *c = &dit->cfg;
  Block *b = &dit->blocks[i];
  float eps = c->eps;
  SoraAttentionParams ap = { c->num_attention_heads,
    1.0f / sqrtf ((float)c->attention_head_dim), NULL, NULL };
  gboolean norm2 = b->norm2_w != NULL;
  SoraTensor *cross_in = norm2 ? a->y : a->x;
  SoraTensor *ck = a->ck, *cv = a->cv;

  if (cache)
    sora_wan_dit_cache_text_kv (cache, i, &ck, &cv);

  return
      /* The modulation rows, from the timestep's and the block's own. */
      sora_op_add (a->tproj, b->table, a->mod, error) &&
      /* Self-attention, gated. */
      sora_tensor_lease (a->y, SELF_IN, error) &&
      sora_op_layer_norm (a->x, NULL, NULL, eps, a->y, error) &&
      sora_op_modulate (a->y, a->mod, SCALE_MSA, SHIFT_MSA, a->y, error) &&
      sora_tensor_lease (a->q, SELF_Q, error) &&
      sora_op_linear (b->q1, a->y, a->q, error) &&
      sora_op_linear (b->k1, a->y, a->k, error) &&
      sora_op_linear (b->v1, a->y, a->v, error) &&
      /* y is free once projected: it takes the attention's output, and q
       * once attended the projection's. */
      hand_over (a->y, SELF_IN, SELF_OUT, error) &&
      sora_op_rms_norm (a->q, b->norm_q1, eps, a->q, error) &&
      sora_op_rms_norm (a->k, b->norm_k1, eps, a->k, error) &&
      sora_op_rope (a->q, rope, c->num_attention_heads, a->q, error) &&
      sora_op_rope (a->k, rope, c->num_attention_heads, a->k, error) &&
      (cache ? sora_wan_dit_cache_attend (
                   cache, i, a->q, a->k, a->v, a->y, &ap, error)
             : sora_op_attention (a->q, a->k, a->v, a->y, &ap, error)) &&
      hand_over (a->q, SELF_Q, SELF_PROJ, error) &&
      sora_op_linear (b->o1, a->y, a->q, error) &&
      sora_tensor_unlease (a->y, SELF_OUT, error) &&
      sora_op_add_gated (a->x, a->q, a->mod, GATE_MSA, error) &&
      sora_tensor_unlease (a->q, SELF_PROJ, error) &&
      /* Cross-attention over the text, plain residual. */
      (!norm2 ||
          (sora_tensor_lease (a->y, CROSS_IN, error) &&
              sora_op_layer_norm (
                  a->x, b->norm2_w, b->norm2_b, eps, a->y, error))) &&
      sora_tensor_lease (a->q, CROSS_Q, error) &&
      sora_op_linear (b->q2, cross_in, a->q, error) &&
      (!norm2 || sora_tensor_unlease (a->y, CROSS_IN, error)) &&
      (cache || cross_kv (b, a->ctx, ck, cv, eps, error)) &&
      sora_op_rms_norm (a->q, b->norm_q2, eps, a->q, error) &&
      sora_tensor_lease (a->y, CROSS_OUT, error) &&
      sora_op_attention (a->q, ck, cv, a->y, &ap, error) &&
      hand_over (a->q, CROSS_Q, CROSS_PROJ, error) &&
      sora_op_linear (b->o2, a->y, a->q, error) &&
      sora_tensor_unlease (a->y, CROSS_OUT, error) &&
      sora_op_add (a->x, a->q, a->x, error) &&
      sora_tensor_unlease (a->q, CROSS_PROJ, error) &&
      /* Feed-forward, gated. */
      sora_tensor_lease (a->y, FFN_IN, error) &&
      sora_op_layer_norm (a->x, NULL, NULL, eps, a->y, error) &&
      sora_op_modulate (a->y, a->mod, SCALE_FFN, SHIFT_FFN, a->y, error) &&
      sora_tensor_lease (a->q, FFN_OUT, error) &&
      ffn_forward (b, a, a->y, a->q, error) &&
      sora_tensor_unlease (a->y, FFN_IN, error) &&
      sora_op_add_gated (a->x, a->q, a->mod, GATE_FFN, error) &&
      sora_tensor_unlease (a->q, FFN_OUT, error);
}

/* Checks the forward's tensors; @out may be NULL (not made yet). */
static gboolean
check_inputs (SoraWanDit *dit, SoraTensor *latents, SoraTensor *text,
    SoraTensor *out, GError **error)
{
  const SoraWanTransformerConfig *c = &dit->cfg;
  const guint *p = c->patch_size;
  g_autofree char *l = sora_tensor_describe (latents);
  g_autofree char *t = sora_tensor_describe (text);

  if (latents->dtype != SORA_DTYPE_F32 || latents->ndim != 5 ||
      latents->shape[0] == 0 || latents->shape[1] != c->in_channels ||
      latents->shape[2] == 0 || latents->shape[2] % p[0] ||
      latents->shape[3] == 0 || latents->shape[3] % p[1] ||
      latents->shape[4] == 0 || latents->shape[4] % p[2]) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "Wan DiT: latents %s must be f32 [B, %u, F, H, W] with F, H, W "
        "non-zero multiples of the patch %ux%ux%u",
        l, c->in_channels, p[0], p[1], p[2]);
    return FALSE;
  }
  if (text->dtype != SORA_DTYPE_F32 || text->ndim != 3 ||
      text->shape[0] != latents->shape[0] || text->shape[1] == 0 ||
      text->shape[2] != c->text_dim) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "Wan DiT: text %s must be f32 [%" G_GSIZE_FORMAT ", S, %u] for "
        "latents %s",
        t, latents->shape[0], c->text_dim, l);
    return FALSE;
  }
  if (out &&
      !sora_tensor_check_shape (out, "Wan DiT output", 5,
          (gsize[]){ latents->shape[0], c->out_channels, latents->shape[2],
              latents->shape[3], latents->shape[4] },
          error))
    return FALSE;
  /* diffusers' RoPE only has rope_max_seq_len positions per axis. */
  for (guint i = 0; i < 3; i++) {
    if (latents->shape[2 + i] / p[i] > c->rope_max_seq_len) {
      g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
          "Wan DiT: latents %s have more than rope_max_seq_len = %u "
          "patches along an axis",
          l, c->rope_max_seq_len);
      return FALSE;
    }
  }
  return TRUE;
}

/* Patch embedding: the Conv3d with stride = kernel is a Linear over the
 * patchified tokens of each batch item. */
static gboolean
patch_embed (SoraWanDit *dit, SoraTensor *latents, Acts *a, GError **error)
{
  const guint *p = dit->cfg.patch_size;
  gsize batch = latents->shape[0];
  gsize in_numel = dit->cfg.in_channels * latents->shape[2] *
      latents->shape[3] * latents->shape[4];

  for (gsize b = 0; b < batch; b++) {
    if (!sora_op_copy_slab (
            latents, a->in_item, 1, in_numel, batch, b, 1, 0, 1, error) ||
        !sora_op_patchify (a->in_item, p[0], p[1], p[2], a->in_tokens, error) ||
        !sora_op_copy_slab (a->in_tokens, a->patches, 1, a->in_tokens->numel, 1,
            0, batch, b, 1, error))
      return FALSE;
  }
  return sora_op_linear (dit->patch, a->patches, a->x, error);
}

/* Time: sinusoid -> MLP -> temb; SiLU -> time_proj -> 6 rows per item. */
static gboolean
time_embed (SoraWanDit *dit, const float *timesteps, gsize batch, Acts *a,
    GError **error)
{
  gsize d = dit->cfg.inner_dim;

  return timestep_sinusoid (timesteps, batch, a->sinusoid, error) &&
      sora_op_linear (dit->time1, a->sinusoid, a->time_hidden, error) &&
      sora_op_activate (a->time_hidden, SORA_ACT_SILU, a->time_hidden, error) &&
      sora_op_linear (dit->time2, a->time_hidden, a->temb, error) &&
      sora_op_activate (a->temb, SORA_ACT_SILU, a->temb_act, error) &&
      /* tproj is [B, 6·d] for its product, [B, 6, d] for the blocks (and
       * stays so in the workspace). */
      sora_tensor_reshape (a->tproj, 2, (gsize[]){ batch, 6 * d }, error) &&
      sora_op_linear (dit->time_proj, a->temb_act, a->tproj, error) &&
      sora_tensor_reshape (a->tproj, 3, (gsize[]){ batch, 6, d }, error);
}

/* Text: Linear -> GELU (tanh) -> Linear. */
static gboolean
text_embed (SoraWanDit *dit, SoraTensor *text, Acts *a, GError **error)
{
  return sora_op_linear (dit->text1, text, a->text_hidden, error) &&
      sora_op_activate (
          a->text_hidden, SORA_ACT_GELU_TANH, a->text_hidden, error) &&
      sora_op_linear (dit->text2, a->text_hidden, a->ctx, error);
}

/* Head: (shift, scale) = temb + table, both rows from temb itself. */
static gboolean
head_norm (SoraWanDit *dit, gsize batch, Acts *a, GError **error)
{
  gsize d = dit->cfg.inner_dim;

  return sora_op_copy_slab (
             a->temb, a->head_mod, batch, d, 1, 0, 2, SHIFT_OUT, 1, error) &&
      sora_op_copy_slab (
          a->temb, a->head_mod, batch, d, 1, 0, 2, SCALE_OUT, 1, error) &&
      sora_op_add (a->head_mod, dit->table, a->head_mod, error) &&
      sora_tensor_lease (a->y, HEAD_IN, error) &&
      sora_op_layer_norm (a->x, NULL, NULL, dit->cfg.eps, a->y, error) &&
      sora_op_modulate (a->y, a->head_mod, SCALE_OUT, SHIFT_OUT, a->y, error);
}

/* proj_out, then each batch item's tokens back to [C, F, H, W] in @out. */
static gboolean
head_out (SoraWanDit *dit, Acts *a, SoraTensor *out, GError **error)
{
  const guint *p = dit->cfg.patch_size;
  gsize batch = out->shape[0];
  gsize out_numel =
      dit->cfg.out_channels * out->shape[2] * out->shape[3] * out->shape[4];

  if (!sora_op_linear (dit->proj_out, a->y, a->proj, error) ||
      !sora_tensor_unlease (a->y, HEAD_IN, error))
    return FALSE;
  for (gsize b = 0; b < batch; b++) {
    if (!sora_op_copy_slab (a->proj, a->out_tokens, 1, a->out_tokens->numel,
            batch, b, 1, 0, 1, error) ||
        !sora_op_unpatchify (a->out_tokens, out->shape[2] / p[0],
            out->shape[3] / p[1], out->shape[4] / p[2], p[0], p[1], p[2],
            a->out_item, error) ||
        !sora_op_copy_slab (
            a->out_item, out, 1, out_numel, 1, 0, batch, b, 1, error))
      return FALSE;
  }
  return TRUE;
}

gboolean
sora_wan_dit_run (SoraWanDit *dit, SoraTensor *latents, const float *timesteps,
    SoraTensor *text, SoraWanDitCache *cache, gsize first_frame,
    const SoraProbe *probe, SoraTensor *out, GCancellable *cancellable,
    GError **error)
{
  const SoraWanTransformerConfig *c = &dit->cfg;
  const guint *p = c->patch_size;
  gsize batch, frames, height, width, f, h, w;
  Acts *a;
  SoraTensor *rope;
  GCancellable *previous = NULL;
  gboolean ok = FALSE;

  if (cancellable)
    previous = sora_device_set_cancellable (dit->dev, cancellable);
  batch = latents->shape[0];
  frames = latents->shape[2];
  height = latents->shape[3];
  width = latents->shape[4];
  f = frames / p[0];
  h = height / p[1];
  w = width / p[2];

  rope = rope_table (dit, first_frame, f, h, w, error);
  /* With a cache, one text row: the cache holds the text's K/V. */
  if (rope == NULL ||
      !(a = workspace (dit, batch, frames, height, width, f * h * w,
            cache ? 1 : text->shape[1], error)))
    goto out;

  if (!patch_embed (dit, latents, a, error))
    goto out;
  sora_probe_emit (probe, "patch_embedding", a->x);
  if (!time_embed (dit, timesteps, batch, a, error))
    goto out;
  sora_probe_emit (probe, "temb", a->temb);
  sora_probe_emit (probe, "timestep_proj", a->tproj);
  if (cache == NULL) {
    if (!text_embed (dit, text, a, error))
      goto out;
    sora_probe_emit (probe, "text_embedded", a->ctx);
  }

  for (guint i = 0; i < c->num_layers; i++) {
    char point[32];

    if (!block_forward (dit, i, a, rope, cache, error))
      goto out;
    g_snprintf (point, sizeof (point), "after_block%u", i);
    sora_probe_emit (probe, point, a->x);
  }

  if (!head_norm (dit, batch, a, error))
    goto out;
  sora_probe_emit (probe, "before_head", a->y);
  if (!head_out (dit, a, out, error))
    goto out;
  sora_probe_emit (probe, "output", out);
  ok = TRUE;

out:
  if (cancellable)
    sora_device_set_cancellable (dit->dev, previous);
  return ok;
}

gboolean
sora_wan_dit_forward_into (SoraWanDit *dit, SoraTensor *latents,
    const float *timesteps, SoraTensor *text, const SoraProbe *probe,
    SoraTensor *out, GCancellable *cancellable, GError **error)
{
  return check_inputs (dit, latents, text, out, error) &&
      sora_wan_dit_run (dit, latents, timesteps, text, NULL, 0, probe, out,
          cancellable, error);
}

SoraTensor *
sora_wan_dit_forward (SoraWanDit *dit, SoraTensor *latents,
    const float *timesteps, SoraTensor *text, const SoraProbe *probe,
    GCancellable *cancellable, GError **error)
{
  SoraTensor *out;

  if (!check_inputs (dit, latents, text, NULL, error))
    return NULL;
  out = sora_wan_dit_output_new (dit, latents, error);
  if (out &&
      !sora_wan_dit_run (dit, latents, timesteps, text, NULL, 0, probe, out,
          cancellable, error))
    g_clear_pointer (&out, sora_tensor_free);
  return out;
}

SoraTensor *
sora_wan_dit_output_new (SoraWanDit *dit, SoraTensor *latents, GError **error)
{
  return sora_tensor_new_v (dit->dev, "wan dit output", SORA_DTYPE_F32, error,
      5, latents->shape[0], (gsize)dit->cfg.out_channels, latents->shape[2],
      latents->shape[3], latents->shape[4]);
}

gboolean
sora_wan_dit_text_kv (SoraWanDit *dit, SoraTensor *text, SoraTensor **k,
    SoraTensor **v, GError **error)
{
  const SoraWanTransformerConfig *c = &dit->cfg;
  gsize batch = text->shape[0], seq = text->shape[1];
  Acts a = { NULL };
  gboolean ok;

  ok = acts_new (dit, &a.text_hidden, NULL, "wan dit text_hidden", error, 3,
           batch, seq, (gsize)c->inner_dim) &&
      acts_new (dit, &a.ctx, NULL, "wan dit ctx", error, 3, batch, seq,
          (gsize)c->inner_dim) &&
      text_embed (dit, text, &a, error);
  for (guint i = 0; ok && i < c->num_layers; i++) {
    ok = acts_new (dit, &k[i], NULL, "wan dit cache text k", error, 3, batch,
             seq, (gsize)c->inner_dim) &&
        acts_new (dit, &v[i], NULL, "wan dit cache text v", error, 3, batch,
            seq, (gsize)c->inner_dim) &&
        cross_kv (&dit->blocks[i], a.ctx, k[i], v[i], c->eps, error);
  }
  acts_clear (&a);
  return ok;
}

SoraDevice *
sora_wan_dit_get_device (SoraWanDit *dit)
{
  return dit->dev;
}

guint64
sora_wan_dit_forward_bytes_keys (SoraWanDit *dit, gsize batch, gsize frames,
    gsize height, gsize width, gsize seq, gsize keys)
{
  const SoraWanTransformerConfig *c = &dit->cfg;
  gsize tokens = frames / c->patch_size[0] * (height / c->patch_size[1]) *
      (width / c->patch_size[2]);
  guint64 bytes = 0;
  Acts a;

  acts_alloc (dit, &a, batch, frames, height, width, tokens, seq, &bytes, NULL);
  /* the output, the temporaries of the self- or the cross-attention (over
   * the keys or the text rows), the RoPE table (cos and sin) */
  bytes += (guint64)batch * c->out_channels * frames * height * width * 4;
  bytes += MAX (sora_op_attention_temp_bytes (dit->dev, batch,
                    c->num_attention_heads, keys, c->attention_head_dim),
      sora_op_attention_temp_bytes (
          dit->dev, batch, c->num_attention_heads, seq, c->attention_head_dim));
  bytes += 2ull * tokens * c->attention_head_dim * 4;
  return bytes;
}

guint64
sora_wan_dit_forward_bytes (SoraWanDit *dit, gsize batch, gsize frames,
    gsize height, gsize width, gsize seq)
{
  const guint *p = dit->cfg.patch_size;

  return sora_wan_dit_forward_bytes_keys (dit, batch, frames, height, width,
      seq, frames / p[0] * (height / p[1]) * (width / p[2]));
}
