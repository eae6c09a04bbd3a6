/* gst-sora engine: the Wan2.1 DiT's weights: one table per module (names,
 * shapes from the config, where each loads), read by validation, loading
 * and the recipe generator alike; and the model's construction and free.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stddef.h>

#include "sora-wan-dit-private.h"
#include "sora-weights.h"

static void
block_clear (Block *b)
{
  sora_tensor_free (b->table);
  sora_linear_free (b->q1);
  sora_linear_free (b->k1);
  sora_linear_free (b->v1);
  sora_linear_free (b->o1);
  sora_tensor_free (b->norm_q1);
  sora_tensor_free (b->norm_k1);
  sora_tensor_free (b->norm2_w);
  sora_tensor_free (b->norm2_b);
  sora_linear_free (b->q2);
  sora_linear_free (b->k2);
  sora_linear_free (b->v2);
  sora_linear_free (b->o2);
  sora_tensor_free (b->norm_q2);
  sora_tensor_free (b->norm_k2);
  sora_linear_free (b->ffn0);
  sora_linear_free (b->ffn2);
}

void
sora_wan_dit_free (SoraWanDit *dit)
{
  if (dit == NULL)
    return;
  for (guint i = 0; dit->blocks && i < dit->cfg.num_layers; i++)
    block_clear (&dit->blocks[i]);
  g_free (dit->blocks);
  sora_linear_free (dit->patch);
  sora_linear_free (dit->time1);
  sora_linear_free (dit->time2);
  sora_linear_free (dit->time_proj);
  sora_linear_free (dit->text1);
  sora_linear_free (dit->text2);
  sora_linear_free (dit->proj_out);
  sora_tensor_free (dit->table);
  sora_tensor_free (dit->rope);
  sora_wan_dit_release_workspace (dit);
  g_free (dit);
}

/* --- the weights ---------------------------------------------------------
 * One table per module; sora_wan_dit_modules gives the sizes from the
 * config. */

enum { D, IN, P0, P1, P2, FREQ, TEXT, FFN, KV, OUTP, IM, POS };
/* Module flags: the config's optional parts. */
enum { CROSS_NORM = 1, ADDED_KV = 2, POS_EMBED = 4 };
/* Where a module loads: the model's struct or one of its blocks. */
enum { USE_TOP, USE_BLOCK };

#define S(size) SORA_DIM (size)
#define K(k) SORA_DIM_K (k)
#define TOP(field) offsetof (SoraWanDit, field)
#define BLOCK(field) offsetof (Block, field)

static const SoraParam embed_params[] = {
  /* The Conv3d kernel [d, C, pt, ph, pw] flattens to the patchify columns. */
  { "patch_embedding", SORA_PARAM_LINEAR, 0, 5,
      { S (D), S (IN), S (P0), S (P1), S (P2) }, TOP (patch) },
  { "condition_embedder.time_embedder.linear_1", SORA_PARAM_LINEAR, 0, 2,
      { S (D), S (FREQ) }, TOP (time1) },
  { "condition_embedder.time_embedder.linear_2", SORA_PARAM_LINEAR, 0, 2,
      { S (D), S (D) }, TOP (time2) },
  { "condition_embedder.time_proj", SORA_PARAM_LINEAR, 0, 2,
      { SORA_DIM_MUL (D, 6), S (D) }, TOP (time_proj) },
  { "condition_embedder.text_embedder.linear_1", SORA_PARAM_LINEAR, 0, 2,
      { S (D), S (TEXT) }, TOP (text1) },
  { "condition_embedder.text_embedder.linear_2", SORA_PARAM_LINEAR, 0, 2,
      { S (D), S (D) }, TOP (text2) },
};

/* Image conditioning (I2V, FLF2V): checked, never loaded, as
 * sora_wan_dit_new refuses image_dim. */
static const SoraParam image_params[] = {
  { "norm1.weight", SORA_PARAM_F32, 0, 1, { S (IM) }, SORA_NO_FIELD },
  { "norm1.bias", SORA_PARAM_F32, 0, 1, { S (IM) }, SORA_NO_FIELD },
  { "ff.net.0.proj", SORA_PARAM_LINEAR, 0, 2, { S (IM), S (IM) },
      SORA_NO_FIELD },
  { "ff.net.2", SORA_PARAM_LINEAR, 0, 2, { S (D), S (IM) }, SORA_NO_FIELD },
  { "norm2.weight", SORA_PARAM_F32, 0, 1, { S (D) }, SORA_NO_FIELD },
  { "norm2.bias", SORA_PARAM_F32, 0, 1, { S (D) }, SORA_NO_FIELD },
  { "pos_embed", SORA_PARAM_F32, POS_EMBED, 3, { K (1), S (POS), S (IM) },
      SORA_NO_FIELD },
};

static const SoraParam block_params[] = {
  { "scale_shift_table", SORA_PARAM_F32, 0, 3, { K (1), K (6), S (D) },
      BLOCK (table) },
  { "attn1.to_q", SORA_PARAM_LINEAR, 0, 2, { S (D), S (D) }, BLOCK (q1) },
  { "attn1.to_k", SORA_PARAM_LINEAR, 0, 2, { S (D), S (D) }, BLOCK (k1) },
  { "attn1.to_v", SORA_PARAM_LINEAR, 0, 2, { S (D), S (D) }, BLOCK (v1) },
  { "attn1.to_out.0", SORA_PARAM_LINEAR, 0, 2, { S (D), S (D) }, BLOCK (o1) },
  { "attn1.norm_q.weight", SORA_PARAM_F32, 0, 1, { S (D) }, BLOCK (norm_q1) },
  { "attn1.norm_k.weight", SORA_PARAM_F32, 0, 1, { S (D) }, BLOCK (norm_k1) },
  { "attn2.to_q", SORA_PARAM_LINEAR, 0, 2, { S (D), S (D) }, BLOCK (q2) },
  { "attn2.to_k", SORA_PARAM_LINEAR, 0, 2, { S (D), S (D) }, BLOCK (k2) },
  { "attn2.to_v", SORA_PARAM_LINEAR, 0, 2, { S (D), S (D) }, BLOCK (v2) },
  { "attn2.to_out.0", SORA_PARAM_LINEAR, 0, 2, { S (D), S (D) }, BLOCK (o2) },
  { "attn2.norm_q.weight", SORA_PARAM_F32, 0, 1, { S (D) }, BLOCK (norm_q2) },
  { "attn2.norm_k.weight", SORA_PARAM_F32, 0, 1, { S (D) }, BLOCK (norm_k2) },
  /* I2V's image keys and values: checked, never loaded (see above). */
  { "attn2.add_k_proj", SORA_PARAM_LINEAR, ADDED_KV, 2, { S (D), S (KV) },
      SORA_NO_FIELD },
  { "attn2.add_v_proj", SORA_PARAM_LINEAR, ADDED_KV, 2, { S (D), S (KV) },
      SORA_NO_FIELD },
  { "attn2.norm_added_k.weight", SORA_PARAM_F32, ADDED_KV, 1, { S (D) },
      SORA_NO_FIELD },
  { "norm2.weight", SORA_PARAM_F32, CROSS_NORM, 1, { S (D) }, BLOCK (norm2_w) },
  { "norm2.bias", SORA_PARAM_F32, CROSS_NORM, 1, { S (D) }, BLOCK (norm2_b) },
  { "ffn.net.0.proj", SORA_PARAM_LINEAR, 0, 2, { S (FFN), S (D) },
      BLOCK (ffn0) },
  { "ffn.net.2", SORA_PARAM_LINEAR, 0, 2, { S (D), S (FFN) }, BLOCK (ffn2) },
};

static const SoraParam head_params[] = {
  { "scale_shift_table", SORA_PARAM_F32, 0, 3, { K (1), K (2), S (D) },
      TOP (table) },
  { "proj_out", SORA_PARAM_LINEAR, 0, 2, { S (OUTP), S (D) }, TOP (proj_out) },
};

#undef S
#undef K
#undef TOP
#undef BLOCK

static const SoraModule embed_module = SORA_MODULE (embed_params);
static const SoraModule image_module = SORA_MODULE (image_params);
static const SoraModule block_module = SORA_MODULE (block_params);
static const SoraModule head_module = SORA_MODULE (head_params);

GPtrArray *
sora_wan_dit_modules (const SoraWanTransformerConfig *cfg)
{
  GPtrArray *uses = sora_module_uses_new ();
  const guint *p = cfg->patch_size;
  const gsize s[SORA_MODULE_MAX_SIZES] = { [D] = cfg->inner_dim,
    [IN] = cfg->in_channels,
    [P0] = p[0],
    [P1] = p[1],
    [P2] = p[2],
    [FREQ] = cfg->freq_dim,
    [TEXT] = cfg->text_dim,
    [FFN] = cfg->ffn_dim,
    [KV] = cfg->added_kv_proj_dim,
    [OUTP] = (gsize)cfg->out_channels * p[0] * p[1] * p[2],
    [IM] = cfg->image_dim,
    [POS] = cfg->pos_embed_seq_len };
  guint block_flags = (cfg->cross_attn_norm ? CROSS_NORM : 0) |
      (cfg->added_kv_proj_dim ? ADDED_KV : 0);

  sora_module_uses_add (uses, &embed_module, 0, s, NULL);
  if (cfg->image_dim)
    sora_module_uses_add (uses, &image_module,
        cfg->pos_embed_seq_len ? POS_EMBED : 0, s,
        "condition_embedder.image_embedder");
  for (guint i = 0; i < cfg->num_layers; i++) {
    SoraModuleUse *use = sora_module_uses_add (
        uses, &block_module, block_flags, s, "blocks.%u", i);
    use->tag = USE_BLOCK;
    use->index = i;
  }
  sora_module_uses_add (uses, &head_module, 0, s, NULL);
  return uses;
}

GPtrArray *
sora_wan_transformer_expected_tensors (const SoraWanTransformerConfig *cfg)
{
  g_autoptr (GPtrArray) uses = sora_wan_dit_modules (cfg);

  return sora_module_uses_expected (uses);
}

SoraWanDit *
sora_wan_dit_new (
    SoraDevice *dev, const SoraModelFolder *folder, GError **error)
{
  SoraWanDit *dit = g_new0 (SoraWanDit, 1);
  SoraWeights w = { dev, folder, SORA_COMPONENT_TRANSFORMER, FALSE };
  g_autoptr (GPtrArray) uses = NULL;

  dit->dev = dev;
  dit->cfg = *sora_model_folder_get_transformer_config (folder);
  if (dit->cfg.image_dim || dit->cfg.added_kv_proj_dim) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
        "%s: transformer: image conditioning (image_dim, "
        "added_kv_proj_dim) is not supported, only text-to-video",
        sora_model_folder_get_path (folder));
    goto fail;
  }
  dit->blocks = g_new0 (Block, dit->cfg.num_layers);
  uses = sora_wan_dit_modules (&dit->cfg);
  for (guint i = 0; i < uses->len; i++) {
    const SoraModuleUse *use = uses->pdata[i];
    gpointer base =
        use->tag == USE_BLOCK ? (gpointer)&dit->blocks[use->index] : dit;

    if (!sora_weights_load (&w, use, base, NULL, error))
      goto fail;
  }
  return dit;

fail:
  sora_wan_dit_free (dit);
  return NULL;
}
