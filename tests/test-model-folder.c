/* gst-sora tests: diffusers model folders, configs and the tensor lists they
 * imply, on a tiny folder written here and on damaged copies of it.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>
#include <string.h>

#include "sora-diffusers.h"
#include "sora-error.h"
#include "sora-scheduler.h"
#include "sora-test-util.h"
#include "sora-umt5.h"
#include "sora-wan-dit.h"
#include "sora-wan-vae.h"

static const char *transformer_json =
    "{\"_class_name\": \"WanTransformer3DModel\", \"patch_size\": [1, 2, 2],"
    " \"num_attention_heads\": 2, \"attention_head_dim\": 16,"
    " \"in_channels\": 4, \"out_channels\": 4, \"text_dim\": 16,"
    " \"freq_dim\": 16, \"ffn_dim\": 48, \"num_layers\": 2,"
    " \"cross_attn_norm\": true, \"qk_norm\": \"rms_norm_across_heads\","
    " \"image_dim\": null, \"added_kv_proj_dim\": null}";
static const char *vae_json =
    "{\"_class_name\": \"AutoencoderKLWan\", \"base_dim\": 8, \"z_dim\": 4,"
    " \"dim_mult\": [1, 2, 2], \"num_res_blocks\": 1,"
    " \"temperal_downsample\": [false, true], \"attn_scales\": [],"
    " \"latents_mean\": [0.5, -0.25, 0, 1], \"latents_std\": [1, 2, 3, 4]}";
static const char *umt5_json =
    "{\"architectures\": [\"UMT5EncoderModel\"], \"model_type\": \"umt5\","
    " \"vocab_size\": 50, \"d_model\": 16, \"d_kv\": 4, \"num_heads\": 2,"
    " \"d_ff\": 24, \"num_layers\": 2, \"relative_attention_num_buckets\": 8,"
    " \"relative_attention_max_distance\": 16,"
    " \"feed_forward_proj\": \"gated-gelu\", \"layer_norm_epsilon\": 1e-06}";
static const char *scheduler_json =
    "{\"_class_name\": \"UniPCMultistepScheduler\", \"flow_shift\": 3.0,"
    " \"prediction_type\": \"flow_prediction\", \"use_flow_sigmas\": true,"
    " \"solver_order\": 2, \"num_train_timesteps\": 1000}";
static const char *index_json =
    "{\"_class_name\": \"WanPipeline\", \"_diffusers_version\": \"0.35.0\","
    " \"scheduler\": [\"diffusers\", \"UniPCMultistepScheduler\"],"
    " \"text_encoder\": [\"transformers\", \"UMT5EncoderModel\"],"
    " \"tokenizer\": [\"transformers\", \"T5TokenizerFast\"],"
    " \"transformer\": [\"diffusers\", \"WanTransformer3DModel\"],"
    " \"transformer_2\": [null, null], \"boundary_ratio\": null,"
    " \"vae\": [\"diffusers\", \"AutoencoderKLWan\"]}";

typedef struct
{
  const char *skip; /* leave this tensor out */
  const char *reshape; /* give it a wrong shape */
  const char *as_i8; /* store it as I8 */
} Tamper;

static void
write_text (
    const char *dir, const char *sub, const char *name, const char *text)
{
  g_autofree char *d = g_build_filename (dir, sub, NULL);
  g_autofree char *p = g_build_filename (d, name, NULL);

  g_assert_cmpint (g_mkdir_with_parents (d, 0755), ==, 0);
  g_assert_true (g_file_set_contents (p, text, -1, NULL));
}

/* Byte j of the i-th expected tensor, so reads can be checked. */
static guint8
pattern (guint i, gsize j)
{
  return (guint8)(i * 31 + j * 7);
}

/* Writes the tensors of @expected as @base.safetensors, or in @n_shards
 * shards with an index, cycling F32, F16 and BF16. */
static void
write_weights (const char *dir, GPtrArray *expected, const char *base,
    guint n_shards, const Tamper *tamper)
{
  static const SoraSafeDType cycle[] = { SORA_SAFE_F32, SORA_SAFE_F16,
    SORA_SAFE_BF16 };
  g_autoptr (GArray) tensors =
      g_array_new (FALSE, TRUE, sizeof (SoraSafetensor));
  g_autoptr (GString) index = g_string_new ("{\"metadata\": {}, "
                                            "\"weight_map\": {");
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < expected->len; i++) {
    const SoraExpectedTensor *e = expected->pdata[i];
    SoraSafetensor t = { .name = e->alt_name ? e->alt_name : e->name,
      .ndim = e->ndim,
      .dtype = cycle[i % 3] };
    gsize nbytes;
    guint8 *data;

    if (tamper && g_strcmp0 (tamper->skip, e->name) == 0)
      continue;
    memcpy (t.shape, e->shape, sizeof (t.shape));
    if (tamper && g_strcmp0 (tamper->reshape, e->name) == 0)
      t.shape[0] += 1;
    if (tamper && g_strcmp0 (tamper->as_i8, e->name) == 0)
      t.dtype = SORA_SAFE_I8;
    nbytes = sora_safe_dtype_size (t.dtype);
    for (guint d = 0; d < t.ndim; d++)
      nbytes *= t.shape[d];
    data = g_malloc (nbytes + 1);
    for (gsize j = 0; j < nbytes; j++)
      data[j] = pattern (i, j);
    t.data = data;
    g_array_append_val (tensors, t);
  }
  for (guint s = 0; s < n_shards; s++) {
    g_autofree char *name = n_shards == 1
        ? g_strdup_printf ("%s.safetensors", base)
        : g_strdup_printf (
              "%s-%05u-of-%05u.safetensors", base, s + 1, n_shards);
    g_autofree char *path = g_build_filename (dir, name, NULL);
    guint from = tensors->len * s / n_shards;
    guint to = tensors->len * (s + 1) / n_shards;

    g_assert_true (sora_safetensors_write (path,
        &g_array_index (tensors, SoraSafetensor, from), to - from, &error));
    g_assert_no_error (error);
    for (guint i = from; i < to; i++)
      g_string_append_printf (index, "%s\"%s\": \"%s\"",
          index->str[index->len - 1] == '{' ? "" : ", ",
          g_array_index (tensors, SoraSafetensor, i).name, name);
  }
  if (n_shards > 1) {
    g_autofree char *name = g_strdup_printf ("%s.safetensors.index.json", base);
    g_string_append (index, "}}");
    write_text (dir, ".", name, index->str);
  }
  for (guint i = 0; i < tensors->len; i++)
    g_free ((gpointer)g_array_index (tensors, SoraSafetensor, i).data);
}

/* A complete tiny folder in a fresh temporary directory (g_free). */
static char *
make_folder (const Tamper *vae_tamper)
{
  char *dir = g_dir_make_tmp ("sora-model-XXXXXX", NULL);
  g_autofree char *tdir = g_build_filename (dir, "transformer", NULL);
  g_autofree char *vdir = g_build_filename (dir, "vae", NULL);
  g_autofree char *edir = g_build_filename (dir, "text_encoder", NULL);
  SoraWanTransformerConfig tc;
  SoraWanVaeConfig vc;
  SoraUmt5Config ec;
  g_autoptr (GPtrArray) te = NULL;
  g_autoptr (GPtrArray) ve = NULL;
  g_autoptr (GPtrArray) ee = NULL;
  g_autoptr (GError) error = NULL;

  write_text (dir, ".", "model_index.json", index_json);
  write_text (dir, "transformer", "config.json", transformer_json);
  write_text (dir, "vae", "config.json", vae_json);
  write_text (dir, "text_encoder", "config.json", umt5_json);
  write_text (dir, "scheduler", "scheduler_config.json", scheduler_json);
  write_text (dir, "tokenizer", "tokenizer.json", "{}");
  g_assert_true (sora_wan_transformer_config_parse (
      transformer_json, -1 + strlen (transformer_json) + 1, "t", &tc, &error));
  g_assert_true (sora_wan_vae_config_parse (
      vae_json, strlen (vae_json), "v", &vc, &error));
  g_assert_true (
      sora_umt5_config_parse (umt5_json, strlen (umt5_json), "e", &ec, &error));
  g_assert_no_error (error);
  te = sora_wan_transformer_expected_tensors (&tc);
  ve = sora_wan_vae_expected_tensors (&vc);
  ee = sora_umt5_expected_tensors (&ec);
  write_weights (tdir, te, "diffusion_pytorch_model", 3, NULL);
  write_weights (vdir, ve, "diffusion_pytorch_model", 1, vae_tamper);
  write_weights (edir, ee, "model", 2, NULL);
  return dir;
}

static gsize
count_params (GPtrArray *list)
{
  gsize total = 0;

  for (guint i = 0; i < list->len; i++) {
    const SoraExpectedTensor *e = list->pdata[i];
    gsize n = 1;
    for (guint d = 0; d < e->ndim; d++)
      n *= e->shape[d];
    total += n;
  }
  return total;
}

/* Asserts @name is in @list with the given shape. */
static void
assert_expected (GPtrArray *list, const char *name, guint ndim, ...)
{
  va_list ap;

  for (guint i = 0; i < list->len; i++) {
    const SoraExpectedTensor *e = list->pdata[i];
    if (strcmp (e->name, name) != 0)
      continue;
    g_assert_cmpuint (e->ndim, ==, ndim);
    va_start (ap, ndim);
    for (guint d = 0; d < ndim; d++)
      g_assert_cmpuint (e->shape[d], ==, va_arg (ap, int));
    va_end (ap);
    return;
  }
  g_error ("%s not in the expected list", name);
}

/* The lists against the counts and names of docs/model.md §Tensors. */
static void
test_expected_lists (void)
{
  g_autoptr (GError) error = NULL;
  SoraWanTransformerConfig tc;
  SoraWanVaeConfig vc;
  SoraUmt5Config ec;
  const char *t13b = "{\"num_attention_heads\": 12, \"ffn_dim\": 8960,"
                     " \"num_layers\": 30}";
  const char *tiny =
      "{\"num_attention_heads\": 2, \"attention_head_dim\": 12,"
      " \"in_channels\": 4, \"out_channels\": 4, \"text_dim\": 16,"
      " \"ffn_dim\": 32, \"num_layers\": 2, \"rope_max_seq_len\": 32}";
  const char *tiny_vae =
      "{\"base_dim\": 3, \"z_dim\": 16, \"dim_mult\": "
      "[1, 1, 1, 1], \"num_res_blocks\": 1, \"temperal_downsample\": "
      "[false, true, true]}";
  const char *xxl =
      "{\"d_model\": 4096, \"d_kv\": 64, \"num_heads\": 64,"
      " \"d_ff\": 10240, \"num_layers\": 24, \"vocab_size\": 256384}";
  GPtrArray *l;

  g_assert_true (sora_wan_transformer_config_parse (
      t13b, strlen (t13b), "1.3b", &tc, &error));
  g_assert_cmpuint (tc.inner_dim, ==, 1536);
  g_assert_cmpuint (tc.out_channels, ==, 16);
  g_assert_cmpuint (tc.freq_dim, ==, 256);
  g_assert_cmpuint (tc.text_dim, ==, 4096);
  g_assert_cmpfloat (tc.eps, ==, 1e-6);
  l = sora_wan_transformer_expected_tensors (&tc);
  g_assert_cmpuint (l->len, ==, 825);
  g_assert_cmpuint (count_params (l), ==, 1418996800);
  assert_expected (l, "patch_embedding.weight", 5, 1536, 16, 1, 2, 2);
  assert_expected (l, "condition_embedder.time_proj.weight", 2, 9216, 1536);
  assert_expected (
      l, "condition_embedder.text_embedder.linear_1.weight", 2, 1536, 4096);
  assert_expected (l, "blocks.29.ffn.net.0.proj.weight", 2, 8960, 1536);
  assert_expected (l, "blocks.0.scale_shift_table", 3, 1, 6, 1536);
  assert_expected (l, "blocks.7.attn2.norm_k.weight", 1, 1536);
  assert_expected (l, "scale_shift_table", 3, 1, 2, 1536);
  assert_expected (l, "proj_out.weight", 2, 64, 1536);
  g_ptr_array_unref (l);

  g_assert_true (sora_wan_transformer_config_parse (
      tiny, strlen (tiny), "tiny", &tc, &error));
  l = sora_wan_transformer_expected_tensors (&tc);
  g_assert_cmpuint (l->len, ==, 69);
  g_assert_cmpuint (count_params (l), ==, 25592);
  g_ptr_array_unref (l);

  g_assert_true (sora_wan_vae_config_parse ("{}", 2, "vae", &vc, &error));
  g_assert_cmpfloat_with_epsilon (vc.latents_std[15], 1.9160, 1e-6);
  l = sora_wan_vae_expected_tensors (&vc);
  g_assert_cmpuint (l->len, ==, 194);
  g_assert_cmpuint (count_params (l), ==, 126892531);
  assert_expected (l, "encoder.conv_in.weight", 5, 96, 3, 3, 3, 3);
  assert_expected (
      l, "encoder.down_blocks.3.conv_shortcut.weight", 5, 192, 96, 1, 1, 1);
  assert_expected (
      l, "encoder.down_blocks.5.time_conv.weight", 5, 192, 192, 3, 1, 1);
  assert_expected (
      l, "encoder.mid_block.attentions.0.norm.gamma", 3, 384, 1, 1);
  assert_expected (l, "encoder.conv_out.weight", 5, 32, 384, 3, 3, 3);
  assert_expected (l, "decoder.up_blocks.0.upsamplers.0.time_conv.weight", 5,
      768, 384, 3, 1, 1);
  assert_expected (l, "decoder.up_blocks.1.resnets.0.conv_shortcut.weight", 5,
      384, 192, 1, 1, 1);
  assert_expected (l, "decoder.up_blocks.2.upsamplers.0.resample.1.weight", 4,
      96, 192, 3, 3);
  assert_expected (l, "decoder.conv_out.weight", 5, 3, 96, 3, 3, 3);
  g_ptr_array_unref (l);

  /* diffusers' tiny VAE: the upsamplers halve 3 channels to 1. */
  g_assert_true (sora_wan_vae_config_parse (
      tiny_vae, strlen (tiny_vae), "tiny-vae", &vc, &error));
  l = sora_wan_vae_expected_tensors (&vc);
  assert_expected (
      l, "decoder.up_blocks.1.resnets.0.conv1.weight", 5, 3, 1, 3, 3, 3);
  g_ptr_array_unref (l);

  g_assert_true (
      sora_umt5_config_parse (xxl, strlen (xxl), "xxl", &ec, &error));
  l = sora_umt5_expected_tensors (&ec);
  g_assert_cmpuint (l->len, ==, 2 + 24 * 10);
  assert_expected (l, "shared.weight", 2, 256384, 4096);
  assert_expected (l,
      "encoder.block.23.layer.0.SelfAttention.relative_attention_bias.weight",
      2, 32, 64);
  assert_expected (
      l, "encoder.block.0.layer.1.DenseReluDense.wo.weight", 2, 4096, 10240);
  g_ptr_array_unref (l);
  g_assert_no_error (error);
}

/* diffusers' WanAttention norms q and k with one RMSNorm over all heads
 * whatever qk_norm says: "rms_norm" is the same model. */
static void
test_qk_norm (void)
{
  const char *names[] = { "rms_norm_across_heads", "rms_norm" };
  SoraWanTransformerConfig tc;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *json = g_strdup_printf ("{\"qk_norm\": \"%s\"}", names[i]);

    g_assert_true (sora_wan_transformer_config_parse (
        json, strlen (json), "qk", &tc, &error));
    g_assert_no_error (error);
  }
}

/* The optional "_sora_native_size" (diffusers ignores "_" keys). */
static void
test_native_size (void)
{
  const char *good = "{\"_sora_native_size\": [64, 48, 17]}";
  const char *bad[] = {
    "{\"_sora_native_size\": [64, 48]}",
    "{\"_sora_native_size\": [64, 50, 17]}",
    "{\"_sora_native_size\": [64, 48, 16]}",
    "{\"_sora_native_size\": [64, -48, 17]}",
    "{\"_sora_native_size\": \"64x48\"}",
  };
  SoraWanTransformerConfig tc;

  g_assert_true (
      sora_wan_transformer_config_parse ("{}", 2, "default", &tc, NULL));
  g_assert_cmpuint (tc.native_size[0], ==, 0);
  g_assert_true (sora_wan_transformer_config_parse (
      good, strlen (good), "good", &tc, NULL));
  g_assert_cmpuint (tc.native_size[0], ==, 64);
  g_assert_cmpuint (tc.native_size[1], ==, 48);
  g_assert_cmpuint (tc.native_size[2], ==, 17);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;

    g_assert_false (sora_wan_transformer_config_parse (
        bad[i], strlen (bad[i]), "cfg.json", &tc, &error));
    g_assert_error (error, SORA_ERROR, SORA_ERROR_MODEL);
    g_assert_nonnull (strstr (error->message, "cfg.json"));
    g_assert_nonnull (strstr (error->message, "_sora_native_size"));
  }
}

/* The optional "_sora_causal" (docs/models.md, Causal checkpoints): defaults,
 * and each bad value named by its key and the file. */
static void
test_causal (void)
{
  const char *full = "{\"_sora_causal\": {\"chunk_frames\": 3,"
                     " \"window_frames\": 12, \"sink_frames\": 3,"
                     " \"steps\": [1000, 750, 500.5, 250], \"shift\": 3,"
                     " \"context_timestep\": 1000}}";
  const char *least =
      "{\"_sora_causal\": {\"chunk_frames\": 2, \"steps\": [1]}}";
  /* {json, the key the error names, a part of the reason} */
  const char *bad[][3] = {
    { "{\"_sora_causal\": 3}", "\"_sora_causal\"", "object" },
    { "{\"_sora_causal\": {\"steps\": [1000]}}",
        "\"_sora_causal.chunk_frames\"", "required" },
    { "{\"_sora_causal\": {\"chunk_frames\": 3}}", "\"_sora_causal.steps\"",
        "required" },
    { "{\"_sora_causal\": {\"chunk_frames\": 0, \"steps\": [1000]}}",
        "\"_sora_causal.chunk_frames\"", "[1, 1024]" },
    { "{\"_sora_causal\": {\"chunk_frames\": 3, \"window_frames\": 4,"
      " \"steps\": [1000]}}",
        "\"_sora_causal.window_frames\"",
        "must be 0 or a multiple of chunk_frames (3), not 4" },
    { "{\"_sora_causal\": {\"chunk_frames\": 3, \"sink_frames\": 1,"
      " \"steps\": [1000]}}",
        "\"_sora_causal.sink_frames\"", "multiple of chunk_frames (3), not 1" },
    { "{\"_sora_causal\": {\"chunk_frames\": 3, \"window_frames\": -3,"
      " \"steps\": [1000]}}",
        "\"_sora_causal.window_frames\"", "integer" },
    { "{\"_sora_causal\": {\"chunk_frames\": 3, \"steps\": []}}",
        "\"_sora_causal.steps\"", "1 to 16 entries" },
    { "{\"_sora_causal\": {\"chunk_frames\": 3, \"steps\": [1000, 0]}}",
        "\"_sora_causal.steps\"", "(0, 1000]" },
    { "{\"_sora_causal\": {\"chunk_frames\": 3, \"steps\": [1001]}}",
        "\"_sora_causal.steps\"", "(0, 1000]" },
    { "{\"_sora_causal\": {\"chunk_frames\": 3, \"steps\": [\"1000\"]}}",
        "\"_sora_causal.steps\"", "(0, 1000]" },
    { "{\"_sora_causal\": {\"chunk_frames\": 3, \"steps\": [750, 750]}}",
        "\"_sora_causal.steps\"", "strictly descending: 750 follows 750" },
    { "{\"_sora_causal\": {\"chunk_frames\": 3, \"steps\": [1000],"
      " \"shift\": 0}}",
        "\"_sora_causal.shift\"", "number" },
    { "{\"_sora_causal\": {\"chunk_frames\": 3, \"steps\": [1000],"
      " \"context_timestep\": -1}}",
        "\"_sora_causal.context_timestep\"", "[0, 1000]" },
  };
  SoraWanTransformerConfig tc;
  g_autoptr (GError) error = NULL;

  g_assert_true (
      sora_wan_transformer_config_parse ("{}", 2, "default", &tc, NULL));
  g_assert_cmpuint (tc.causal.chunk_frames, ==, 0);
  g_assert_true (sora_wan_transformer_config_parse (
      full, strlen (full), "full", &tc, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tc.causal.chunk_frames, ==, 3);
  g_assert_cmpuint (tc.causal.window_frames, ==, 12);
  g_assert_cmpuint (tc.causal.sink_frames, ==, 3);
  g_assert_cmpuint (tc.causal.n_steps, ==, 4);
  g_assert_cmpfloat (tc.causal.steps[0], ==, 1000.0);
  g_assert_cmpfloat (tc.causal.steps[2], ==, 500.5);
  g_assert_cmpfloat (tc.causal.steps[3], ==, 250.0);
  g_assert_cmpfloat (tc.causal.shift, ==, 3.0);
  g_assert_cmpfloat (tc.causal.context_timestep, ==, 1000.0);
  g_assert_true (sora_wan_transformer_config_parse (
      least, strlen (least), "least", &tc, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tc.causal.chunk_frames, ==, 2);
  g_assert_cmpuint (tc.causal.window_frames, ==, 0);
  g_assert_cmpuint (tc.causal.sink_frames, ==, 0);
  g_assert_cmpuint (tc.causal.n_steps, ==, 1);
  g_assert_cmpfloat (tc.causal.steps[0], ==, 1.0);
  g_assert_cmpfloat (tc.causal.shift, ==, 5.0);
  g_assert_cmpfloat (tc.causal.context_timestep, ==, 0.0);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_clear_error (&error);
    g_assert_false (sora_wan_transformer_config_parse (
        bad[i][0], strlen (bad[i][0]), "cfg.json", &tc, &error));
    g_assert_error (error, SORA_ERROR, SORA_ERROR_MODEL);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "cfg.json: "));
    g_assert_nonnull (strstr (error->message, bad[i][1]));
    g_assert_nonnull (strstr (error->message, bad[i][2]));
  }
}

static void
test_open_and_validate (void)
{
  g_autofree char *dir = make_folder (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (SoraModelFolder) f = sora_model_folder_open (dir, &error);
  const SoraSafetensor *t;

  g_assert_no_error (error);
  g_assert_true (sora_model_folder_validate (f, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (
      sora_model_folder_get_index (f)->class_name[SORA_COMPONENT_TOKENIZER], ==,
      "T5TokenizerFast");
  g_assert_cmpuint (
      sora_model_folder_get_transformer_config (f)->inner_dim, ==, 32);
  /* Keys the file leaves out take the class defaults. */
  g_assert_cmpuint (
      sora_model_folder_get_transformer_config (f)->rope_max_seq_len, ==, 1024);
  g_assert_cmpfloat (
      sora_model_folder_get_transformer_config (f)->eps, ==, 1e-6);
  g_assert_cmpuint (
      sora_model_folder_get_vae_config (f)->decoder_base_dim, ==, 8);
  g_assert_cmpfloat (
      sora_model_folder_get_vae_config (f)->latents_std[3], ==, 4.0f);
  g_assert_cmpuint (
      sora_model_folder_get_text_encoder_config (f)->eos_token_id, ==, 1);
  g_assert_cmpint (sora_model_folder_get_scheduler_config (f)->kind, ==,
      SORA_SCHEDULER_UNIPC);
  g_assert_cmpfloat (
      sora_model_folder_get_scheduler_config (f)->shift, ==, 3.0);
  g_assert_cmpuint (
      sora_model_folder_get_weights (f, SORA_COMPONENT_TRANSFORMER)->len, ==,
      3);

  /* The last transformer tensor lives in the third shard; its bytes are the
   * pattern written for it (proj_out.bias is expected index 68). */
  t = sora_model_folder_find_tensor (
      f, SORA_COMPONENT_TRANSFORMER, "proj_out.bias", &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (t->file, "00003-of-00003"));
  for (gsize j = 0; j < t->nbytes; j++)
    g_assert_cmpuint (t->data[j], ==, pattern (68, j));
  /* The tied embedding under its other name. */
  g_assert_nonnull (sora_model_folder_find_tensor (
      f, SORA_COMPONENT_TEXT_ENCODER, "encoder.embed_tokens.weight", &error));
  g_assert_null (
      sora_model_folder_find_tensor (f, SORA_COMPONENT_VAE, "nope", &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_MODEL);
  g_assert_nonnull (strstr (error->message, "\"nope\""));
  g_assert_nonnull (strstr (error->message, "diffusion_pytorch_model"));
  sora_model_folder_free (g_steal_pointer (&f));
  sora_test_remove_tree (dir);
}

/* Opens (and validates) @dir expecting an error of @code whose message
 * holds every string of the NULL-terminated list. */
static void
expect_failure (const char *dir, gint code, ...)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SoraModelFolder) f = sora_model_folder_open (dir, &error);
  const char *s;
  va_list ap;

  if (f)
    g_assert_false (sora_model_folder_validate (f, &error));
  g_assert_error (error, SORA_ERROR, code);
  va_start (ap, code);
  while ((s = va_arg (ap, const char *)))
    if (!strstr (error->message, s))
      g_error ("\"%s\" lacks \"%s\"", error->message, s);
  va_end (ap);
  g_test_message ("%s", error->message);
}

static void
test_bad_tensors (void)
{
  const Tamper skip = { .skip = "decoder.mid_block.attentions.0.proj.bias" };
  const Tamper reshape = { .reshape =
                               "encoder.down_blocks.1.resample.1.weight" };
  const Tamper i8 = { .as_i8 = "quant_conv.weight" };
  char *dir;

  dir = make_folder (&skip);
  expect_failure (dir, SORA_ERROR_MODEL, "vae",
      "diffusion_pytorch_model."
      "safetensors",
      "\"decoder.mid_block.attentions.0.proj.bias\" [16]", "missing", NULL);
  sora_test_remove_tree (dir);
  g_free (dir);

  dir = make_folder (&reshape);
  expect_failure (dir, SORA_ERROR_MODEL,
      "vae/diffusion_pytorch_model."
      "safetensors",
      "\"encoder.down_blocks.1.resample.1.weight\"", "[9, 8, 3, 3]",
      "implies [8, 8, 3, 3]", NULL);
  sora_test_remove_tree (dir);
  g_free (dir);

  dir = make_folder (&i8);
  expect_failure (dir, SORA_ERROR_MODEL,
      "vae/diffusion_pytorch_model."
      "safetensors",
      "\"quant_conv.weight\"", "I8", NULL);
  sora_test_remove_tree (dir);
  g_free (dir);
}

/* What the folder accepts (sora-tool inspect's "valid") the engine's
 * scheduler runs: one check behind both. */
static void
check_scheduler_keys (const char *dir)
{
  g_autoptr (GString) s = g_string_new (scheduler_json);
  g_autoptr (GError) error = NULL;
  g_autoptr (SoraModelFolder) f = NULL;
  g_autoptr (SoraScheduler) sched = NULL;
  const SoraSchedulerConfig *cfg;

  g_string_replace (s, "\"solver_order\": 2",
      "\"solver_order\": 3, \"disable_corrector\": [0, 2]", 1);
  write_text (dir, "scheduler", "scheduler_config.json", s->str);
  f = sora_model_folder_open (dir, &error);
  g_assert_no_error (error);
  g_assert_true (sora_model_folder_validate (f, &error));
  cfg = sora_model_folder_get_scheduler_config (f);
  g_assert_cmpuint (cfg->solver_order, ==, 3);
  g_assert_cmpuint (cfg->n_disable_corrector, ==, 2);
  g_assert_cmpuint (cfg->disable_corrector[1], ==, 2);
  sched = sora_scheduler_new (cfg, 10, &error);
  g_assert_no_error (error);

  g_string_replace (s, "\"solver_order\": 3", "\"solver_order\": 4", 1);
  write_text (dir, "scheduler", "scheduler_config.json", s->str);
  expect_failure (dir, SORA_ERROR_MODEL, "scheduler_config.json",
      "\"solver_order\" 4 is not supported", NULL);
  write_text (dir, "scheduler", "scheduler_config.json", scheduler_json);
}

static void
test_bad_folders (void)
{
  g_autofree char *dir = make_folder (NULL);
  g_autofree char *shard = g_build_filename (
      dir, "text_encoder", "model-00002-of-00002.safetensors", NULL);
  g_autofree char *shard_keep = g_strconcat (shard, ".keep", NULL);
  g_autofree char *tindex = g_build_filename (dir, "transformer",
      "diffusion_pytorch_model.safetensors.index.json", NULL);
  g_autofree char *tindex_text = NULL;
  g_autofree char *tok =
      g_build_filename (dir, "tokenizer", "tokenizer.json", NULL);
  g_autofree char *cfg_path =
      g_build_filename (dir, "transformer", "config.json", NULL);
  g_autofree char *idx_path = g_build_filename (dir, "model_index.json", NULL);

  expect_failure (
      "/nonexistent-dir", SORA_ERROR_MODEL, "/nonexistent-dir", NULL);

  /* A missing shard. */
  g_assert_cmpint (g_rename (shard, shard_keep), ==, 0);
  expect_failure (dir, SORA_ERROR_MODEL, "model.safetensors.index.json",
      "model-00002-of-00002.safetensors", "missing", NULL);
  g_assert_cmpint (g_rename (shard_keep, shard), ==, 0);

  /* The index names a tensor its shard lacks. */
  g_assert_true (g_file_get_contents (tindex, &tindex_text, NULL, NULL));
  {
    g_autoptr (GString) s = g_string_new (tindex_text);
    g_string_replace (s, "\"weight_map\": {",
        "\"weight_map\": {\"ghost\": "
        "\"diffusion_pytorch_model-00001-of-00003.safetensors\", ",
        1);
    g_assert_true (g_file_set_contents (tindex, s->str, -1, NULL));
    expect_failure (dir, SORA_ERROR_MODEL, tindex, "\"ghost\"",
        "00001-of-00003", "lacks", NULL);
    g_string_replace (s,
        "\"ghost\": \"diffusion_pytorch_model-00001-of-"
        "00003.safetensors\"",
        "\"ghost\": \"../x.safetensors\"", 1);
    g_assert_true (g_file_set_contents (tindex, s->str, -1, NULL));
    expect_failure (dir, SORA_ERROR_FORMAT, tindex, "\"ghost\"", NULL);
  }
  g_assert_true (g_file_set_contents (tindex, tindex_text, -1, NULL));

  /* Wrong-typed and out-of-range config values. */
  write_text (dir, "transformer", "config.json",
      "{\"num_layers\": \"2\", \"num_attention_heads\": 2}");
  expect_failure (
      dir, SORA_ERROR_MODEL, cfg_path, "\"num_layers\"", "integer", NULL);
  write_text (dir, "transformer", "config.json", "{\"attention_head_dim\": 0}");
  expect_failure (
      dir, SORA_ERROR_MODEL, cfg_path, "\"attention_head_dim\"", NULL);
  write_text (dir, "transformer", "config.json", "{\"qk_norm\": \"layer\"}");
  expect_failure (dir, SORA_ERROR_MODEL, cfg_path, "\"qk_norm\"",
      "rms_norm_across_heads", NULL);
  write_text (dir, "transformer", "config.json", "{\"eps\": true");
  expect_failure (dir, SORA_ERROR_FORMAT, cfg_path, "JSON", NULL);
  /* A config of class defaults (the 14B model) does not match the tiny
   * weights: the first tensor's shape says so. */
  write_text (dir, "transformer", "config.json", "{}");
  expect_failure (dir, SORA_ERROR_MODEL, "\"patch_embedding.weight\"",
      "[5120, 16, 1, 2, 2]", NULL);
  write_text (dir, "transformer", "config.json", transformer_json);
  write_text (dir, "vae", "config.json", "{\"z_dim\": 4}");
  expect_failure (
      dir, SORA_ERROR_MODEL, "vae/config.json", "latents_mean", NULL);
  write_text (dir, "vae", "config.json", "{\"is_residual\": true}");
  expect_failure (dir, SORA_ERROR_MODEL, "\"is_residual\"", NULL);
  write_text (dir, "vae", "config.json", vae_json);
  write_text (dir, "text_encoder", "config.json", "{\"model_type\": \"t5\"}");
  expect_failure (dir, SORA_ERROR_MODEL, "text_encoder/config.json",
      "\"model_type\"", NULL);
  write_text (dir, "text_encoder", "config.json", umt5_json);
  write_text (
      dir, "scheduler", "scheduler_config.json", "{\"use_flow_sigmas\": true}");
  expect_failure (dir, SORA_ERROR_MODEL, "scheduler_config.json",
      "\"prediction_type\"", NULL);
  write_text (dir, "scheduler", "scheduler_config.json", scheduler_json);
  check_scheduler_keys (dir);

  /* model_index.json: unknown class, missing or extra component. */
  {
    g_autoptr (GString) s = g_string_new (index_json);
    g_string_replace (s, "AutoencoderKLWan", "AutoencoderKL", 1);
    write_text (dir, ".", "model_index.json", s->str);
    expect_failure (
        dir, SORA_ERROR_MODEL, idx_path, "\"vae\"", "\"AutoencoderKL\"", NULL);
    g_string_assign (s, index_json);
    g_string_replace (s, "\"vae\": [\"diffusers\", \"AutoencoderKLWan\"]",
        "\"vae\": [null, null]", 1);
    write_text (dir, ".", "model_index.json", s->str);
    expect_failure (
        dir, SORA_ERROR_MODEL, idx_path, "\"vae\"", "missing", NULL);
    g_string_assign (s, index_json);
    g_string_replace (s, "WanPipeline", "WanImageToVideoPipeline", 1);
    write_text (dir, ".", "model_index.json", s->str);
    expect_failure (dir, SORA_ERROR_MODEL, idx_path, "_class_name",
        "WanImageToVideoPipeline", NULL);
    g_string_assign (s, index_json);
    g_string_replace (s, "[null, null]",
        "[\"diffusers\", "
        "\"WanTransformer3DModel\"]",
        1);
    write_text (dir, ".", "model_index.json", s->str);
    expect_failure (dir, SORA_ERROR_MODEL, idx_path, "\"transformer_2\"", NULL);
    write_text (dir, ".", "model_index.json", index_json);
  }

  /* No tokenizer.json. */
  g_assert_cmpint (g_unlink (tok), ==, 0);
  expect_failure (dir, SORA_ERROR_MODEL, "tokenizer.json", NULL);
  sora_test_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/model-folder/expected-lists", test_expected_lists);
  g_test_add_func ("/model-folder/native-size", test_native_size);
  g_test_add_func ("/model-folder/causal", test_causal);
  g_test_add_func ("/model-folder/qk-norm", test_qk_norm);
  g_test_add_func ("/model-folder/open-and-validate", test_open_and_validate);
  g_test_add_func ("/model-folder/bad-tensors", test_bad_tensors);
  g_test_add_func ("/model-folder/bad-folders", test_bad_folders);
  return sora_test_run ();
}
