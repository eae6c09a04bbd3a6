/* gst-sora tests: shared helpers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_TEST_UTIL_H__
#define __SORA_TEST_UTIL_H__

#include <glib.h>

#include "sora-ops.h"

G_BEGIN_DECLS

/* Parses the GTest arguments and seeds the random inputs: a fresh seed each
 * run (printed, so a failure can be repeated with SORA_TEST_SEED=...). */
void sora_test_init (int *argc, char ***argv);
/* g_test_run(), then the device freed while the OpenCL runtime still
 * works: Oclgrind's runtime frees its thread-local state before atexit
 * handlers run, so a device released from one (the fallback after
 * sora_test_init) corrupts its heap. */
int sora_test_run (void);

/* The device under test: $SORA_DEVICE, else "auto".  Opened once. */
SoraDevice *sora_test_device (void);

/* SORA_PRECISION=bf16 as the tests run it: forced, on the device's matrix
 * units or, where it has none, on the portable stand-in (SORA_MMA=emulate)
 * with tiles given (so that nothing times the slow stand-in).  Set before
 * the engine or model loads. */
void sora_test_bf16_on (void);
/* And back to f32, the default. */
void sora_test_bf16_off (void);
/* The bytes @dev holds but for its scratch buffers, which the GEMM's tuning
 * on first use, its widening of f16/bf16 weights or the attention may create
 * or grow at any point (sora_device_scratch). */
guint64 sora_test_bytes_held (SoraDevice *dev);

/* @candidates (a tuner's list, freed here) followed by the odd values given
 * after it, up to a NULL: what a test runs each kernel variant with.  A
 * list to g_strfreev. */
char **sora_test_tiles (char **candidates, ...) G_GNUC_NULL_TERMINATED;

/* Uniform random floats in [lo, hi). */
float *sora_test_random (gsize n, float lo, float hi);

/* Relative L2 error ||got - want|| / max(||want||, tiny) in double. */
double sora_test_rel_l2 (const float *got, const double *want, gsize n);

/* Asserts rel_l2 <= tol, printing the figure either way. */
#define sora_assert_close(got, want, n, tol, what)                             \
  sora_test_assert_close ((got), (want), (n), (tol), (what), G_STRLOC)
void sora_test_assert_close (const float *got, const double *want, gsize n,
    double tol, const char *what, const char *loc);

/* Asserts ||got - want|| <= tol · ||scale|| for sums whose terms may
 * cancel: @scale holds each element's sum of |terms|, since every f32
 * rounding is relative to a partial sum, not to the result (which, for one
 * element, may be near 0 by chance). */
#define sora_assert_close_to_scale(got, want, scale, n, tol, what)             \
  sora_test_assert_close_to_scale (                                            \
      (got), (want), (scale), (n), (tol), (what), G_STRLOC)
void sora_test_assert_close_to_scale (const float *got, const double *want,
    const double *scale, gsize n, double tol, const char *what,
    const char *loc);

/* Creates a device tensor holding @host (given in f32, stored as @dtype). */
SoraTensor *sora_test_upload (const char *name, SoraDType dtype,
    const float *host, guint ndim, const gsize *shape);
/* An uninitialised f32 tensor on the device under test. */
SoraTensor *sora_test_new_f32 (
    const char *name, guint ndim, const gsize *shape);

/* Asserts @error is INVALID_ARGUMENT and its message names @what, then
 * clears it. */
void sora_test_assert_error_names (GError **error, const char *what);

/* Reads any tensor back as f32 (g_free the result). */
float *sora_test_download (SoraTensor *t);

/* Rounds each value to what @dtype stores, so references see the same
 * weights as the device. */
void sora_test_round_to_dtype (float *v, gsize n, SoraDType dtype);

/* $SORA_FIXTURES/NAME (g_free the result). */
char *sora_test_fixture (const char *name);

/* A reference tensor from tests/fixtures/reference/FILE as doubles, its
 * element count in @numel (g_free the result). */
double *sora_test_reference (
    const char *file, const char *tensor, gsize *numel);

/* The same as floats, for inputs. */
float *sora_test_reference_f32 (
    const char *file, const char *tensor, gsize *numel);

/* Removes @path, a file or a folder with all it holds; TRUE when all of it
 * went. */
gboolean sora_test_remove_tree (const char *path);

/* A copy of model folder @base in a new temporary folder whose
 * transformer/config.json gains @members (JSON object members, e.g.
 * "\"rope_max_seq_len\": 8"; a member the config has already is replaced:
 * the last one counts); the other files are links into @base. */
char *sora_test_folder_with_config (const char *base, const char *members);

/* Removes a folder sora_test_folder_with_config made (its links, not what
 * they point to). */
void sora_test_remove_config_folder (const char *dir);

/* A tuning probe that does nothing: SoraTuneSpec's init, run, clear and
 * free for tests that time no kernel. */
gboolean sora_test_probe_ready (SoraDevice *dev, gpointer data);
gboolean sora_test_probe_noop (gpointer run, GError **error);
void sora_test_probe_nothing (gpointer data);

/* Makes @value the choice of the tuning parameter @name on @dev for the
 * rest of the process, as if its first use had measured it there (a tuning
 * with @value the only candidate, @valid checking it, stored in a
 * throwaway cache): the seam for a device whose measured choice is known,
 * such as bf16 on matrix units ("gemm-precision"). */
void sora_test_tune_as (SoraDevice *dev, const char *name, const char *value,
    gboolean (*valid) (SoraDevice *dev, const char *value));

G_END_DECLS

#endif /* __SORA_TEST_UTIL_H__ */
