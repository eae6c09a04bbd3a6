/* gst-sora tests: what test-conv.c and test-conv-speed.c (one executable,
 * test-conv) share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __TEST_CONV_H__
#define __TEST_CONV_H__

#include "sora-test-util.h"

G_BEGIN_DECLS

/* fp32 sums of at most a few thousand products, compared with double sums:
 * the rounding error stays far below this. */
#define TOL_F32 1e-5

typedef struct
{
  gsize cin, cout, t, tc, h, w, kt, kh, kw;
  SoraConv3dParams p;
  SoraDType wdtype;
  gboolean bias;
} ConvCase;

/* The output's [cout, t, h, w]. */
void out_shape (const ConvCase *c, gsize *shape);
/* One output value of the conv, summed in double. */
double conv_ref_at (const ConvCase *c, const float *x, const float *cache,
    const float *wt, const float *bias, gsize co, gsize ot, gsize oy, gsize ox);

/* /conv/speed (test-conv-speed.c). */
void test_speed (void);

G_END_DECLS

#endif /* __TEST_CONV_H__ */
