/* gst-sora tests: the safetensors reader on files written here, and on every
 * kind of damage, each error naming the file and the tensor.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>
#include <string.h>

#include "sora-error.h"
#include "sora-safetensors.h"
#include "sora-test-util.h"

static char *tmpdir;

/* Random bytes for @n elements of @dtype (g_free). */
static guint8 *
random_bytes (SoraSafeDType dtype, gsize n)
{
  gsize nbytes = n * sora_safe_dtype_size (dtype);
  float *f = sora_test_random (nbytes / 4 + 1, -1e6f, 1e6f);
  guint8 *b = g_malloc (nbytes + 1);

  memcpy (b, f, nbytes);
  g_free (f);
  return b;
}

static void
test_roundtrip (void)
{
  g_autofree char *path = g_build_filename (tmpdir, "rt.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (SoraSafetensors) file = NULL;
  SoraSafetensor in[] = {
    { .name = "a.weight",
        .dtype = SORA_SAFE_F32,
        .ndim = 2,
        .shape = { 3, 7 } },
    { .name = "b", .dtype = SORA_SAFE_F16, .ndim = 1, .shape = { 13 } },
    { .name = "c.\"odd\" name",
        .dtype = SORA_SAFE_BF16,
        .ndim = 3,
        .shape = { 1, 5, 1 } },
    { .name = "scalar", .dtype = SORA_SAFE_F32, .ndim = 0 },
    { .name = "empty", .dtype = SORA_SAFE_I8, .ndim = 2, .shape = { 0, 4 } },
    { .name = "u8", .dtype = SORA_SAFE_U8, .ndim = 1, .shape = { 3 } },
    { .name = "f8", .dtype = SORA_SAFE_F8_E4M3, .ndim = 1, .shape = { 2 } },
  };
  guint n = G_N_ELEMENTS (in);

  for (guint i = 0; i < n; i++) {
    gsize numel = 1;
    for (guint d = 0; d < in[i].ndim; d++)
      numel *= in[i].shape[d];
    in[i].numel = numel;
    in[i].data = random_bytes (in[i].dtype, numel);
  }
  g_assert_true (sora_safetensors_write (path, in, n, &error));
  g_assert_no_error (error);

  file = sora_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (sora_safetensors_get_n_tensors (file), ==, n);
  g_assert_cmpstr (sora_safetensors_get_path (file), ==, path);
  for (guint i = 0; i < n; i++) {
    const SoraSafetensor *t = sora_safetensors_find (file, in[i].name);
    g_assert_nonnull (t);
    g_assert_cmpstr (t->name, ==, in[i].name);
    g_assert_cmpstr (t->file, ==, path);
    g_assert_cmpint (t->dtype, ==, in[i].dtype);
    g_assert_cmpuint (t->ndim, ==, in[i].ndim);
    for (guint d = 0; d < t->ndim; d++)
      g_assert_cmpuint (t->shape[d], ==, in[i].shape[d]);
    g_assert_cmpuint (t->numel, ==, in[i].numel);
    g_assert_cmpuint (
        t->nbytes, ==, in[i].numel * sora_safe_dtype_size (in[i].dtype));
    g_assert_cmpmem (t->data, t->nbytes, in[i].data, t->nbytes);
  }
  /* Data-offset order is the written order here. */
  g_assert_cmpstr (sora_safetensors_get_tensor (file, 0)->name, ==, "a.weight");
  g_assert_null (sora_safetensors_find (file, "nope"));
  g_assert_true (sora_safe_dtype_is_weight (SORA_SAFE_BF16));
  g_assert_false (sora_safe_dtype_is_weight (SORA_SAFE_I8));
  {
    g_autofree char *s =
        sora_safetensor_describe (sora_safetensors_find (file, "a.weight"));
    g_assert_cmpstr (s, ==, "a.weight [3, 7] F32");
  }
  for (guint i = 0; i < n; i++)
    g_free ((gpointer)in[i].data);
}

/* 8-byte length, then @header, then @data_len bytes (g_free). */
static guint8 *
raw_file (const char *header, gsize data_len, gsize *len)
{
  gsize hl = strlen (header);
  guint8 *b = g_malloc0 (8 + hl + data_len);

  for (int i = 0; i < 8; i++)
    b[i] = (guint8)((guint64)hl >> (8 * i));
  memcpy (b + 8, header, hl);
  *len = 8 + hl + data_len;
  return b;
}

static void
test_metadata (void)
{
  g_autoptr (GError) error = NULL;
  gsize len;
  g_autofree guint8 *b = raw_file (
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"x\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}  ",
      4, &len);
  g_autoptr (SoraSafetensors) f =
      sora_safetensors_new_from_data (b, len, "mem", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (sora_safetensors_get_metadata (f, "format"), ==, "pt");
  g_assert_null (sora_safetensors_get_metadata (f, "x"));
  g_assert_cmpuint (sora_safetensors_get_n_tensors (f), ==, 1);
}

typedef struct
{
  const char *header;
  gsize data_len;
  const char *needle; /* the tensor or key the message must name */
  const char *why; /* and a word of what is wrong */
} Bad;

static const Bad bad_headers[] = {
  { "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", 8,
      "header", "invalid JSON" },
  { "[1, 2]", 0, "header", "not an object" },
  { "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 7,
      "\"w\"", "outside" },
  { "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8,
      "\"w\"", "outside" },
  { "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8,
      "\"w\"", "outside" },
  { "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 16,
      "\"w\"", "need 12" },
  { "{\"w\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,4]}}", 8,
      "\"w\"", "need 8" },
  { "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8,
      "\"w\"", "need 4" },
  { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
      12, "\"b\"", "overlaps tensor \"a\"" },
  { "{\"w\":{\"dtype\":\"F7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
      "\"w\"", "unknown dtype \"F7\"" },
  { "{\"w\":{\"dtype\":3,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "\"w\"",
      "dtype" },
  { "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
      "\"w\"", "non-negative" },
  { "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8,
      "\"w\"", "non-negative" },
  { "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
    "\"data_offsets\":[0,8]}}",
      8, "\"w\"", "overflows" },
  { "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
    "\"data_offsets\":[0,4]}}",
      4, "\"w\"", "dimensions" },
  { "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "\"w\"", "data_offsets" },
  { "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8,
      "\"w\"", "data_offsets" },
  { "{\"w\":[1]}", 8, "\"w\"", "not an object" },
  { "{\"__metadata__\":{\"k\":1}}", 0, "\"k\"", "not a string" },
  { "{\"w\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", 0,
      "header", "nested" },
};

static void
check_bad_header (const Bad *bad)
{
  g_autoptr (GError) error = NULL;
  gsize len;
  g_autofree guint8 *b = raw_file (bad->header, bad->data_len, &len);
  g_autoptr (SoraSafetensors) f =
      sora_safetensors_new_from_data (b, len, "bad.safetensors", &error);

  g_assert_null (f);
  g_assert_error (error, SORA_ERROR, SORA_ERROR_FORMAT);
  if (!strstr (error->message, "bad.safetensors") ||
      !strstr (error->message, bad->needle) ||
      !strstr (error->message, bad->why))
    g_error ("header %s: message \"%s\" lacks \"%s\" or \"%s\"", bad->header,
        error->message, bad->needle, bad->why);
}

static void
test_bad_headers (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (bad_headers); i++)
    check_bad_header (&bad_headers[i]);
}

static void
check_bad_length (const guint8 *b, gsize len, const char *why)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SoraSafetensors) f =
      sora_safetensors_new_from_data (b, len, "len.safetensors", &error);

  g_assert_null (f);
  g_assert_error (error, SORA_ERROR, SORA_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "len.safetensors"));
  if (!strstr (error->message, why))
    g_error ("\"%s\" lacks \"%s\"", error->message, why);
}

static void
test_bad_lengths (void)
{
  guint8 b[64] = { 0 };

  check_bad_length (b, 5, "too short");
  b[0] = 100; /* header of 100 bytes in a 64-byte file */
  check_bad_length (b, sizeof (b), "past the end");
  b[0] = 0;
  b[3] = 0x10; /* 256 MiB */
  check_bad_length (b, sizeof (b), "over 100 MB");
  b[3] = 0;
  b[7] = 0x80; /* 2^63: no overflow in the sum */
  check_bad_length (b, sizeof (b), "over 100 MB");
  b[7] = 0;
  check_bad_length (b, sizeof (b), "JSON"); /* empty header */
}

/* A file cut short: the last tensor's bytes are past the end. */
static void
test_truncated_file (void)
{
  g_autofree char *path = g_build_filename (tmpdir, "cut.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  float data[6] = { 1, 2, 3, 4, 5, 6 };
  SoraSafetensor in[] = {
    { .name = "first",
        .dtype = SORA_SAFE_F32,
        .ndim = 1,
        .shape = { 2 },
        .data = (guint8 *)data },
    { .name = "last",
        .dtype = SORA_SAFE_F32,
        .ndim = 1,
        .shape = { 4 },
        .data = (guint8 *)(data + 2) },
  };
  gsize len;
  SoraSafetensors *f;

  g_assert_true (sora_safetensors_write (path, in, 2, &error));
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (path, contents, len - 3, NULL));
  f = sora_safetensors_open (path, &error);
  g_assert_null (f);
  g_assert_error (error, SORA_ERROR, SORA_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, "\"last\""));
  g_clear_error (&error);

  f = sora_safetensors_open ("/nonexistent/x.safetensors", &error);
  g_assert_null (f);
  g_assert_error (error, SORA_ERROR, SORA_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "/nonexistent/x.safetensors"));
}

/* Error paths many times over: run under valgrind or watch the RSS. */
static void
test_error_loop (void)
{
  for (guint r = 0; r < 300; r++)
    for (guint i = 0; i < G_N_ELEMENTS (bad_headers); i++)
      check_bad_header (&bad_headers[i]);
}

int
main (int argc, char **argv)
{
  int ret;

  sora_test_init (&argc, &argv);
  tmpdir = g_dir_make_tmp ("sora-safetensors-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);
  g_test_add_func ("/safetensors/roundtrip", test_roundtrip);
  g_test_add_func ("/safetensors/metadata", test_metadata);
  g_test_add_func ("/safetensors/bad-headers", test_bad_headers);
  g_test_add_func ("/safetensors/bad-lengths", test_bad_lengths);
  g_test_add_func ("/safetensors/truncated-file", test_truncated_file);
  g_test_add_func ("/safetensors/error-loop", test_error_loop);
  ret = g_test_run ();
  {
    g_autoptr (GDir) d = g_dir_open (tmpdir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name (d))) {
      g_autofree char *p = g_build_filename (tmpdir, name, NULL);
      g_unlink (p);
    }
  }
  g_rmdir (tmpdir);
  g_free (tmpdir);
  return ret;
}
