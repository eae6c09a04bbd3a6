/* Put in front of every program.  Storage helpers: weights and activations
 * may be stored as f32, f16 or bf16 and are always computed on in f32.
 * f16 goes through vload_half/vstore_half, which need no cl_khr_fp16. */

inline float
load_f16 (const __global ushort * p, size_t i)
{
  return vload_half (i, (const __global half *) p);
}

inline void
store_f16 (__global ushort * p, size_t i, float v)
{
  vstore_half_rte (v, i, (__global half *) p);
}

inline float
load_bf16 (const __global ushort * p, size_t i)
{
  return as_float ((uint) p[i] << 16);
}

/* @v's bf16 bits, rounded to nearest even (a NaN stays quiet). */
inline ushort
bf16_bits (float v)
{
  uint u = as_uint (v);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return (ushort) ((u >> 16) | 0x40u);
  return (ushort) ((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

inline void
store_bf16 (__global ushort * p, size_t i, float v)
{
  p[i] = bf16_bits (v);
}

/* A program built with -DSTORAGE_F16 or -DSTORAGE_BF16 reads its "stored"
 * buffers through LOAD_S (f32 otherwise). */
#if defined(STORAGE_F16)
typedef ushort stored_t;
#define LOAD_S(p, i) load_f16 ((p), (i))
#elif defined(STORAGE_BF16)
typedef ushort stored_t;
#define LOAD_S(p, i) load_bf16 ((p), (i))
#else
typedef float stored_t;
#define LOAD_S(p, i) ((p)[(i)])
#endif
