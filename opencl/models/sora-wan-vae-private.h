/* gst-sora engine: what sora-wan-vae.c, sora-wan-vae-decode.c and
 * sora-wan-vae-weights.c share: the VAE's layers, as loaded and as run
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_WAN_VAE_PRIVATE_H__
#define __SORA_WAN_VAE_PRIVATE_H__

#include "sora-op.h"
#include "sora-ops.h"
#include "sora-wan-vae.h"
#include "sora-weights.h"

G_BEGIN_DECLS

#define CACHE_T 2
#define NO_SLOT G_MAXUINT

typedef struct
{
  SoraConvWeight *packed; /* laid out once for sora_op_conv3d_packed */
  gsize shape[5]; /* the kernel's [out, in, kt, kh, kw] */
  char *name;
  SoraTensor *bias; /* [out] f32 */
  guint slot; /* NO_SLOT for convs that see no other frames */
} Conv;

typedef enum {
  LAYER_RES,
  LAYER_ATTN,
  LAYER_UP2D,
  LAYER_UP3D,
  LAYER_DOWN2D,
  LAYER_DOWN3D,
} LayerKind;

typedef struct
{
  LayerKind kind;
  /* Residual block: norm1, conv1, norm2, conv2 and conv_shortcut (weight
   * NULL for the identity).  Attention: gamma1 is its norm. */
  SoraTensor *gamma1, *gamma2;
  Conv conv1, conv2, shortcut;
  SoraLinear *q, *k, *v, *proj;
  /* Resample: resample.1 (per frame) and time_conv (3D modes). */
  Conv spatial, time;
} Layer;

/* The encoder or the decoder. */
typedef struct
{
  Conv conv_in;
  Layer *layers; /* down or up blocks, then the mid block */
  guint n_layers;
  SoraTensor *norm_out;
  Conv conv_out;
  guint n_slots;
} Coder;

struct _SoraWanVae
{
  SoraDevice *dev;
  SoraWanVaeConfig cfg;
  Coder enc, dec;
  Conv quant, post_quant;
  SoraTensor *mean, *std; /* [z, 1, 1, 1] */
  SoraTensor *inv_std, *neg_mean_over_std; /* for normalising μ */
  guint tile_h, tile_w, overlap; /* 0: automatic */
};

/* Loads every module of sora_wan_vae_modules (&vae->cfg) into @vae. */
gboolean sora_wan_vae_load_weights (
    SoraWanVae *vae, const SoraWeights *w, GError **error);

/* The causal state of one decode or encode (of one tile). */
typedef struct
{
  SoraTensor **frames; /* per slot: NULL or [Cin, 1..CACHE_T, H, W] */
  gboolean *started; /* per slot: the resample time convs' first chunk */
  guint n_slots;
} Caches;

void sora_wan_vae_caches_init (Caches *c, guint n_slots);
void sora_wan_vae_caches_clear (Caches *c);

/* A [c, t, h, w] f32 activation, its buffer from @arena (NULL: its own).
 * What is computed from an activation goes in the activation's arena. */
SoraTensor *sora_wan_vae_act_new (SoraDevice *dev, SoraArena *arena,
    const char *name, gsize c, gsize t, gsize h, gsize w, GError **error);

/* y = conv (x), see sora-wan-vae.c. */
SoraTensor *sora_wan_vae_conv (Caches *caches, const Conv *c, SoraTensor *x,
    guint pad, guint stride_t, gboolean causal, guint keep, GError **error);

/* One chunk through @c: conv_in, the layers, norm_out, SiLU, conv_out. */
SoraTensor *sora_wan_vae_coder_run (
    const Coder *c, Caches *caches, SoraTensor *x, GError **error);

/* Whether @x is a non-empty 4-D f32 tensor of @channels channels; else an
 * error naming @what (decode, encode) and the expected @layout. */
gboolean sora_wan_vae_check_input (const SoraTensor *x, guint channels,
    const char *what, const char *layout, GError **error);

G_END_DECLS

#endif /* __SORA_WAN_VAE_PRIVATE_H__ */
