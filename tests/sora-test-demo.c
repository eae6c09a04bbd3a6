/* gst-sora tests: the measuring rules of the demo world, in C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include "sora-test-demo.h"

#define SIZE SORA_TEST_DEMO_SIZE

/* tools/demo_world.py COLOURS, in hue order */
static const struct
{
  const char *name;
  guint8 rgb[3];
} colours[] = {
  { "red", { 230, 30, 30 } },
  { "yellow", { 230, 220, 30 } },
  { "green", { 30, 200, 40 } },
  { "cyan", { 30, 210, 220 } },
  { "blue", { 40, 60, 230 } },
  { "magenta", { 220, 40, 220 } },
};

void
sora_test_demo_background (const char *name, float rgb[3])
{
  float v = g_str_equal (name, "white") ? 255.f
      : g_str_equal (name, "gray")      ? 128.f
                                        : 0.f;

  g_assert_true (g_str_equal (name, "white") || g_str_equal (name, "gray") ||
      g_str_equal (name, "black"));
  rgb[0] = rgb[1] = rgb[2] = v;
}

static gboolean
is_foreground (const guint8 *p, const float bg[3])
{
  return fabsf (p[0] - bg[0]) + fabsf (p[1] - bg[1]) + fabsf (p[2] - bg[2]) >
      60.f;
}

gboolean
sora_test_demo_centroid (
    const guint8 *frame, const float bg[3], double *cx, double *cy)
{
  double sx = 0, sy = 0;
  guint n = 0;

  for (guint y = 0; y < SIZE; y++)
    for (guint x = 0; x < SIZE; x++)
      if (is_foreground (frame + (y * SIZE + x) * 3, bg)) {
        sx += x;
        sy += y;
        n++;
      }
  if (n < 4)
    return FALSE;
  *cx = sx / n;
  *cy = sy / n;
  return TRUE;
}

const char *
sora_test_demo_shape (const guint8 *frame, const float bg[3])
{
  guint n = 0, lower = 0, x0 = SIZE, x1 = 0, y0 = SIZE, y1 = 0;
  double fill;

  for (guint y = 0; y < SIZE; y++)
    for (guint x = 0; x < SIZE; x++)
      if (is_foreground (frame + (y * SIZE + x) * 3, bg)) {
        n++;
        x0 = MIN (x0, x);
        x1 = MAX (x1, x);
        y0 = MIN (y0, y);
        y1 = MAX (y1, y);
      }
  if (n < 12)
    return NULL;
  for (guint y = 0; y < SIZE; y++)
    for (guint x = 0; x < SIZE; x++)
      lower +=
          2 * y > y0 + y1 && is_foreground (frame + (y * SIZE + x) * 3, bg);
  if (lower > 0.62 * n)
    return "triangle";
  fill = (double)n / ((x1 - x0 + 1) * (y1 - y0 + 1));
  return fill > 0.86 ? "square" : "circle";
}

/* HSV hue of one pixel in sextants [0, 6), FALSE when it is unsaturated. */
static gboolean
pixel_hue (const guint8 *p, float *h)
{
  float r = p[0] / 255.f, g = p[1] / 255.f, b = p[2] / 255.f;
  float mx = MAX (r, MAX (g, b)), mn = MIN (r, MIN (g, b));
  float d = MAX (mx - mn, 1e-6f);

  if ((mx - mn) / MAX (mx, 1e-6f) <= 0.3f)
    return FALSE;
  if (mx == r)
    *h = fmodf ((g - b) / d + 6.f, 6.f);
  else if (mx == g)
    *h = (b - r) / d + 2.f;
  else
    *h = (r - g) / d + 4.f;
  return TRUE;
}

gboolean
sora_test_demo_hue (
    const guint8 *frames, guint n_frames, const float bg[3], double *hue)
{
  double s = 0, c = 0;
  guint n = 0;
  float h;

  for (gsize i = 0; i < (gsize)n_frames * SIZE * SIZE; i++) {
    const guint8 *p = frames + i * 3;

    if (!is_foreground (p, bg) || !pixel_hue (p, &h))
      continue;
    s += sin (h * G_PI / 3);
    c += cos (h * G_PI / 3);
    n++;
  }
  if (n < 4)
    return FALSE;
  *hue = fmod (atan2 (s, c) * 180 / G_PI + 360, 360);
  return TRUE;
}

const char *
sora_test_demo_colour_name (double hue)
{
  return colours[(int)(fmod (hue + 30, 360) / 60)].name;
}

double
sora_test_demo_colour_hue (const char *name)
{
  float h = 0;

  for (guint i = 0; i < G_N_ELEMENTS (colours); i++)
    if (g_str_equal (name, colours[i].name)) {
      g_assert_true (pixel_hue (colours[i].rgb, &h));
      return h * 60.0;
    }
  g_assert_not_reached ();
  return 0;
}

double
sora_test_demo_hue_distance (double a, double b)
{
  return fabs (fmod (a - b + 540, 360) - 180);
}

const char *
sora_test_demo_direction (
    const guint8 *first, const guint8 *last, const float bg[3])
{
  double x0, y0, x1, y1, dx, dy;

  if (!sora_test_demo_centroid (first, bg, &x0, &y0) ||
      !sora_test_demo_centroid (last, bg, &x1, &y1))
    return NULL;
  dx = x1 - x0;
  dy = y1 - y0;
  if (MAX (fabs (dx), fabs (dy)) < 4)
    return NULL;
  if (fabs (dx) >= fabs (dy))
    return dx > 0 ? "right" : "left";
  return dy > 0 ? "down" : "up";
}

gboolean
sora_test_demo_is_direction (const char *motion)
{
  return g_str_equal (motion, "left") || g_str_equal (motion, "right") ||
      g_str_equal (motion, "up") || g_str_equal (motion, "down");
}

gboolean
sora_test_demo_append_rgb (const guint8 *pixels, guint n_frames, guint width,
    guint height, gpointer user_data)
{
  g_byte_array_append (user_data, pixels, n_frames * width * height * 3);
  return TRUE;
}

void
sora_test_demo_report (const char *what, guint ok, guint n, double bar)
{
  g_test_message ("%s: %u/%u = %.0f%% (bar %.0f%%)", what, ok, n,
      100.0 * ok / n, 100 * bar);
}
