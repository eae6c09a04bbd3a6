/* gst-sora engine: the umT5 text encoder (UMT5EncoderModel), read top to
 * bottom.  Formulas and pitfalls: docs/model.md §umT5.
 *
 *   h = E[ids]
 *   per layer:  a = RMS(h)·w0;  h += Attn(a·Wq, a·Wk, a·Wv; bias_l, mask)·Wo
 *               a = RMS(h)·w1;  h += (GELU_tanh(a·Wi0) ⊙ a·Wi1)·Wo
 *   out = RMS(h)·w_final, padding rows zeroed
 *
 * umT5 differs from T5 in having a relative position bias in every layer;
 * its attention does not scale the scores.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "sora-ops.h"
#include "sora-umt5.h"
#include "sora-weights.h"

typedef struct
{
  SoraTensor *ln0, *ln1;
  SoraLinear *q, *k, *v, *o;
  SoraLinear *wi0, *wi1, *wo;
  float *rel_bias; /* host [buckets, heads] */
} Layer;

struct _SoraUmt5
{
  SoraDevice *dev;
  const SoraModelFolder *folder;
  gboolean stream; /* layers are loaded for each use, not kept */
  SoraUmt5Config cfg;
  const SoraSafetensor *embedding; /* [vocab, d] in the mapping */
  SoraDType embedding_dtype;
  GPtrArray *uses; /* the modules (SoraModuleUse) */
  Layer *layers;
  SoraTensor *final_ln;
};

static void
layer_clear (Layer *l)
{
  sora_tensor_free (l->ln0);
  sora_tensor_free (l->ln1);
  sora_linear_free (l->q);
  sora_linear_free (l->k);
  sora_linear_free (l->v);
  sora_linear_free (l->o);
  sora_linear_free (l->wi0);
  sora_linear_free (l->wi1);
  sora_linear_free (l->wo);
  g_free (l->rel_bias);
  memset (l, 0, sizeof (*l));
}

void
sora_umt5_free (SoraUmt5 *m)
{
  if (m == NULL)
    return;
  for (guint i = 0; m->layers && i < m->cfg.num_layers; i++)
    layer_clear (&m->layers[i]);
  g_free (m->layers);
  g_clear_pointer (&m->uses, g_ptr_array_unref);
  sora_tensor_free (m->final_ln);
  g_free (m);
}

guint
sora_umt5_get_dim (SoraUmt5 *m)
{
  return m->cfg.d_model;
}

/* --- the weights ---------------------------------------------------------
 * One table per module; sora_umt5_modules gives the sizes from the config. */

enum { D, INNER, FF, VOCAB, BUCKETS, HEADS };
/* Where a module loads: the model's struct or one of its layers. */
enum { USE_TOP, USE_LAYER };

#define S(size) SORA_DIM (size)
#define TOP(field) offsetof (SoraUmt5, field)
#define LAYER(field) offsetof (Layer, field)

static const SoraParam embedding_params[] = {
  /* tied to encoder.embed_tokens: a file may hold either name; the table
   * stays on the host */
  { "shared.weight", SORA_PARAM_MAPPED, 0, 2, { S (VOCAB), S (D) },
      TOP (embedding), NULL, "encoder.embed_tokens.weight" },
};

static const SoraParam layer_params[] = {
  { "layer.0.layer_norm.weight", SORA_PARAM_F32, 0, 1, { S (D) }, LAYER (ln0) },
  { "layer.0.SelfAttention.q", SORA_PARAM_MATRIX, 0, 2, { S (INNER), S (D) },
      LAYER (q) },
  { "layer.0.SelfAttention.k", SORA_PARAM_MATRIX, 0, 2, { S (INNER), S (D) },
      LAYER (k) },
  { "layer.0.SelfAttention.v", SORA_PARAM_MATRIX, 0, 2, { S (INNER), S (D) },
      LAYER (v) },
  { "layer.0.SelfAttention.o", SORA_PARAM_MATRIX, 0, 2, { S (D), S (INNER) },
      LAYER (o) },
  { "layer.0.SelfAttention.relative_attention_bias.weight", SORA_PARAM_HOST, 0,
      2, { S (BUCKETS), S (HEADS) }, LAYER (rel_bias) },
  { "layer.1.layer_norm.weight", SORA_PARAM_F32, 0, 1, { S (D) }, LAYER (ln1) },
  { "layer.1.DenseReluDense.wi_0", SORA_PARAM_MATRIX, 0, 2, { S (FF), S (D) },
      LAYER (wi0) },
  { "layer.1.DenseReluDense.wi_1", SORA_PARAM_MATRIX, 0, 2, { S (FF), S (D) },
      LAYER (wi1) },
  { "layer.1.DenseReluDense.wo", SORA_PARAM_MATRIX, 0, 2, { S (D), S (FF) },
      LAYER (wo) },
};

static const SoraParam final_params[] = {
  { "encoder.final_layer_norm.weight", SORA_PARAM_F32, 0, 1, { S (D) },
      TOP (final_ln) },
};

#undef S
#undef TOP
#undef LAYER

static const SoraModule embedding_module = SORA_MODULE (embedding_params);
static const SoraModule layer_module = SORA_MODULE (layer_params);
static const SoraModule final_module = SORA_MODULE (final_params);

GPtrArray *
sora_umt5_modules (const SoraUmt5Config *cfg)
{
  GPtrArray *uses = sora_module_uses_new ();
  const gsize s[SORA_MODULE_MAX_SIZES] = { [D] = cfg->d_model,
    [INNER] = (gsize)cfg->num_heads * cfg->d_kv,
    [FF] = cfg->d_ff,
    [VOCAB] = cfg->vocab_size,
    [BUCKETS] = cfg->relative_attention_num_buckets,
    [HEADS] = cfg->num_heads };

  sora_module_uses_add (uses, &embedding_module, 0, s, NULL);
  for (guint i = 0; i < cfg->num_layers; i++) {
    SoraModuleUse *use =
        sora_module_uses_add (uses, &layer_module, 0, s, "encoder.block.%u", i);
    use->tag = USE_LAYER;
    use->index = i;
  }
  sora_module_uses_add (uses, &final_module, 0, s, NULL);
  return uses;
}

GPtrArray *
sora_umt5_expected_tensors (const SoraUmt5Config *cfg)
{
  g_autoptr (GPtrArray) uses = sora_umt5_modules (cfg);

  return sora_module_uses_expected (uses);
}

static gboolean
load_layer (SoraUmt5 *m, guint i, Layer *l, GError **error)
{
  SoraWeights w = { m->dev, m->folder, SORA_COMPONENT_TEXT_ENCODER, FALSE };

  /* sora_umt5_modules: the embedding, then layer by layer */
  return sora_weights_load (&w, m->uses->pdata[1 + i], l, NULL, error);
}

guint64
sora_umt5_weight_bytes (const SoraModelFolder *folder)
{
  SoraWeights w = { NULL, folder, SORA_COMPONENT_TEXT_ENCODER, FALSE };
  g_autoptr (GPtrArray) uses =
      sora_umt5_modules (sora_model_folder_get_text_encoder_config (folder));
  guint64 bytes = 0;

  /* The layers: the embedding table stays on the host. */
  for (guint i = 0; i < uses->len; i++) {
    const SoraModuleUse *use = uses->pdata[i];

    if (use->tag == USE_LAYER)
      bytes += sora_weights_use_bytes (&w, use);
  }
  return bytes;
}

SoraUmt5 *
sora_umt5_new (SoraDevice *dev, const SoraModelFolder *folder, gboolean stream,
    GError **error)
{
  SoraUmt5 *m = g_new0 (SoraUmt5, 1);
  SoraWeights w = { dev, folder, SORA_COMPONENT_TEXT_ENCODER, FALSE };

  m->dev = dev;
  m->folder = folder;
  m->stream = stream;
  m->cfg = *sora_model_folder_get_text_encoder_config (folder);
  m->uses = sora_umt5_modules (&m->cfg);
  m->layers = g_new0 (Layer, m->cfg.num_layers);
  for (guint i = 0; i < m->uses->len; i++) {
    const SoraModuleUse *use = m->uses->pdata[i];
    gpointer base = m;

    if (use->tag == USE_LAYER) {
      if (stream)
        continue;
      base = &m->layers[use->index];
    }
    if (!sora_weights_load (&w, use, base, NULL, error))
      goto fail;
  }
  if (!sora_weights_dtype (m->embedding->dtype, &m->embedding_dtype) ||
      m->embedding->ndim != 2 || m->embedding->shape[1] != m->cfg.d_model) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
        "%s: tensor %s must be an F32/F16/BF16 [vocab, %u] table",
        m->embedding->file, m->embedding->name, m->cfg.d_model);
    goto fail;
  }
  return m;

fail:
  sora_umt5_free (m);
  return NULL;
}

/* HF's bidirectional _relative_position_bucket, in float32 as HF runs it. */
static guint
relative_bucket (int rel, guint num_buckets, guint max_distance)
{
  guint half = num_buckets / 2, max_exact = half / 2;
  guint bucket = rel > 0 ? half : 0;
  guint n = (guint)ABS (rel);
  guint large;

  if (n < max_exact)
    return bucket + n;
  large = max_exact +
      (guint)(logf ((float)n / (float)max_exact) /
          (float)log ((double)max_distance / max_exact) *
          (float)(half - max_exact));
  return bucket + MIN (large, half - 1);
}

/* [heads, seq, seq] additive bias of one layer from its bucket table. */
static SoraTensor *
position_bias (SoraUmt5 *m, const Layer *l, gsize seq, const guint *buckets,
    GError **error)
{
  guint heads = m->cfg.num_heads;
  SoraTensor *t = sora_tensor_new_v (m->dev, "umt5 position bias",
      SORA_DTYPE_F32, error, 3, (gsize)heads, seq, seq);
  float *host;
  gboolean ok;

  if (t == NULL)
    return NULL;
  host = g_new (float, heads *seq *seq);
  for (guint h = 0; h < heads; h++)
    for (gsize i = 0; i < seq * seq; i++)
      host[h * seq * seq + i] = l->rel_bias[buckets[i] * heads + h];
  ok = sora_tensor_write (t, host, error);
  g_free (host);
  if (!ok)
    g_clear_pointer (&t, sora_tensor_free);
  return t;
}

static SoraTensor *
embed (SoraUmt5 *m, const gint32 *ids, gsize n, GError **error)
{
  gsize d = m->cfg.d_model, row = d * sora_dtype_size (m->embedding_dtype);
  gsize vocab = m->embedding->shape[0];
  SoraTensor *h;
  float *host;
  gpointer raw;
  gboolean ok;

  for (gsize i = 0; i < n; i++) {
    if (ids[i] < 0 || (gsize)ids[i] >= vocab) {
      g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
          "umT5: token id %d is outside the vocabulary of %" G_GSIZE_FORMAT
          " in %s",
          ids[i], vocab, m->embedding->file);
      return NULL;
    }
  }
  h = sora_tensor_new_v (m->dev, "umt5 hidden", SORA_DTYPE_F32, error, 2, n, d);
  if (h == NULL)
    return NULL;
  raw = g_malloc (row * n);
  for (gsize i = 0; i < n; i++)
    memcpy ((guint8 *)raw + i * row, m->embedding->data + ids[i] * row, row);
  host = g_new (float, n *d);
  sora_convert_to_f32 (m->embedding_dtype, raw, host, n * d);
  ok = sora_tensor_write (h, host, error);
  g_free (host);
  g_free (raw);
  if (!ok)
    g_clear_pointer (&h, sora_tensor_free);
  return h;
}

/* One encode's activations besides h, each [batch, seq, cols]. */
typedef struct
{
  SoraTensor *a, *q, *k, *v, *att, *proj, *f0, *f1;
} Acts;

static gboolean
acts_alloc (SoraUmt5 *m, Acts *x, gsize batch, gsize seq, GError **error)
{
  const SoraUmt5Config *c = &m->cfg;
  gsize d = c->d_model, inner = (gsize)c->num_heads * c->d_kv;

#define NEW(var, name, cols)                                                   \
  if (!(x->var = sora_tensor_new_v (m->dev, name, SORA_DTYPE_F32, error, 3,    \
            batch, seq, (gsize)(cols))))                                       \
    return FALSE;
  NEW (a, "umt5 normed", d);
  NEW (q, "umt5 q", inner);
  NEW (k, "umt5 k", inner);
  NEW (v, "umt5 v", inner);
  NEW (att, "umt5 attention", inner);
  NEW (proj, "umt5 projection", d);
  NEW (f0, "umt5 ffn gelu", c->d_ff);
  NEW (f1, "umt5 ffn gate", c->d_ff);
#undef NEW
  return TRUE;
}

static void
acts_clear (Acts *x)
{
  sora_tensor_free (x->a);
  sora_tensor_free (x->q);
  sora_tensor_free (x->k);
  sora_tensor_free (x->v);
  sora_tensor_free (x->att);
  sora_tensor_free (x->proj);
  sora_tensor_free (x->f0);
  sora_tensor_free (x->f1);
}

/* The attention's [batch, seq] key mask: 1 for real tokens, 0 for padding. */
static SoraTensor *
key_mask_new (
    SoraUmt5 *m, const gint32 *mask, gsize batch, gsize seq, GError **error)
{
  gsize n = batch * seq;
  g_autofree float *maskf = g_new (float, n);
  SoraTensor *key_mask;

  for (gsize i = 0; i < n; i++)
    maskf[i] = mask[i] ? 1.0f : 0.0f;
  key_mask = sora_tensor_new_v (
      m->dev, "umt5 key mask", SORA_DTYPE_F32, error, 2, batch, seq);
  if (key_mask && !sora_tensor_write (key_mask, maskf, error))
    g_clear_pointer (&key_mask, sora_tensor_free);
  return key_mask;
}

/* The relative position bucket of every (query i, key j), [seq, seq]. */
static guint *
buckets_new (const SoraUmt5Config *c, gsize seq)
{
  guint *buckets = g_new (guint, seq * seq);

  for (gsize i = 0; i < seq; i++)
    for (gsize j = 0; j < seq; j++)
      buckets[i * seq + j] =
          relative_bucket ((int)j - (int)i, c->relative_attention_num_buckets,
              c->relative_attention_max_distance);
  return buckets;
}

/* Layer @li on h: self-attention with its position bias, then the gated
 * GELU feed-forward, each added to h. */
static gboolean
layer_forward (SoraUmt5 *m, guint li, SoraTensor *h, Acts *x,
    SoraTensor *key_mask, const guint *buckets, gsize seq, GError **error)
{
  const SoraUmt5Config *c = &m->cfg;
  float eps = c->layer_norm_epsilon;
  Layer *l = &m->layers[li];
  SoraAttentionParams ap = { c->num_heads, 1.0f, NULL, key_mask };
  SoraTensor *bias;
  gboolean ok;

  /* Streaming, the previous layer's weights were freed after its kernels
   * were queued: OpenCL keeps them until those finish, and the blocking
   * uploads here wait for the queue, so at most two layers coexist. */
  if (m->stream && !load_layer (m, li, l, error))
    return FALSE;
  bias = position_bias (m, l, seq, buckets, error);
  if (bias == NULL)
    return FALSE;
  ap.bias = bias;
  ok = sora_op_rms_norm (h, l->ln0, eps, x->a, error) &&
      sora_op_linear (l->q, x->a, x->q, error) &&
      sora_op_linear (l->k, x->a, x->k, error) &&
      sora_op_linear (l->v, x->a, x->v, error) &&
      sora_op_attention (x->q, x->k, x->v, x->att, &ap, error) &&
      sora_op_linear (l->o, x->att, x->proj, error) &&
      sora_op_add (h, x->proj, h, error) &&
      sora_op_rms_norm (h, l->ln1, eps, x->a, error) &&
      sora_op_linear (l->wi0, x->a, x->f0, error) &&
      sora_op_activate (x->f0, SORA_ACT_GELU_TANH, x->f0, error) &&
      sora_op_linear (l->wi1, x->a, x->f1, error) &&
      sora_op_mul (x->f0, x->f1, x->f0, error) &&
      sora_op_linear (l->wo, x->f0, x->proj, error) &&
      sora_op_add (h, x->proj, h, error);
  sora_tensor_free (bias);
  if (ok && m->stream)
    layer_clear (l);
  return ok;
}

SoraTensor *
sora_umt5_encode (SoraUmt5 *m, const gint32 *ids, const gint32 *mask,
    gsize batch, gsize seq, const SoraProbe *probe, GError **error)
{
  const SoraUmt5Config *c = &m->cfg;
  Acts x = { NULL };
  SoraTensor *h, *key_mask = NULL, *out = NULL;
  guint *buckets = NULL;

  h = embed (m, ids, batch * seq, error);
  if (h == NULL || !acts_alloc (m, &x, batch, seq, error) ||
      !sora_tensor_reshape (h, 3, (gsize[]){ batch, seq, c->d_model }, error) ||
      !(key_mask = key_mask_new (m, mask, batch, seq, error)))
    goto out;
  buckets = buckets_new (c, seq);

  for (guint li = 0; li < c->num_layers; li++) {
    if (!layer_forward (m, li, h, &x, key_mask, buckets, seq, error))
      goto out;
    if (li == 0)
      sora_probe_emit (probe, "after_layer0", h);
  }
  if (!sora_op_rms_norm (h, m->final_ln, c->layer_norm_epsilon, x.a, error))
    goto out;
  sora_probe_emit (probe, "last_hidden_state", x.a);

  /* Wan keeps the real rows and hands the DiT zeros for the padding. */
  if (!sora_tensor_reshape (key_mask, 3, (gsize[]){ batch, seq, 1 }, error) ||
      !sora_op_mul (x.a, key_mask, x.a, error))
    goto out;
  out = x.a;
  x.a = NULL;

out:
  for (guint li = 0; m->stream && li < c->num_layers; li++)
    layer_clear (&m->layers[li]);
  sora_tensor_free (h);
  acts_clear (&x);
  sora_tensor_free (key_mask);
  g_free (buckets);
  return out;
}
