/* gst-sora engine: the Wan VAE's decode, one latent frame at a time, split
 * into overlapping tiles whose outputs are blended when one frame's
 * decoder does not fit the device; its causal caches can be parked in host
 * memory between runs.  The layers and the coder are in sora-wan-vae.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sora-op.h"
#include "sora-ops.h"
#include "sora-wan-vae-private.h"

/* Tiles along one axis of @n latent pixels: starts every tile − overlap,
 * the last one ending at n (and starting before the previous one ends
 * minus the overlap, so each point is in at most two tiles). */
static guint
tile_starts (guint n, guint tile, guint overlap, guint *starts)
{
  guint count = 0;

  for (guint pos = 0;; pos += tile - overlap) {
    starts[count++] = pos;
    if (pos + tile >= n)
      return count;
  }
}

typedef struct
{
  guint tile_h, tile_w, overlap;
  guint ny, nx;
  guint *ys, *xs;
} TilePlan;

static void
tile_plan_set (
    TilePlan *t, guint h, guint w, guint tile_h, guint tile_w, guint overlap)
{
  t->tile_h = MIN (tile_h, h);
  t->tile_w = MIN (tile_w, w);
  t->overlap = overlap;
  g_free (t->ys);
  g_free (t->xs);
  t->ys = g_new (guint, h);
  t->xs = g_new (guint, w);
  t->ny = tile_starts (h, t->tile_h, overlap, t->ys);
  t->nx = tile_starts (w, t->tile_w, overlap, t->xs);
}

static void
tile_plan_clear (TilePlan *t)
{
  g_clear_pointer (&t->ys, g_free);
  g_clear_pointer (&t->xs, g_free);
}

/* The decoder's device bytes for one h x w tile, walking its layers: what
 * its slots hold once full, and its largest activation of a steady-state
 * chunk (each time upsample doubling the frames). */
static void
decode_footprint (
    const SoraWanVae *vae, gsize h, gsize w, guint64 *slots, guint64 *largest)
{
  const Coder *d = &vae->dec;
  guint64 c = d->conv_in.shape[0], t = 1;

  *slots = (guint64)vae->cfg.z_dim * CACHE_T * h * w;
  *largest = c * t * h * w;
  for (guint i = 0; i < d->n_layers; i++) {
    const Layer *l = &d->layers[i];

    switch (l->kind) {
      case LAYER_RES:
        *slots +=
            (l->conv1.shape[1] + l->conv2.shape[1]) * (guint64)CACHE_T * h * w;
        c = l->conv2.shape[0];
        break;
      case LAYER_UP3D:
        *slots += c * CACHE_T * h * w;
        t *= 2;
        /* fall through */
      case LAYER_UP2D:
        h *= 2;
        w *= 2;
        c = l->spatial.shape[0];
        break;
      default:
        break;
    }
    *largest = MAX (*largest, c * t * h * w);
  }
  *slots += c * CACHE_T * h * w;
  *slots *= sizeof (float);
  *largest *= sizeof (float);
}

/* What a decode tiled as @t holds on the device: every tile's slots at
 * once; the largest activation of any tile; and the activations of a
 * chunk, a tile's bounded by four of its largest (a residual block's
 * input, its normalised copy, its conv's output and shortcut), beside the
 * latent frame and post_quant_conv's output and, when tiled, the blended
 * frames and a tile's latents. */
static void
tile_plan_footprint (const SoraWanVae *vae, const TilePlan *t, guint h, guint w,
    guint64 *slots, guint64 *largest, guint64 *acts)
{
  guint64 s, l, frames = vae->dec.conv_out.shape[0];
  guint64 scale = 1u << (vae->cfg.n_levels - 1);

  *slots = *largest = 0;
  for (guint iy = 0; iy < t->ny; iy++)
    for (guint ix = 0; ix < t->nx; ix++) {
      decode_footprint (vae, MIN (t->tile_h, h - t->ys[iy]),
          MIN (t->tile_w, w - t->xs[ix]), &s, &l);
      *slots += s;
      *largest = MAX (*largest, l);
    }
  *acts = 4 * *largest + 2 * sizeof (float) * vae->cfg.z_dim * h * w;
  if (t->ny * t->nx == 1)
    return;
  for (guint i = 0; i < vae->dec.n_layers; i++)
    frames *= vae->dec.layers[i].kind == LAYER_UP3D ? 2 : 1;
  *acts += sizeof (float) *
      (frames * scale * h * scale * w +
          (guint64)vae->cfg.z_dim * t->tile_h * (w + t->tile_w));
}

/* Whether a decode tiled as @t fits: its slots and activations within
 * half the device's memory, and no tensor above its largest allocation. */
static gboolean
tile_plan_fits (const SoraWanVae *vae, const TilePlan *t, guint h, guint w)
{
  const SoraDeviceInfo *info = sora_device_get_info (vae->dev);
  guint64 slots, largest, acts;

  tile_plan_footprint (vae, t, h, w, &slots, &largest, &acts);
  return largest <= info->max_alloc && slots + acts <= info->global_mem / 2;
}

/* The forced tiling, else one tile if it fits, else tiles halved along
 * their longer side (overlapping by a quarter, as diffusers' 256/192
 * pixels) until they fit or get small. */
static void
tile_plan_choose (const SoraWanVae *vae, guint h, guint w, TilePlan *t)
{
  guint th = h, tw = w;

  if (vae->tile_h) {
    tile_plan_set (t, h, w, vae->tile_h, vae->tile_w, vae->overlap);
    return;
  }
  tile_plan_set (t, h, w, th, tw, 0);
  while (!tile_plan_fits (vae, t, h, w) && MAX (th, tw) > 8) {
    if (th >= tw)
      th = (th + 1) / 2;
    else
      tw = (tw + 1) / 2;
    tile_plan_set (t, h, w, th, tw, MAX (1, MIN (th, tw) / 4));
  }
}

/* Adds @tile's weighted contribution to @frame at the plan's tile
 * (iy, ix), @scale video pixels per latent one. */
static gboolean
blend_tile (const TilePlan *t, guint iy, guint ix, guint scale,
    SoraTensor *tile, SoraTensor *frame, GError **error)
{
  guint ramp = t->overlap * scale;
  guint ramps[4] = { iy > 0 ? ramp : 0, iy + 1 < t->ny ? ramp : 0,
    ix > 0 ? ramp : 0, ix + 1 < t->nx ? ramp : 0 };

  return sora_op_blend_tile (
      tile, frame, t->ys[iy] * scale, t->xs[ix] * scale, ramps, error);
}

/* The latent region of tile (iy, ix) of the post_quant_conv output @x. */
static SoraTensor *
latent_tile (
    const TilePlan *t, guint iy, guint ix, SoraTensor *x, GError **error)
{
  gsize c = x->shape[0], h = MIN (t->tile_h, x->shape[2] - t->ys[iy]);
  gsize w = MIN (t->tile_w, x->shape[3] - t->xs[ix]);
  SoraTensor *rows = sora_wan_vae_act_new (
      x->dev, x->arena, "vae tile rows", c, 1, h, x->shape[3], error);
  SoraTensor *tile = NULL;

  if (rows && sora_op_slice (x, 2, t->ys[iy], h, rows, error) &&
      (tile = sora_wan_vae_act_new (
           x->dev, x->arena, "vae tile", c, 1, h, w, error)) &&
      !sora_op_slice (rows, 3, t->xs[ix], w, tile, error))
    g_clear_pointer (&tile, sora_tensor_free);
  sora_tensor_free (rows);
  return tile;
}

/* Decodes the post_quant_conv output @x of one latent frame: the decoder
 * on each tile with the tile's caches, blended into one chunk of frames. */
static SoraTensor *
decode_chunk (SoraWanVae *vae, const TilePlan *t, Caches *caches, SoraTensor *x,
    GError **error)
{
  guint scale = 1u << (vae->cfg.n_levels - 1);
  SoraTensor *out = NULL;

  if (t->ny * t->nx == 1)
    return sora_wan_vae_coder_run (&vae->dec, &caches[0], x, error);
  for (guint iy = 0; iy < t->ny; iy++) {
    for (guint ix = 0; ix < t->nx; ix++) {
      SoraTensor *zt = latent_tile (t, iy, ix, x, error), *o = NULL;
      gboolean ok;

      if (zt)
        o = sora_wan_vae_coder_run (
            &vae->dec, &caches[iy * t->nx + ix], zt, error);
      sora_tensor_free (zt);
      if (o == NULL)
        goto fail;
      if (out == NULL &&
          (!(out = sora_wan_vae_act_new (x->dev, x->arena, "vae frames",
                 o->shape[0], o->shape[1], x->shape[2] * scale,
                 x->shape[3] * scale, error)) ||
              !sora_tensor_zero (out, error))) {
        sora_tensor_free (o);
        goto fail;
      }
      ok = blend_tile (t, iy, ix, scale, o, out, error);
      sora_tensor_free (o);
      if (!ok)
        goto fail;
    }
  }
  return out;

fail:
  sora_tensor_free (out);
  return NULL;
}

/* Clamps @frames in place, as the reference's decode ends, and hands them
 * to @func. */
static gboolean
emit_chunk (SoraTensor *frames, SoraVaeChunkFunc func, gpointer user_data,
    GError **error)
{
  if (!sora_op_activate (frames, SORA_ACT_CLAMP_UNIT, frames, error))
    return FALSE;
  if (func (frames, user_data, error))
    return TRUE;
  if (error == NULL || *error == NULL)
    g_set_error (error, SORA_ERROR, SORA_ERROR_CANCELLED,
        "VAE decode: cancelled after a chunk of %" G_GSIZE_FORMAT " frames",
        frames->shape[1]);
  return FALSE;
}

/* A cache slot's frames in host memory. */
typedef struct
{
  float *data;
  gsize shape[4];
} ParkedSlot;

struct _SoraWanVaeDecoder
{
  SoraWanVae *vae;
  gsize h, w;
  TilePlan plan;
  Caches *caches; /* one per tile */
  guint n_tiles;
  /* The activations of a chunk, planned once the chunks repeat, within
   * what tile_plan_fits counts for them. */
  SoraArena *arena;
  ParkedSlot *parked; /* [tile · n_slots + slot] while parked, else NULL */
};

guint64
sora_wan_vae_decoder_bytes (SoraWanVae *vae, gsize h, gsize w)
{
  TilePlan plan = { 0 };
  guint64 slots, largest, acts;

  tile_plan_choose (vae, h, w, &plan);
  tile_plan_footprint (vae, &plan, h, w, &slots, &largest, &acts);
  tile_plan_clear (&plan);
  return slots + acts;
}

SoraWanVaeDecoder *
sora_wan_vae_decoder_new (SoraWanVae *vae, gsize h, gsize w)
{
  SoraWanVaeDecoder *d = g_new0 (SoraWanVaeDecoder, 1);
  guint64 slots, largest, acts;

  d->vae = vae;
  d->h = h;
  d->w = w;
  tile_plan_choose (vae, h, w, &d->plan);
  tile_plan_footprint (vae, &d->plan, h, w, &slots, &largest, &acts);
  d->arena = sora_arena_new (vae->dev, acts);
  g_debug ("VAE decode of %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT
           " latents: %u tiles, slots %" G_GUINT64_FORMAT
           " bytes, activations at most %" G_GUINT64_FORMAT " bytes",
      w, h, d->plan.ny * d->plan.nx, slots, acts);
  d->n_tiles = d->plan.ny * d->plan.nx;
  d->caches = g_new0 (Caches, d->n_tiles);
  for (guint i = 0; i < d->n_tiles; i++)
    sora_wan_vae_caches_init (&d->caches[i], vae->dec.n_slots);
  return d;
}

void
sora_wan_vae_decoder_free (SoraWanVaeDecoder *d)
{
  if (d == NULL)
    return;
  for (guint i = 0; i < d->n_tiles; i++)
    sora_wan_vae_caches_clear (&d->caches[i]);
  for (guint i = 0; d->parked && i < d->n_tiles * d->vae->dec.n_slots; i++)
    g_free (d->parked[i].data);
  g_free (d->parked);
  g_free (d->caches);
  sora_arena_free (d->arena);
  tile_plan_clear (&d->plan);
  g_free (d);
}

gboolean
sora_wan_vae_decoder_park (SoraWanVaeDecoder *d, GError **error)
{
  guint n_slots = d->vae->dec.n_slots;

  if (d->parked)
    return TRUE;
  sora_arena_release (d->arena);
  d->parked = g_new0 (ParkedSlot, d->n_tiles * n_slots);
  for (guint i = 0; i < d->n_tiles * n_slots; i++) {
    SoraTensor **t = &d->caches[i / n_slots].frames[i % n_slots];
    ParkedSlot *p = &d->parked[i];

    if (*t == NULL)
      continue;
    memcpy (p->shape, (*t)->shape, sizeof (p->shape));
    if (!(p->data = g_try_new (float, (*t)->numel))) {
      g_set_error (error, SORA_ERROR, SORA_ERROR_OUT_OF_MEMORY,
          "VAE decode: no host memory for %" G_GSIZE_FORMAT
          " bytes of decoder cache",
          (*t)->nbytes);
      return FALSE;
    }
    if (!sora_tensor_read_f32 (*t, p->data, error))
      return FALSE;
    g_clear_pointer (t, sora_tensor_free);
  }
  return TRUE;
}

/* Moves parked caches back to the device. */
static gboolean
unpark (SoraWanVaeDecoder *d, GError **error)
{
  guint n_slots = d->vae->dec.n_slots;

  for (guint i = 0; d->parked && i < d->n_tiles * n_slots; i++) {
    SoraTensor **t = &d->caches[i / n_slots].frames[i % n_slots];
    ParkedSlot *p = &d->parked[i];

    if (p->data == NULL)
      continue;
    if (*t == NULL &&
        !(*t = sora_wan_vae_act_new (d->vae->dev, NULL, "vae cache",
              p->shape[0], p->shape[1], p->shape[2], p->shape[3], error)))
      return FALSE;
    if (!sora_tensor_write_f32 (*t, p->data, error))
      return FALSE;
    g_clear_pointer (&p->data, g_free);
  }
  g_clear_pointer (&d->parked, g_free);
  return TRUE;
}

gboolean
sora_wan_vae_decoder_run (SoraWanVaeDecoder *d, SoraTensor *latents,
    SoraVaeChunkFunc func, gpointer user_data, GCancellable *cancellable,
    GError **error)
{
  SoraWanVae *vae = d->vae;
  SoraTensor *z = NULL, *x = NULL, *frames = NULL;
  GCancellable *previous = NULL;
  gboolean ok = FALSE;

  if (!sora_wan_vae_check_input (
          latents, vae->cfg.z_dim, "decode", "[z, F, h, w]", error))
    return FALSE;
  if (latents->shape[2] != d->h || latents->shape[3] != d->w) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "VAE decode: latents of %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT
        " cannot continue a decode of %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT,
        latents->shape[3], latents->shape[2], d->w, d->h);
    return FALSE;
  }
  if (cancellable)
    previous = sora_device_set_cancellable (vae->dev, cancellable);
  if (!unpark (d, error))
    goto out;
  for (gsize k = 0; k < latents->shape[1]; k++) {
    sora_arena_begin (d->arena);
    if (!(z = sora_wan_vae_act_new (vae->dev, d->arena, "vae latent frame",
              vae->cfg.z_dim, 1, d->h, d->w, error)) ||
        !sora_op_slice (latents, 1, k, 1, z, error) ||
        !sora_op_mul (z, vae->std, z, error) ||
        !sora_op_add (z, vae->mean, z, error) ||
        !(x = sora_wan_vae_conv (
              NULL, &vae->post_quant, z, 0, 1, FALSE, 0, error)) ||
        !(frames = decode_chunk (vae, &d->plan, d->caches, x, error)) ||
        !emit_chunk (frames, func, user_data, error))
      goto out;
    g_clear_pointer (&z, sora_tensor_free);
    g_clear_pointer (&x, sora_tensor_free);
    g_clear_pointer (&frames, sora_tensor_free);
    sora_arena_end (d->arena);
  }
  ok = TRUE;

out:
  if (cancellable)
    sora_device_set_cancellable (vae->dev, previous);
  sora_tensor_free (z);
  sora_tensor_free (x);
  sora_tensor_free (frames);
  return ok;
}

gboolean
sora_wan_vae_decode (SoraWanVae *vae, SoraTensor *latents,
    SoraVaeChunkFunc func, gpointer user_data, GCancellable *cancellable,
    GError **error)
{
  SoraWanVaeDecoder *d;
  gboolean ok;

  if (!sora_wan_vae_check_input (
          latents, vae->cfg.z_dim, "decode", "[z, F, h, w]", error))
    return FALSE;
  d = sora_wan_vae_decoder_new (vae, latents->shape[2], latents->shape[3]);
  ok = sora_wan_vae_decoder_run (
      d, latents, func, user_data, cancellable, error);
  sora_wan_vae_decoder_free (d);
  return ok;
}
