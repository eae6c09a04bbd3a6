/* sora-tool run-dit: one DiT forward on a reference's saved inputs, and
 * where its numbers part ways with the reference
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sora-op-gemm.h"
#include "sora-tool.h"
#include "sora-wan-dit.h"

typedef struct
{
  const SoraSafetensors *ref;
  double tolerance;
  gint64 start;
  gint64 in_probe; /* time spent reading results back, not the forward's */
  guint failed;
} Check;

/* A reference tensor as f32 (the data may be unaligned in the mapping). */
static float *
reference_f32 (const SoraSafetensors *ref, const char *name, gsize *numel,
    const SoraSafetensor **out, GError **error)
{
  const SoraSafetensor *t = sora_safetensors_find (ref, name);
  float *v;

  if (t == NULL || t->dtype != SORA_SAFE_F32) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
        "%s: no F32 tensor \"%s\"", sora_safetensors_get_path (ref), name);
    return NULL;
  }
  v = g_new (float, MAX (t->numel, 1));
  memcpy (v, t->data, t->nbytes);
  *numel = t->numel;
  if (out)
    *out = t;
  return v;
}

static SoraTensor *
upload (SoraDevice *dev, const SoraSafetensors *ref, const char *name,
    GError **error)
{
  const SoraSafetensor *t;
  gsize n, shape[SORA_MAX_DIMS];
  float *v = reference_f32 (ref, name, &n, &t, error);
  SoraTensor *out = NULL;

  if (v == NULL)
    return NULL;
  if (t->ndim > SORA_MAX_DIMS) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
        "%s: tensor \"%s\" has more than %d dimensions",
        sora_safetensors_get_path (ref), name, SORA_MAX_DIMS);
    goto out;
  }
  for (guint i = 0; i < t->ndim; i++)
    shape[i] = t->shape[i];
  out = sora_tensor_new (dev, name, SORA_DTYPE_F32, t->ndim, shape, error);
  if (out && !sora_tensor_write_f32 (out, v, error))
    g_clear_pointer (&out, sora_tensor_free);

out:
  g_free (v);
  return out;
}

static double
rel_l2 (const float *got, const float *want, gsize n)
{
  double num = 0, den = 0;

  for (gsize i = 0; i < n; i++) {
    double d = (double)got[i] - want[i];
    num += d * d;
    den += (double)want[i] * want[i];
  }
  return sqrt (num) / MAX (sqrt (den), 1e-30);
}

static void
check_point (const char *point, SoraTensor *t, gpointer user_data)
{
  Check *c = user_data;
  gint64 now = g_get_monotonic_time ();
  double ms = (now - c->start - c->in_probe) / 1000.0;
  GError *error = NULL;
  gsize n;
  float *want, *got;
  double err;

  if (sora_safetensors_find (c->ref, point) == NULL) {
    printf ("%-16s %12s %10.1f ms (not in the reference)\n", point, "", ms);
    goto out;
  }
  want = reference_f32 (c->ref, point, &n, NULL, &error);
  got = g_new (float, MAX (t->numel, 1));
  if (want == NULL || !sora_tensor_read_f32 (t, got, &error)) {
    printf ("%-16s %s\n", point, error->message);
    c->failed++;
  } else if (n != t->numel) {
    printf ("%-16s %" G_GSIZE_FORMAT
            " values, the reference has %" G_GSIZE_FORMAT "\n",
        point, t->numel, n);
    c->failed++;
  } else {
    err = rel_l2 (got, want, n);
    /* NaN compares false: it fails too. */
    if (!(err <= c->tolerance))
      c->failed++;
    printf ("%-16s %12.3g %10.1f ms%s\n", point, err, ms,
        err <= c->tolerance ? "" : "  above tolerance");
  }
  g_clear_error (&error);
  g_free (want);
  g_free (got);

out:
  c->in_probe += g_get_monotonic_time () - now;
}

/* FALSE (with the message printed) when the options do not parse or the
 * two arguments are not there. */
static gboolean
parse_options (int *argc, char ***argv, double *tolerance)
{
  GOptionEntry entries[] = { { "tolerance", 0, 0, G_OPTION_ARG_DOUBLE,
                                 tolerance,
                                 "largest relative L2 error that passes "
                                 "(default 1e-4)",
                                 "TOL" },
    { NULL } };
  GOptionContext *ctx = g_option_context_new (
      "MODEL_DIR REFERENCE.safetensors - one DiT forward against a "
      "reference");
  GError *error = NULL;
  gboolean ok;

  g_option_context_add_main_entries (ctx, entries, NULL);
  ok = g_option_context_parse (ctx, argc, argv, &error) && *argc == 3;
  if (!ok)
    fprintf (stderr, "sora-tool run-dit: %s\n",
        error ? error->message
              : "usage: sora-tool run-dit [--tolerance TOL] MODEL_DIR "
                "REFERENCE.safetensors");
  g_clear_error (&error);
  g_option_context_free (ctx);
  return ok;
}

/* The forward's inputs, from the reference. */
typedef struct
{
  SoraTensor *latents, *text;
  float *timesteps;
} Inputs;

static gboolean
load_inputs (
    SoraDevice *dev, const SoraSafetensors *ref, Inputs *in, GError **error)
{
  gsize n;

  in->latents = upload (dev, ref, "hidden_states", error);
  in->text =
      in->latents ? upload (dev, ref, "encoder_hidden_states", error) : NULL;
  in->timesteps =
      in->text ? reference_f32 (ref, "timestep", &n, NULL, error) : NULL;
  if (in->timesteps == NULL)
    return FALSE;
  if (n != in->latents->shape[0]) {
    g_set_error (error, SORA_ERROR, SORA_ERROR_FORMAT,
        "%s: \"timestep\" has %" G_GSIZE_FORMAT
        " values for a batch of %" G_GSIZE_FORMAT,
        sora_safetensors_get_path (ref), n, in->latents->shape[0]);
    return FALSE;
  }
  return TRUE;
}

static void
inputs_clear (Inputs *in)
{
  sora_tensor_free (in->latents);
  sora_tensor_free (in->text);
  g_free (in->timesteps);
}

/* With probes: the times are since the start of the forward, less the
 * read-backs, and include compiling the kernels on first use. */
static gboolean
probed_forward (SoraWanDit *dit, const Inputs *in, Check *check, GError **error)
{
  SoraProbe probe = { check_point, check };
  SoraTensor *out;

  printf ("\n%-16s %12s %13s\n", "point", "rel. L2 err", "time");
  check->start = g_get_monotonic_time ();
  out = sora_wan_dit_forward (
      dit, in->latents, in->timesteps, in->text, &probe, NULL, error);
  sora_tensor_free (out);
  return out != NULL;
}

/* Once more without probes, the kernels built: the forward's own time,
 * up to the result on the host. */
static gboolean
timed_forward (SoraWanDit *dit, const Inputs *in, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  clock_t cpu = clock ();
  SoraTensor *out = sora_wan_dit_forward (
      dit, in->latents, in->timesteps, in->text, NULL, NULL, error);
  float *result;
  gboolean ok;

  if (out == NULL)
    return FALSE;
  result = g_new (float, out->numel);
  ok = sora_tensor_read_f32 (out, result, error);
  if (ok)
    printf ("\nforward: %.3f s wall, %.3f s process CPU (no probes, kernels "
            "built)\n",
        (g_get_monotonic_time () - start) / 1e6,
        (double)(clock () - cpu) / CLOCKS_PER_SEC);
  g_free (result);
  sora_tensor_free (out);
  return ok;
}

int
sora_tool_run_dit (int argc, char **argv)
{
  double tolerance = 1e-4;
  GError *error = NULL;
  SoraModelFolder *folder = NULL;
  SoraSafetensors *ref = NULL;
  SoraDevice *dev = NULL;
  SoraWanDit *dit = NULL;
  Inputs in = { NULL };
  Check check = { NULL };
  gint64 start;
  int status = 1;

  setvbuf (stdout, NULL, _IOLBF, 0);
  if (!parse_options (&argc, &argv, &tolerance))
    return 2;
  folder = sora_model_folder_open (argv[1], &error);
  if (folder == NULL || !sora_model_folder_validate (folder, &error))
    goto out;
  ref = sora_safetensors_open (argv[2], &error);
  if (ref == NULL)
    goto out;
  dev = sora_device_open (NULL, &error);
  if (dev == NULL)
    goto out;
  printf ("device: %s, gemm: %s\n", sora_device_get_info (dev)->name,
      sora_gemm_backend_name (dev));

  start = g_get_monotonic_time ();
  dit = sora_wan_dit_new (dev, folder, &error);
  if (dit == NULL)
    goto out;
  printf (
      "weights uploaded in %.2f s\n", (g_get_monotonic_time () - start) / 1e6);
  check.ref = ref;
  check.tolerance = tolerance;
  if (!load_inputs (dev, ref, &in, &error) ||
      !probed_forward (dit, &in, &check, &error) ||
      !timed_forward (dit, &in, &error))
    goto out;
  status = check.failed ? 1 : 0;
  printf ("%s: %u point%s above the tolerance %.1g\n", status ? "FAIL" : "PASS",
      check.failed, check.failed == 1 ? "" : "s", tolerance);

out:
  if (error) {
    fprintf (stderr, "sora-tool run-dit: %s\n", error->message);
    g_error_free (error);
  }
  inputs_clear (&in);
  sora_wan_dit_free (dit);
  sora_device_free (dev);
  sora_safetensors_free (ref);
  sora_model_folder_free (folder);
  return status;
}
