/* sora-tool: subcommands
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __SORA_TOOL_H__
#define __SORA_TOOL_H__

#include <glib.h>

int sora_tool_devices (int argc, char **argv);
int sora_tool_inspect (int argc, char **argv);
int sora_tool_bench (int argc, char **argv);
int sora_tool_tokenize (int argc, char **argv);
int sora_tool_run_dit (int argc, char **argv);
int sora_tool_gpu_variants (int argc, char **argv);

#endif /* __SORA_TOOL_H__ */
