/* sora-tool: the engine's command line
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "sora-tool.h"

static const struct
{
  const char *name;
  int (*run) (int argc, char **argv);
  const char *help;
} commands[] = {
  { "devices", sora_tool_devices,
      "list the OpenCL devices and what they report" },
  { "inspect", sora_tool_inspect,
      "check a diffusers model folder and summarize it, or list the tensors "
      "the engine reads from it ([--json] MODEL_DIR)" },
  { "bench", sora_tool_bench,
      "time the ops against OpenBLAS ([BENCH...] --quick --json FILE)" },
  { "tokenize", sora_tool_tokenize,
      "print the token ids of a prompt (MODEL_DIR|tokenizer.json TEXT)" },
  { "run-dit", sora_tool_run_dit,
      "one DiT forward against a reference (MODEL_DIR REFERENCE.safetensors)" },
  { "gpu-variants", sora_tool_gpu_variants,
      "list the GPU kernel variants' build options, one \"PROGRAM OPTIONS\" "
      "a line" },
};

static void
usage (FILE *out)
{
  fprintf (out, "usage: sora-tool COMMAND [ARGS]\n\ncommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].help);
  fprintf (out,
      "\nSORA_DEVICE selects the device (auto, gpu, cpu, P:D or a "
      "name substring).\n");
}

int
main (int argc, char **argv)
{
  if (argc < 2 || strcmp (argv[1], "--help") == 0 ||
      strcmp (argv[1], "-h") == 0) {
    usage (argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].run (argc - 1, argv + 1);
  fprintf (stderr, "sora-tool: unknown command \"%s\"\n\n", argv[1]);
  usage (stderr);
  return 2;
}
