/* gst-sora tests: dtype conversion on the device against the host's
 * round-to-nearest-even conversions, and those against exact references.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include "sora-test-util.h"

/* Known encodings, from IEEE 754 binary16 and bfloat16. */
static void
test_host_known_values (void)
{
  g_assert_cmphex (sora_f32_to_f16 (1.0f), ==, 0x3c00);
  g_assert_cmphex (sora_f32_to_f16 (-2.0f), ==, 0xc000);
  g_assert_cmphex (sora_f32_to_f16 (65504.0f), ==, 0x7bff);
  g_assert_cmphex (sora_f32_to_f16 (65520.0f), ==, 0x7c00); /* rounds up */
  g_assert_cmphex (sora_f32_to_f16 (5.960464477539063e-08f), ==, 0x0001);
  g_assert_cmphex (
      sora_f32_to_f16 (1.0f + 1.0f / 2048), ==, 0x3c00); /* tie, even */
  g_assert_cmphex (sora_f32_to_f16 (1.0f + 3.0f / 2048), ==, 0x3c02);
  g_assert_cmpfloat (sora_f16_to_f32 (0x3555), ==, 0.333251953125f);
  g_assert_cmpfloat (sora_f16_to_f32 (0x0001), ==, 5.960464477539063e-08f);
  g_assert_cmphex (sora_f32_to_bf16 (1.0f), ==, 0x3f80);
  g_assert_cmphex (sora_f32_to_bf16 (3.140625f), ==, 0x4049);
  g_assert_cmpfloat (sora_bf16_to_f32 (0xc049), ==, -3.140625f);
  g_assert_true (isnan (sora_f16_to_f32 (sora_f32_to_f16 (NAN))));
}

/* Every f16 value survives f16 -> f32 -> f16. */
static void
test_host_f16_roundtrip (void)
{
  for (guint h = 0; h < 0x10000; h++) {
    guint16 back = sora_f32_to_f16 (sora_f16_to_f32 (h));
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
      continue; /* nan payloads may change */
    g_assert_cmphex (back, ==, h);
  }
}

static void
check_device_conversion (SoraDType dtype, gsize n)
{
  GError *error = NULL;
  float *x = sora_test_random (n, -70000.0f, 70000.0f);
  gsize shape[] = { n };
  SoraTensor *src, *half, *back;
  guint16 *host_half = g_new (guint16, n), *dev_half = g_new (guint16, n);
  float *out;

  /* Small magnitudes too, for subnormals. */
  for (gsize i = 0; i < n; i += 3)
    x[i] *= 1e-9f;
  src = sora_test_upload ("src", SORA_DTYPE_F32, x, 1, shape);
  half = sora_tensor_new (sora_test_device (), "half", dtype, 1, shape, &error);
  g_assert_no_error (error);
  back = sora_tensor_new (
      sora_test_device (), "back", SORA_DTYPE_F32, 1, shape, &error);
  g_assert_no_error (error);

  g_assert_true (sora_op_convert (src, half, &error));
  g_assert_no_error (error);
  sora_tensor_read (half, dev_half, &error);
  g_assert_no_error (error);
  sora_convert_from_f32 (dtype, x, host_half, n);
  for (gsize i = 0; i < n; i++)
    if (host_half[i] != dev_half[i])
      g_error ("%s: element %" G_GSIZE_FORMAT " of %g: device %04x, host "
               "%04x",
          sora_dtype_name (dtype), i, x[i], dev_half[i], host_half[i]);

  g_assert_true (sora_op_convert (half, back, &error));
  g_assert_no_error (error);
  out = sora_test_download (back);
  for (gsize i = 0; i < n; i++) {
    float want = dtype == SORA_DTYPE_F16 ? sora_f16_to_f32 (host_half[i])
                                         : sora_bf16_to_f32 (host_half[i]);
    g_assert_cmpfloat (out[i], ==, want);
  }
  sora_tensor_free (src);
  sora_tensor_free (half);
  sora_tensor_free (back);
  g_free (x);
  g_free (out);
  g_free (host_half);
  g_free (dev_half);
}

static void
test_device_f16 (void)
{
  check_device_conversion (SORA_DTYPE_F16, 1);
  check_device_conversion (SORA_DTYPE_F16, 1000);
  check_device_conversion (SORA_DTYPE_F16, 65537);
}

static void
test_device_bf16 (void)
{
  check_device_conversion (SORA_DTYPE_BF16, 3);
  check_device_conversion (SORA_DTYPE_BF16, 4099);
}

static void
test_size_mismatch (void)
{
  GError *error = NULL;
  gsize a_shape[] = { 4 }, b_shape[] = { 5 };
  float zeros[5] = { 0 };
  SoraTensor *a = sora_test_upload ("a", SORA_DTYPE_F32, zeros, 1, a_shape);
  SoraTensor *b = sora_test_upload ("b", SORA_DTYPE_F16, zeros, 1, b_shape);

  g_assert_false (sora_op_convert (a, b, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "a [4] f32"));
  g_clear_error (&error);
  sora_tensor_free (a);
  sora_tensor_free (b);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/convert/host-known", test_host_known_values);
  g_test_add_func ("/convert/host-f16-roundtrip", test_host_f16_roundtrip);
  g_test_add_func ("/convert/device-f16", test_device_f16);
  g_test_add_func ("/convert/device-bf16", test_device_bf16);
  g_test_add_func ("/convert/size-mismatch", test_size_mismatch);
  return sora_test_run ();
}
