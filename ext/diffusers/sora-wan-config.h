/* gst-sora: configs of the Wan2.1 components
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_WAN_CONFIG_H__
#define __SORA_WAN_CONFIG_H__

#include "sora-rules.h"
#include "sora-safetensors.h"

G_BEGIN_DECLS

#define SORA_WAN_CAUSAL_MAX_STEPS 16

/* "_sora_causal": a block-causal transformer (Self-Forcing, LongLive) that
 * makes latent frames chunk by chunk.  The queries of the chunk of latent
 * frames [s, s + chunk_frames) attend every key frame j < s + chunk_frames
 * with j < sink_frames or j >= s + chunk_frames - window_frames
 * (window_frames 0: every past frame); past chunks come from a KV cache
 * written at context_timestep.  Each chunk is denoised from noise at the
 * raw steps in (0, 1000] of @steps, each warped by the flow shift
 * (sigma = shift·u / (1 + (shift − 1)·u), u = step / 1000, timestep =
 * 1000·sigma), by x0 = x − sigma·v and re-noising to the next sigma.
 * chunk_frames 0: not causal. */
typedef struct
{
  guint chunk_frames;
  guint window_frames;
  guint sink_frames;
  guint n_steps;
  double steps[SORA_WAN_CAUSAL_MAX_STEPS];
  double shift;
  double context_timestep;
} SoraWanCausalConfig;

/* WanTransformer3DModel (config.json); a missing key takes the diffusers
 * class default. */
typedef struct
{
  guint patch_size[3];
  guint num_attention_heads;
  guint attention_head_dim;
  guint inner_dim; /* heads * head_dim */
  guint in_channels;
  guint out_channels;
  guint text_dim;
  guint freq_dim;
  guint ffn_dim;
  guint num_layers;
  gboolean cross_attn_norm;
  double eps;
  guint image_dim; /* 0: none (I2V only) */
  guint added_kv_proj_dim; /* 0: none (I2V only) */
  guint rope_max_seq_len;
  guint pos_embed_seq_len; /* 0: none (FLF2V only) */
  /* "_sora_native_size": [width, height, frames] the model was trained at;
   * 0 when absent.  diffusers ignores keys that start with "_". */
  guint native_size[3];
  SoraWanCausalConfig causal;
} SoraWanTransformerConfig;

#define SORA_WAN_VAE_MAX_LEVELS 8
#define SORA_WAN_VAE_MAX_Z 64

/* AutoencoderKLWan (Wan2.1 layout: is_residual false, no patch_size). */
typedef struct
{
  guint base_dim;
  guint decoder_base_dim; /* base_dim when the config has null */
  guint z_dim;
  guint dim_mult[SORA_WAN_VAE_MAX_LEVELS];
  guint n_levels; /* entries of dim_mult */
  guint num_res_blocks;
  double attn_scales[SORA_WAN_VAE_MAX_LEVELS];
  guint n_attn_scales;
  gboolean temperal_downsample[SORA_WAN_VAE_MAX_LEVELS]; /* n_levels - 1 */
  guint in_channels;
  guint out_channels;
  guint scale_factor_temporal;
  guint scale_factor_spatial;
  float latents_mean[SORA_WAN_VAE_MAX_Z];
  float latents_std[SORA_WAN_VAE_MAX_Z];
} SoraWanVaeConfig;

/* UMT5EncoderModel (transformers config.json, gated-gelu only). */
typedef struct
{
  guint vocab_size;
  guint d_model;
  guint d_kv;
  guint d_ff;
  guint num_layers;
  guint num_heads;
  guint relative_attention_num_buckets;
  guint relative_attention_max_distance;
  double layer_norm_epsilon;
  guint pad_token_id;
  guint eos_token_id;
} SoraUmt5Config;

/* Euler's σ after the shift: as they are, or respaced between the ends
 * (use_karras_sigmas, use_exponential_sigmas). */
typedef enum {
  SORA_SIGMAS_SHIFTED,
  SORA_SIGMAS_KARRAS,
  SORA_SIGMAS_EXPONENTIAL,
} SoraSigmaSpacing;

/* The UniPC orders the engine runs (diffusers runs any). */
#define SORA_UNIPC_MAX_ORDER 3
/* Entries of disable_corrector kept. */
#define SORA_SCHEDULER_MAX_DISABLED 64

/* The keys of a scheduler_config.json that change the maths; the parser
 * refuses the values the engine does not implement by name. */
typedef struct
{
  /* UNIPC: UniPCMultistepScheduler with flow sigmas; EULER:
   * FlowMatchEulerDiscreteScheduler */
  SoraSchedulerKind kind;
  guint num_train_timesteps;
  double shift; /* flow_shift (UniPC) or shift (Euler) */
  /* UniPC only */
  guint solver_order;
  gboolean bh2; /* solver_type "bh2" (or an alias), else "bh1" */
  gboolean predict_x0;
  gboolean lower_order_final;
  gboolean final_sigma_zero; /* final_sigmas_type "zero", else sigma_min */
  /* disable_corrector: the step after each of these skips UniC */
  guint n_disable_corrector;
  guint disable_corrector[SORA_SCHEDULER_MAX_DISABLED];
  /* Euler only */
  double shift_terminal; /* 0: none (diffusers' null or 0) */
  gboolean invert_sigmas;
  SoraSigmaSpacing spacing;
  /* Karras / exponential ends; NaN: the schedule's first and last σ */
  double sigma_min, sigma_max;
} SoraSchedulerConfig;

/* The parsers read JSON text; @what (the file) starts every message.
 * Malformed JSON is SORA_ERROR_FORMAT; a wrong type, a value out of range or
 * an unsupported choice is SORA_ERROR_MODEL naming the key. */
gboolean sora_wan_transformer_config_parse (const char *json, gsize len,
    const char *what, SoraWanTransformerConfig *cfg, GError **error);
gboolean sora_wan_vae_config_parse (const char *json, gsize len,
    const char *what, SoraWanVaeConfig *cfg, GError **error);
gboolean sora_umt5_config_parse (const char *json, gsize len, const char *what,
    SoraUmt5Config *cfg, GError **error);
/* @class_name: the scheduler's class from model_index.json.  Also runs
 * sora_scheduler_config_check. */
gboolean sora_scheduler_config_parse (const char *class_name, const char *json,
    gsize len, const char *what, SoraSchedulerConfig *cfg, GError **error);
/* Whether the engine's scheduler runs @cfg as diffusers does: the one check
 * behind the folder's parser (sora-tool inspect) and sora_scheduler_new.
 * SORA_ERROR_MODEL naming the key and its value for an order above
 * SORA_UNIPC_MAX_ORDER, a shift ≤ 0, a shift_terminal outside [0, 1), and
 * the configs whose last step diffusers computes as inf or NaN. */
gboolean sora_scheduler_config_check (
    const SoraSchedulerConfig *cfg, GError **error);

G_END_DECLS

#endif /* __SORA_WAN_CONFIG_H__ */
