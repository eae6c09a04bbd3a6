/* sora-tool inspect: what a model folder holds, or why it cannot be used
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#include "sora-model.h"
#include "sora-tool.h"
#include "sora-weights.h"

static void
print_weights (const SoraModelFolder *folder, SoraComponent c)
{
  GPtrArray *files = sora_model_folder_get_weights (folder, c);
  guint64 params = 0, bytes = 0;
  guint n = 0, per_dtype[SORA_SAFE_F64 + 1] = { 0 };

  for (guint i = 0; i < files->len; i++) {
    const SoraSafetensors *f = files->pdata[i];
    for (guint j = 0; j < sora_safetensors_get_n_tensors (f); j++) {
      const SoraSafetensor *t = sora_safetensors_get_tensor (f, j);
      params += t->numel;
      bytes += t->nbytes;
      per_dtype[t->dtype]++;
      n++;
    }
  }
  printf ("  weights: %u file%s, %u tensors, %" G_GUINT64_FORMAT
          " parameters, %.1f MiB;",
      files->len, files->len == 1 ? "" : "s", n, params, bytes / 1048576.0);
  for (guint d = 0; d < G_N_ELEMENTS (per_dtype); d++)
    if (per_dtype[d])
      printf (" %s %u", sora_safe_dtype_name (d), per_dtype[d]);
  printf ("\n");
}

static void
print_uints (const char *name, const guint *v, guint n)
{
  printf ("%s [", name);
  for (guint i = 0; i < n; i++)
    printf ("%s%u", i ? ", " : "", v[i]);
  printf ("]");
}

/* The keys that change the maths (sora_scheduler_config_check accepted
 * them). */
static void
print_scheduler (const SoraSchedulerConfig *s)
{
  printf ("  shift %g, %u train steps", s->shift, s->num_train_timesteps);
  if (s->kind == SORA_SCHEDULER_UNIPC) {
    printf (", order %u, %s, final sigma %s%s", s->solver_order,
        s->bh2 ? "bh2" : "bh1", s->final_sigma_zero ? "zero" : "sigma_min",
        s->lower_order_final ? ", lower order final" : "");
    if (s->n_disable_corrector)
      print_uints (", corrector off after steps", s->disable_corrector,
          s->n_disable_corrector);
  } else {
    if (s->shift_terminal > 0.0)
      printf (", shift_terminal %g", s->shift_terminal);
    if (s->invert_sigmas)
      printf (", inverted sigmas");
    if (s->spacing != SORA_SIGMAS_SHIFTED)
      printf (", %s sigmas",
          s->spacing == SORA_SIGMAS_KARRAS ? "Karras" : "exponential");
  }
  printf ("\n");
}

static void
print_doubles (const char *name, const double *v, guint n)
{
  printf ("%s [", name);
  for (guint i = 0; i < n; i++)
    printf ("%s%g", i ? ", " : "", v[i]);
  printf ("]");
}

/* "_sora_causal": how the model makes chunks (nothing for a clip model). */
static void
print_causal (const SoraWanCausalConfig *c)
{
  if (c->chunk_frames == 0)
    return;
  printf ("  causal: chunks of %u latent frames, ", c->chunk_frames);
  if (c->window_frames)
    printf ("window %u frames", c->window_frames);
  else
    printf ("every past frame");
  printf (", sink %u, ", c->sink_frames);
  print_doubles ("steps", c->steps, c->n_steps);
  printf (", shift %g, context at t %g\n", c->shift, c->context_timestep);
}

static void
add_uint (JsonBuilder *b, const char *name, guint v)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, v);
}

static void
add_double (JsonBuilder *b, const char *name, double v)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, v);
}

/* "causal": the "_sora_causal" keys as parsed, defaults filled in; null
 * for a clip model. */
static void
add_causal (JsonBuilder *b, const SoraWanCausalConfig *c)
{
  json_builder_set_member_name (b, "causal");
  if (c->chunk_frames == 0) {
    json_builder_add_null_value (b);
    return;
  }
  json_builder_begin_object (b);
  add_uint (b, "chunk_frames", c->chunk_frames);
  add_uint (b, "window_frames", c->window_frames);
  add_uint (b, "sink_frames", c->sink_frames);
  json_builder_set_member_name (b, "steps");
  json_builder_begin_array (b);
  for (guint i = 0; i < c->n_steps; i++)
    json_builder_add_double_value (b, c->steps[i]);
  json_builder_end_array (b);
  add_double (b, "shift", c->shift);
  add_double (b, "context_timestep", c->context_timestep);
  json_builder_end_object (b);
}

static void
add_tensors (JsonBuilder *b, GPtrArray *expected)
{
  json_builder_begin_array (b);
  for (guint i = 0; i < expected->len; i++) {
    const SoraExpectedTensor *e = expected->pdata[i];

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, e->name);
    if (e->alt_name) {
      json_builder_set_member_name (b, "alt_name");
      json_builder_add_string_value (b, e->alt_name);
    }
    json_builder_set_member_name (b, "shape");
    json_builder_begin_array (b);
    for (guint d = 0; d < e->ndim; d++)
      json_builder_add_int_value (b, e->shape[d]);
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

/* --json: the causal settings and the tensors the engine reads from each
 * weight component, from the configs and the models' tables, whether the
 * files hold them or not (tools/check_fixture_tensors.py compares them with
 * the files). */
static int
print_json (const SoraModelFolder *folder)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "path");
  json_builder_add_string_value (b, sora_model_folder_get_path (folder));
  add_causal (b, &sora_model_folder_get_transformer_config (folder)->causal);
  json_builder_set_member_name (b, "tensors");
  json_builder_begin_object (b);
  for (guint c = 0; c < SORA_N_COMPONENTS; c++) {
    g_autoptr (GPtrArray) expected = sora_model_expected_tensors (folder, c);

    if (expected == NULL)
      continue;
    json_builder_set_member_name (b, sora_component_name (c));
    add_tensors (b, expected);
  }
  json_builder_end_object (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
  return 0;
}

int
sora_tool_inspect (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SoraModelFolder) folder = NULL;
  const SoraModelIndex *index;
  const SoraWanTransformerConfig *t;
  const SoraWanVaeConfig *v;
  const SoraUmt5Config *e;
  const SoraSchedulerConfig *s;

  gboolean json = argc == 3 && strcmp (argv[1], "--json") == 0;

  if (argc != 2 && !json) {
    fprintf (stderr, "usage: sora-tool inspect [--json] MODEL_DIR\n");
    return 2;
  }
  folder = sora_model_folder_open (argv[argc - 1], &error);
  if (folder && json)
    return print_json (folder);
  if (folder == NULL || !sora_model_folder_validate (folder, &error)) {
    fprintf (stderr, "sora-tool: %s\n", error->message);
    return 1;
  }
  index = sora_model_folder_get_index (folder);
  t = sora_model_folder_get_transformer_config (folder);
  v = sora_model_folder_get_vae_config (folder);
  e = sora_model_folder_get_text_encoder_config (folder);
  s = sora_model_folder_get_scheduler_config (folder);

  printf (
      "%s: %s\n", sora_model_folder_get_path (folder), index->pipeline_class);
  for (guint c = 0; c < SORA_N_COMPONENTS; c++) {
    printf ("%s: %s (%s)\n", sora_component_name (c), index->class_name[c],
        index->library[c]);
    switch (c) {
      case SORA_COMPONENT_TRANSFORMER:
        printf ("  dim %u (%u heads of %u), ffn %u, %u layers, in %u, out %u,"
                " text %u, freq %u, ",
            t->inner_dim, t->num_attention_heads, t->attention_head_dim,
            t->ffn_dim, t->num_layers, t->in_channels, t->out_channels,
            t->text_dim, t->freq_dim);
        print_uints ("patch", t->patch_size, 3);
        printf (", eps %g%s\n", t->eps, t->image_dim ? ", image input" : "");
        print_causal (&t->causal);
        break;
      case SORA_COMPONENT_VAE:
        printf ("  base %u (decoder %u), z %u, ", v->base_dim,
            v->decoder_base_dim, v->z_dim);
        print_uints ("dim_mult", v->dim_mult, v->n_levels);
        printf (", %u res blocks, scale %u x %u\n", v->num_res_blocks,
            v->scale_factor_temporal, v->scale_factor_spatial);
        break;
      case SORA_COMPONENT_TEXT_ENCODER:
        printf ("  d_model %u, %u heads of %u, d_ff %u, %u layers, vocab %u,"
                " %u buckets\n",
            e->d_model, e->num_heads, e->d_kv, e->d_ff, e->num_layers,
            e->vocab_size, e->relative_attention_num_buckets);
        break;
      case SORA_COMPONENT_SCHEDULER:
        print_scheduler (s);
        break;
      default:
        break;
    }
    if (c == SORA_COMPONENT_TRANSFORMER || c == SORA_COMPONENT_VAE ||
        c == SORA_COMPONENT_TEXT_ENCODER)
      print_weights (folder, c);
  }
  printf ("valid: every tensor the engine needs is present with its shape\n");
  return 0;
}
