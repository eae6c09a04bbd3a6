/* gst-sora tests: device selection, the program cache, memory accounting
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "sora-ops.h"
#include "sora-test-util.h"

static void
test_select_specs (void)
{
  GError *error = NULL;
  SoraDevice *dev = sora_test_device ();
  const SoraDeviceInfo *info = sora_device_get_info (dev);
  char *index_spec =
      g_strdup_printf ("%u:%u", info->platform_index, info->device_index);
  char *upper = g_ascii_strup (info->name, -1);
  const char *specs[] = { index_spec, upper, info->is_gpu ? "gpu" : "cpu",
    "auto" };

  for (guint i = 0; i < G_N_ELEMENTS (specs); i++) {
    SoraDevice *d = sora_device_open (specs[i], &error);
    g_assert_no_error (error);
    g_assert_nonnull (d);
    if (i < 3)
      g_assert_cmpstr (sora_device_get_info (d)->name, ==, info->name);
    sora_device_free (d);
  }
  g_free (index_spec);
  g_free (upper);
}

static void
test_unknown_device_lists_devices (void)
{
  GError *error = NULL;
  const SoraDeviceInfo *info = sora_device_get_info (sora_test_device ());
  SoraDevice *d = sora_device_open ("no-such-device-xyz", &error);

  g_assert_null (d);
  g_assert_error (error, SORA_ERROR, SORA_ERROR_DEVICE);
  g_assert_nonnull (strstr (error->message, "no-such-device-xyz"));
  g_assert_nonnull (strstr (error->message, info->name));
  g_clear_error (&error);

  d = sora_device_open ("7:3", &error);
  g_assert_null (d);
  g_assert_error (error, SORA_ERROR, SORA_ERROR_DEVICE);
  g_clear_error (&error);
}

static void
test_report (void)
{
  const SoraDeviceInfo *info = sora_device_get_info (sora_test_device ());
  char *report = sora_device_info_report (info);

  g_test_message ("%s", report);
  g_assert_nonnull (strstr (report, info->name));
  g_assert_nonnull (strstr (report, "cl_khr_fp16"));
  g_assert_cmpuint (info->compute_units, >, 0);
  g_assert_cmpuint (info->global_mem, >, 0);
  g_assert_cmpuint (info->max_alloc, >, 0);
  g_free (report);
}

static void
test_memory_accounting (void)
{
  GError *error = NULL;
  SoraDevice *dev = sora_test_device ();
  guint64 before = sora_device_bytes_current (dev);
  SoraTensor *a, *b;

  sora_device_reset_peak (dev);
  a = sora_tensor_new_v (
      dev, "a", SORA_DTYPE_F32, &error, 2, (gsize)100, (gsize)10);
  g_assert_no_error (error);
  b = sora_tensor_new_v (dev, "b", SORA_DTYPE_BF16, &error, 1, (gsize)7);
  g_assert_no_error (error);
  g_assert_cmpuint (sora_device_bytes_current (dev), ==, before + 4000 + 14);
  sora_tensor_free (a);
  g_assert_cmpuint (sora_device_bytes_current (dev), ==, before + 14);
  g_assert_cmpuint (sora_device_bytes_peak (dev), ==, before + 4014);
  sora_tensor_free (b);
  g_assert_cmpuint (sora_device_bytes_current (dev), ==, before);
}

/* A role that takes a tensor another holds, or ends where it does not
 * hold it, is an error naming both; with poisoning on, a read of a tensor
 * after its role ended (the violation sora-wan-dit.c's leases guard
 * against, made here on purpose) gives NaN. */
static void
test_lease (void)
{
  GError *error = NULL;
  SoraDevice *dev = sora_test_device ();
  float ones[4] = { 1, 1, 1, 1 }, got[4];
  SoraTensor *x =
      sora_test_upload ("x", SORA_DTYPE_F32, ones, 1, (gsize[]){ 4 });
  SoraTensor *y =
      sora_test_upload ("y", SORA_DTYPE_F32, ones, 1, (gsize[]){ 4 });
  SoraTensor *out =
      sora_test_upload ("out", SORA_DTYPE_F32, ones, 1, (gsize[]){ 4 });

  g_assert_true (sora_tensor_lease (y, "sum", &error));
  g_assert_false (sora_tensor_lease (y, "product", &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "\"product\""));
  g_assert_nonnull (strstr (error->message, "\"sum\" still holds it"));
  g_clear_error (&error);
  g_assert_false (sora_tensor_unlease (y, "product", &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  sora_device_set_lease_poison (dev, TRUE);
  g_assert_true (sora_op_add (x, x, y, &error));
  g_assert_true (sora_tensor_unlease (y, "sum", &error));
  /* the read after "sum" ended */
  g_assert_true (sora_op_add (y, x, out, &error));
  sora_device_set_lease_poison (dev, FALSE);
  g_assert_no_error (error);
  g_assert_true (sora_tensor_read_f32 (out, got, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 4; i++)
    g_assert_true (isnan (got[i]));
  g_assert_false (sora_tensor_unlease (y, "sum", &error));
  g_assert_nonnull (strstr (error->message, "nothing holds it"));
  g_clear_error (&error);

  sora_tensor_free (x);
  sora_tensor_free (y);
  sora_tensor_free (out);
}

static SoraTensor *
arena_f32 (SoraArena *arena, gsize n)
{
  GError *error = NULL;
  SoraTensor *t = sora_tensor_new_in (
      arena, sora_test_device (), "arena use", SORA_DTYPE_F32, 1, &n, &error);

  g_assert_no_error (error);
  return t;
}

/* One repetition: uses of 100, 200, @third and 400 bytes, each but the
 * last overlapping the next (a live peak of @third + 400 bytes); with
 * @hold_first the first is freed last instead.  Live uses never share a
 * buffer.  Returns the device allocations it made. */
static guint64
arena_repeat (SoraArena *arena, gsize third, gboolean hold_first)
{
  SoraDevice *dev = sora_test_device ();
  guint64 before = sora_device_get_counts (dev).allocations;
  SoraTensor *x1, *x2, *x3, *x4;

  sora_arena_begin (arena);
  x1 = arena_f32 (arena, 25);
  x2 = arena_f32 (arena, 50);
  g_assert_true (x1->buf && x2->buf && x1->buf != x2->buf);
  if (!hold_first)
    g_clear_pointer (&x1, sora_tensor_free);
  x3 = arena_f32 (arena, third / 4);
  g_assert_true (x3->buf != x2->buf && (x1 == NULL || x3->buf != x1->buf));
  sora_tensor_free (x2);
  x4 = arena_f32 (arena, 100);
  g_assert_true (x4->buf != x3->buf && (x1 == NULL || x4->buf != x1->buf));
  sora_tensor_free (x3);
  sora_tensor_free (x4);
  sora_tensor_free (x1);
  sora_arena_end (arena);
  return sora_device_get_counts (dev).allocations - before;
}

/* An arena plans a repetition into buffers as large as its live peak (the
 * 100-byte use shares the third's buffer, the 200-byte one the 400-byte
 * one's), replays it without allocating, plans anew after a departure,
 * falls back to buffers of their own when a planned one is still in use,
 * and keeps no plan above its cap. */
static void
test_arena (void)
{
  SoraDevice *dev = sora_test_device ();
  guint64 held = sora_device_bytes_current (dev);
  SoraArena *arena = sora_arena_new (dev, 700);
  SoraTensor *late;

  /* 4 uses of their own, then the plan's 2 buffers */
  g_assert_cmpuint (arena_repeat (arena, 200, FALSE), ==, 6);
  g_assert_cmpuint (sora_arena_bytes (arena), ==, 600);
  sora_device_reset_peak (dev);
  g_assert_cmpuint (arena_repeat (arena, 200, FALSE), ==, 0);
  g_assert_cmpuint (arena_repeat (arena, 200, FALSE), ==, 0);
  g_assert_cmpuint (sora_device_bytes_peak (dev), ==, held + 600);
  /* another third size: its own from there on, then a plan of 700 */
  g_assert_cmpuint (arena_repeat (arena, 300, FALSE), ==, 2 + 2);
  g_assert_cmpuint (sora_arena_bytes (arena), ==, 700);
  g_assert_cmpuint (arena_repeat (arena, 300, FALSE), ==, 0);
  /* the first use's buffer is the third's: busy, so the third gets its own
   * (and the plan is remade: the first now meets every other use) */
  g_assert_cmpuint (arena_repeat (arena, 300, TRUE), >, 0);
  g_assert_cmpuint (sora_arena_bytes (arena), <=, 700);
  /* a planned buffer used past its repetition: no plan until it is back */
  g_assert_cmpuint (arena_repeat (arena, 200, FALSE), >, 0);
  g_assert_cmpuint (arena_repeat (arena, 200, FALSE), ==, 0);
  sora_arena_begin (arena);
  late = arena_f32 (arena, 25);
  sora_arena_end (arena);
  g_assert_cmpuint (arena_repeat (arena, 200, FALSE), ==, 4);
  sora_tensor_free (late);
  g_assert_cmpuint (arena_repeat (arena, 200, FALSE), ==, 4 + 2);
  g_assert_cmpuint (arena_repeat (arena, 200, FALSE), ==, 0);
  sora_arena_release (arena);
  g_assert_cmpuint (sora_arena_bytes (arena), ==, 0);
  g_assert_cmpuint (sora_device_bytes_current (dev), ==, held);
  sora_arena_free (arena);

  /* a live peak of 600 over a cap of 500: never planned */
  arena = sora_arena_new (dev, 500);
  for (guint i = 0; i < 2; i++)
    g_assert_cmpuint (arena_repeat (arena, 200, FALSE), ==, 4);
  g_assert_cmpuint (sora_arena_bytes (arena), ==, 0);
  sora_arena_free (arena);
  g_assert_cmpuint (sora_device_bytes_current (dev), ==, held);
}

static void
test_too_large_allocation (void)
{
  GError *error = NULL;
  SoraDevice *dev = sora_test_device ();
  gsize n = sora_device_get_info (dev)->max_alloc / 4 + 1;
  SoraTensor *t = sora_tensor_new_v (dev, "huge", SORA_DTYPE_F32, &error, 1, n);

  g_assert_null (t);
  g_assert_error (error, SORA_ERROR, SORA_ERROR_OUT_OF_MEMORY);
  g_assert_nonnull (strstr (error->message, "huge"));
  g_clear_error (&error);
}

static void
test_program_cache (void)
{
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("sora-cache-XXXXXX", &error);
  char *programs;
  GDir *d;
  guint files = 0;
  SoraDevice *dev;

  g_assert_no_error (error);
  g_setenv ("SORA_CACHE_DIR", dir, TRUE);
  /* A fresh device builds and stores; a second one loads the binary. */
  for (int round = 0; round < 2; round++) {
    dev = sora_device_open (NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (sora_device_kernel (
        dev, "convert", "-DSTORAGE_F16", "convert_to_f32", &error));
    g_assert_no_error (error);
    sora_device_free (dev);
  }
  programs = g_build_filename (dir, "programs", NULL);
  d = g_dir_open (programs, 0, &error);
  g_assert_no_error (error);
  for (const char *name; (name = g_dir_read_name (d)); files++) {
    char *path = g_build_filename (programs, name, NULL);
    g_assert_true (g_str_has_suffix (name, ".bin"));
    g_unlink (path);
    g_free (path);
  }
  g_dir_close (d);
  g_assert_cmpuint (files, ==, 1);
  g_rmdir (programs);
  g_rmdir (dir);
  g_unsetenv ("SORA_CACHE_DIR");
  g_free (programs);
  g_free (dir);
}

static void
test_unknown_kernel (void)
{
  GError *error = NULL;
  SoraDevice *dev = sora_test_device ();

  g_assert_null (
      sora_device_kernel (dev, "no_such_program", NULL, "k", &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (
      sora_device_kernel (dev, "convert", NULL, "no_such_kernel", &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_OPENCL);
  g_assert_nonnull (strstr (error->message, "no_such_kernel"));
  g_assert_nonnull (strstr (error->message, "CL_INVALID_KERNEL_NAME"));
  g_clear_error (&error);
}

static void
test_build_error_names_program (void)
{
  GError *error = NULL;
  SoraDevice *dev = sora_test_device ();

  /* A define that breaks the source must come back as a build log. */
  g_assert_null (sora_device_kernel (
      dev, "convert", "-Dload_f16=1", "convert_to_f32", &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_OPENCL);
  g_assert_nonnull (strstr (error->message, "kernels/convert.cl"));
  g_assert_nonnull (strstr (error->message, "CL_BUILD_PROGRAM_FAILURE"));
  g_clear_error (&error);
}

/* Launches get fixed work-groups: an odd global range is padded (the kernel
 * checks its bounds), other ranges add no variant to compile, a request
 * beyond the kernel's limit is shrunk, and one that sizes local memory is
 * refused by name instead. */
static void
test_work_groups (void)
{
  GError *error = NULL;
  SoraDevice *dev = sora_test_device ();
  const SoraDeviceInfo *info = sora_device_get_info (dev);
  gsize n = 1000003, shape[1] = { n }, small = 17, huge = 1 << 24;
  gsize too_many[2] = { 2 * info->max_work_group, 1 }, rows[2];
  SoraTensor *src =
      sora_tensor_new (dev, "src", SORA_DTYPE_F32, 1, shape, &error);
  SoraTensor *dst =
      sora_tensor_new (dev, "dst", SORA_DTYPE_F32, 1, shape, &error);
  float *host = g_new (float, n), *back = g_new0 (float, n);
  guint variants;

  g_assert_no_error (error);
  for (gsize i = 0; i < n; i++)
    host[i] = i * 0.5f;
  g_assert_true (sora_tensor_write (src, host, &error));
  g_assert_true (sora_device_run (dev, "convert", NULL, "convert_to_f32", 1, &n,
      NULL, &error, SORA_MEM (src->buf), SORA_MEM (dst->buf), SORA_INT (n),
      SORA_END));
  g_assert_no_error (error);
  g_assert_true (sora_tensor_read (dst, back, &error));
  g_assert_cmpmem (back, n * sizeof (float), host, n * sizeof (float));
  variants = sora_device_variants (dev);
  g_assert_true (sora_device_run (dev, "convert", NULL, "convert_to_f32", 1,
      &small, NULL, &error, SORA_MEM (src->buf), SORA_MEM (dst->buf),
      SORA_INT (small), SORA_END));
  g_assert_cmpuint (sora_device_variants (dev), ==, variants);
  g_assert_true (sora_device_run (dev, "convert", NULL, "convert_to_f32", 1,
      &small, &huge, &error, SORA_MEM (src->buf), SORA_MEM (dst->buf),
      SORA_INT (small), SORA_END));
  /* before the process may exit: PoCL compiles the new variant meanwhile */
  g_assert_true (sora_device_finish (dev, &error));
  g_assert_no_error (error);

  rows[0] = too_many[0];
  rows[1] = 1;
  g_assert_false (sora_device_run (dev, "norm", NULL, "softmax_rows", 2, rows,
      too_many, &error, SORA_MEM (src->buf), SORA_MEM (dst->buf), SORA_INT (16),
      SORA_LOCAL (too_many[0] * sizeof (float)), SORA_END));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_DEVICE);
  g_assert_nonnull (strstr (error->message, "softmax_rows"));
  g_assert_nonnull (strstr (error->message, info->name));
  g_clear_error (&error);
  g_free (host);
  g_free (back);
  sora_tensor_free (src);
  sora_tensor_free (dst);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/device/select", test_select_specs);
  g_test_add_func ("/device/unknown", test_unknown_device_lists_devices);
  g_test_add_func ("/device/report", test_report);
  g_test_add_func ("/device/memory", test_memory_accounting);
  g_test_add_func ("/device/lease", test_lease);
  g_test_add_func ("/device/arena", test_arena);
  g_test_add_func ("/device/too-large", test_too_large_allocation);
  g_test_add_func ("/device/program-cache", test_program_cache);
  g_test_add_func ("/device/unknown-kernel", test_unknown_kernel);
  g_test_add_func ("/device/build-error", test_build_error_names_program);
  g_test_add_func ("/device/work-groups", test_work_groups);
  return sora_test_run ();
}
