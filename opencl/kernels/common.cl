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

#if defined(MMA)

/* Matrix units, shared by gemm-gpu.cl's gemm_mma and attention-gpu.cl's
 * attention_mma: operands rounded to -DMMA_BF16 or -DMMA_F16 as they are
 * staged, fp32 accumulation, in PTX's m16n8k16 fragments, each warp 32
 * work-items of consecutive local ids (as NVIDIA groups them).
 * -DMMA_PTX issues PTX's ldmatrix, mma.sync and shfl.sync (NVIDIA, sm_80
 * and later); -DMMA_EMULATE is the portable stand-in: the same per-lane
 * fragments, exchanged through local memory, so that everything but the
 * instructions runs on any device.  -DMMA_MFMA and -DMMA_WMMA take AMD's
 * 16x16x16 instructions and their fragments instead, -DMMA_XMX with
 * -DMMA_SG=8 or 16 Intel's cl_intel_subgroup_matrix_multiply_accumulate
 * (GEMM only), issued natively or, with -DMMA_EMULATE, by the stand-in;
 * their waves and sub-groups too are taken as consecutive local ids (the
 * work-groups are 1-D).  The including kernel defines THREADS and passes
 * each call a __local uint xchg[XCHG_WORDS]. */

/* f32 to the operand's bits, rounded to nearest even. */
#if defined(MMA_BF16)
#define OP_BITS(v) bf16_bits (v)
#else
#define OP_BITS(v) f16_bits (v)
#endif

inline ushort
f16_bits (float v)
{
  ushort h;

  vstore_half_rte (v, 0, (__private half *) & h);
  return h;
}

/* Two f32 as one fragment word of operands, @lo in the low half. */
inline uint
op_pair (float lo, float hi)
{
  return OP_BITS (lo) | (uint) OP_BITS (hi) << 16;
}

/* An operand's bits as f32 (the stand-ins). */
inline float
op_float (ushort bits)
{
#if defined(MMA_BF16)
  return as_float ((uint) bits << 16);
#else
  return vload_half (0, (const __private half *) & bits);
#endif
}

/* The fragments' layout: PTX's m16n8k16 (a warp of 32 work-items), or
 * AMD's 16x16x16: -DMMA_MFMA, CDNA's v_mfma_f32_16x16x16bf16_1k / f16 (a
 * wave of 64; gfx90a, gfx94x), -DMMA_WMMA, RDNA3's v_wmma_f32_16x16x16_bf16
 * / f16 (a wave of 32; gfx11xx), or Intel's -DMMA_XMX: two
 * intel_sub_group_{bf16_bf16,f16_f16}_matrix_mad_k16 of M = 8 rows, N =
 * MMA_SG columns (a sub-group of the device's minimum size, 8 or 16, as
 * the extension requires).  Each lane holds ACC elements of a 16 x FRAG_N
 * output fragment, row acc_row (lane, e) and column acc_col (lane, e) for
 * element e. */
#if defined(MMA_MFMA) || defined(MMA_WMMA) || defined(MMA_XMX)
/* Operands loaded straight from the staged slices, one call a fragment. */
#define MMA_DIRECT
#endif
#if defined(MMA_MFMA)
#define MMA_WAVE 64
#define FRAG_N 16
#define ACC 4
#define OP_K 4 /* operands a lane holds of A's row (B's column) */
#elif defined(MMA_WMMA)
#define MMA_WAVE 32
#define FRAG_N 16
#define ACC 8
#define OP_K 16
#elif defined(MMA_XMX)
#if MMA_SG != 8 && MMA_SG != 16
#error "-DMMA_XMX needs -DMMA_SG=8 or 16"
#endif
#define MMA_WAVE MMA_SG
#define FRAG_N MMA_SG
#define ACC 16
#else
#define MMA_WAVE 32
#define FRAG_N 8
#define ACC 4
#endif

inline int
acc_row (int lane, int e)
{
#if defined(MMA_MFMA)
  return 4 * (lane / 16) + e; /* D[i][j]: lane j + 16 (i / 4), i % 4 */
#elif defined(MMA_WMMA)
  return 2 * e + lane / 16; /* D[i][j]: lane j + 16 (i % 2), i / 2 */
#elif defined(MMA_XMX)
  return e; /* D[i][j]: lane j, row i % 8 of the (i / 8)th call */
#else
  return lane / 4 + 8 * (e / 2);
#endif
}

inline int
acc_col (int lane, int e)
{
#if defined(MMA_DIRECT)
  return lane % FRAG_N;
#else
  return 2 * (lane % 4) + e % 2;
#endif
}

#if defined(MMA_DIRECT)

/* The operands of the 16 x 16 A whose rows (k-contiguous, @ld apart) start
 * at @s's row @row0, column @k, and of the 16 x FRAG_N B whose columns are
 * staged as rows as W's are, as each lane holds them (A_US and B_US 16-bit
 * elements; the stand-in's a_at and b_at say which).  AMD's: lane l holds
 * row l % 16 of A, columns 4 (l / 16) to 4 (l / 16) + 3 (MFMA) or all 16
 * (WMMA, lanes 16-31 repeating 0-15); of B, as much of column l % 16.
 * Intel's: lane l holds B's column l whole (int8 b, K-consecutive pairs a
 * word); of A, column l of each row (MMA_SG 16: short8 a per 8 rows) or
 * columns 2l and 2l + 1 (MMA_SG 8: int8 a), rows 0-7 in .lo, 8-15 in .hi. */
#if defined(MMA_XMX)
#define A_US (256 / MMA_SG)
#define B_US 16
typedef uint8 b_frag;
#define STORE_B(v, p) vstore8 ((v), 0, (__local uint *) (p))
#if MMA_SG == 16
typedef ushort16 a_frag;
#define STORE_A(v, p) vstore16 ((v), 0, (p))
#else
typedef uint16 a_frag;
#define STORE_A(v, p) vstore16 ((v), 0, (__local uint *) (p))
#endif
#else
#define A_US OP_K
#define B_US OP_K
#if defined(MMA_MFMA)
typedef ushort4 a_frag;
#define STORE_A(v, p) vstore4 ((v), 0, (p))
#else
typedef ushort16 a_frag;
#define STORE_A(v, p) vstore16 ((v), 0, (p))
#endif
typedef a_frag b_frag;
#define STORE_B STORE_A
#endif

/* AMD's A and B layouts are alike. */
__attribute__ ((always_inline)) inline a_frag
load_a (const __local ushort * s, int row0, int k, int lane, int ld)
{
#if defined(MMA_XMX)
  a_frag a;
  const __local ushort *p = s + row0 * ld + k;

#if MMA_SG == 16
  for (int m = 0; m < 16; m++)
    a[m] = p[m * ld + lane];
#else
  for (int m = 0; m < 16; m++)
    a[m] = as_uint (vload2 (lane, p + m * ld));
#endif
  return a;
#else
  const __local ushort *p = s + (row0 + lane % 16) * ld + k;

#if defined(MMA_MFMA)
  return vload4 (0, p + 4 * (lane / 16));
#else
  return vload16 (0, p);
#endif
#endif
}

__attribute__ ((always_inline)) inline b_frag
load_b (const __local ushort * s, int row0, int k, int lane, int ld)
{
#if defined(MMA_XMX)
  return as_uint8 (vload16 (0, s + (row0 + lane) * ld + k));
#else
  return load_a (s, row0, k, lane, ld);
#endif
}

#if !defined(MMA_EMULATE)

#pragma OPENCL EXTENSION cl_khr_fp16 : enable
#define XCHG_WORDS 1
#define MMA_UNROLL _Pragma ("unroll")

#if defined(MMA_XMX)
#if defined(MMA_BF16)
#define XMX_MAD intel_sub_group_bf16_bf16_matrix_mad_k16
#else
#define XMX_MAD intel_sub_group_f16_f16_matrix_mad_k16
#endif
#if MMA_SG == 16
#define XMX_A as_short8
#else
#define XMX_A as_int8
#endif
/* The sub-group size the extension's builtins need. */
#define MMA_KERNEL_ATTR __attribute__ ((intel_reqd_sub_group_size (MMA_SG)))
#endif

/* c += A · B, fragments as above. */
__attribute__ ((always_inline)) inline void
mma_frag (float c[ACC], a_frag a, b_frag b, __local uint * xchg, int warp,
    int lane)
{
#if defined(MMA_XMX)
  float8 lo = vload8 (0, c), hi = vload8 (1, c);

  lo = XMX_MAD (XMX_A (a.lo), as_int8 (b), lo);
  hi = XMX_MAD (XMX_A (a.hi), as_int8 (b), hi);
  vstore8 (lo, 0, c);
  vstore8 (hi, 1, c);
#elif defined(MMA_MFMA)
  float4 d = vload4 (0, c);
#if defined(MMA_BF16)
  d = __builtin_amdgcn_mfma_f32_16x16x16bf16_1k (as_short4 (a), as_short4 (b),
      d, 0, 0, 0);
#else
  d = __builtin_amdgcn_mfma_f32_16x16x16f16 (as_half4 (a), as_half4 (b), d, 0,
      0, 0);
#endif
  vstore4 (d, 0, c);
#else
  float8 d = vload8 (0, c);
#if defined(MMA_BF16)
  d = __builtin_amdgcn_wmma_f32_16x16x16_bf16_w32 (as_short16 (a),
      as_short16 (b), d);
#else
  d = __builtin_amdgcn_wmma_f32_16x16x16_f16_w32 (as_half16 (a),
      as_half16 (b), d);
#endif
  vstore8 (d, 0, c);
#endif
}

#else

#define MMA_UNROLL _Pragma ("unroll 1")
/* Per lane: its A and B operands. */
#define LANE_US (A_US + B_US)
#define XCHG_WORDS (THREADS * LANE_US / 2)

/* Where, in a warp's operands stored lane after lane, A[i][k] and B[k][j]
 * are. */
inline int
a_at (int i, int k)
{
#if defined(MMA_XMX)
  return (k / (16 / MMA_SG)) * LANE_US + (16 / MMA_SG) * i + k % (16 / MMA_SG);
#elif defined(MMA_MFMA)
  return (i + 16 * (k / 4)) * LANE_US + k % 4;
#else
  return i * LANE_US + k;
#endif
}

inline int
b_at (int k, int j)
{
#if defined(MMA_XMX)
  return j * LANE_US + A_US + k;
#else
  return a_at (j, k) + A_US;
#endif
}

__attribute__ ((always_inline)) inline void
mma_frag (float c[ACC], a_frag a, b_frag b, __local uint * xchg, int warp,
    int lane)
{
  __local ushort *frag =
      (__local ushort *) (xchg + warp * MMA_WAVE * LANE_US / 2);

  STORE_A (a, frag + lane * LANE_US);
  STORE_B (b, frag + lane * LANE_US + A_US);
  barrier (CLK_LOCAL_MEM_FENCE);
  for (int e = 0; e < ACC; e++) {
    int row = acc_row (lane, e), col = acc_col (lane, e);

    for (int kk = 0; kk < 16; kk++)
      c[e] = fma (op_float (frag[a_at (row, kk)]),
          op_float (frag[b_at (kk, col)]), c[e]);
  }
  barrier (CLK_LOCAL_MEM_FENCE);
}

#endif

#elif defined(MMA_PTX)

/* The 8 x 8 matrices of one ldmatrix .x4: lane l names row l % 8 of matrix
 * l / 8, at @s + its own element offset @off; it gets in r[i] the elements
 * 2 (l % 4) and 2 (l % 4) + 1 of row l / 4 of matrix i, the lower in the
 * low half; with .trans (load_matrix_x4_trans), those of column l / 4,
 * rows 2 (l % 4) and the next.  The stand-in passes the offsets through
 * @xchg. */

#define LOAD_MATRIX(name, op)                                               \
  __attribute__ ((always_inline)) inline void                               \
  name (const __local ushort * s, int off, uint r[4],                       \
      __local uint * xchg, int warp, int lane)                              \
  {                                                                         \
    uint addr = (uint) (size_t) (s + off);                                  \
                                                                            \
    __asm__ volatile (op " {%0, %1, %2, %3}, [%4];"                         \
        : "=r" (r[0]), "=r" (r[1]), "=r" (r[2]), "=r" (r[3]) : "r" (addr)); \
  }
LOAD_MATRIX (load_matrix_x4, "ldmatrix.sync.aligned.m8n8.x4.shared.b16")
LOAD_MATRIX (load_matrix_x4_trans,
    "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16")

#if defined(MMA_BF16)
#define MMA_OP "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
#else
#define MMA_OP "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
#endif

/* c += A (16 x 16, row-major fragments @a) · B (16 x 8, column-major
 * fragments @b), PTX's m16n8k16 layout (see the stand-in). */
__attribute__ ((always_inline)) inline void
mma_16x8x16 (float c[4], const uint a[4], const uint b[2],
    __local uint * xchg, int warp, int lane)
{
  __asm__ volatile (MMA_OP "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};"
      : "+f" (c[0]), "+f" (c[1]), "+f" (c[2]), "+f" (c[3])
      : "r" (a[0]), "r" (a[1]), "r" (a[2]), "r" (a[3]), "r" (b[0]),
      "r" (b[1]));
}

/* @v of lane @lane ^ @mask of the warp. */
__attribute__ ((always_inline)) inline float
lane_xor (float v, int mask, __local uint * xchg, int warp, int lane)
{
  uint r;

  __asm__ volatile ("shfl.sync.bfly.b32 %0, %1, %2, 0x1f, 0xffffffff;"
      : "=r" (r) : "r" (as_uint (v)), "r" (mask));
  return as_float (r);
}

/* The stand-in's exchange, unused here: both forms share the calls. */
#define XCHG_WORDS 1
#define MMA_UNROLL _Pragma ("unroll")

#elif defined(MMA_EMULATE)

/* Its barriers in loops kept rolled: a CPU runtime compiles the code
 * between two barriers as a loop over the work-items, and unrolled they
 * took PoCL minutes per variant. */
#define MMA_UNROLL _Pragma ("unroll 1")

/* Per lane: the 4 A and 2 B words of one mma, or one ldmatrix offset. */
#define XCHG_WORDS (THREADS * 6)

__attribute__ ((always_inline)) inline void
load_matrix (const __local ushort * s, int off, uint r[4],
    __local uint * xchg, int warp, int lane, bool trans)
{
  __local uint *mine = xchg + warp * 32 * 6;

  mine[lane] = off;
  barrier (CLK_LOCAL_MEM_FENCE);
  for (int i = 0; i < 4; i++) {
    const __local uint *rows = mine + i * 8;

    if (trans)
      r[i] = s[rows[2 * (lane % 4)] + lane / 4] |
          (uint) s[rows[2 * (lane % 4) + 1] + lane / 4] << 16;
    else
      r[i] = s[rows[lane / 4] + 2 * (lane % 4)] |
          (uint) s[rows[lane / 4] + 2 * (lane % 4) + 1] << 16;
  }
  barrier (CLK_LOCAL_MEM_FENCE);
}

__attribute__ ((always_inline)) inline void
load_matrix_x4 (const __local ushort * s, int off, uint r[4],
    __local uint * xchg, int warp, int lane)
{
  load_matrix (s, off, r, xchg, warp, lane, false);
}

__attribute__ ((always_inline)) inline void
load_matrix_x4_trans (const __local ushort * s, int off, uint r[4],
    __local uint * xchg, int warp, int lane)
{
  load_matrix (s, off, r, xchg, warp, lane, true);
}

/* One half of a fragment word as f32. */
inline float
op_value (uint word, int high)
{
  return op_float (high ? word >> 16 : word & 0xffffu);
}

/* PTX's m16n8k16 fragments, with g = lane / 4 and t = lane % 4: a[j]
 * holds A's row g + 8 (j % 2), columns 2t + 8 (j / 2) and the next; b[j]
 * holds B's rows 2t + 8 j and the next, column g; c[j] is D's row
 * g + 8 (j / 2), column 2t + j % 2. */
__attribute__ ((always_inline)) inline void
mma_16x8x16 (float c[4], const uint a[4], const uint b[2],
    __local uint * xchg, int warp, int lane)
{
  __local uint *frag = xchg + warp * 32 * 6;

  for (int j = 0; j < 4; j++)
    frag[lane * 6 + j] = a[j];
  frag[lane * 6 + 4] = b[0];
  frag[lane * 6 + 5] = b[1];
  barrier (CLK_LOCAL_MEM_FENCE);
  for (int j = 0; j < 4; j++) {
    int row = lane / 4 + 8 * (j / 2), col = 2 * (lane % 4) + j % 2;

    for (int kk = 0; kk < 16; kk++) {
      int a_lane = row % 8 * 4 + kk % 8 / 2, b_lane = col * 4 + kk % 8 / 2;
      uint aw = frag[a_lane * 6 + row / 8 + 2 * (kk / 8)];
      uint bw = frag[b_lane * 6 + 4 + kk / 8];

      c[j] = fma (op_value (aw, kk % 2), op_value (bw, kk % 2), c[j]);
    }
  }
  barrier (CLK_LOCAL_MEM_FENCE);
}

__attribute__ ((always_inline)) inline float
lane_xor (float v, int mask, __local uint * xchg, int warp, int lane)
{
  __local uint *mine = xchg + warp * 32 * 6;
  float r;

  mine[lane] = as_uint (v);
  barrier (CLK_LOCAL_MEM_FENCE);
  r = as_float (mine[lane ^ mask]);
  barrier (CLK_LOCAL_MEM_FENCE);
  return r;
}

#else
#error "-DMMA needs -DMMA_PTX, -DMMA_EMULATE, -DMMA_MFMA, -DMMA_WMMA or -DMMA_XMX"
#endif

#if !defined(MMA_KERNEL_ATTR)
#define MMA_KERNEL_ATTR
#endif

/* The element offset lane @lane names for an ldmatrix .x4 of the 16 x 16
 * block at @s's row @row0, column @k (rows @ld apart): matrix i = lane / 8
 * is rows 8 (i % 2) and columns 8 (i / 2) of it for A (a[0..3] in order);
 * for two B fragments of 8 rows (columns of B) each, rows 8 (i / 2) and
 * columns 8 (i % 2), so that b[0..1] are the first fragment's. */
inline int
a_offset (int row0, int k, int lane, int ld)
{
  int i = lane / 8;

  return (row0 + 8 * (i % 2) + lane % 8) * ld + k + 8 * (i / 2);
}

inline int
b_offset (int row0, int k, int lane, int ld)
{
  int i = lane / 8;

  return (row0 + 8 * (i / 2) + lane % 8) * ld + k + 8 * (i % 2);
}

#endif /* MMA */
