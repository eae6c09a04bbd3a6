/* gst-sora engine: device buffers planned for a repeated sequence of
 * allocations, see sora-arena.h
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sora-arena.h"

#define NO_OBJECT G_MAXUINT

/* One allocation of a repetition: its size, its life in ticks of the
 * arena's clock (end 0 while in use), its buffer and the plan's buffer it
 * has (NO_OBJECT when its own). */
typedef struct
{
  gsize bytes;
  guint64 start, end;
  cl_mem buf;
  guint object;
} Use;

/* A buffer of the plan; buf NULL once freed. */
typedef struct
{
  cl_mem buf;
  gsize bytes;
  gboolean busy;
} Object;

struct _SoraArena
{
  SoraDevice *dev;
  guint64 cap;
  GArray *uses; /* Use: this repetition's, in order */
  GArray *plan; /* Use: the planned repetition's, object set */
  GArray *objects; /* Object */
  guint64 clock;
  gboolean following; /* this repetition has followed the plan so far */
};

#define USE(array, i) (&g_array_index (array, Use, i))
#define OBJECT(a, i) (&g_array_index ((a)->objects, Object, i))

SoraArena *
sora_arena_new (SoraDevice *dev, guint64 cap)
{
  SoraArena *a = g_new0 (SoraArena, 1);

  a->dev = dev;
  a->cap = cap;
  a->uses = g_array_new (FALSE, FALSE, sizeof (Use));
  a->plan = g_array_new (FALSE, FALSE, sizeof (Use));
  a->objects = g_array_new (FALSE, FALSE, sizeof (Object));
  return a;
}

static void
object_free (SoraArena *a, Object *o)
{
  sora_device_release (a->dev, o->buf, o->bytes);
  o->buf = NULL;
  o->busy = FALSE;
}

/* Frees the plan's buffers that are not in use: each one in use is freed
 * when given back. */
static void
free_idle (SoraArena *a)
{
  for (guint i = 0; i < a->objects->len; i++) {
    Object *o = OBJECT (a, i);

    if (o->buf && !o->busy)
      object_free (a, o);
  }
}

void
sora_arena_release (SoraArena *a)
{
  for (guint i = 0; i < a->objects->len; i++)
    g_return_if_fail (!OBJECT (a, i)->busy);
  free_idle (a);
  g_array_set_size (a->objects, 0);
  g_array_set_size (a->plan, 0);
  a->following = FALSE;
}

void
sora_arena_free (SoraArena *a)
{
  if (a == NULL)
    return;
  sora_arena_release (a);
  g_array_unref (a->uses);
  g_array_unref (a->plan);
  g_array_unref (a->objects);
  g_free (a);
}

guint64
sora_arena_bytes (const SoraArena *a)
{
  guint64 bytes = 0;

  for (guint i = 0; i < a->objects->len; i++)
    if (OBJECT (a, i)->buf)
      bytes += OBJECT (a, i)->bytes;
  return bytes;
}

void
sora_arena_begin (SoraArena *a)
{
  g_array_set_size (a->uses, 0);
  a->clock = 0;
  a->following = a->plan->len > 0;
}

/* This repetition leaves the plan: its idle buffers go now, so that they
 * and the repetition's own do not add up. */
static void
depart (SoraArena *a)
{
  a->following = FALSE;
  free_idle (a);
}

cl_mem
sora_arena_take (SoraArena *a, gsize bytes, const char *what, GError **error)
{
  Use u = { bytes, ++a->clock, 0, NULL, NO_OBJECT };
  guint i = a->uses->len;

  if (a->following && i < a->plan->len && USE (a->plan, i)->bytes == bytes &&
      !OBJECT (a, USE (a->plan, i)->object)->busy) {
    u.object = USE (a->plan, i)->object;
    OBJECT (a, u.object)->busy = TRUE;
    u.buf = OBJECT (a, u.object)->buf;
  } else {
    depart (a);
    if (!(u.buf = sora_device_alloc (a->dev, bytes, what, error)))
      return NULL;
  }
  g_array_append_val (a->uses, u);
  return u.buf;
}

void
sora_arena_give (SoraArena *a, cl_mem buf, gsize bytes)
{
  for (guint i = a->uses->len; i-- > 0;) {
    if (USE (a->uses, i)->buf == buf && USE (a->uses, i)->end == 0) {
      USE (a->uses, i)->end = ++a->clock;
      break;
    }
  }
  for (guint i = 0; i < a->objects->len; i++) {
    Object *o = OBJECT (a, i);

    if (o->buf == buf) {
      o->busy = FALSE;
      if (!a->following)
        object_free (a, o);
      return;
    }
  }
  sora_device_release (a->dev, buf, bytes);
}

/* Whether use @u may share plan buffer @object with the uses in @plan
 * already given it: their lives do not meet. */
static gboolean
object_free_during (GArray *plan, guint object, const Use *u)
{
  for (guint i = 0; i < plan->len; i++) {
    const Use *p = USE (plan, i);

    if (p->object == object && p->start < u->end && u->start < p->end)
      return FALSE;
  }
  return TRUE;
}

static gint
larger_first (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const Use *x = USE ((GArray *)user_data, *(const guint *)a);
  const Use *y = USE ((GArray *)user_data, *(const guint *)b);

  if (x->bytes != y->bytes)
    return x->bytes > y->bytes ? -1 : 1;
  return x->start < y->start ? -1 : x->start > y->start;
}

/* Gives each use of @plan a buffer, the largest uses first, each in the
 * first buffer free over its life (all buffers made before it are at
 * least as large), else a new one: the total, or G_MAXUINT64 when some
 * use has not ended. */
static guint64
assign (GArray *plan, GArray *sizes)
{
  g_autofree guint *order = g_new (guint, plan->len);
  guint64 total = 0;

  for (guint i = 0; i < plan->len; i++) {
    if (USE (plan, i)->end == 0)
      return G_MAXUINT64;
    USE (plan, i)->object = NO_OBJECT;
    order[i] = i;
  }
  g_qsort_with_data (order, plan->len, sizeof (guint), larger_first, plan);
  for (guint k = 0; k < plan->len; k++) {
    Use *u = USE (plan, order[k]);
    guint o = 0;

    while (o < sizes->len && !object_free_during (plan, o, u))
      o++;
    if (o == sizes->len) {
      g_array_append_val (sizes, u->bytes);
      total += u->bytes;
    }
    u->object = o;
  }
  return total;
}

void
sora_arena_end (SoraArena *a)
{
  g_autoptr (GArray) sizes = g_array_new (FALSE, FALSE, sizeof (gsize));
  GError *error = NULL;
  guint64 total;

  if (a->following && a->uses->len == a->plan->len)
    return; /* the plan held */
  depart (a);
  g_array_set_size (a->plan, 0);
  for (guint i = 0; i < a->objects->len; i++)
    if (OBJECT (a, i)->buf)
      return; /* in use past the repetition: freed when given back */
  g_array_set_size (a->objects, 0);
  total = assign (a->uses, sizes);
  g_debug ("arena: %u allocations in %u buffers of %" G_GUINT64_FORMAT
           " bytes, %s (at most %" G_GUINT64_FORMAT ")",
      a->uses->len, sizes->len, total, total <= a->cap ? "kept" : "not kept",
      a->cap);
  if (total > a->cap)
    return;
  for (guint i = 0; i < sizes->len; i++) {
    Object o = { NULL, g_array_index (sizes, gsize, i), FALSE };

    o.buf = sora_device_alloc (a->dev, o.bytes, "arena buffer", &error);
    if (o.buf == NULL) {
      /* The repetitions allocate their own, as without an arena. */
      g_clear_error (&error);
      sora_arena_release (a);
      return;
    }
    g_array_append_val (a->objects, o);
  }
  g_array_append_vals (a->plan, a->uses->data, a->uses->len);
}
