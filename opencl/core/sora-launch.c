/* gst-sora engine: kernel launches, and the one rule for their work-groups
 *
 * A launch's work-group is the op's request or, when the op gives none, a
 * fixed default: never the runtime's choice, which derives it from the global
 * size.  PoCL compiles a work-group function for every size it meets (seconds
 * for each new frame size), and one of 2640 work-items of conv3d_panel
 * overflowed its stack.  The global range is padded to whole work-groups and
 * kernels check their own bounds.  Every limit is checked before the launch:
 * CL_KERNEL_WORK_GROUP_SIZE, CL_DEVICE_MAX_WORK_ITEM_SIZES, the kernel's
 * local memory, and on CPU runtimes, which keep a work-group's private
 * memory on one thread's stack, its private memory.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdarg.h>
#include <string.h>

#include "sora-device-private.h"

/* A work-group's private memory on a CPU runtime, which lays it out on a
 * worker thread's stack. */
#define CPU_PRIVATE_BUDGET (256 * 1024)

/* What a built kernel allows, queried at its first launch, and the
 * work-groups it has been launched with (each a variant PoCL compiles). */
#define MAX_GROUPS 4

typedef struct
{
  gsize max_group;
  guint64 local_mem, private_mem;
  guint n_groups;
  size_t groups[MAX_GROUPS][3];
} KernelLimits;

static KernelLimits *
kernel_limits (SoraDevice *dev, cl_kernel k, const char *kernel, GError **error)
{
  KernelLimits *limits = g_hash_table_lookup (dev->launched, k);
  size_t group = 0;
  cl_ulong local = 0, priv = 0;
  cl_int status;

  if (limits)
    return limits;
  status = clGetKernelWorkGroupInfo (
      k, dev->id, CL_KERNEL_WORK_GROUP_SIZE, sizeof (group), &group, NULL);
  if (status == CL_SUCCESS)
    status = clGetKernelWorkGroupInfo (
        k, dev->id, CL_KERNEL_LOCAL_MEM_SIZE, sizeof (local), &local, NULL);
  if (status == CL_SUCCESS)
    status = clGetKernelWorkGroupInfo (
        k, dev->id, CL_KERNEL_PRIVATE_MEM_SIZE, sizeof (priv), &priv, NULL);
  if (!sora_cl_check (status, "clGetKernelWorkGroupInfo", kernel, error))
    return NULL;
  limits = g_new0 (KernelLimits, 1);
  limits->max_group = MIN (group, dev->info.max_work_group);
  limits->local_mem = local;
  limits->private_mem = priv;
  g_hash_table_insert (dev->launched, k, limits);
  return limits;
}

static gsize
group_items (const size_t *l, guint dims)
{
  gsize n = 1;

  for (guint i = 0; i < dims; i++)
    n *= l[i];
  return n;
}

static gboolean
group_fits (
    SoraDevice *dev, const KernelLimits *limits, const size_t *l, guint dims)
{
  gsize n = group_items (l, dims);

  for (guint i = 0; i < dims; i++)
    if (l[i] > dev->info.max_work_item[i])
      return FALSE;
  return n <= limits->max_group &&
      (!dev->info.is_cpu || n * limits->private_mem <= CPU_PRIVATE_BUDGET);
}

/* Fills @l with the work-group for a launch of @kernel.  An op that sizes
 * local memory from its work-group (@exact) gets its request or an error;
 * otherwise the largest dimension is halved until the group fits, which
 * keeps it to a few fixed sizes per kernel and device. */
static gboolean
choose_group (SoraDevice *dev, cl_kernel k, const char *kernel, guint dims,
    const gsize *local, gboolean exact, guint64 local_args, size_t *l,
    GError **error)
{
  KernelLimits *limits = kernel_limits (dev, k, kernel, error);

  if (limits == NULL)
    return FALSE;
  for (guint i = 0; i < dims; i++)
    l[i] = local && local[i] > 0 ? local[i] : i == 0 ? SORA_DEFAULT_GROUP : 1;
  while (!exact && !group_fits (dev, limits, l, dims) &&
      group_items (l, dims) > 1) {
    guint big = 0;

    for (guint i = 1; i < dims; i++)
      if (l[i] > l[big])
        big = i;
    l[big] /= 2;
  }
  if (!group_fits (dev, limits, l, dims)) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_DEVICE,
        "Kernel %s cannot run a work-group of %" G_GSIZE_FORMAT
        " work-items on device \"%s\" (at most %" G_GSIZE_FORMAT
        " for this kernel, %" G_GUINT64_FORMAT " bytes of private memory each)",
        kernel, group_items (l, dims), dev->info.name, limits->max_group,
        limits->private_mem);
    return FALSE;
  }
  if (limits->local_mem + local_args > dev->info.local_mem) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_DEVICE,
        "Kernel %s needs %" G_GUINT64_FORMAT " bytes of local memory but "
        "device \"%s\" has %" G_GUINT64_FORMAT,
        kernel, limits->local_mem + local_args, dev->info.name,
        dev->info.local_mem);
    return FALSE;
  }
  return TRUE;
}

/* Counts the variants the runtime compiles: one per kernel (program,
 * options) and work-group (see sora_device_variants). */
static void
note_variant (SoraDevice *dev, cl_kernel k, const char *kernel, const size_t *l,
    guint dims)
{
  KernelLimits *limits = g_hash_table_lookup (dev->launched, k);
  size_t group[3] = { l[0], dims > 1 ? l[1] : 1, dims > 2 ? l[2] : 1 };

  for (guint i = 0; i < limits->n_groups; i++)
    if (memcmp (limits->groups[i], group, sizeof (group)) == 0)
      return;
  dev->variants++;
  g_debug ("new kernel variant: %s with a work-group of %zux%zux%zu", kernel,
      group[0], group[1], group[2]);
  if (limits->n_groups < MAX_GROUPS)
    memcpy (limits->groups[limits->n_groups++], group, sizeof (group));
}

static gboolean
set_args (cl_kernel k, const char *kernel, va_list ap, guint64 *local_args,
    GError **error)
{
  cl_uint index = 0;
  cl_int status = CL_SUCCESS;

  *local_args = 0;
  for (;;) {
    SoraArg arg = va_arg (ap, SoraArg);

    if (arg.kind == SORA_ARG_END)
      return TRUE;
    switch (arg.kind) {
      case SORA_ARG_MEM:
        status = clSetKernelArg (k, index, sizeof (cl_mem), &arg.mem);
        break;
      case SORA_ARG_INT:
        status = clSetKernelArg (k, index, sizeof (cl_int), &arg.i);
        break;
      case SORA_ARG_FLOAT:
        status = clSetKernelArg (k, index, sizeof (cl_float), &arg.f);
        break;
      case SORA_ARG_LOCAL:
        status = clSetKernelArg (k, index, arg.local_bytes, NULL);
        *local_args += arg.local_bytes;
        break;
      default:
        g_assert_not_reached ();
    }
    if (status != CL_SUCCESS) {
      char *what = g_strdup_printf ("argument %u of kernel %s", index, kernel);

      sora_cl_check (status, "clSetKernelArg", what, error);
      g_free (what);
      return FALSE;
    }
    index++;
  }
}

GCancellable *
sora_device_set_cancellable (SoraDevice *dev, GCancellable *cancellable)
{
  GCancellable *previous = dev->cancellable;

  dev->cancellable = cancellable;
  if (cancellable == NULL && dev->last) {
    clReleaseEvent (dev->last);
    dev->last = NULL;
  }
  return previous;
}

/* Whether the device's cancellable is cancelled (then with @error set), once
 * what is queued has run: a stop returns when the device is idle. */
static gboolean
cancelled (SoraDevice *dev, GError **error)
{
  if (!g_cancellable_is_cancelled (dev->cancellable))
    return FALSE;
  clFinish (dev->queue);
  if (dev->last) {
    clReleaseEvent (dev->last);
    dev->last = NULL;
  }
  g_set_error (
      error, SORA_ERROR, SORA_ERROR_CANCELLED, "Generation was cancelled");
  return TRUE;
}

/* Keeps @event, the newest launch's, and waits for the one before: the
 * host stays one kernel ahead, and the device always has the next one. */
static gboolean
throttle (SoraDevice *dev, cl_event event, GError **error)
{
  cl_event previous = dev->last;
  cl_int status = CL_SUCCESS;

  dev->last = event;
  if (previous) {
    status = clWaitForEvents (1, &previous);
    clReleaseEvent (previous);
  }
  return sora_cl_check (status, "clWaitForEvents", dev->info.name, error) &&
      !cancelled (dev, error);
}

/* Launches @kernel over @global from @offset (NULL: the origin), its
 * arguments from @ap. */
static gboolean
run_valist (SoraDevice *dev, const char *program, const char *options,
    const char *kernel, guint dims, const gsize *offset, const gsize *global,
    const gsize *local, GError **error, va_list ap)
{
  cl_kernel k;
  guint64 local_args;
  size_t g[3], l[3];
  cl_event event = NULL;

  g_return_val_if_fail (dims >= 1 && dims <= 3, FALSE);
  for (guint i = 0; i < dims; i++)
    if (global[i] == 0)
      return TRUE; /* nothing to do */
  if (cancelled (dev, error))
    return FALSE;
  k = sora_device_kernel (dev, program, options, kernel, error);
  if (k == NULL || !set_args (k, kernel, ap, &local_args, error) ||
      !choose_group (
          dev, k, kernel, dims, local, local_args > 0, local_args, l, error))
    return FALSE;
  for (guint i = 0; i < dims; i++) {
    g[i] = (global[i] + l[i] - 1) / l[i] * l[i];
    /* Kernels index with int. */
    if (g[i] + (offset ? offset[i] : 0) > G_MAXINT32) {
      g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
          "Kernel %s: %" G_GSIZE_FORMAT " work-items are too many for one "
          "launch",
          kernel, global[i]);
      return FALSE;
    }
  }
  note_variant (dev, k, kernel, l, dims);
  if (!sora_cl_check (clEnqueueNDRangeKernel (dev->queue, k, dims, offset, g, l,
                          0, NULL, dev->cancellable ? &event : NULL),
          "clEnqueueNDRangeKernel", kernel, error))
    return FALSE;
  return dev->cancellable == NULL || throttle (dev, event, error);
}

gboolean
sora_device_run (SoraDevice *dev, const char *program, const char *options,
    const char *kernel, guint dims, const gsize *global, const gsize *local,
    GError **error, ...)
{
  va_list ap;
  gboolean ok;

  va_start (ap, error);
  ok = run_valist (
      dev, program, options, kernel, dims, NULL, global, local, error, ap);
  va_end (ap);
  return ok;
}

gboolean
sora_device_run_at (SoraDevice *dev, const char *program, const char *options,
    const char *kernel, guint dims, const gsize *offset, const gsize *global,
    const gsize *local, GError **error, ...)
{
  va_list ap;
  gboolean ok;

  va_start (ap, error);
  ok = run_valist (
      dev, program, options, kernel, dims, offset, global, local, error, ap);
  va_end (ap);
  return ok;
}

guint
sora_device_variants (SoraDevice *dev)
{
  return dev->variants;
}
