/* gst-sora: configs of the Wan2.1 components
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Defaults are the diffusers / transformers class defaults (see
 * docs/model.md §DiT, §VAE, §umT5, §Schedulers).  The tensors a config
 * implies are the engine's (opencl/models/, one table per module; see
 * docs/model.md §Tensors).
 */
#include <math.h>
#include <string.h>

#include "sora-config-reader.h"
#include "sora-error.h"
#include "sora-wan-config.h"

/* "_sora_native_size": a size the engine can run at. */
static gboolean
read_native_size (Reader *r, guint *size)
{
  if (!sora_config_read_uint_array (r, "_sora_native_size", 3, 3, 1, 65536,
          "must be [width, height, frames], integers in [1, 65536]", size,
          NULL))
    return FALSE;
  if (sora_engine_nearest_side (size[0]) != size[0] ||
      sora_engine_nearest_side (size[1]) != size[1] ||
      sora_engine_nearest_frames (size[2]) != size[2])
    return sora_config_bad_key (r, "_sora_native_size",
        "must have width and height multiples of 16 and 4k+1 frames");
  return TRUE;
}

#define CAUSAL_MAX_FRAMES 1024

/* 0 or a multiple of the chunk: the cache holds whole chunks. */
static gboolean
check_chunk_multiple (Reader *r, const char *key, guint v, guint chunk)
{
  if (v % chunk)
    return sora_config_bad_key (r, key,
        "must be 0 or a multiple of chunk_frames (%u), not %u", chunk, v);
  return TRUE;
}

/* "steps": raw steps in (0, 1000], strictly descending. */
static gboolean
read_causal_steps (Reader *r, SoraWanCausalConfig *c)
{
  JsonArray *a =
      sora_config_read_array (r, "steps", 1, SORA_WAN_CAUSAL_MAX_STEPS);

  if (a == NULL)
    return FALSE;
  c->n_steps = json_array_get_length (a);
  for (guint i = 0; i < c->n_steps; i++) {
    if (!sora_config_number_in (
            json_array_get_element (a, i), 0.0, 1000.0, &c->steps[i]) ||
        c->steps[i] == 0.0)
      return sora_config_bad_key (r, "steps", "must hold numbers in (0, 1000]");
    if (i > 0 && c->steps[i] >= c->steps[i - 1])
      return sora_config_bad_key (r, "steps",
          "must be strictly descending: %g follows %g", c->steps[i],
          c->steps[i - 1]);
  }
  return TRUE;
}

/* "_sora_causal" (a block-causal model, see SoraWanCausalConfig):
 * chunk_frames and steps are required, the other keys default to a global
 * window without sink, shift 5 and a cache written at t = 0. */
static gboolean
read_causal (Reader *top, SoraWanCausalConfig *c)
{
  JsonNode *n = sora_config_member (top, "_sora_causal");
  Reader r = { NULL, top->what, top->error, "_sora_causal." };
  JsonNode *t;

  if (!JSON_NODE_HOLDS_OBJECT (n))
    return sora_config_bad_key (top, "_sora_causal", "must be an object");
  r.obj = json_node_get_object (n);
  if (sora_config_member (&r, "chunk_frames") == NULL)
    return sora_config_bad_key (&r, "chunk_frames", "is required");
  if (sora_config_member (&r, "steps") == NULL)
    return sora_config_bad_key (&r, "steps", "is required");
  if (!sora_config_read_uint (&r, "chunk_frames", 0, 1, CAUSAL_MAX_FRAMES,
          FALSE, &c->chunk_frames) ||
      !sora_config_read_uint (&r, "window_frames", 0, 0, CAUSAL_MAX_FRAMES,
          FALSE, &c->window_frames) ||
      !sora_config_read_uint (
          &r, "sink_frames", 0, 0, CAUSAL_MAX_FRAMES, FALSE, &c->sink_frames) ||
      !check_chunk_multiple (
          &r, "window_frames", c->window_frames, c->chunk_frames) ||
      !check_chunk_multiple (
          &r, "sink_frames", c->sink_frames, c->chunk_frames) ||
      !read_causal_steps (&r, c) ||
      !sora_config_read_double (&r, "shift", 5.0, 0.0, 1e6, &c->shift))
    return FALSE;
  t = sora_config_member (&r, "context_timestep");
  c->context_timestep = 0.0;
  if (t != NULL &&
      !sora_config_number_in (t, 0.0, 1000.0, &c->context_timestep))
    return sora_config_bad_key (
        &r, "context_timestep", "must be a number in [0, 1000]");
  return TRUE;
}

/* What the keys must satisfy together; fills in the derived sizes. */
static gboolean
check_transformer (Reader *r, SoraWanTransformerConfig *cfg)
{
  /* diffusers: out_channels = out_channels or in_channels */
  if (cfg->out_channels == 0)
    cfg->out_channels = cfg->in_channels;
  /* RoPE rotates pairs of the head dim; the sinusoid has cos and sin
   * halves. */
  if (cfg->attention_head_dim % 2)
    return sora_config_bad_key (r, "attention_head_dim", "must be even, not %u",
        cfg->attention_head_dim);
  if (cfg->freq_dim % 2)
    return sora_config_bad_key (
        r, "freq_dim", "must be even, not %u", cfg->freq_dim);
  if ((guint64)cfg->num_attention_heads * cfg->attention_head_dim > MAX_DIM)
    return sora_config_bad_key (r, "num_attention_heads",
        "times attention_head_dim exceeds %u", MAX_DIM);
  cfg->inner_dim = cfg->num_attention_heads * cfg->attention_head_dim;
  return TRUE;
}

gboolean
sora_wan_transformer_config_parse (const char *json, gsize len,
    const char *what, SoraWanTransformerConfig *cfg, GError **error)
{
  g_autoptr (JsonObject) obj = sora_config_parse_json (json, len, what, error);
  Reader r = { obj, what, error };
  /* diffusers' WanAttention norms q and k with one RMSNorm over all heads
   * whatever qk_norm names: "rms_norm" computes the same. */
  static const char *const qk_norms[] = { "rms_norm_across_heads", "rms_norm",
    NULL };
  guint qk_norm;

  if (obj == NULL)
    return FALSE;
  memset (cfg, 0, sizeof (*cfg));
  cfg->patch_size[0] = 1;
  cfg->patch_size[1] = cfg->patch_size[2] = 2;
  if ((sora_config_member (&r, "patch_size") &&
          !sora_config_read_uint_array (&r, "patch_size", 3, 3, 1, 16,
              "entries must be integers in [1, 16]", cfg->patch_size, NULL)) ||
      (sora_config_member (&r, "_sora_native_size") &&
          !read_native_size (&r, cfg->native_size)) ||
      (sora_config_member (&r, "_sora_causal") &&
          !read_causal (&r, &cfg->causal)))
    return FALSE;
  if (!sora_config_check_class (&r, "_class_name", "WanTransformer3DModel") ||
      !sora_config_read_uint (&r, "num_attention_heads", 40, 1, 1024, FALSE,
          &cfg->num_attention_heads) ||
      !sora_config_read_uint (&r, "attention_head_dim", 128, 2, 1024, FALSE,
          &cfg->attention_head_dim) ||
      !sora_config_read_uint (
          &r, "in_channels", 16, 1, 4096, FALSE, &cfg->in_channels) ||
      !sora_config_read_uint (
          &r, "out_channels", 0, 1, 4096, TRUE, &cfg->out_channels) ||
      !sora_config_read_uint (
          &r, "text_dim", 4096, 1, MAX_DIM, FALSE, &cfg->text_dim) ||
      !sora_config_read_uint (
          &r, "freq_dim", 256, 2, 65536, FALSE, &cfg->freq_dim) ||
      !sora_config_read_uint (
          &r, "ffn_dim", 13824, 1, MAX_DIM, FALSE, &cfg->ffn_dim) ||
      !sora_config_read_uint (
          &r, "num_layers", 40, 1, 1024, FALSE, &cfg->num_layers) ||
      !sora_config_read_bool (
          &r, "cross_attn_norm", TRUE, &cfg->cross_attn_norm) ||
      !sora_config_read_choice (&r, "qk_norm", qk_norms, &qk_norm) ||
      !sora_config_read_double (&r, "eps", 1e-6, 0.0, 1.0, &cfg->eps) ||
      !sora_config_read_uint (
          &r, "image_dim", 0, 1, MAX_DIM, TRUE, &cfg->image_dim) ||
      !sora_config_read_uint (&r, "added_kv_proj_dim", 0, 1, MAX_DIM, TRUE,
          &cfg->added_kv_proj_dim) ||
      !sora_config_read_uint (&r, "rope_max_seq_len", 1024, 1, MAX_DIM, FALSE,
          &cfg->rope_max_seq_len) ||
      !sora_config_read_uint (&r, "pos_embed_seq_len", 0, 1, MAX_DIM, TRUE,
          &cfg->pos_embed_seq_len))
    return FALSE;
  return check_transformer (&r, cfg);
}

static const float default_latents_mean[16] = {
  -0.7571,
  -0.7089,
  -0.9113,
  0.1075,
  -0.1745,
  0.9653,
  -0.1517,
  1.5508,
  0.4134,
  -0.0715,
  0.5517,
  -0.3632,
  -0.1922,
  -0.9497,
  0.2503,
  -0.2921,
};

static const float default_latents_std[16] = {
  2.8184,
  1.4541,
  2.3275,
  2.6558,
  1.2196,
  1.7708,
  2.6052,
  2.0743,
  3.2687,
  2.1526,
  2.8652,
  1.5579,
  1.6382,
  1.1253,
  2.8251,
  1.9160,
};

/* latents_mean / latents_std: z_dim numbers (std positive). */
static gboolean
read_latent_stats (Reader *r, const char *key, const float *def, guint z_dim,
    gboolean positive, float *out)
{
  JsonArray *a;

  if (sora_config_member (r, key) == NULL) {
    if (z_dim != 16)
      return sora_config_bad_key (r, key,
          "is missing and its default has 16 values, "
          "but z_dim is %u",
          z_dim);
    memcpy (out, def, 16 * sizeof (float));
    return TRUE;
  }
  if (!(a = sora_config_read_array (r, key, z_dim, z_dim)))
    return FALSE;
  for (guint i = 0; i < z_dim; i++) {
    JsonNode *n = json_array_get_element (a, i);
    if (!sora_config_node_is_number (n) ||
        (positive && !(json_node_get_double (n) > 0)))
      return sora_config_bad_key (r, key, "entry %u must be a %snumber", i,
          positive ? "positive " : "");
    out[i] = json_node_get_double (n);
  }
  return TRUE;
}

/* dim_mult, then temperal_downsample (one entry fewer), whose defaults
 * have four levels. */
static gboolean
read_levels (Reader *r, SoraWanVaeConfig *cfg)
{
  static const guint def_mult[] = { 1, 2, 4, 4 };
  JsonArray *a;

  if (sora_config_member (r, "dim_mult")) {
    if (!sora_config_read_uint_array (r, "dim_mult", 1, SORA_WAN_VAE_MAX_LEVELS,
            1, 64, "entries must be integers in [1, 64]", cfg->dim_mult,
            &cfg->n_levels))
      return FALSE;
  } else {
    cfg->n_levels = G_N_ELEMENTS (def_mult);
    memcpy (cfg->dim_mult, def_mult, sizeof (def_mult));
  }
  if (!sora_config_member (r, "temperal_downsample")) {
    if (cfg->n_levels != 4)
      return sora_config_bad_key (r, "temperal_downsample",
          "is missing and its default has 3 entries, but dim_mult has %u",
          cfg->n_levels);
    cfg->temperal_downsample[1] = cfg->temperal_downsample[2] = TRUE;
    return TRUE;
  }
  if (!(a = sora_config_read_array (
            r, "temperal_downsample", cfg->n_levels - 1, cfg->n_levels - 1)))
    return FALSE;
  for (guint i = 0; i + 1 < cfg->n_levels; i++) {
    JsonNode *n = json_array_get_element (a, i);
    if (!sora_config_node_is (n, G_TYPE_BOOLEAN))
      return sora_config_bad_key (
          r, "temperal_downsample", "entries must be true or false");
    cfg->temperal_downsample[i] = json_node_get_boolean (n);
  }
  return TRUE;
}

static gboolean
read_attn_scales (Reader *r, SoraWanVaeConfig *cfg)
{
  JsonArray *a;

  if (!sora_config_member (r, "attn_scales"))
    return TRUE;
  if (!(a = sora_config_read_array (
            r, "attn_scales", 0, SORA_WAN_VAE_MAX_LEVELS)))
    return FALSE;
  cfg->n_attn_scales = json_array_get_length (a);
  for (guint i = 0; i < cfg->n_attn_scales; i++) {
    if (!sora_config_node_is_number (json_array_get_element (a, i)))
      return sora_config_bad_key (r, "attn_scales", "entries must be numbers");
    cfg->attn_scales[i] = json_node_get_double (json_array_get_element (a, i));
  }
  return TRUE;
}

gboolean
sora_wan_vae_config_parse (const char *json, gsize len, const char *what,
    SoraWanVaeConfig *cfg, GError **error)
{
  g_autoptr (JsonObject) obj = sora_config_parse_json (json, len, what, error);
  Reader r = { obj, what, error };
  gboolean is_residual;
  double dropout;

  if (obj == NULL)
    return FALSE;
  memset (cfg, 0, sizeof (*cfg));
  if (!sora_config_check_class (&r, "_class_name", "AutoencoderKLWan") ||
      !sora_config_read_uint (
          &r, "base_dim", 96, 1, 65536, FALSE, &cfg->base_dim) ||
      !sora_config_read_uint (
          &r, "decoder_base_dim", 0, 1, 65536, TRUE, &cfg->decoder_base_dim) ||
      !sora_config_read_uint (
          &r, "z_dim", 16, 1, SORA_WAN_VAE_MAX_Z, FALSE, &cfg->z_dim) ||
      !sora_config_read_uint (
          &r, "num_res_blocks", 2, 1, 16, FALSE, &cfg->num_res_blocks) ||
      !sora_config_read_double (&r, "dropout", 0.0, -1.0, 1.0, &dropout) ||
      !sora_config_read_bool (&r, "is_residual", FALSE, &is_residual) ||
      !sora_config_read_uint (
          &r, "in_channels", 3, 1, 64, FALSE, &cfg->in_channels) ||
      !sora_config_read_uint (
          &r, "out_channels", 3, 1, 64, FALSE, &cfg->out_channels) ||
      !sora_config_read_uint (&r, "scale_factor_temporal", 4, 1, 64, FALSE,
          &cfg->scale_factor_temporal) ||
      !sora_config_read_uint (&r, "scale_factor_spatial", 8, 1, 64, FALSE,
          &cfg->scale_factor_spatial))
    return FALSE;
  if (cfg->decoder_base_dim == 0)
    cfg->decoder_base_dim = cfg->base_dim;
  /* The Wan2.2 VAE (residual blocks, patchified input) is another model. */
  if (is_residual)
    return sora_config_bad_key (
        &r, "is_residual", "is true (the Wan2.2 VAE), which is not supported");
  if (sora_config_member (&r, "patch_size") &&
      !JSON_NODE_HOLDS_NULL (sora_config_member (&r, "patch_size")))
    return sora_config_bad_key (
        &r, "patch_size", "is set (the Wan2.2 VAE), which is not supported");
  return read_levels (&r, cfg) && read_attn_scales (&r, cfg) &&
      read_latent_stats (&r, "latents_mean", default_latents_mean, cfg->z_dim,
          FALSE, cfg->latents_mean) &&
      read_latent_stats (&r, "latents_std", default_latents_std, cfg->z_dim,
          TRUE, cfg->latents_std);
}

gboolean
sora_umt5_config_parse (const char *json, gsize len, const char *what,
    SoraUmt5Config *cfg, GError **error)
{
  g_autoptr (JsonObject) obj = sora_config_parse_json (json, len, what, error);
  Reader r = { obj, what, error };
  static const char *const ffn[] = { "gated-gelu", NULL };
  static const char *const types[] = { "umt5", NULL };
  guint choice;

  if (obj == NULL)
    return FALSE;
  memset (cfg, 0, sizeof (*cfg));
  if (!sora_config_read_choice (&r, "model_type", types, &choice) ||
      !sora_config_read_choice (&r, "feed_forward_proj", ffn, &choice) ||
      !sora_config_read_uint (
          &r, "vocab_size", 250112, 1, 1u << 24, FALSE, &cfg->vocab_size) ||
      !sora_config_read_uint (
          &r, "d_model", 512, 1, 65536, FALSE, &cfg->d_model) ||
      !sora_config_read_uint (&r, "d_kv", 64, 1, 4096, FALSE, &cfg->d_kv) ||
      !sora_config_read_uint (
          &r, "d_ff", 1024, 1, MAX_DIM, FALSE, &cfg->d_ff) ||
      !sora_config_read_uint (
          &r, "num_layers", 8, 1, 1024, FALSE, &cfg->num_layers) ||
      !sora_config_read_uint (
          &r, "num_heads", 6, 1, 1024, FALSE, &cfg->num_heads) ||
      !sora_config_read_uint (&r, "relative_attention_num_buckets", 32, 2, 4096,
          FALSE, &cfg->relative_attention_num_buckets) ||
      !sora_config_read_uint (&r, "relative_attention_max_distance", 128, 1,
          MAX_DIM, FALSE, &cfg->relative_attention_max_distance) ||
      !sora_config_read_double (
          &r, "layer_norm_epsilon", 1e-6, 0.0, 1.0, &cfg->layer_norm_epsilon) ||
      !sora_config_read_uint (
          &r, "pad_token_id", 0, 0, 1u << 24, FALSE, &cfg->pad_token_id) ||
      !sora_config_read_uint (
          &r, "eos_token_id", 1, 0, 1u << 24, FALSE, &cfg->eos_token_id))
    return FALSE;
  if ((guint64)cfg->num_heads * cfg->d_kv > MAX_DIM)
    return sora_config_bad_key (
        &r, "num_heads", "times d_kv exceeds %u", MAX_DIM);
  return TRUE;
}

/* A boolean key whose true the engine does not implement (@why says what
 * it would take). */
static gboolean
refuse_true (Reader *r, const char *key, const char *why)
{
  gboolean v;

  if (!sora_config_read_bool (r, key, FALSE, &v))
    return FALSE;
  if (v)
    return sora_config_bad_key (
        r, key, "is true, which is not supported (%s)", why);
  return TRUE;
}

/* diffusers skips the corrector at step i when i − 1 is listed; negative
 * entries never match. */
static gboolean
read_disable_corrector (Reader *r, SoraSchedulerConfig *cfg)
{
  JsonArray *a;

  if (sora_config_member (r, "disable_corrector") == NULL)
    return TRUE;
  if (!(a = sora_config_read_array (
            r, "disable_corrector", 0, SORA_SCHEDULER_MAX_DISABLED)))
    return FALSE;
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *n = json_array_get_element (a, i);

    if (!sora_config_node_is (n, G_TYPE_INT64))
      return sora_config_bad_key (
          r, "disable_corrector", "entry %u must be an integer", i);
    if (json_node_get_int (n) >= 0 && json_node_get_int (n) <= G_MAXUINT)
      cfg->disable_corrector[cfg->n_disable_corrector++] =
          json_node_get_int (n);
  }
  return TRUE;
}

/* With use_flow_sigmas, diffusers' UniPC reads no betas, timestep spacing,
 * steps_offset, thresholding ratio or dynamic shift (the Wan pipeline
 * passes no mu): only the choices its constructor and set_timesteps refuse
 * are checked there. */
static gboolean
parse_unipc (Reader *r, SoraSchedulerConfig *cfg)
{
  static const char *const prediction[] = { "flow_prediction", NULL };
  /* diffusers runs midpoint, heun and logrho as bh2 */
  static const char *const solver[] = { "bh2", "bh1", "midpoint", "heun",
    "logrho", NULL };
  static const char *const final_sigmas[] = { "zero", "sigma_min", NULL };
  static const char *const spacing[] = { "linspace", "leading", "trailing",
    NULL };
  static const char *const betas[] = { "linear", "scaled_linear",
    "squaredcos_cap_v2", NULL };
  static const char *const vp_sigmas = "diffusers then takes the VP sigmas "
                                       "and its flow steps give NaN";
  guint choice, solver_type, final_type;
  gboolean flow_sigmas;
  JsonNode *n;

  cfg->kind = SORA_SCHEDULER_UNIPC;
  if (sora_config_member (r, "prediction_type") == NULL)
    return sora_config_bad_key (r, "prediction_type",
        "is missing: diffusers' default \"epsilon\" is not supported");
  if (!sora_config_read_choice (r, "prediction_type", prediction, &choice) ||
      !sora_config_read_bool (r, "use_flow_sigmas", FALSE, &flow_sigmas) ||
      !sora_config_read_double (r, "flow_shift", 1.0, 0.0, 1e6, &cfg->shift) ||
      !sora_config_read_uint (
          r, "solver_order", 2, 1, G_MAXINT, FALSE, &cfg->solver_order) ||
      !sora_config_read_choice (r, "solver_type", solver, &solver_type) ||
      !sora_config_read_bool (r, "predict_x0", TRUE, &cfg->predict_x0) ||
      !sora_config_read_bool (
          r, "lower_order_final", TRUE, &cfg->lower_order_final) ||
      !sora_config_read_choice (
          r, "final_sigmas_type", final_sigmas, &final_type) ||
      !read_disable_corrector (r, cfg) ||
      !refuse_true (r, "thresholding", "a quantile clamp of each x0") ||
      !refuse_true (r, "use_karras_sigmas", vp_sigmas) ||
      !refuse_true (r, "use_exponential_sigmas", vp_sigmas) ||
      !refuse_true (r, "use_beta_sigmas", vp_sigmas) ||
      !sora_config_read_choice (r, "timestep_spacing", spacing, &choice))
    return FALSE;
  if (!flow_sigmas)
    return sora_config_bad_key (r, "use_flow_sigmas", "must be true");
  n = sora_config_member (r, "solver_p");
  if (n && !JSON_NODE_HOLDS_NULL (n))
    return sora_config_bad_key (
        r, "solver_p", "is set, which is not supported");
  n = sora_config_member (r, "trained_betas");
  if ((n == NULL || JSON_NODE_HOLDS_NULL (n)) &&
      !sora_config_read_choice (r, "beta_schedule", betas, &choice))
    return FALSE;
  cfg->bh2 = solver_type != 1;
  cfg->final_sigma_zero = final_type == 0;
  return TRUE;
}

/* A number or null (absent: @def). */
static gboolean
read_nullable_double (Reader *r, const char *key, double def, double *out)
{
  JsonNode *n = sora_config_member (r, key);

  *out = def;
  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (!sora_config_node_is_number (n))
    return sora_config_bad_key (r, key, "must be a number or null");
  *out = json_node_get_double (n);
  return TRUE;
}

/* base_shift, max_shift and the image sequence lengths make the mu of
 * pipelines with dynamic shifting, which Wan's is not.  diffusers keeps
 * keys its class does not know in the config, and its Karras and
 * exponential sigmas read sigma_min and sigma_max from there. */
static gboolean
parse_flow_euler (Reader *r, SoraSchedulerConfig *cfg)
{
  static const char *const shift_types[] = { "exponential", "linear", NULL };
  guint choice;
  gboolean karras, exponential;

  cfg->kind = SORA_SCHEDULER_EULER;
  if (!sora_config_read_double (r, "shift", 1.0, 0.0, 1e6, &cfg->shift) ||
      !sora_config_read_bool (r, "invert_sigmas", FALSE, &cfg->invert_sigmas) ||
      !read_nullable_double (r, "shift_terminal", 0.0, &cfg->shift_terminal) ||
      !refuse_true (r, "use_dynamic_shifting",
          "diffusers' Wan pipeline passes no mu, which set_timesteps "
          "then needs") ||
      !refuse_true (r, "stochastic_sampling", "fresh noise at every step") ||
      !sora_config_read_bool (r, "use_karras_sigmas", FALSE, &karras) ||
      !sora_config_read_bool (
          r, "use_exponential_sigmas", FALSE, &exponential) ||
      !refuse_true (r, "use_beta_sigmas", "the inverse beta distribution") ||
      !read_nullable_double (r, "sigma_min", NAN, &cfg->sigma_min) ||
      !read_nullable_double (r, "sigma_max", NAN, &cfg->sigma_max) ||
      !sora_config_read_choice (r, "time_shift_type", shift_types, &choice))
    return FALSE;
  if (karras && exponential)
    return sora_config_bad_key (r, "use_karras_sigmas",
        "and \"use_exponential_sigmas\" are both true (diffusers allows "
        "one)");
  cfg->spacing = karras ? SORA_SIGMAS_KARRAS
      : exponential     ? SORA_SIGMAS_EXPONENTIAL
                        : SORA_SIGMAS_SHIFTED;
  return TRUE;
}

gboolean
sora_scheduler_config_parse (const char *class_name, const char *json,
    gsize len, const char *what, SoraSchedulerConfig *cfg, GError **error)
{
  g_autoptr (JsonObject) obj = sora_config_parse_json (json, len, what, error);
  Reader r = { obj, what, error };
  gboolean ok;

  if (obj == NULL)
    return FALSE;
  memset (cfg, 0, sizeof (*cfg));
  if (!sora_config_check_class (&r, "_class_name", class_name) ||
      !sora_config_read_uint (&r, "num_train_timesteps", 1000, 1, 1u << 20,
          FALSE, &cfg->num_train_timesteps))
    return FALSE;
  if (strcmp (class_name, "UniPCMultistepScheduler") == 0) {
    ok = parse_unipc (&r, cfg);
  } else if (strcmp (class_name, "FlowMatchEulerDiscreteScheduler") == 0) {
    ok = parse_flow_euler (&r, cfg);
  } else {
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
        "%s: unknown scheduler class \"%s\"", what, class_name);
    return FALSE;
  }
  if (ok && !sora_scheduler_config_check (cfg, error)) {
    g_prefix_error (error, "%s: ", what);
    return FALSE;
  }
  return ok;
}

static gboolean G_GNUC_PRINTF (2, 3)
    refuse (GError **error, const char *fmt, ...)
{
  g_autofree char *what = NULL;
  va_list ap;

  va_start (ap, fmt);
  what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL, "%s", what);
  return FALSE;
}

gboolean
sora_scheduler_config_check (const SoraSchedulerConfig *cfg, GError **error)
{
  const char *final = cfg->final_sigma_zero ? "zero" : "sigma_min";

  if (cfg->num_train_timesteps == 0)
    return refuse (error, "\"num_train_timesteps\" 0 is not supported");
  if (!(cfg->shift > 0.0))
    return refuse (error, "\"%s\" %g is not supported: it must be positive",
        cfg->kind == SORA_SCHEDULER_UNIPC ? "flow_shift" : "shift", cfg->shift);
  if (cfg->kind == SORA_SCHEDULER_EULER) {
    /* NaN (unset) passes: the schedule's ends are positive. */
    if (cfg->spacing != SORA_SIGMAS_SHIFTED &&
        (cfg->sigma_min <= 0.0 || cfg->sigma_max <= 0.0))
      return refuse (error,
          "\"sigma_min\" %g and \"sigma_max\" %g are not supported: "
          "respaced sigmas need positive ends",
          cfg->sigma_min, cfg->sigma_max);
    if (!(cfg->shift_terminal >= 0.0 && cfg->shift_terminal < 1.0))
      return refuse (error,
          "\"shift_terminal\" %g is not supported: it must be in [0, 1)",
          cfg->shift_terminal);
    return TRUE;
  }
  if (cfg->kind != SORA_SCHEDULER_UNIPC)
    return refuse (error, "scheduler kind %d is not supported", cfg->kind);
  if (cfg->solver_order < 1 || cfg->solver_order > SORA_UNIPC_MAX_ORDER)
    return refuse (error, "\"solver_order\" %u is not supported (1 to %u)",
        cfg->solver_order, SORA_UNIPC_MAX_ORDER);
  if (!cfg->predict_x0)
    return refuse (error,
        "\"predict_x0\" false is not supported: diffusers' flow_prediction "
        "needs it");
  /* A final σ of 0 has λ = ∞: diffusers' last step multiplies bh1's
   * B(h) = −∞ by 0, and divides by ∞ in steps of order 2 and more. */
  if (cfg->final_sigma_zero && !cfg->bh2)
    return refuse (error,
        "\"solver_type\" \"bh1\" with \"final_sigmas_type\" \"zero\" "
        "is not supported: diffusers' last step is NaN");
  /* A final σ_min repeats the last σ: h = 0, and diffusers' order-3 system
   * is singular. */
  if (!cfg->lower_order_final &&
      cfg->solver_order > (cfg->final_sigma_zero ? 1u : 2u))
    return refuse (error,
        "\"lower_order_final\" false with \"solver_order\" %u and "
        "\"final_sigmas_type\" \"%s\" is not supported: diffusers' last step "
        "is inf or NaN",
        cfg->solver_order, final);
  return TRUE;
}
