/* cl_intel_subgroup_matrix_multiply_accumulate's bf16 and f16 functions
 * with float accumulators, as the extension's specification(Khronos
 * OpenCL-Docs, extensions/cl_intel_subgroup_matrix_multiply_accumulate,
 * revision 1.1.0) gives them, made overloadable(the pragma) as OpenCL C's
 * builtins are.
 * Intel's compiler declares them itself; clang 15's opencl-c.h does not,
 * so check-gpu-resources.sh includes this file in its offline SPIR
 * compile only(-include), never the engine.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SORA_INTEL_MATRIX_MAD_H
#define SORA_INTEL_MATRIX_MAD_H

#pragma clang attribute push(__attribute__((overloadable)), apply_to = function)

/* Devices whose minimum sub-group size is 8. */
float intel_sub_group_bf16_bf16_matrix_mad_k16 (int a, int8 b, float acc);
float2 intel_sub_group_bf16_bf16_matrix_mad_k16 (int2 a, int8 b, float2 acc);
float4 intel_sub_group_bf16_bf16_matrix_mad_k16 (int4 a, int8 b, float4 acc);
float8 intel_sub_group_bf16_bf16_matrix_mad_k16 (int8 a, int8 b, float8 acc);

float intel_sub_group_f16_f16_matrix_mad_k16 (int a, int8 b, float acc);
float2 intel_sub_group_f16_f16_matrix_mad_k16 (int2 a, int8 b, float2 acc);
float4 intel_sub_group_f16_f16_matrix_mad_k16 (int4 a, int8 b, float4 acc);
float8 intel_sub_group_f16_f16_matrix_mad_k16 (int8 a, int8 b, float8 acc);

/* Devices whose minimum sub-group size is 16. */
float intel_sub_group_bf16_bf16_matrix_mad_k16 (short a, int8 b, float acc);
float2 intel_sub_group_bf16_bf16_matrix_mad_k16 (short2 a, int8 b, float2 acc);
float4 intel_sub_group_bf16_bf16_matrix_mad_k16 (short4 a, int8 b, float4 acc);
float8 intel_sub_group_bf16_bf16_matrix_mad_k16 (short8 a, int8 b, float8 acc);

float intel_sub_group_f16_f16_matrix_mad_k16 (short a, int8 b, float acc);
float2 intel_sub_group_f16_f16_matrix_mad_k16 (short2 a, int8 b, float2 acc);
float4 intel_sub_group_f16_f16_matrix_mad_k16 (short4 a, int8 b, float4 acc);
float8 intel_sub_group_f16_f16_matrix_mad_k16 (short8 a, int8 b, float8 acc);

#pragma clang attribute pop

#endif
