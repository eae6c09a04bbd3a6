/* sora-tool bench: what the driver, the op benches and the model benches
 * share
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_TOOL_BENCH_H__
#define __SORA_TOOL_BENCH_H__

#include <json-glib/json-glib.h>

#include "sora-ops.h"

/* One timed run, complete when it returns (device work finished). */
typedef gboolean (*BenchFn) (gpointer data, GError **error);

typedef struct
{
  SoraDevice *dev;
  gboolean quick;
  JsonBuilder *json; /* the "rows" array, or NULL */
  GRand *rng;
  const char *fixtures; /* tests/fixtures, for the model benches */
  const char *python; /* runs tools/bench_reference.py */
} Bench;

typedef struct
{
  const char *shape;
  const char *backend;
  double flops;
  BenchFn fn;
  gpointer data;
  double best, total; /* seconds */
  int runs;
  GError *error;
} BenchRow;

void bench_rows (Bench *b, const char *bench, BenchRow *rows, guint n_rows,
    gboolean reference);

/* Starts a JSON row (no-op without --json) with its bench, shape and
 * backend; the caller adds its figures and ends the object. */
void bench_json_row (
    Bench *b, const char *bench, const char *shape, const char *backend);
/* @v, or null when it is NaN. */
void bench_json_number (JsonBuilder *j, const char *name, double v);

/* Inputs both sides draw the same way (bench_reference.py inputs()). */
SoraTensor *bench_recipe_tensor (SoraDevice *dev, const char *name, guint ndim,
    const gsize *shape, GError **error);

/* Loads OpenBLAS for the reference column; its name, or NULL when there is
 * no cblas_sgemm to compare with. */
const char *bench_load_openblas (void);

/* A model row (sora-tool-bench-model-row.c).  One run; @warmup marks the
 * untimed one, which may take smaller inputs. */
typedef gboolean (*BenchStepFn) (
    gpointer data, gboolean warmup, GError **error);

/* Times @fn in the engine, then the same in PyTorch (@args for
 * bench_reference.py, which gets --compare when @output is set: the engine's
 * last result), and prints and records the row; times are divided by
 * @per (latent frames, for the decode).  Returns the engine's seconds
 * divided by @per, NAN when it failed. */
double bench_model_row (Bench *b, const char *bench, const char *config,
    double per, BenchStepFn fn, gpointer data, SoraTensor **output,
    const char *const *args);

/* The column heads of bench_model_row's rows. */
void bench_model_header (void);

/* A temporary model folder: wan-tiny's other components linked, the
 * transformer of reference/wide-recipe.json (1.3B widths) with @layers
 * blocks in @dtype. */
char *bench_recipe_folder (
    Bench *b, guint layers, SoraDType dtype, GError **error);
/* Removes a folder made by bench_recipe_folder(): links are unlinked, never
 * followed into the fixtures. */
void bench_recipe_folder_remove (const char *path);

/* The decode of latents @lat [z_dim, F, h, w], per latent frame; returns
 * the engine's seconds per latent frame, NAN when it failed
 * (sora-tool-bench-models.c). */
double bench_vae_case (
    Bench *b, const char *name, const char *dir, const gsize *lat);

void bench_gemm (Bench *b);
void bench_attention (Bench *b);
void bench_model (Bench *b);
void bench_causal (Bench *b);

#endif /* __SORA_TOOL_BENCH_H__ */
