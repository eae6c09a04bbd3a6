/* gst-sora tests: what test-dit.c and test-dit-folders.c (one executable,
 * test-dit) share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __TEST_DIT_H__
#define __TEST_DIT_H__

#include "sora-test-util.h"

G_BEGIN_DECLS

/* The largest relative L2 error of the model in @dir against @ref over the
 * probe points, each asserted against @tol unless it is 0 (test-dit.c). */
double parity (const char *dir, const char *ref, double tol);

/* The output of the model in @dir on the inputs saved in @ref, its size
 * in @numel (g_free the result; test-dit.c). */
float *dit_output (const char *dir, const char *ref, gsize *numel);

/* A new temporary folder (g_free the name; test-dit.c). */
char *make_tmp_dir (void);

/* Copies wan-tiny's model index and its components but the transformer
 * into @dir (test-dit-folders.c). */
void copy_tiny_parts (const char *dir);

/* Writes a model folder with wan-tiny's other components and the wide
 * transformer of the recipe (test-dit-folders.c). */
void write_wide_model (const char *dir);

/* /dit/wrong-model and /dit/wide (test-dit-folders.c). */
void test_wrong_model (void);
void test_wide (void);

/* /dit-bf16/tiny, /dit-bf16/wide and /dit-bf16/pipeline (test-dit-bf16.c). */
void test_bf16_tiny (void);
void test_bf16_wide (void);
void test_bf16_pipeline (void);

G_END_DECLS

#endif /* __TEST_DIT_H__ */
