/* gst-sora engine ops: Wan's 3-axis rotary position embedding
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_OP_ROPE_H__
#define __SORA_OP_ROPE_H__

#include "sora-tensor.h"

G_BEGIN_DECLS

/* The rotation table, [L, D/2, 2] f32 holding (cos φ, sin φ), for the
 * L = frames·height·width tokens of a patched grid (frame slowest, width
 * fastest) whose frames sit at positions @first_frame.. (a chunk of a
 * stream), and an even @head_dim D.  The head's pairs split into the frame,
 * height and width axes as in Wan: h_dim = w_dim = 2·⌊D/6⌋ dims,
 * t_dim = D − 2·h_dim (44/42/42 for D = 128); pair i of an axis of a_dim
 * dims at position p turns by φ = p·θ^(−2i/a_dim).  Computed in double on
 * the host, then rounded to f32, as the reference does. */
SoraTensor *sora_rope_table_new (SoraDevice *dev, gsize first_frame,
    gsize frames, gsize height, gsize width, gsize head_dim, double theta,
    GError **error);

/* Writes the table of frames from @first_frame on into @table, made by
 * sora_rope_table_new for the same grid and head dim: a stream's next
 * chunk reuses its buffer. */
gboolean sora_rope_table_write (SoraTensor *table, gsize first_frame,
    gsize frames, gsize height, gsize width, gsize head_dim, double theta,
    GError **error);

/* Rotates each interleaved pair (x[2j], x[2j+1]) of every head of
 * x [B, L, heads·D] by the table's angle for its token and pair:
 * y[2j] = x[2j]·cos − x[2j+1]·sin, y[2j+1] = x[2j]·sin + x[2j+1]·cos.
 * All f32; @y has @x's shape and may be @x. */
gboolean sora_op_rope (SoraTensor *x, SoraTensor *table, guint heads,
    SoraTensor *y, GError **error);

G_END_DECLS

#endif /* __SORA_OP_ROPE_H__ */
