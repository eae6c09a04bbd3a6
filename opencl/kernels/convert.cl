/* dtype conversion: f32 <-> f16 <-> bf16, element by element */

__kernel void
convert_to_f32 (const __global stored_t * src, __global float *dst, int n)
{
  int i = get_global_id (0);
  if (i < n)
    dst[i] = LOAD_S (src, i);
}

__kernel void
convert_f32_to_f16 (const __global float *src, __global ushort * dst, int n)
{
  int i = get_global_id (0);
  if (i < n)
    store_f16 (dst, i, src[i]);
}

__kernel void
convert_f32_to_bf16 (const __global float *src, __global ushort * dst, int n)
{
  int i = get_global_id (0);
  if (i < n)
    store_bf16 (dst, i, src[i]);
}
