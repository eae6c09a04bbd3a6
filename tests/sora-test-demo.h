/* gst-sora tests: the measuring rules of the demo world, in C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_TEST_DEMO_H__
#define __SORA_TEST_DEMO_H__

#include <glib.h>

G_BEGIN_DECLS

/* The rules of tools/demo_measure.py (measure, measure_frames,
 * stream_figures) on packed RGB frames of the demo world's size:
 * foreground = pixels more than 60 (sum of |RGB - background|) from the
 * prompt's background; hue = circular mean hue of the saturated (HSV
 * saturation > 0.3) foreground pixels; direction = the larger axis of the
 * foreground centroid's displacement, at least 4 pixels. */
#define SORA_TEST_DEMO_SIZE 64
#define SORA_TEST_DEMO_FRAME_BYTES                                             \
  ((gsize)SORA_TEST_DEMO_SIZE * SORA_TEST_DEMO_SIZE * 3)

/* The RGB of background @name ("black", "gray" or "white"). */
void sora_test_demo_background (const char *name, float rgb[3]);
/* Foreground centroid of one frame; FALSE when under 4 pixels. */
gboolean sora_test_demo_centroid (
    const guint8 *frame, const float bg[3], double *cx, double *cy);
/* Dominant hue in degrees of @n_frames frames' foreground; FALSE when
 * fewer than 4 of its pixels are saturated. */
gboolean sora_test_demo_hue (
    const guint8 *frames, guint n_frames, const float bg[3], double *hue);
/* The world's colour name nearest @hue (60° sectors). */
const char *sora_test_demo_colour_name (double hue);
/* The hue of the world's colour @name as it draws it. */
double sora_test_demo_colour_hue (const char *name);
/* |a - b| around the circle, in [0, 180]. */
double sora_test_demo_hue_distance (double a, double b);
/* Direction of the centroid from @first to @last ("left", "right", "up",
 * "down"), or NULL when it moved less than 4 pixels or the object is gone. */
const char *sora_test_demo_direction (
    const guint8 *first, const guint8 *last, const float bg[3]);
/* The shape of one frame's object by tools/demo_measure.py shape_of():
 * "triangle" with over 62% of its pixels in the lower half of its
 * bounding box (the world's triangle points up), else "square" when it
 * fills over 86% of the box, else "circle"; NULL under 12 pixels. */
const char *sora_test_demo_shape (const guint8 *frame, const float bg[3]);
/* Whether @motion is one of the four directions. */
gboolean sora_test_demo_is_direction (const char *motion);

/* A SoraFramesFunc for RGB frames: appends them to the GByteArray
 * @user_data. */
gboolean sora_test_demo_append_rgb (const guint8 *pixels, guint n_frames,
    guint width, guint height, gpointer user_data);

/* Prints "@what: @ok/@n = P% (bar B%)" for a rate and the bar it must
 * reach. */
void sora_test_demo_report (const char *what, guint ok, guint n, double bar);

G_END_DECLS

#endif /* __SORA_TEST_DEMO_H__ */
