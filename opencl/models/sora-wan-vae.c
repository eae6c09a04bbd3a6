/* gst-sora engine: the Wan2.1 causal 3D VAE (AutoencoderKLWan), read top to
 * bottom.  Formulas and pitfalls: docs/model.md §VAE; the reference
 * is diffusers' autoencoder_kl_wan.py.
 *
 *   decode: z = z_n·std + mean;  x = post_quant_conv (z)
 *           per latent frame:  conv_in, mid (res, attn, res), up blocks
 *           (res… + upsample), norm_out, SiLU, conv_out, clamp (-1, 1)
 *   encode: per chunk (frame 0, then 4 frames):  conv_in, down blocks
 *           (res… + downsample), mid, norm_out, SiLU, conv_out, quant_conv;
 *           μ = channels [0, z_dim)
 *
 * Chunks see the past through one slot per temporal conv (kernel_t 3): the
 * last frames of that conv's input, so chunked execution equals the causal
 * network run over the whole clip.  A slot starts empty and is zero padded
 * (the reference's None), grows to CACHE_T frames and stays there: memory
 * does not depend on the clip's length.  The reference's "Rep" marker of
 * upsample3d's time_conv comes down to "skip it on the first chunk": its
 * later zero history is exactly the empty slot's padding.
 *
 * The tiled, resumable decode around the decoder is sora-wan-vae-decode.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include "sora-op.h"
#include "sora-ops.h"
#include "sora-wan-vae-private.h"

/* --- loading ------------------------------------------------------------ */

static void
conv_clear (Conv *c)
{
  sora_conv_weight_free (c->packed);
  g_free (c->name);
  sora_tensor_free (c->bias);
}

static void
layer_clear (Layer *l)
{
  sora_tensor_free (l->gamma1);
  sora_tensor_free (l->gamma2);
  conv_clear (&l->conv1);
  conv_clear (&l->conv2);
  conv_clear (&l->shortcut);
  conv_clear (&l->spatial);
  conv_clear (&l->time);
  sora_linear_free (l->q);
  sora_linear_free (l->k);
  sora_linear_free (l->v);
  sora_linear_free (l->proj);
}

static void
coder_clear (Coder *c)
{
  conv_clear (&c->conv_in);
  for (guint i = 0; c->layers && i < c->n_layers; i++)
    layer_clear (&c->layers[i]);
  g_free (c->layers);
  sora_tensor_free (c->norm_out);
  conv_clear (&c->conv_out);
}

void
sora_wan_vae_free (SoraWanVae *vae)
{
  if (vae == NULL)
    return;
  coder_clear (&vae->enc);
  coder_clear (&vae->dec);
  conv_clear (&vae->quant);
  conv_clear (&vae->post_quant);
  sora_tensor_free (vae->mean);
  sora_tensor_free (vae->std);
  sora_tensor_free (vae->inv_std);
  sora_tensor_free (vae->neg_mean_over_std);
  g_free (vae);
}

static SoraTensor *
channel_values (
    SoraDevice *dev, const char *name, const float *v, guint n, GError **error)
{
  SoraTensor *t = sora_tensor_new_v (
      dev, name, SORA_DTYPE_F32, error, 4, (gsize)n, 1, 1, 1);

  if (t && !sora_tensor_write (t, v, error))
    g_clear_pointer (&t, sora_tensor_free);
  return t;
}

SoraWanVae *
sora_wan_vae_new (
    SoraDevice *dev, const SoraModelFolder *folder, GError **error)
{
  SoraWanVae *vae = g_new0 (SoraWanVae, 1);
  SoraWeights w = { dev, folder, SORA_COMPONENT_VAE, FALSE };
  float inv[SORA_WAN_VAE_MAX_Z], shift[SORA_WAN_VAE_MAX_Z];
  guint z;

  vae->dev = dev;
  vae->cfg = *sora_model_folder_get_vae_config (folder);
  z = vae->cfg.z_dim;
  for (guint i = 0; i < z; i++) {
    inv[i] = 1.0f / vae->cfg.latents_std[i];
    shift[i] = -vae->cfg.latents_mean[i] / vae->cfg.latents_std[i];
  }
  if (!sora_wan_vae_load_weights (vae, &w, error) ||
      !(vae->mean = channel_values (
            dev, "vae latents_mean", vae->cfg.latents_mean, z, error)) ||
      !(vae->std = channel_values (
            dev, "vae latents_std", vae->cfg.latents_std, z, error)) ||
      !(vae->inv_std = channel_values (dev, "vae 1/std", inv, z, error)) ||
      !(vae->neg_mean_over_std =
              channel_values (dev, "vae -mean/std", shift, z, error))) {
    sora_wan_vae_free (vae);
    return NULL;
  }
  return vae;
}

gboolean
sora_wan_vae_set_tiling (
    SoraWanVae *vae, guint tile_h, guint tile_w, guint overlap, GError **error)
{
  gboolean automatic = tile_h == 0 && tile_w == 0 && overlap == 0;

  if (!automatic && (tile_h <= 2 * overlap || tile_w <= 2 * overlap)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "VAE tiling: tiles of %ux%u latent pixels must exceed twice the "
        "overlap of %u",
        tile_h, tile_w, overlap);
    return FALSE;
  }
  vae->tile_h = tile_h;
  vae->tile_w = tile_w;
  vae->overlap = overlap;
  return TRUE;
}

/* --- one chunk through a coder ----------------------------------------- */

void
sora_wan_vae_caches_init (Caches *c, guint n_slots)
{
  c->frames = g_new0 (SoraTensor *, n_slots);
  c->started = g_new0 (gboolean, n_slots);
  c->n_slots = n_slots;
}

void
sora_wan_vae_caches_clear (Caches *c)
{
  for (guint i = 0; c->frames && i < c->n_slots; i++)
    sora_tensor_free (c->frames[i]);
  g_clear_pointer (&c->frames, g_free);
  g_clear_pointer (&c->started, g_free);
}

SoraTensor *
sora_wan_vae_act_new (SoraDevice *dev, SoraArena *arena, const char *name,
    gsize c, gsize t, gsize h, gsize w, GError **error)
{
  gsize shape[4] = { c, t, h, w };

  return sora_tensor_new_in (arena, dev, name, SORA_DTYPE_F32, 4, shape, error);
}

/* The slot keeps the last @keep frames of (its frames ++ x).  A full
 * slot is updated in place, its kept frames moving to the front through a
 * copy in x's arena (a copy within one buffer must not overlap), so that
 * a steady chunk allocates no slot. */
static gboolean
cache_update (
    Caches *caches, guint slot, SoraTensor *x, guint keep, GError **error)
{
  SoraTensor *old = caches->frames[slot], *cur = old, *kept = old;
  gsize c = x->shape[0], t = x->shape[1], plane = x->shape[2] * x->shape[3];
  gsize n_old = old ? old->shape[1] : 0;
  gsize n_new = MIN (keep, n_old + t), from_x = MIN (n_new, t);
  gsize from_old = n_new - from_x, n_kept = n_old;
  gboolean ok;

  if (old == NULL || n_old != n_new) {
    if (!(cur = sora_wan_vae_act_new (x->dev, NULL, "vae cache", c, n_new,
              x->shape[2], x->shape[3], error)))
      return FALSE;
  } else if (from_old > 0) {
    if (!(kept = sora_wan_vae_act_new (x->dev, x->arena, "vae cache kept", c,
              from_old, x->shape[2], x->shape[3], error)))
      return FALSE;
    n_kept = from_old;
    if (!sora_op_copy_slab (old, kept, c, plane, n_old, n_old - from_old,
            from_old, 0, from_old, error)) {
      sora_tensor_free (kept);
      return FALSE;
    }
  }
  ok = (from_old == 0 ||
           sora_op_copy_slab (kept, cur, c, plane, n_kept, n_kept - from_old,
               n_new, 0, from_old, error)) &&
      sora_op_copy_slab (
          x, cur, c, plane, t, t - from_x, n_new, from_old, from_x, error);
  if (kept != old)
    sora_tensor_free (kept);
  if (cur != old) {
    if (!ok) {
      sora_tensor_free (cur);
      return FALSE;
    }
    sora_tensor_free (old);
    caches->frames[slot] = cur;
  }
  return ok;
}

/* y = conv (x) with the conv's padding: spatial @pad on every side, and
 * for a slotted conv the slot's frames in front of x (zero padded to
 * kt − 1 frames when @causal), after which the slot keeps @keep frames. */
SoraTensor *
sora_wan_vae_conv (Caches *caches, const Conv *c, SoraTensor *x, guint pad,
    guint stride_t, gboolean causal, guint keep, GError **error)
{
  const gsize *w = c->shape;
  SoraTensor *cache = NULL, *y;
  SoraConv3dParams p = { stride_t, 1, 1, 0, pad, pad, pad, pad };
  gsize tc = 0, t_in;

  if (c->slot != NO_SLOT) {
    cache = caches->frames[c->slot];
    tc = cache ? cache->shape[1] : 0;
  }
  if (causal)
    p.pad_t_front = w[2] - 1 - tc;
  t_in = p.pad_t_front + tc + x->shape[1];
  if (t_in < w[2]) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "VAE: %s gets %" G_GSIZE_FORMAT " frames, fewer than its kernel",
        c->name, t_in);
    return NULL;
  }
  y = sora_wan_vae_act_new (x->dev, x->arena, "vae activation", w[0],
      (t_in - w[2]) / stride_t + 1, x->shape[2] + 2 * pad - w[3] + 1,
      x->shape[3] + 2 * pad - w[4] + 1, error);
  if (y == NULL)
    return NULL;
  if (!sora_op_conv3d_packed (x, cache, c->packed, c->bias, &p, y, error) ||
      (c->slot != NO_SLOT && !cache_update (caches, c->slot, x, keep, error)))
    g_clear_pointer (&y, sora_tensor_free);
  return y;
}

/* The 3x3x3 causal conv of the residual blocks and heads. */
static SoraTensor *
causal_conv (Caches *caches, const Conv *c, SoraTensor *x, GError **error)
{
  guint pad = c->shape[3] / 2;

  return sora_wan_vae_conv (caches, c, x, pad, 1, TRUE, CACHE_T, error);
}

/* y = SiLU (WanRMS_norm (x)) over the channels of [C, T, H, W]; y may be
 * x. */
static gboolean
norm_silu (SoraTensor *x, SoraTensor *gamma, gboolean silu, SoraTensor *y,
    GError **error)
{
  gsize shape[4], flat[2] = { x->shape[0], x->numel / x->shape[0] };

  memcpy (shape, x->shape, sizeof (shape));
  return sora_tensor_reshape (x, 2, flat, error) &&
      sora_tensor_reshape (y, 2, flat, error) &&
      sora_op_rms_norm_channels (x, gamma, NULL, y, error) &&
      (!silu || sora_op_activate (y, SORA_ACT_SILU, y, error)) &&
      sora_tensor_reshape (x, 4, shape, error) &&
      sora_tensor_reshape (y, 4, shape, error);
}

static SoraTensor *
like (SoraTensor *x, GError **error)
{
  return sora_wan_vae_act_new (x->dev, x->arena, "vae activation", x->shape[0],
      x->shape[1], x->shape[2], x->shape[3], error);
}

/* WanResidualBlock: conv2 (SiLU (norm2 (conv1 (SiLU (norm1 (x)))))) +
 * shortcut (x). */
static SoraTensor *
res_block (Caches *caches, const Layer *l, SoraTensor *x, GError **error)
{
  SoraTensor *h = NULL, *a = NULL, *y1 = NULL, *y2 = NULL;

  if (l->shortcut.packed &&
      !(h = sora_wan_vae_conv (caches, &l->shortcut, x, 0, 1, FALSE, 0, error)))
    goto out;
  if (!(a = like (x, error)) || !norm_silu (x, l->gamma1, TRUE, a, error) ||
      !(y1 = causal_conv (caches, &l->conv1, a, error)))
    goto out;
  g_clear_pointer (&a, sora_tensor_free);
  if (!norm_silu (y1, l->gamma2, TRUE, y1, error) ||
      !(y2 = causal_conv (caches, &l->conv2, y1, error)) ||
      !sora_op_add (y2, h ? h : x, y2, error))
    g_clear_pointer (&y2, sora_tensor_free);

out:
  sora_tensor_free (h);
  sora_tensor_free (a);
  sora_tensor_free (y1);
  return y2;
}

/* WanAttentionBlock: single-head attention over each frame's positions,
 * tokens [T, H·W, C], plus x. */
static SoraTensor *
attn_block (const Layer *l, SoraTensor *x, GError **error)
{
  gsize c = x->shape[0], t = x->shape[1], hw = x->shape[2] * x->shape[3];
  gsize tokens[3] = { t, hw, c };
  SoraAttentionParams ap = { 1, 1.0f / sqrtf ((float)c), NULL, NULL };
  SoraTensor *n = NULL, *nt = NULL, *q = NULL, *k = NULL, *v = NULL;
  SoraTensor *o = NULL, *y = NULL;
  gboolean ok = FALSE;

#define TOKENS(var)                                                            \
  if (!(var = sora_tensor_new_in (x->arena, x->dev, "vae attention",           \
            SORA_DTYPE_F32, 3, tokens, error)))                                \
    goto out;
  TOKENS (nt);
  TOKENS (q);
  TOKENS (k);
  TOKENS (v);
  TOKENS (o);
#undef TOKENS
  if (!(n = like (x, error)) || !(y = like (x, error)) ||
      !norm_silu (x, l->gamma1, FALSE, n, error) ||
      !sora_op_permute (
          n, 2, (gsize[]){ c, t * hw }, (guint[]){ 1, 0 }, nt, error) ||
      !sora_op_linear (l->q, nt, q, error) ||
      !sora_op_linear (l->k, nt, k, error) ||
      !sora_op_linear (l->v, nt, v, error) ||
      !sora_op_attention (q, k, v, o, &ap, error) ||
      !sora_op_linear (l->proj, o, nt, error) ||
      !sora_op_permute (
          nt, 2, (gsize[]){ t * hw, c }, (guint[]){ 1, 0 }, y, error) ||
      !sora_op_add (y, x, y, error))
    goto out;
  ok = TRUE;

out:
  sora_tensor_free (n);
  sora_tensor_free (nt);
  sora_tensor_free (q);
  sora_tensor_free (k);
  sora_tensor_free (v);
  sora_tensor_free (o);
  if (!ok)
    g_clear_pointer (&y, sora_tensor_free);
  return y;
}

/* WanResample upsample2d/3d: upsample3d's time_conv doubles the frames
 * (but on the first chunk), then per frame nearest x2 and a 3x3 conv.  The
 * spatial part goes one frame at a time: the upsampled frames of a whole
 * chunk would be the largest tensor of the decode. */
static SoraTensor *
upsample (Caches *caches, const Layer *l, SoraTensor *x, GError **error)
{
  SoraTensor *tc = NULL, *split = NULL, *frame = NULL, *up = NULL;
  SoraTensor *fy = NULL, *y = NULL, *in = x;
  gsize c, t, h, w, cout = l->spatial.shape[0];
  gboolean ok = FALSE;

  if (l->kind == LAYER_UP3D) {
    if (!caches->started[l->time.slot]) {
      caches->started[l->time.slot] = TRUE;
    } else {
      if (!(tc = causal_conv (caches, &l->time, x, error)) ||
          !(split = sora_wan_vae_act_new (x->dev, x->arena, "vae time split",
                x->shape[0], 2 * x->shape[1], x->shape[2], x->shape[3],
                error)) ||
          !sora_op_time_split (tc, split, error))
        goto out;
      in = split;
    }
  }
  c = in->shape[0];
  t = in->shape[1];
  h = in->shape[2];
  w = in->shape[3];
  if (!(frame = sora_wan_vae_act_new (
            x->dev, x->arena, "vae frame", c, 1, h, w, error)) ||
      !(up = sora_wan_vae_act_new (
            x->dev, x->arena, "vae upsampled", c, 1, 2 * h, 2 * w, error)) ||
      !(y = sora_wan_vae_act_new (
            x->dev, x->arena, "vae activation", cout, t, 2 * h, 2 * w, error)))
    goto out;
  for (gsize f = 0; f < t; f++) {
    if (!sora_op_slice (in, 1, f, 1, frame, error) ||
        !sora_op_upsample_nearest2x (frame, up, error) ||
        !(fy = sora_wan_vae_conv (
              caches, &l->spatial, up, 1, 1, FALSE, 0, error)) ||
        !sora_op_copy_slab (fy, y, cout, 4 * h * w, 1, 0, t, f, 1, error))
      goto out;
    g_clear_pointer (&fy, sora_tensor_free);
  }
  ok = TRUE;

out:
  sora_tensor_free (tc);
  sora_tensor_free (split);
  sora_tensor_free (frame);
  sora_tensor_free (up);
  sora_tensor_free (fy);
  if (!ok)
    g_clear_pointer (&y, sora_tensor_free);
  return y;
}

/* WanResample downsample2d/3d: per frame, pad right and bottom by 1 and a
 * 3x3 conv of stride 2; downsample3d then halves the frames with its
 * time_conv over (the previous chunk's last frame ++ x), but on the first
 * chunk, whose frame only goes into the slot. */
static SoraTensor *
downsample (Caches *caches, const Layer *l, SoraTensor *x, GError **error)
{
  SoraConv3dParams p = { 1, 2, 2, 0, 0, 1, 0, 1 };
  const gsize *w = l->spatial.shape;
  SoraTensor *s, *y;

  s = sora_wan_vae_act_new (x->dev, x->arena, "vae activation", w[0],
      x->shape[1], (x->shape[2] + 1 - w[3]) / 2 + 1,
      (x->shape[3] + 1 - w[4]) / 2 + 1, error);
  if (s == NULL)
    return NULL;
  if (!sora_op_conv3d_packed (
          x, NULL, l->spatial.packed, l->spatial.bias, &p, s, error)) {
    sora_tensor_free (s);
    return NULL;
  }
  if (l->kind == LAYER_DOWN2D)
    return s;
  if (!caches->started[l->time.slot]) {
    caches->started[l->time.slot] = TRUE;
    if (cache_update (caches, l->time.slot, s, 1, error))
      return s;
    sora_tensor_free (s);
    return NULL;
  }
  y = sora_wan_vae_conv (caches, &l->time, s, 0, 2, FALSE, 1, error);
  sora_tensor_free (s);
  return y;
}

/* One chunk through @c: conv_in, the layers, norm_out, SiLU, conv_out. */
SoraTensor *
sora_wan_vae_coder_run (
    const Coder *c, Caches *caches, SoraTensor *x, GError **error)
{
  SoraTensor *h = causal_conv (caches, &c->conv_in, x, error), *next = NULL;

  for (guint i = 0; h && i < c->n_layers; i++) {
    const Layer *l = &c->layers[i];

    switch (l->kind) {
      case LAYER_RES:
        next = res_block (caches, l, h, error);
        break;
      case LAYER_ATTN:
        next = attn_block (l, h, error);
        break;
      case LAYER_UP2D:
      case LAYER_UP3D:
        next = upsample (caches, l, h, error);
        break;
      case LAYER_DOWN2D:
      case LAYER_DOWN3D:
        next = downsample (caches, l, h, error);
        break;
    }
    sora_tensor_free (h);
    h = next;
  }
  if (h == NULL)
    return NULL;
  if (norm_silu (h, c->norm_out, TRUE, h, error))
    next = causal_conv (caches, &c->conv_out, h, error);
  else
    next = NULL;
  sora_tensor_free (h);
  return next;
}

gboolean
sora_wan_vae_check_input (const SoraTensor *x, guint channels, const char *what,
    const char *layout, GError **error)
{
  char *d;

  if (x->dtype == SORA_DTYPE_F32 && x->ndim == 4 && x->shape[0] == channels &&
      x->numel > 0)
    return TRUE;
  d = sora_tensor_describe (x);
  g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
      "VAE %s: tensor %s should be %s f32 with %u channels", what, d, layout,
      channels);
  g_free (d);
  return FALSE;
}

/* --- encode ------------------------------------------------------------- */

SoraTensor *
sora_wan_vae_encode (
    SoraWanVae *vae, SoraTensor *video, gboolean normalise, GError **error)
{
  gsize t, chunks, zc = vae->cfg.z_dim;
  Caches caches;
  SoraTensor *chunk = NULL, *e = NULL, *q = NULL, *mu = NULL, *out = NULL;
  gboolean ok = FALSE;

  if (!sora_wan_vae_check_input (
          video, vae->cfg.in_channels, "encode", "[C, T, H, W]", error))
    return NULL;
  t = video->shape[1];
  if ((t - 1) % vae->cfg.scale_factor_temporal != 0) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "VAE encode: %" G_GSIZE_FORMAT " frames is not 1 + %uk", t,
        vae->cfg.scale_factor_temporal);
    return NULL;
  }
  chunks = 1 + (t - 1) / vae->cfg.scale_factor_temporal;
  sora_wan_vae_caches_init (&caches, vae->enc.n_slots);
  for (gsize i = 0; i < chunks; i++) {
    gsize start = i == 0 ? 0 : 1 + (i - 1) * vae->cfg.scale_factor_temporal;
    gsize len = i == 0 ? 1 : vae->cfg.scale_factor_temporal;

    if (!(chunk = sora_wan_vae_act_new (video->dev, NULL, "vae chunk",
              video->shape[0], len, video->shape[2], video->shape[3], error)) ||
        !sora_op_slice (video, 1, start, len, chunk, error) ||
        !(e = sora_wan_vae_coder_run (&vae->enc, &caches, chunk, error)) ||
        !(q = sora_wan_vae_conv (NULL, &vae->quant, e, 0, 1, FALSE, 0, error)))
      goto out;
    if (mu == NULL &&
        (!(mu = sora_wan_vae_act_new (video->dev, NULL, "vae latent mean", zc,
               chunks, q->shape[2], q->shape[3], error)) ||
            !(out = sora_wan_vae_act_new (video->dev, NULL, "vae latent mean",
                  zc, q->shape[1], q->shape[2], q->shape[3], error))))
      goto out;
    /* μ is the first z channels of each chunk's one latent frame. */
    if (!sora_op_slice (q, 0, 0, zc, out, error) ||
        !sora_op_copy_slab (out, mu, zc, q->shape[2] * q->shape[3], q->shape[1],
            0, chunks, i, q->shape[1], error))
      goto out;
    g_clear_pointer (&chunk, sora_tensor_free);
    g_clear_pointer (&e, sora_tensor_free);
    g_clear_pointer (&q, sora_tensor_free);
  }
  ok = !normalise ||
      (sora_op_mul (mu, vae->inv_std, mu, error) &&
          sora_op_add (mu, vae->neg_mean_over_std, mu, error));

out:
  sora_wan_vae_caches_clear (&caches);
  sora_tensor_free (chunk);
  sora_tensor_free (e);
  sora_tensor_free (q);
  sora_tensor_free (out);
  if (!ok)
    g_clear_pointer (&mu, sora_tensor_free);
  return mu;
}
