/* gst-sora engine: building the embedded kernels, with an on-disk cache
 *
 * A program is common.cl followed by kernels/<name>.cl, built with the given
 * options.  Binaries are cached under $XDG_CACHE_HOME/gst-sora/programs, keyed
 * by a hash of the device, driver, sources and options, so that a second
 * process does not pay the compile.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <glib/gstdio.h>

#include "sora-device-private.h"
#include "sora-kernels.h"

char *
sora_device_cache_dir (const char *sub)
{
  const char *override = g_getenv ("SORA_CACHE_DIR");
  char *dir = override && *override
      ? g_build_filename (override, sub, NULL)
      : g_build_filename (g_get_user_cache_dir (), "gst-sora", sub, NULL);

  g_mkdir_with_parents (dir, 0755);
  return dir;
}

static char *
cache_path (SoraDevice *dev, const char *source, const char *options)
{
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA256);
  char *dir, *file, *path;

  g_checksum_update (sum, (const guchar *)dev->info.platform_name, -1);
  g_checksum_update (sum, (const guchar *)dev->info.name, -1);
  g_checksum_update (sum, (const guchar *)dev->info.driver_version, -1);
  g_checksum_update (sum, (const guchar *)dev->info.device_version, -1);
  g_checksum_update (sum, (const guchar *)source, -1);
  g_checksum_update (sum, (const guchar *)"\n--options--\n", -1);
  g_checksum_update (sum, (const guchar *)options, -1);
  dir = sora_device_cache_dir ("programs");
  file = g_strconcat (g_checksum_get_string (sum), ".bin", NULL);
  path = g_build_filename (dir, file, NULL);
  g_free (file);
  g_free (dir);
  g_checksum_free (sum);
  return path;
}

static char *
build_log (SoraDevice *dev, cl_program program)
{
  size_t size = 0;
  char *log;

  if (clGetProgramBuildInfo (program, dev->id, CL_PROGRAM_BUILD_LOG, 0, NULL,
          &size) != CL_SUCCESS ||
      size == 0)
    return g_strdup ("(no build log)");
  log = g_malloc0 (size + 1);
  clGetProgramBuildInfo (
      program, dev->id, CL_PROGRAM_BUILD_LOG, size, log, NULL);
  return log;
}

static cl_program
load_cached (SoraDevice *dev, const char *path, const char *options)
{
  char *data = NULL;
  gsize len = 0;
  cl_int status, binary_status;
  cl_program program;
  const unsigned char *bin;

  if (!g_file_get_contents (path, &data, &len, NULL))
    return NULL;
  bin = (const unsigned char *)data;
  program = clCreateProgramWithBinary (
      dev->context, 1, &dev->id, &len, &bin, &binary_status, &status);
  g_free (data);
  if (status != CL_SUCCESS || binary_status != CL_SUCCESS)
    return NULL;
  if (clBuildProgram (program, 1, &dev->id, options, NULL, NULL) !=
      CL_SUCCESS) {
    clReleaseProgram (program);
    g_unlink (path); /* stale or damaged: rebuild from source */
    return NULL;
  }
  return program;
}

static void
store_cached (SoraDevice *dev, cl_program program, const char *path)
{
  size_t size = 0;
  unsigned char *bin;
  char *tmp;

  if (clGetProgramInfo (program, CL_PROGRAM_BINARY_SIZES, sizeof (size), &size,
          NULL) != CL_SUCCESS ||
      size == 0)
    return;
  bin = g_malloc (size);
  if (clGetProgramInfo (program, CL_PROGRAM_BINARIES, sizeof (bin), &bin,
          NULL) == CL_SUCCESS) {
    /* Write and rename, so a concurrent reader never sees half a file. */
    tmp = g_strdup_printf ("%s.%u.tmp", path, (guint)g_random_int ());
    if (g_file_set_contents (tmp, (const char *)bin, size, NULL))
      g_rename (tmp, path);
    g_unlink (tmp);
    g_free (tmp);
  }
  g_free (bin);
}

static cl_program
get_program (
    SoraDevice *dev, const char *name, const char *options, GError **error)
{
  char *key = g_strconcat (name, "|", options, NULL);
  cl_program program = g_hash_table_lookup (dev->programs, key);
  const char *common, *body;
  char *source = NULL, *path = NULL, *full_options;
  cl_int status;

  if (program) {
    g_free (key);
    return program;
  }

  common = sora_kernel_source ("common");
  body = sora_kernel_source (name);
  if (body == NULL) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT,
        "No kernel program named \"%s\" is built into the engine", name);
    g_free (key);
    return NULL;
  }
  full_options = g_strdup_printf ("-cl-std=CL1.2 %s%s",
      dev->info.has_fp16 ? "-DSORA_HAS_FP16 " : "", options);
  source = g_strconcat (common, "\n#line 1\n", body, NULL);
  path = cache_path (dev, source, full_options);

  program = load_cached (dev, path, full_options);
  if (program == NULL) {
    const char *src = source;

    program = clCreateProgramWithSource (dev->context, 1, &src, NULL, &status);
    if (!sora_cl_check (status, "clCreateProgramWithSource", name, error))
      goto out;
    status = clBuildProgram (program, 1, &dev->id, full_options, NULL, NULL);
    if (status != CL_SUCCESS) {
      char *log = build_log (dev, program);
      g_set_error (error, SORA_ERROR, SORA_ERROR_OPENCL,
          "clBuildProgram failed for kernels/%s.cl (options \"%s\") on "
          "\"%s\": %s (%d)\n%s",
          name, full_options, dev->info.name, sora_cl_error_name (status),
          status, log);
      g_free (log);
      clReleaseProgram (program);
      program = NULL;
      goto out;
    }
    store_cached (dev, program, path);
  }
  g_hash_table_insert (dev->programs, key, program);
  key = NULL;

out:
  g_free (key);
  g_free (path);
  g_free (source);
  g_free (full_options);
  return program;
}

cl_kernel
sora_device_kernel (SoraDevice *dev, const char *program_name,
    const char *options, const char *kernel_name, GError **error)
{
  char *key;
  cl_kernel kernel;
  cl_program program;
  cl_int status;

  if (options == NULL)
    options = "";
  key = g_strconcat (program_name, "|", options, "|", kernel_name, NULL);
  kernel = g_hash_table_lookup (dev->kernels, key);
  if (kernel) {
    g_free (key);
    return kernel;
  }
  program = get_program (dev, program_name, options, error);
  if (program == NULL) {
    g_free (key);
    return NULL;
  }
  kernel = clCreateKernel (program, kernel_name, &status);
  if (status != CL_SUCCESS) {
    char *what = g_strdup_printf (
        "kernel %s in kernels/%s.cl", kernel_name, program_name);
    sora_cl_check (status, "clCreateKernel", what, error);
    g_free (what);
    g_free (key);
    return NULL;
  }
  g_hash_table_insert (dev->kernels, key, kernel);
  return kernel;
}
