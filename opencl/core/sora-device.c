/* gst-sora engine: OpenCL device selection, memory accounting, launches
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sora-device-private.h"

static char *
query_device_string (cl_device_id id, cl_device_info param)
{
  size_t size = 0;
  char *s;

  if (clGetDeviceInfo (id, param, 0, NULL, &size) != CL_SUCCESS || size == 0)
    return g_strdup ("");
  s = g_malloc0 (size + 1);
  if (clGetDeviceInfo (id, param, size, s, NULL) != CL_SUCCESS)
    s[0] = '\0';
  return g_strstrip (s);
}

static guint64
query_device_ulong (cl_device_id id, cl_device_info param)
{
  cl_ulong v = 0;
  clGetDeviceInfo (id, param, sizeof (v), &v, NULL);
  return v;
}

static guint
query_device_uint (cl_device_id id, cl_device_info param)
{
  cl_uint v = 0;
  clGetDeviceInfo (id, param, sizeof (v), &v, NULL);
  return v;
}

/* The first three of CL_DEVICE_MAX_WORK_ITEM_SIZES (a device may have more
 * dimensions). */
static void
query_work_item_sizes (cl_device_id id, gsize sizes[3])
{
  size_t bytes = 0, *all;

  sizes[0] = sizes[1] = sizes[2] = 1;
  if (clGetDeviceInfo (id, CL_DEVICE_MAX_WORK_ITEM_SIZES, 0, NULL, &bytes) !=
          CL_SUCCESS ||
      bytes < 3 * sizeof (size_t))
    return;
  all = g_malloc (bytes);
  if (clGetDeviceInfo (id, CL_DEVICE_MAX_WORK_ITEM_SIZES, bytes, all, NULL) ==
      CL_SUCCESS)
    memcpy (sizes, all, 3 * sizeof (size_t));
  g_free (all);
}

/* The float vector width that sizes the gemm, conv and attention tiles.
 * $SORA_VECTOR_WIDTH (4, 8 or 16) overrides the device's: valgrind hides
 * AVX-512, so PoCL reports 8 there and 16 natively, and a native run builds
 * the kernels a valgrind run needs only with the same tiles
 * (tests/check/run-valgrind.sh). */
static guint
preferred_float_width (cl_device_id id)
{
  const char *env = g_getenv ("SORA_VECTOR_WIDTH");
  guint width = query_device_uint (id, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT);

  if (env == NULL)
    return width;
  if (g_strcmp0 (env, "4") == 0 || g_strcmp0 (env, "8") == 0 ||
      g_strcmp0 (env, "16") == 0)
    return (guint)g_ascii_strtoull (env, NULL, 10);
  g_warning ("SORA_VECTOR_WIDTH=%s ignored: not 4, 8 or 16", env);
  return width;
}

static void
fill_info (SoraDeviceInfo *info, cl_platform_id platform, cl_device_id id,
    guint pi, guint di)
{
  size_t size = 0;
  cl_device_type type = 0;
  cl_device_local_mem_type local_type = CL_LOCAL;
  size_t wg = 0;
  char *extensions;

  memset (info, 0, sizeof (*info));
  info->platform_index = pi;
  info->device_index = di;
  if (clGetPlatformInfo (platform, CL_PLATFORM_NAME, 0, NULL, &size) ==
          CL_SUCCESS &&
      size > 0) {
    info->platform_name = g_malloc0 (size + 1);
    clGetPlatformInfo (
        platform, CL_PLATFORM_NAME, size, info->platform_name, NULL);
  } else {
    info->platform_name = g_strdup ("");
  }
  info->name = query_device_string (id, CL_DEVICE_NAME);
  info->vendor = query_device_string (id, CL_DEVICE_VENDOR);
  info->driver_version = query_device_string (id, CL_DRIVER_VERSION);
  info->device_version = query_device_string (id, CL_DEVICE_VERSION);
  info->c_version = query_device_string (id, CL_DEVICE_OPENCL_C_VERSION);
  clGetDeviceInfo (id, CL_DEVICE_TYPE, sizeof (type), &type, NULL);
  info->is_gpu = (type & CL_DEVICE_TYPE_GPU) != 0;
  info->is_cpu = (type & CL_DEVICE_TYPE_CPU) != 0;
  info->compute_units = query_device_uint (id, CL_DEVICE_MAX_COMPUTE_UNITS);
  info->global_mem = query_device_ulong (id, CL_DEVICE_GLOBAL_MEM_SIZE);
  info->local_mem = query_device_ulong (id, CL_DEVICE_LOCAL_MEM_SIZE);
  clGetDeviceInfo (
      id, CL_DEVICE_LOCAL_MEM_TYPE, sizeof (local_type), &local_type, NULL);
  info->local_mem_is_global = local_type == CL_GLOBAL;
  info->max_alloc = query_device_ulong (id, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
  clGetDeviceInfo (id, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof (wg), &wg, NULL);
  info->max_work_group = wg;
  query_work_item_sizes (id, info->max_work_item);
  info->preferred_float_width = preferred_float_width (id);
  extensions = query_device_string (id, CL_DEVICE_EXTENSIONS);
  info->has_fp16 = strstr (extensions, "cl_khr_fp16") != NULL;
  g_free (extensions);
}

void
sora_device_info_clear (SoraDeviceInfo *info)
{
  g_free (info->platform_name);
  g_free (info->name);
  g_free (info->vendor);
  g_free (info->driver_version);
  g_free (info->device_version);
  g_free (info->c_version);
  memset (info, 0, sizeof (*info));
}

/* Calls @func for every device; stops early when it returns FALSE. */
static gboolean
for_each_device (
    gboolean (*func) (cl_platform_id, cl_device_id, guint, guint, gpointer),
    gpointer user_data, GError **error)
{
  cl_uint n_platforms = 0;
  cl_platform_id *platforms;
  cl_int status;

  status = clGetPlatformIDs (0, NULL, &n_platforms);
  if (status == CL_PLATFORM_NOT_FOUND_KHR || n_platforms == 0) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_DEVICE,
        "No OpenCL platform is installed (install an OpenCL driver, e.g. "
        "pocl-opencl-icd for the CPU)");
    return FALSE;
  }
  if (!sora_cl_check (status, "clGetPlatformIDs", "platforms", error))
    return FALSE;
  platforms = g_new0 (cl_platform_id, n_platforms);
  clGetPlatformIDs (n_platforms, platforms, NULL);
  for (guint p = 0; p < n_platforms; p++) {
    cl_uint n_devices = 0;
    cl_device_id *devices;

    if (clGetDeviceIDs (platforms[p], CL_DEVICE_TYPE_ALL, 0, NULL,
            &n_devices) != CL_SUCCESS ||
        n_devices == 0)
      continue;
    devices = g_new0 (cl_device_id, n_devices);
    clGetDeviceIDs (platforms[p], CL_DEVICE_TYPE_ALL, n_devices, devices, NULL);
    for (guint d = 0; d < n_devices; d++) {
      if (!func (platforms[p], devices[d], p, d, user_data)) {
        g_free (devices);
        g_free (platforms);
        return TRUE;
      }
    }
    g_free (devices);
  }
  g_free (platforms);
  return TRUE;
}

static gboolean
collect_device (cl_platform_id platform, cl_device_id id, guint p, guint d,
    gpointer user_data)
{
  SoraDeviceInfo info;

  fill_info (&info, platform, id, p, d);
  g_array_append_val ((GArray *)user_data, info);
  return TRUE;
}

GArray *
sora_device_list (GError **error)
{
  GArray *list = g_array_new (FALSE, TRUE, sizeof (SoraDeviceInfo));

  g_array_set_clear_func (list, (GDestroyNotify)sora_device_info_clear);
  if (!for_each_device (collect_device, list, error)) {
    g_array_unref (list);
    return NULL;
  }
  return list;
}

typedef struct
{
  const char *spec;
  cl_platform_id platform;
  cl_device_id id;
  SoraDeviceInfo info;
  gboolean found;
} Match;

static gboolean
spec_matches (const char *spec, const SoraDeviceInfo *info)
{
  guint p, d;
  char end;
  gboolean result;
  char *name, *needle;

  if (g_ascii_strcasecmp (spec, "gpu") == 0)
    return info->is_gpu;
  if (g_ascii_strcasecmp (spec, "cpu") == 0)
    return info->is_cpu;
  if (sscanf (spec, "%u:%u%c", &p, &d, &end) == 2)
    return p == info->platform_index && d == info->device_index;
  name = g_utf8_casefold (info->name, -1);
  needle = g_utf8_casefold (spec, -1);
  result = strstr (name, needle) != NULL;
  g_free (name);
  g_free (needle);
  return result;
}

static gboolean
match_device (cl_platform_id platform, cl_device_id id, guint p, guint d,
    gpointer user_data)
{
  Match *m = user_data;
  SoraDeviceInfo info;

  fill_info (&info, platform, id, p, d);
  if (spec_matches (m->spec, &info)) {
    m->platform = platform;
    m->id = id;
    m->info = info;
    m->found = TRUE;
    return FALSE;
  }
  sora_device_info_clear (&info);
  return TRUE;
}

static char *
describe_devices (void)
{
  GString *s = g_string_new (NULL);
  GArray *list = sora_device_list (NULL);

  if (list == NULL || list->len == 0)
    g_string_append (s, " (none)");
  for (guint i = 0; list && i < list->len; i++) {
    SoraDeviceInfo *info = &g_array_index (list, SoraDeviceInfo, i);
    g_string_append_printf (s, "%s %u:%u \"%s\" (%s)", i ? ";" : "",
        info->platform_index, info->device_index, info->name,
        info->is_gpu       ? "gpu"
            : info->is_cpu ? "cpu"
                           : "other");
  }
  if (list)
    g_array_unref (list);
  return g_string_free (s, FALSE);
}

static void
release_program (gpointer p)
{
  clReleaseProgram (p);
}

static void
release_kernel (gpointer k)
{
  clReleaseKernel (k);
}

SoraDevice *
sora_device_open (const char *spec, GError **error)
{
  Match m = {
    0,
  };
  SoraDevice *dev;
  cl_int status;

  if (spec == NULL)
    spec = g_getenv ("SORA_DEVICE");
  if (spec == NULL || *spec == '\0')
    spec = "auto";

  if (g_ascii_strcasecmp (spec, "auto") == 0) {
    m.spec = "gpu";
    if (!for_each_device (match_device, &m, error))
      return NULL;
    if (!m.found)
      m.spec = "cpu";
  } else {
    m.spec = spec;
  }
  if (!m.found && !for_each_device (match_device, &m, error))
    return NULL;
  if (!m.found) {
    char *all = describe_devices ();
    g_set_error (error, SORA_ERROR, SORA_ERROR_DEVICE,
        "No OpenCL device matches \"%s\"; the devices are:%s", spec, all);
    g_free (all);
    return NULL;
  }

  dev = g_new0 (SoraDevice, 1);
  dev->info = m.info;
  dev->platform = m.platform;
  dev->id = m.id;
  dev->context = clCreateContext (NULL, 1, &dev->id, NULL, NULL, &status);
  if (!sora_cl_check (status, "clCreateContext", dev->info.name, error))
    goto fail;
  dev->queue = clCreateCommandQueue (dev->context, dev->id, 0, &status);
  if (!sora_cl_check (status, "clCreateCommandQueue", dev->info.name, error))
    goto fail;
  dev->programs =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, release_program);
  dev->kernels =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, release_kernel);
  dev->launched = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  return dev;

fail:
  sora_device_free (dev);
  return NULL;
}

void
sora_device_free (SoraDevice *dev)
{
  if (dev == NULL)
    return;
  if (dev->queue)
    clFinish (dev->queue);
  for (guint i = 0; i < SORA_SCRATCH_N; i++)
    sora_device_release (dev, dev->scratch[i], dev->scratch_bytes[i]);
  sora_device_set_cancellable (dev, NULL);
  g_clear_pointer (&dev->kernels, g_hash_table_unref);
  g_clear_pointer (&dev->launched, g_hash_table_unref);
  g_clear_pointer (&dev->programs, g_hash_table_unref);
  if (dev->queue)
    clReleaseCommandQueue (dev->queue);
  if (dev->context)
    clReleaseContext (dev->context);
  sora_device_info_clear (&dev->info);
  g_free (dev);
}

const SoraDeviceInfo *
sora_device_get_info (SoraDevice *dev)
{
  return &dev->info;
}

char *
sora_device_info_report (const SoraDeviceInfo *info)
{
  return g_strdup_printf ("device %u:%u  %s\n"
                          "  platform        %s\n"
                          "  vendor          %s\n"
                          "  type            %s\n"
                          "  driver          %s\n"
                          "  OpenCL          %s (%s)\n"
                          "  compute units   %u\n"
                          "  global memory   %.1f MiB\n"
                          "  local memory    %.0f KiB%s\n"
                          "  max allocation  %.1f MiB\n"
                          "  max work-group  %" G_GSIZE_FORMAT "\n"
                          "  float vector    %u\n"
                          "  cl_khr_fp16     %s\n",
      info->platform_index, info->device_index, info->name, info->platform_name,
      info->vendor,
      info->is_gpu       ? "GPU"
          : info->is_cpu ? "CPU"
                         : "other",
      info->driver_version, info->device_version, info->c_version,
      info->compute_units, info->global_mem / 1048576.0,
      info->local_mem / 1024.0,
      info->local_mem_is_global ? " (emulated in global memory)" : "",
      info->max_alloc / 1048576.0, info->max_work_group,
      info->preferred_float_width, info->has_fp16 ? "yes" : "no");
}

cl_context
sora_device_get_context (SoraDevice *dev)
{
  return dev->context;
}

cl_command_queue
sora_device_get_queue (SoraDevice *dev)
{
  return dev->queue;
}

cl_device_id
sora_device_get_id (SoraDevice *dev)
{
  return dev->id;
}

guint64
sora_device_bytes_current (SoraDevice *dev)
{
  return dev->bytes_current;
}

guint64
sora_device_bytes_peak (SoraDevice *dev)
{
  return dev->bytes_peak;
}

void
sora_device_reset_peak (SoraDevice *dev)
{
  dev->bytes_peak = dev->bytes_current;
}

cl_mem
sora_device_alloc (
    SoraDevice *dev, gsize bytes, const char *what, GError **error)
{
  cl_int status;
  cl_mem buf;

  if (bytes == 0)
    bytes = 4; /* OpenCL refuses empty buffers */
  if (bytes > dev->info.max_alloc) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_OUT_OF_MEMORY,
        "%s needs %.1f MiB in one buffer but device \"%s\" allows at most "
        "%.1f MiB",
        what, bytes / 1048576.0, dev->info.name,
        dev->info.max_alloc / 1048576.0);
    return NULL;
  }
  buf = clCreateBuffer (dev->context, CL_MEM_READ_WRITE, bytes, NULL, &status);
  if (!sora_cl_check (status, "clCreateBuffer", what, error))
    return NULL;
  dev->bytes_current += bytes;
  dev->bytes_peak = MAX (dev->bytes_peak, dev->bytes_current);
  dev->counts.allocations++;
  return buf;
}

cl_mem
sora_device_scratch (SoraDevice *dev, SoraScratch which, gsize bytes,
    const char *what, GError **error)
{
  if (bytes <= dev->scratch_bytes[which])
    return dev->scratch[which];
  /* Commands already queued may still read the old one; OpenCL keeps it
   * alive until they are done. */
  sora_device_release (dev, dev->scratch[which], dev->scratch_bytes[which]);
  dev->scratch_bytes[which] = 0;
  dev->scratch[which] = sora_device_alloc (dev, bytes, what, error);
  if (dev->scratch[which])
    dev->scratch_bytes[which] = bytes;
  return dev->scratch[which];
}

gsize
sora_device_scratch_bytes (SoraDevice *dev)
{
  gsize bytes = 0;

  for (guint i = 0; i < SORA_SCRATCH_N; i++)
    bytes += dev->scratch_bytes[i];
  return bytes;
}

void
sora_device_release (SoraDevice *dev, cl_mem buf, gsize bytes)
{
  if (buf == NULL)
    return;
  if (bytes == 0)
    bytes = 4;
  clReleaseMemObject (buf);
  dev->bytes_current -= MIN (bytes, dev->bytes_current);
}

gboolean
sora_device_read (SoraDevice *dev, cl_mem buf, gsize bytes, void *host,
    const char *what, GError **error)
{
  if (bytes == 0)
    return TRUE; /* OpenCL refuses empty transfers */
  dev->counts.reads++;
  return sora_cl_check (clEnqueueReadBuffer (dev->queue, buf, CL_TRUE, 0, bytes,
                            host, 0, NULL, NULL),
      "clEnqueueReadBuffer", what, error);
}

SoraDeviceCounts
sora_device_get_counts (SoraDevice *dev)
{
  return dev->counts;
}

void
sora_device_set_lease_poison (SoraDevice *dev, gboolean poison)
{
  dev->lease_poison = poison;
}

gboolean
sora_device_get_lease_poison (SoraDevice *dev)
{
  return dev->lease_poison;
}

gboolean
sora_device_finish (SoraDevice *dev, GError **error)
{
  return sora_cl_check (
      clFinish (dev->queue), "clFinish", dev->info.name, error);
}
