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
  sora_tensor_free (m->final_ln);
  g_free (m);
}

guint
sora_umt5_get_dim (SoraUmt5 *m)
{
  return m->cfg.d_model;
}

static gboolean
load_layer (SoraUmt5 *m, guint i, Layer *l, GError **error)
{
  const SoraUmt5Config *c = &m->cfg;
  SoraWeights weights = { m->dev, m->folder, SORA_COMPONENT_TEXT_ENCODER,
    FALSE };
  const SoraWeights *w = &weights;
  char *p = g_strdup_printf ("encoder.block.%u.layer.", i);
  char *name;
  gboolean ok = FALSE;

#define LINEAR(field, suffix)                                                  \
  name = g_strconcat (p, suffix, NULL);                                        \
  l->field = sora_weights_linear (w, name, FALSE, error);                      \
  g_free (name);                                                               \
  if (l->field == NULL)                                                        \
    goto out;
#define GAIN(field, suffix)                                                    \
  name = g_strconcat (p, suffix, NULL);                                        \
  l->field = sora_weights_tensor_f32 (w, name, error);                         \
  g_free (name);                                                               \
  if (l->field == NULL)                                                        \
    goto out;

  GAIN (ln0, "0.layer_norm.weight");
  LINEAR (q, "0.SelfAttention.q");
  LINEAR (k, "0.SelfAttention.k");
  LINEAR (v, "0.SelfAttention.v");
  LINEAR (o, "0.SelfAttention.o");
  GAIN (ln1, "1.layer_norm.weight");
  LINEAR (wi0, "1.DenseReluDense.wi_0");
  LINEAR (wi1, "1.DenseReluDense.wi_1");
  LINEAR (wo, "1.DenseReluDense.wo");
#undef LINEAR
#undef GAIN
  name =
      g_strconcat (p, "0.SelfAttention.relative_attention_bias.weight", NULL);
  l->rel_bias = sora_weights_read_f32 (w, name,
      (gsize)c->relative_attention_num_buckets * c->num_heads, NULL, error);
  g_free (name);
  ok = l->rel_bias != NULL;

out:
  g_free (p);
  return ok;
}

guint64
sora_umt5_weight_bytes (const SoraModelFolder *folder)
{
  g_autoptr (GPtrArray) expected =
      sora_model_folder_expected_tensors (folder, SORA_COMPONENT_TEXT_ENCODER);
  guint64 bytes = 0;

  /* The layers: the embedding table stays on the host. */
  for (guint i = 0; i < expected->len; i++) {
    const SoraExpectedTensor *e = expected->pdata[i];
    const SoraSafetensor *t;

    if (!g_str_has_prefix (e->name, "encoder.block."))
      continue;
    t = sora_model_folder_find_tensor (
        folder, SORA_COMPONENT_TEXT_ENCODER, e->name, NULL);
    bytes += t ? t->nbytes : 0;
  }
  return bytes;
}

SoraUmt5 *
sora_umt5_new (SoraDevice *dev, const SoraModelFolder *folder, gboolean stream,
    GError **error)
{
  SoraUmt5 *m = g_new0 (SoraUmt5, 1);
  SoraWeights w = { dev, folder, SORA_COMPONENT_TEXT_ENCODER, FALSE };
  GError *local = NULL;

  m->dev = dev;
  m->folder = folder;
  m->stream = stream;
  m->cfg = *sora_model_folder_get_text_encoder_config (folder);
  m->embedding = sora_model_folder_find_tensor (
      folder, SORA_COMPONENT_TEXT_ENCODER, "shared.weight", &local);
  if (m->embedding == NULL) {
    /* The tied copy may be the one a file holds. */
    m->embedding = sora_model_folder_find_tensor (folder,
        SORA_COMPONENT_TEXT_ENCODER, "encoder.embed_tokens.weight", NULL);
    if (m->embedding == NULL) {
      g_propagate_error (error, local);
      goto fail;
    }
    g_clear_error (&local);
  }
  if (!sora_weights_dtype (m->embedding->dtype, &m->embedding_dtype) ||
      m->embedding->ndim != 2 || m->embedding->shape[1] != m->cfg.d_model) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_MODEL,
        "%s: tensor %s must be an F32/F16/BF16 [vocab, %u] table",
        m->embedding->file, m->embedding->name, m->cfg.d_model);
    goto fail;
  }
  m->layers = g_new0 (Layer, m->cfg.num_layers);
  for (guint i = 0; !stream && i < m->cfg.num_layers; i++)
    if (!load_layer (m, i, &m->layers[i], error))
      goto fail;
  m->final_ln =
      sora_weights_tensor_f32 (&w, "encoder.final_layer_norm.weight", error);
  if (m->final_ln == NULL)
    goto fail;
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

SoraTensor *
sora_umt5_encode (SoraUmt5 *m, const gint32 *ids, const gint32 *mask,
    gsize batch, gsize seq, const SoraProbe *probe, GError **error)
{
  const SoraUmt5Config *c = &m->cfg;
  gsize n = batch * seq, d = c->d_model, inner = (gsize)c->num_heads * c->d_kv;
  float eps = c->layer_norm_epsilon;
  SoraTensor *h = NULL, *a = NULL, *q = NULL, *k = NULL, *v = NULL;
  SoraTensor *att = NULL, *f0 = NULL, *f1 = NULL, *key_mask = NULL;
  SoraTensor *bias = NULL, *proj = NULL, *out = NULL;
  guint *buckets = NULL;
  float *maskf = NULL;
  gboolean ok = FALSE;

  h = embed (m, ids, n, error);
  if (h == NULL)
    goto out;
#define NEW(var, name, cols)                                                   \
  if (!(var = sora_tensor_new_v (m->dev, name, SORA_DTYPE_F32, error, 3,       \
            batch, seq, (gsize)(cols))))                                       \
    goto out;
  NEW (a, "umt5 normed", d);
  NEW (q, "umt5 q", inner);
  NEW (k, "umt5 k", inner);
  NEW (v, "umt5 v", inner);
  NEW (att, "umt5 attention", inner);
  NEW (proj, "umt5 projection", d);
  NEW (f0, "umt5 ffn gelu", c->d_ff);
  NEW (f1, "umt5 ffn gate", c->d_ff);
#undef NEW
  if (!sora_tensor_reshape (h, 3, (gsize[]){ batch, seq, d }, error))
    goto out;

  maskf = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    maskf[i] = mask[i] ? 1.0f : 0.0f;
  key_mask = sora_tensor_new_v (
      m->dev, "umt5 key mask", SORA_DTYPE_F32, error, 2, batch, seq);
  if (key_mask == NULL || !sora_tensor_write (key_mask, maskf, error))
    goto out;

  buckets = g_new (guint, seq * seq);
  for (gsize i = 0; i < seq; i++)
    for (gsize j = 0; j < seq; j++)
      buckets[i * seq + j] =
          relative_bucket ((int)j - (int)i, c->relative_attention_num_buckets,
              c->relative_attention_max_distance);

  for (guint li = 0; li < c->num_layers; li++) {
    Layer *l = &m->layers[li];
    SoraAttentionParams ap = { c->num_heads, 1.0f, NULL, key_mask };

    /* Streaming, the previous layer's weights were freed after its kernels
     * were queued: OpenCL keeps them until those finish, and the blocking
     * uploads here wait for the queue, so at most two layers coexist. */
    if (m->stream && !load_layer (m, li, l, error))
      goto out;
    bias = position_bias (m, l, seq, buckets, error);
    if (bias == NULL)
      goto out;
    ap.bias = bias;
    if (!sora_op_rms_norm (h, l->ln0, eps, a, error) ||
        !sora_op_linear (l->q, a, q, error) ||
        !sora_op_linear (l->k, a, k, error) ||
        !sora_op_linear (l->v, a, v, error) ||
        !sora_op_attention (q, k, v, att, &ap, error) ||
        !sora_op_linear (l->o, att, proj, error) ||
        !sora_op_add (h, proj, h, error) ||
        !sora_op_rms_norm (h, l->ln1, eps, a, error) ||
        !sora_op_linear (l->wi0, a, f0, error) ||
        !sora_op_activate (f0, SORA_ACT_GELU_TANH, f0, error) ||
        !sora_op_linear (l->wi1, a, f1, error) ||
        !sora_op_mul (f0, f1, f0, error) ||
        !sora_op_linear (l->wo, f0, proj, error) ||
        !sora_op_add (h, proj, h, error))
      goto out;
    g_clear_pointer (&bias, sora_tensor_free);
    if (m->stream)
      layer_clear (l);
    if (li == 0)
      sora_probe_emit (probe, "after_layer0", h);
  }
  if (!sora_op_rms_norm (h, m->final_ln, eps, a, error))
    goto out;
  sora_probe_emit (probe, "last_hidden_state", a);

  /* Wan keeps the real rows and hands the DiT zeros for the padding. */
  if (!sora_tensor_reshape (key_mask, 3, (gsize[]){ batch, seq, 1 }, error) ||
      !sora_op_mul (a, key_mask, a, error))
    goto out;
  out = a;
  a = NULL;
  ok = TRUE;

out:
  for (guint li = 0; m->stream && li < c->num_layers; li++)
    layer_clear (&m->layers[li]);
  sora_tensor_free (h);
  sora_tensor_free (a);
  sora_tensor_free (q);
  sora_tensor_free (k);
  sora_tensor_free (v);
  sora_tensor_free (att);
  sora_tensor_free (proj);
  sora_tensor_free (f0);
  sora_tensor_free (f1);
  sora_tensor_free (key_mask);
  sora_tensor_free (bias);
  g_free (buckets);
  g_free (maskf);
  return ok ? out : NULL;
}
