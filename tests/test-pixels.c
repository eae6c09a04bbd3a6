/* gst-sora tests: frames to RGB/RGBA/I420/NV12 against a double reference
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include "sora-op-pixels.h"
#include "sora-test-util.h"

static double
unit (double x)
{
  return CLAMP ((x + 1.0) / 2.0, 0.0, 1.0);
}

static guint8
byte (double v)
{
  return (guint8)CLAMP (floor (v + 0.5), 0.0, 255.0);
}

/* The reference: one frame's pixels, as sora-engine.h documents them. */
static void
reference (const float *src, gsize n, gsize h, gsize w, SoraPixelFormat fmt,
    guint8 *out)
{
  gsize plane = n * h * w, fsize = sora_pixel_frame_size (fmt, w, h);
  const double kr = 0.2126, kg = 0.7152, kb = 0.0722;

  for (gsize f = 0; f < n; f++) {
    guint8 *o = out + f * fsize;
    for (gsize y = 0; y < h; y++) {
      for (gsize x = 0; x < w; x++) {
        gsize i = (f * h + y) * w + x;
        double r = unit (src[i]), g = unit (src[plane + i]),
               b = unit (src[2 * plane + i]);
        if (fmt == SORA_PIXEL_RGB || fmt == SORA_PIXEL_RGBA) {
          gsize c = fmt == SORA_PIXEL_RGB ? 3 : 4;
          o[(y * w + x) * c] = byte (r * 255);
          o[(y * w + x) * c + 1] = byte (g * 255);
          o[(y * w + x) * c + 2] = byte (b * 255);
          if (c == 4)
            o[(y * w + x) * c + 3] = 255;
        } else {
          o[y * w + x] = byte (16 + 219 * (kr * r + kg * g + kb * b));
        }
      }
    }
    if (fmt != SORA_PIXEL_I420 && fmt != SORA_PIXEL_NV12)
      continue;
    for (gsize by = 0; by < h / 2; by++) {
      for (gsize bx = 0; bx < w / 2; bx++) {
        double r = 0, g = 0, b = 0, ys;
        for (int k = 0; k < 4; k++) {
          gsize i = (f * h + 2 * by + k / 2) * w + 2 * bx + k % 2;
          r += unit (src[i]) / 4;
          g += unit (src[plane + i]) / 4;
          b += unit (src[2 * plane + i]) / 4;
        }
        ys = kr * r + kg * g + kb * b;
        guint8 cb = byte (128 + 224 * (b - ys) / 1.8556);
        guint8 cr = byte (128 + 224 * (r - ys) / 1.5748);
        guint8 *uv = o + w * h;
        if (fmt == SORA_PIXEL_NV12) {
          uv[(by * (w / 2) + bx) * 2] = cb;
          uv[(by * (w / 2) + bx) * 2 + 1] = cr;
        } else {
          uv[by * (w / 2) + bx] = cb;
          uv[(w / 2) * (h / 2) + by * (w / 2) + bx] = cr;
        }
      }
    }
  }
}

static void
check (SoraPixelFormat fmt, gsize n, gsize h, gsize w)
{
  GError *error = NULL;
  gsize shape[] = { 3, n, h, w };
  /* Values beyond [-1, 1] check the clamp. */
  float *src = sora_test_random (3 * n * h * w, -1.2f, 1.2f);
  SoraTensor *frames =
      sora_test_upload ("frames", SORA_DTYPE_F32, src, 4, shape);
  gsize bytes = n * sora_pixel_frame_size (fmt, w, h);
  SoraTensor *dst = sora_tensor_new_v (sora_test_device (), "pixels",
      SORA_DTYPE_F32, &error, 1, (bytes + 3) / 4);
  guint8 *got = g_malloc (dst->nbytes), *want = g_malloc (bytes);
  gsize off_by_one = 0;

  g_assert_no_error (error);
  g_assert_true (
      sora_op_to_pixels (frames, fmt, dst->buf, dst->nbytes, &error));
  g_assert_no_error (error);
  sora_tensor_read (dst, got, &error);
  g_assert_no_error (error);
  reference (src, n, h, w, fmt, want);
  /* f32 against double may round a value within 1e-5 of .5 the other way
   * (measured: about 1 byte in 10,000): allow a difference of 1 in 0.1% of
   * the bytes plus 2, so that a small check does not fail on one or two
   * chance ties; never a difference of more than 1. */
  for (gsize i = 0; i < bytes; i++) {
    int d = ABS ((int)got[i] - (int)want[i]);
    g_assert_cmpint (d, <=, 1);
    off_by_one += d;
  }
  g_test_message ("format %d, %" G_GSIZE_FORMAT "x%" G_GSIZE_FORMAT
                  " x %" G_GSIZE_FORMAT ": %" G_GSIZE_FORMAT
                  " of %" G_GSIZE_FORMAT " bytes off by one",
      fmt, w, h, n, off_by_one, bytes);
  g_assert_cmpuint (off_by_one, <=, 2 + bytes / 1000);
  sora_tensor_free (frames);
  sora_tensor_free (dst);
  g_free (src);
  g_free (got);
  g_free (want);
}

static void
test_formats (void)
{
  for (SoraPixelFormat fmt = SORA_PIXEL_RGB; fmt <= SORA_PIXEL_NV12; fmt++) {
    check (fmt, 1, 2, 2);
    check (fmt, 4, 32, 48);
    check (fmt, 2, 6, 22);
  }
  check (SORA_PIXEL_RGB, 3, 7, 5); /* odd sizes are fine for RGB */
}

static void
test_errors (void)
{
  GError *error = NULL;
  gsize shape[] = { 3, 1, 3, 4 };
  float zeros[36] = { 0 };
  SoraTensor *frames =
      sora_test_upload ("odd frames", SORA_DTYPE_F32, zeros, 4, shape);

  g_assert_false (sora_op_to_pixels (
      frames, SORA_PIXEL_I420, frames->buf, frames->nbytes, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "odd frames"));
  g_clear_error (&error);
  g_assert_false (
      sora_op_to_pixels (frames, SORA_PIXEL_RGBA, frames->buf, 10, &error));
  g_assert_error (error, SORA_ERROR, SORA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  sora_tensor_free (frames);
}

int
main (int argc, char **argv)
{
  sora_test_init (&argc, &argv);
  g_test_add_func ("/pixels/formats", test_formats);
  g_test_add_func ("/pixels/errors", test_errors);
  return sora_test_run ();
}
