/* gst-sora engine: OpenCL device selection, programs and kernel launches
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_DEVICE_H__
#define __SORA_DEVICE_H__

#include <gio/gio.h>

#include "sora-cl.h"

G_BEGIN_DECLS

typedef struct _SoraDevice SoraDevice;

/* What the device says about itself; every capability decision is made from
 * these queries, never from vendor or device names. */
typedef struct
{
  guint platform_index;
  guint device_index;
  char *platform_name;
  char *name;
  char *vendor;
  char *driver_version;
  char *device_version; /* "OpenCL 3.0 ..." */
  char *c_version; /* "OpenCL C 1.2 ..." */
  gboolean is_gpu;
  gboolean is_cpu;
  guint compute_units;
  guint64 global_mem;
  guint64 local_mem;
  gboolean local_mem_is_global; /* CL_GLOBAL: emulated, as on PoCL */
  guint64 max_alloc;
  gsize max_work_group;
  gsize max_work_item[3]; /* CL_DEVICE_MAX_WORK_ITEM_SIZES */
  guint preferred_float_width;
  gboolean has_fp16; /* cl_khr_fp16 */
} SoraDeviceInfo;

/* Lists every OpenCL device of every platform (array of SoraDeviceInfo). */
GArray *sora_device_list (GError **error);
void sora_device_info_clear (SoraDeviceInfo *info);

/* @spec: "auto" (or NULL/empty: first GPU, else first CPU), "gpu", "cpu",
 * "P:D" (platform and device index), or a case-insensitive substring of the
 * device name.  $SORA_DEVICE is used when @spec is NULL. */
SoraDevice *sora_device_open (const char *spec, GError **error);
void sora_device_free (SoraDevice *dev);

const SoraDeviceInfo *sora_device_get_info (SoraDevice *dev);
char *sora_device_info_report (const SoraDeviceInfo *info);
cl_context sora_device_get_context (SoraDevice *dev);
cl_command_queue sora_device_get_queue (SoraDevice *dev);
cl_device_id sora_device_get_id (SoraDevice *dev);

/* Device memory accounting (bytes), updated by every allocation the engine
 * makes through sora_device_alloc(). */
guint64 sora_device_bytes_current (SoraDevice *dev);
guint64 sora_device_bytes_peak (SoraDevice *dev);
void sora_device_reset_peak (SoraDevice *dev);

cl_mem sora_device_alloc (
    SoraDevice *dev, gsize bytes, const char *what, GError **error);
void sora_device_release (SoraDevice *dev, cl_mem buf, gsize bytes);

/* Reads @bytes of @buf back into @host, waiting for them; @what names the
 * buffer in the error.  Every read back to the host goes through here. */
gboolean sora_device_read (SoraDevice *dev, cl_mem buf, gsize bytes, void *host,
    const char *what, GError **error);

/* How often the engine has allocated a buffer (sora_device_alloc) and read
 * one back (sora_device_read) on the device so far: tests count them per
 * denoising step and per delivered chunk. */
typedef struct
{
  guint64 allocations;
  guint64 reads;
} SoraDeviceCounts;

SoraDeviceCounts sora_device_get_counts (SoraDevice *dev);

/* Whether sora_tensor_unlease fills a tensor whose role ends with NaN: off
 * by default; tests turn it on to check declared lifetimes. */
void sora_device_set_lease_poison (SoraDevice *dev, gboolean poison);
gboolean sora_device_get_lease_poison (SoraDevice *dev);

/* The device's scratch buffers, one per use within an op. */
typedef enum {
  SORA_SCRATCH_GEMM_WIDE, /* the GEMM's widened weight block */
  SORA_SCRATCH_ATTN_KEYS, /* the CPU attention's key panels */
  SORA_SCRATCH_ATTN_VALUES, /* and its value rows */
  SORA_SCRATCH_N,
} SoraScratch;

/* Scratch buffer @which, at least @bytes, that belongs to the device, for
 * an op's temporaries between its own launches: the next call may replace
 * it, and it grows only, so that an op run over and over allocates
 * nothing.  Safe because a device's commands are issued from one thread
 * into one in-order queue. */
cl_mem sora_device_scratch (SoraDevice *dev, SoraScratch which, gsize bytes,
    const char *what, GError **error);
/* Their size now (counted in sora_device_bytes_current). */
gsize sora_device_scratch_bytes (SoraDevice *dev);

/* Waits for every queued command. */
gboolean sora_device_finish (SoraDevice *dev, GError **error);

/* While @cancellable (not owned) is set, each kernel launch first waits for
 * the launch before it, so that the queue holds at most the kernel running
 * and the one just queued, and once @cancellable is cancelled, launches
 * drain the queue and fail with SORA_ERROR_CANCELLED: a cancellation stops
 * the work within about two kernels, wherever the engine is.  NULL: none.
 * Returns the one it replaces, for the caller to set back. */
GCancellable *sora_device_set_cancellable (
    SoraDevice *dev, GCancellable *cancellable);

/* Kernels come from the embedded opencl/kernels/<program>.cl (with common.cl
 * in front), built with @options once per device and cached in memory and in
 * $XDG_CACHE_HOME/gst-sora/programs.  The returned kernel belongs to the
 * device. */
cl_kernel sora_device_kernel (SoraDevice *dev, const char *program,
    const char *options, const char *kernel, GError **error);

typedef enum {
  SORA_ARG_END,
  SORA_ARG_MEM,
  SORA_ARG_INT,
  SORA_ARG_FLOAT,
  SORA_ARG_LOCAL,
} SoraArgKind;

typedef struct
{
  SoraArgKind kind;
  cl_mem mem;
  cl_int i;
  cl_float f;
  gsize local_bytes;
} SoraArg;

#define SORA_MEM(m) ((SoraArg){ .kind = SORA_ARG_MEM, .mem = (m) })
#define SORA_INT(v) ((SoraArg){ .kind = SORA_ARG_INT, .i = (cl_int)(v) })
#define SORA_FLOAT(v) ((SoraArg){ .kind = SORA_ARG_FLOAT, .f = (cl_float)(v) })
#define SORA_LOCAL(b) ((SoraArg){ .kind = SORA_ARG_LOCAL, .local_bytes = (b) })
#define SORA_END ((SoraArg){ .kind = SORA_ARG_END })

/* Sets the kernel's arguments from the SoraArg list (ended by SORA_END) and
 * enqueues it.  The work-group is @local, or a fixed default where @local is
 * NULL or 0 in a dimension (sora-launch.c); it is checked against the
 * kernel's and the device's limits and shrunk to fit unless the kernel has
 * local-memory arguments.  @global is padded to whole work-groups: kernels
 * check their own bounds. */
gboolean sora_device_run (SoraDevice *dev, const char *program,
    const char *options, const char *kernel, guint dims, const gsize *global,
    const gsize *local, GError **error, ...);

/* Work-items along the first dimension when the op asks for nothing: a
 * multiple of every GPU's SIMD width, and on CPU runtimes enough to
 * vectorise across work-items. */
#define SORA_DEFAULT_GROUP 64

/* The same over @global work-items from @offset (get_global_id counts from
 * it): a big kernel split into launches.  The padding to whole work-groups
 * reaches into the next launch's range: split along whole work-groups. */
gboolean sora_device_run_at (SoraDevice *dev, const char *program,
    const char *options, const char *kernel, guint dims, const gsize *offset,
    const gsize *global, const gsize *local, GError **error, ...);

/* Kernel variants launched so far: one per program, options and
 * work-group, each of which a runtime such as PoCL compiles once. */
guint sora_device_variants (SoraDevice *dev);

/* Cache directory for programs and measured choices; created on demand. */
char *sora_device_cache_dir (const char *sub);

G_END_DECLS

#endif /* __SORA_DEVICE_H__ */
