/* gst-sora engine: the Wan VAE's weights, one table per module, and the
 * walk of a config through diffusers' WanEncoder3d and WanDecoder3d that
 * places them
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stddef.h>
#include <string.h>

#include "sora-wan-vae-private.h"

/* PREFIX.weight (Conv2d kernels viewed as kt = 1) and PREFIX.bias into the
 * Conv @field; a slot from the coder's counter @user_data for the temporal
 * ones. */
static gboolean
load_conv (const SoraWeights *w, const char *prefix, const gsize *shape,
    gpointer field, gpointer user_data, GError **error)
{
  Conv *c = field;
  guint *n_slots = user_data;
  char *name = g_strconcat (prefix, ".weight", NULL);
  SoraTensor *t = sora_weights_tensor (w, name, error);

  c->slot = NO_SLOT;
  c->name = name;
  if (t == NULL)
    return FALSE;
  if (t->ndim == 4 &&
      !sora_tensor_reshape (t, 5,
          (gsize[]){ t->shape[0], t->shape[1], 1, t->shape[2], t->shape[3] },
          error))
    goto fail;
  if (t->ndim != 5) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
        "%s: tensor %s.weight is not a convolution kernel",
        sora_model_folder_get_path (w->folder), prefix);
    goto fail;
  }
  memcpy (c->shape, t->shape, sizeof (c->shape));
  c->packed = sora_conv_weight_new (t, w->widen, error);
  if (c->packed == NULL)
    goto fail;
  sora_tensor_free (t);
  if (c->shape[2] > 1)
    c->slot = (*n_slots)++;
  name = g_strconcat (prefix, ".bias", NULL);
  c->bias = sora_weights_tensor_f32 (w, name, error);
  g_free (name);
  return c->bias != NULL;

fail:
  sora_tensor_free (t);
  return FALSE;
}

/* to_qkv ([3C, C, 1, 1]) into the three Linears from @field on (q, k, v),
 * so that q, k and v come out as the attention op's separate
 * [frames, positions, C] inputs. */
static gboolean
load_qkv (const SoraWeights *w, const char *prefix, const gsize *shape,
    gpointer field, gpointer user_data, GError **error)
{
  SoraLinear **qkv = field;
  gsize c = shape[1], n;
  char *name = g_strconcat (prefix, ".weight", NULL);
  float *weight = sora_weights_read_f32 (w, name, 3 * c * c, &n, error);
  float *bias = NULL;
  gboolean ok = FALSE;

  g_free (name);
  name = g_strconcat (prefix, ".bias", NULL);
  if (weight)
    bias = sora_weights_read_f32 (w, name, 3 * c, &n, error);
  for (guint i = 0; bias && i < 3; i++) {
    qkv[i] = sora_linear_new (w->dev, name, SORA_DTYPE_F32, c, c,
        weight + i * c * c, bias + i * c, error);
    if (qkv[i] == NULL)
      goto out;
  }
  ok = bias != NULL;

out:
  g_free (name);
  g_free (weight);
  g_free (bias);
  return ok;
}

/* --- the weights ---------------------------------------------------------
 * One table per module (diffusers' WanResidualBlock, WanAttentionBlock,
 * WanResample, and the convs and gains around them); sora_wan_vae_modules
 * walks WanEncoder3d and WanDecoder3d for the sizes. */

enum { IN, OUT, TOUT };
/* Module flags: a residual block's shortcut, a resample's time_conv and
 * direction. */
enum { SHORTCUT = 1, TEMPORAL = 2, UP = 4 };
/* Where a module loads: a coder's layer (the tag is its LayerKind), or one
 * of these. */
enum { USE_CONV_IN = 16, USE_NORM_OUT, USE_CONV_OUT, USE_QUANT };
/* Which part: the encoder, the decoder or the quant convs between. */
enum { PART_ENC, PART_DEC, PART_QUANT };

#define S(size) SORA_DIM (size)
#define K(k) SORA_DIM_K (k)
#define LAYER(field) offsetof (Layer, field)

static const SoraParam conv3_params[] = {
  { NULL, SORA_PARAM_CUSTOM, 0, 5, { S (OUT), S (IN), K (3), K (3), K (3) }, 0,
      load_conv },
};

static const SoraParam conv1_params[] = {
  { NULL, SORA_PARAM_CUSTOM, 0, 5, { S (OUT), S (IN), K (1), K (1), K (1) }, 0,
      load_conv },
};

static const SoraParam gain_params[] = {
  { NULL, SORA_PARAM_F32, 0, 4, { S (OUT), K (1), K (1), K (1) }, 0 },
};

static const SoraParam res_params[] = {
  { "norm1.gamma", SORA_PARAM_F32, 0, 4, { S (IN), K (1), K (1), K (1) },
      LAYER (gamma1) },
  { "conv1", SORA_PARAM_CUSTOM, 0, 5, { S (OUT), S (IN), K (3), K (3), K (3) },
      LAYER (conv1), load_conv },
  { "norm2.gamma", SORA_PARAM_F32, 0, 4, { S (OUT), K (1), K (1), K (1) },
      LAYER (gamma2) },
  { "conv2", SORA_PARAM_CUSTOM, 0, 5, { S (OUT), S (OUT), K (3), K (3), K (3) },
      LAYER (conv2), load_conv },
  { "conv_shortcut", SORA_PARAM_CUSTOM, SHORTCUT, 5,
      { S (OUT), S (IN), K (1), K (1), K (1) }, LAYER (shortcut), load_conv },
};

static const SoraParam attn_params[] = {
  { "norm.gamma", SORA_PARAM_F32, 0, 3, { S (OUT), K (1), K (1) },
      LAYER (gamma1) },
  { "to_qkv", SORA_PARAM_CUSTOM, 0, 4,
      { SORA_DIM_MUL (OUT, 3), S (OUT), K (1), K (1) }, LAYER (q), load_qkv },
  { "proj", SORA_PARAM_LINEAR, 0, 4, { S (OUT), S (OUT), K (1), K (1) },
      LAYER (proj) },
};

/* The encoder's time_conv (stride 2, no padding) has kt = 3 too: both take
 * a slot. */
static const SoraParam resample_params[] = {
  { "resample.1", SORA_PARAM_CUSTOM, 0, 4, { S (OUT), S (IN), K (3), K (3) },
      LAYER (spatial), load_conv },
  { "time_conv", SORA_PARAM_CUSTOM, TEMPORAL, 5,
      { S (TOUT), S (IN), K (3), K (1), K (1) }, LAYER (time), load_conv },
};

#undef S
#undef K
#undef LAYER

static const SoraModule conv3_module = SORA_MODULE (conv3_params);
static const SoraModule conv1_module = SORA_MODULE (conv1_params);
static const SoraModule gain_module = SORA_MODULE (gain_params);
static const SoraModule res_module = SORA_MODULE (res_params);
static const SoraModule attn_module = SORA_MODULE (attn_params);
static const SoraModule resample_module = SORA_MODULE (resample_params);

typedef struct
{
  GPtrArray *uses;
  guint part;
  guint n_layers; /* of the part so far */
} Walk;

/* Appends a use of @m (in → out channels) named @prefix; a layer's @tag is
 * its LayerKind. */
static void
walk_add (Walk *wk, const SoraModule *m, guint tag, guint flags, gsize in,
    gsize out, const char *prefix)
{
  /* WanResample: upsampling halves the channels and doubles the frames'
   * channels for the split. */
  const gsize s[SORA_MODULE_MAX_SIZES] = { [IN] = in,
    [OUT] = (flags & UP) ? in / 2 : out,
    [TOUT] = (flags & UP) ? 2 * in : in };
  SoraModuleUse *use =
      sora_module_uses_add (wk->uses, m, flags, s, "%s", prefix);

  use->part = wk->part;
  use->tag = tag;
  if (tag < USE_CONV_IN)
    use->index = wk->n_layers++;
}

static void
walk_res (Walk *wk, gsize in, gsize out, const char *prefix)
{
  walk_add (
      wk, &res_module, LAYER_RES, in != out ? SHORTCUT : 0, in, out, prefix);
}

/* The mid block (res, attention, res) and the head. */
static void
walk_mid_and_head (Walk *wk, const char *coder, gsize c, gsize out)
{
  g_autofree char *r0 = g_strconcat (coder, ".mid_block.resnets.0", NULL);
  g_autofree char *a0 = g_strconcat (coder, ".mid_block.attentions.0", NULL);
  g_autofree char *r1 = g_strconcat (coder, ".mid_block.resnets.1", NULL);
  g_autofree char *norm = g_strconcat (coder, ".norm_out.gamma", NULL);
  g_autofree char *conv = g_strconcat (coder, ".conv_out", NULL);

  walk_res (wk, c, c, r0);
  walk_add (wk, &attn_module, LAYER_ATTN, 0, c, c, a0);
  walk_res (wk, c, c, r1);
  if (out == 0)
    return;
  walk_add (wk, &gain_module, USE_NORM_OUT, 0, c, c, norm);
  walk_add (wk, &conv3_module, USE_CONV_OUT, 0, c, out, conv);
}

static gboolean
has_attn_scale (const SoraWanVaeConfig *cfg, double scale)
{
  for (guint i = 0; i < cfg->n_attn_scales; i++)
    if (cfg->attn_scales[i] == scale)
      return TRUE;
  return FALSE;
}

/* WanEncoder3d: per level num_res_blocks residual blocks (and attention
 * where attn_scales says), then a downsample but on the last. */
static void
walk_encoder (Walk *wk, const SoraWanVaeConfig *cfg)
{
  gsize dim = cfg->base_dim, in_dim, out_dim = dim;
  guint block = 0;
  double scale = 1.0;

  walk_add (wk, &conv3_module, USE_CONV_IN, 0, cfg->in_channels, dim,
      "encoder.conv_in");
  for (guint i = 0; i < cfg->n_levels; i++) {
    in_dim = i == 0 ? dim : dim * cfg->dim_mult[i - 1];
    out_dim = dim * cfg->dim_mult[i];
    for (guint j = 0; j < cfg->num_res_blocks; j++) {
      g_autofree char *res =
          g_strdup_printf ("encoder.down_blocks.%u", block++);

      walk_res (wk, in_dim, out_dim, res);
      if (has_attn_scale (cfg, scale)) {
        g_autofree char *attn =
            g_strdup_printf ("encoder.down_blocks.%u", block++);
        walk_add (wk, &attn_module, LAYER_ATTN, 0, out_dim, out_dim, attn);
      }
      in_dim = out_dim;
    }
    if (i + 1 < cfg->n_levels) {
      g_autofree char *pre =
          g_strdup_printf ("encoder.down_blocks.%u", block++);
      gboolean t = cfg->temperal_downsample[i];

      walk_add (wk, &resample_module, t ? LAYER_DOWN3D : LAYER_DOWN2D,
          t ? TEMPORAL : 0, out_dim, out_dim, pre);
      scale /= 2.0;
    }
  }
  walk_mid_and_head (wk, "encoder", out_dim, 2 * cfg->z_dim);
}

/* WanDecoder3d: the mid block first, then per level num_res_blocks + 1
 * residual blocks and an upsample but on the last; the time upsampling
 * mirrors the encoder's downsampling.  Dims: [mult[-1], mult reversed...]
 * times the decoder base. */
static void
walk_decoder (Walk *wk, const SoraWanVaeConfig *cfg)
{
  guint n = cfg->n_levels;
  gsize ddim = cfg->decoder_base_dim, out_dim = ddim * cfg->dim_mult[n - 1];

  walk_add (wk, &conv3_module, USE_CONV_IN, 0, cfg->z_dim, out_dim,
      "decoder.conv_in");
  walk_mid_and_head (wk, "decoder", out_dim, 0);
  for (guint i = 0; i < n; i++) {
    gsize in_dim = ddim * cfg->dim_mult[i == 0 ? n - 1 : n - i];
    /* Wan2.1: blocks after the first take the halved upsampler output. */
    gsize cur = i > 0 ? in_dim / 2 : in_dim;

    out_dim = ddim * cfg->dim_mult[n - 1 - i];
    for (guint j = 0; j <= cfg->num_res_blocks; j++) {
      g_autofree char *pre =
          g_strdup_printf ("decoder.up_blocks.%u.resnets.%u", i, j);
      walk_res (wk, cur, out_dim, pre);
      cur = out_dim;
    }
    if (i + 1 < n) {
      g_autofree char *pre =
          g_strdup_printf ("decoder.up_blocks.%u.upsamplers.0", i);
      /* temperal_upsample is temperal_downsample reversed */
      gboolean t = cfg->temperal_downsample[n - 2 - i];

      walk_add (wk, &resample_module, t ? LAYER_UP3D : LAYER_UP2D,
          UP | (t ? TEMPORAL : 0), out_dim, out_dim, pre);
    }
  }
  walk_add (wk, &gain_module, USE_NORM_OUT, 0, out_dim, out_dim,
      "decoder.norm_out.gamma");
  walk_add (wk, &conv3_module, USE_CONV_OUT, 0, out_dim, cfg->out_channels,
      "decoder.conv_out");
}

GPtrArray *
sora_wan_vae_modules (const SoraWanVaeConfig *cfg)
{
  Walk wk = { sora_module_uses_new (), PART_ENC, 0 };
  gsize z = cfg->z_dim;

  walk_encoder (&wk, cfg);
  wk.part = PART_QUANT;
  walk_add (&wk, &conv1_module, USE_QUANT, 0, 2 * z, 2 * z, "quant_conv");
  walk_add (&wk, &conv1_module, USE_QUANT, 0, z, z, "post_quant_conv");
  wk.part = PART_DEC;
  wk.n_layers = 0;
  walk_decoder (&wk, cfg);
  return wk.uses;
}

GPtrArray *
sora_wan_vae_expected_tensors (const SoraWanVaeConfig *cfg)
{
  g_autoptr (GPtrArray) uses = sora_wan_vae_modules (cfg);

  return sora_module_uses_expected (uses);
}

/* The struct a use loads into, and the slot counter of its coder. */
static gpointer
use_target (SoraWanVae *vae, const SoraModuleUse *use, guint **n_slots)
{
  Coder *c = use->part == PART_DEC ? &vae->dec : &vae->enc;
  Layer *l;

  *n_slots = &c->n_slots;
  switch (use->tag) {
    case USE_CONV_IN:
      return &c->conv_in;
    case USE_NORM_OUT:
      return &c->norm_out;
    case USE_CONV_OUT:
      return &c->conv_out;
    case USE_QUANT:
      /* 1x1x1: no slot is taken */
      return strcmp (use->prefix, "quant_conv") == 0 ? &vae->quant
                                                     : &vae->post_quant;
    default:
      l = &c->layers[use->index];
      l->kind = use->tag;
      l->shortcut.slot = l->time.slot = NO_SLOT;
      c->n_layers = use->index + 1;
      return l;
  }
}

gboolean
sora_wan_vae_load_weights (
    SoraWanVae *vae, const SoraWeights *w, GError **error)
{
  g_autoptr (GPtrArray) uses = sora_wan_vae_modules (&vae->cfg);
  guint n_layers[2] = { 0, 0 };

  for (guint i = 0; i < uses->len; i++) {
    const SoraModuleUse *use = uses->pdata[i];
    if (use->tag < USE_CONV_IN)
      n_layers[use->part] = use->index + 1;
  }
  vae->enc.layers = g_new0 (Layer, n_layers[PART_ENC]);
  vae->dec.layers = g_new0 (Layer, n_layers[PART_DEC]);
  for (guint i = 0; i < uses->len; i++) {
    const SoraModuleUse *use = uses->pdata[i];
    guint *n_slots;
    gpointer base = use_target (vae, use, &n_slots);

    if (!sora_weights_load (w, use, base, n_slots, error))
      return FALSE;
  }
  return TRUE;
}
