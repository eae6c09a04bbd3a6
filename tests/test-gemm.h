/* gst-sora tests: what test-gemm.c and test-gemm-gpu.c (one executable,
 * test-gemm) share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __TEST_GEMM_H__
#define __TEST_GEMM_H__

#include "sora-test-util.h"

G_BEGIN_DECLS

/* The M, N, K shapes every backend runs (test-gemm.c says why these). */
extern const gsize shapes[][3];
extern const guint shapes_len;

/* Checks, with their tolerances, in test-gemm.c. */
void check_linear (SoraDType dtype, SoraGemmBackend backend, guint nlead,
    const gsize *lead, gsize n, gsize k, gboolean with_bias);
void check_batched (gsize batch, gsize m, gsize n, gsize k, gsize xbs,
    gsize ldx, gsize wbs, gsize ldw, gsize ybs, gsize ldy);

/* Adds /gemm/gpu, /gemm/gpu-small, /gemm/mma, /gemm/mma-small,
 * /gemm/precision, /gemm/mma-amd and /gemm/precision-choice
 * (test-gemm-gpu.c). */
void test_gemm_gpu_add (void);

G_END_DECLS

#endif /* __TEST_GEMM_H__ */
