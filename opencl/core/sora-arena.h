/* gst-sora engine: device buffers planned for a repeated sequence of
 * allocations (the VAE's chunks)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_ARENA_H__
#define __SORA_ARENA_H__

#include "sora-device.h"

G_BEGIN_DECLS

/* A code path that allocates and frees the same buffers in the same order
 * each time it runs (a "repetition": one chunk of a decode) records one
 * repetition's allocations and their lifetimes, assigns them to a few
 * buffers (each use in the buffer of its size class whose earlier uses have
 * ended, greedy by size), and replays that plan on the next repetitions:
 * allocating nothing on the device, and never holding more than the
 * plan's total, which must be at most @cap bytes (else it is not kept).
 * A repetition that departs from the plan (another size, or its buffer
 * still in use) gets buffers of its own from there on, frees the plan's
 * idle buffers at once so that the two do not add up, and is planned
 * anew.  Tensors get buffers from an arena through sora_tensor_new_in. */
typedef struct _SoraArena SoraArena;

SoraArena *sora_arena_new (SoraDevice *dev, guint64 cap);
/* Frees the arena; every buffer taken from it must have been given back. */
void sora_arena_free (SoraArena *arena);

/* One repetition starts or ends.  Every buffer of a repetition is given
 * back before its end for it to be planned. */
void sora_arena_begin (SoraArena *arena);
void sora_arena_end (SoraArena *arena);

/* Frees the plan's buffers (none may be in use): the next repetition
 * allocates and is planned again. */
void sora_arena_release (SoraArena *arena);

/* Device bytes the plan holds. */
guint64 sora_arena_bytes (const SoraArena *arena);

/* A buffer of at least @bytes for sora_tensor_new_in, and its return. */
cl_mem sora_arena_take (
    SoraArena *arena, gsize bytes, const char *what, GError **error);
void sora_arena_give (SoraArena *arena, cl_mem buf, gsize bytes);

G_END_DECLS

#endif /* __SORA_ARENA_H__ */
