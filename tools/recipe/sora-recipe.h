/* gst-sora: the counter-based weight generator of tools/make_fixtures.py,
 * for tests and benchmarks that need big models without committing them
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_RECIPE_H__
#define __SORA_RECIPE_H__

#include "sora-tensor.h"

G_BEGIN_DECLS

/* make_fixtures.py recipe_values, exact in float32: v[i] = offset + scale ·
 * (2u − 1) with u the top 24 bits of splitmix64 (fnv1a64 (@name) + i ·
 * golden) over 2^24. */
void sora_recipe_values (
    const char *name, float scale, float offset, float *v, gsize n);

/* Writes @dir/transformer/ (config.json, one safetensors shard per block
 * plus one for the rest, and their index) from a recipe file as
 * make_fixtures.py writes it (reference/wide-recipe.json): its config with
 * @num_layers blocks (0: the recipe's own), blocks past the recipe's
 * repeating blocks.0's tensors under their own names, weights stored in
 * @dtype.  Only the transformer: the folder's other components are the
 * caller's. */
gboolean sora_recipe_write_transformer (const char *recipe_path,
    guint num_layers, SoraDType dtype, const char *dir, GError **error);

G_END_DECLS

#endif /* __SORA_RECIPE_H__ */
