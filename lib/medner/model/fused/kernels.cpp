// Compiled loops of the tagger (see medner/model/fused/kernels.py): the two time loops of
// medner.model.fused.lstm's fused bidirectional LSTM, and the forward algorithm, its gradient and Viterbi of
// medner.model.crf (through medner.model.fused.crf).
//
// LSTM. Same arithmetic as the pure PyTorch loops in fused/lstm.py (the tests' yardstick):
// one batched matrix product per step through ATen (at::bmm_out, so MKL/oneDNN as in PyTorch),
// and everything element-wise of that step in ONE pass over the running rows instead of a dozen
// PyTorch operations, each with its own dispatch, temporary and trip through memory. On CPUs with
// AVX-512 (AVX512-BF16 for bfloat16) the float32 and bfloat16 step products are this file's own
// (packed_product): the recurrent weights packed once per batch, sums kept in float32.
//
// Two row orders. The layer's inputs and outputs are in packed order ("forward positions", as the
// PackedSequence holds them). The time loops run over "internal" rows: direction 0 in packed order,
// direction 1 over each sentence reversed within its length, so at every step both directions have
// the same running sentences. ``reverse`` (rows,) maps an internal row of direction 1 to its forward
// position (and back: it is its own inverse). The kernels read and write the forward-order tensors
// through it, so no gathered copy of the inputs, outputs or their gradients is ever made.
//
// Tensors (all contiguous; "2" is the direction, G = 4H, gate order i, f, g, o as PyTorch's):
//   pre        (rows+, 2G)       input products x W_ih^T of both directions, forward order, product type
//   bias       (2, G)            b_ih + b_hh per direction
// ("rows+": at least ``rows`` rows; the products run on zero-padded rows, which the kernels leave alone.)
//   gates      (2, rows, G)      out: activations, internal order
//   cells      (2, rows + 1, H)  out: c_t (row ``rows`` is the zero state, untouched)
//   tanh_cells (2, rows, H)      out: tanh(c_t)
//   recurrent  (2, rows + 1, H)  out: h_t in the product type, internal order (what the step products read)
//   out        (rows, 2H)        out: h_t of both directions, forward order (the layer's output)
//   w_hh_t     (2, H, G)         recurrent weights, transposed (a view will do), in the product type
//   buffer     (2 * sizes[0] * G) scratch in the product type
// Backward: grad_out (rows, 2H) forward order, w_hh (2, G, H); out: grad_low (2, rows+, G) the gate gradients
// in internal order and grad_fwd (rows+, 2G) the same in forward order, both in the product type;
// grad_bias (2, G) zeros, out: their sum over rows; grad_c (2, sizes[0], H) zeros; scratch (2 * sizes[0] * G)
// and buffer (2 * sizes[0] * H) in the product type.
//
// Built on first use by medner.model.fused.kernels with -O3 -march=native -fno-math-errno (no -ffast-math:
// IEEE arithmetic, NaN and infinity included; see MEDNER_SIMD_MATH below for how exp and tanh still
// vectorise), and -fopenmp where torch threads with OpenMP: at::parallel_for is inline code from torch's
// headers, serial without it.
//
// Threads. With two or more, the two directions of the LSTM run their time loops side by side, one
// thread each (over_directions); with one, a single loop does both. Each direction's step products and
// rows then run on its thread alone. The CRF splits its sentences between the threads.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

// glibc's vector maths (libmvec, glibc 2.35 and later for tanhf) for the activations' exp and tanh: GCC calls
// the vector variants only of functions declared ``simd``, which glibc's own headers do only under -ffast-math,
// and that flag also lets the compiler assume there is no NaN or infinity and reorder sums. Declared here, the
// loops vectorise as they did under -ffast-math (the same speed, measured) while NaN and infinity keep their
// meaning: libmvec's functions treat them as the scalar ones do (tests/model/fused/test_kernels.py). Elsewhere
// (other compilers, C libraries or CPUs) the loops call the scalar functions: slower, the same semantics.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define MEDNER_SIMD_MATH 1
extern "C" {
__attribute__((__simd__("notinbranch"))) float expf(float) noexcept;
__attribute__((__simd__("notinbranch"))) float tanhf(float) noexcept;
__attribute__((__simd__("notinbranch"))) double exp(double) noexcept;
__attribute__((__simd__("notinbranch"))) double tanh(double) noexcept;
}
#endif

#if defined(__AVX512F__)
#include <immintrin.h>
#define MEDNER_PACKED_FLOAT 1
#else
#define MEDNER_PACKED_FLOAT 0
#endif
#if defined(__AVX512F__) && defined(__AVX512BF16__)
#define MEDNER_PACKED_BF16 1
#else
#define MEDNER_PACKED_BF16 0
#endif

namespace {

// Rows of one step handed to one thread at a time: a row is 4H values, a few microseconds of work.
constexpr int64_t kGrain = 4;

template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// Values of the product type (``low_t``) to and from ``scalar_t``. For bfloat16 these are written out on the
// raw bits so that the compiler vectorises them: widening is a shift, narrowing rounds to nearest even and
// gives the canonical NaN, exactly as c10::BFloat16 (and so ``Tensor.to(torch.bfloat16)``) does.
template <typename scalar_t, typename low_t>
inline scalar_t widen(low_t v) {
  if constexpr (std::is_same_v<low_t, at::BFloat16>) {
    const uint32_t bits = static_cast<uint32_t>(v.x) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  } else {
    return static_cast<scalar_t>(v);
  }
}

template <typename scalar_t, typename low_t>
inline void narrow_into(low_t* __restrict__ dst, const scalar_t* __restrict__ src, int64_t n) {
  if constexpr (std::is_same_v<low_t, at::BFloat16>) {
    static_assert(std::is_same_v<scalar_t, float>, "bfloat16 products go with float32 states");
    uint16_t* __restrict__ out = reinterpret_cast<uint16_t*>(dst);
    for (int64_t j = 0; j < n; ++j) {
      uint32_t u;
      std::memcpy(&u, src + j, sizeof u);
      const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
      out[j] = (u & 0x7FFFFFFFu) > 0x7F800000u ? uint16_t(0x7FC0) : static_cast<uint16_t>(rounded);
    }
  } else {
    for (int64_t j = 0; j < n; ++j) dst[j] = static_cast<low_t>(src[j]);
  }
}

// The rest of one row of a forward step, once z (G) holds the pre-activations: the activations in place, the
// cell state, its tanh and the hidden state (h in ``scalar_t``, and ``low`` in the product type).
template <typename scalar_t, typename low_t>
inline void activate_row(int64_t H, scalar_t* __restrict__ z, const scalar_t* __restrict__ c_prev,
                         scalar_t* __restrict__ c, scalar_t* __restrict__ tc, scalar_t* __restrict__ h,
                         low_t* __restrict__ low) {
  const int64_t G = 4 * H;
  for (int64_t j = 0; j < 2 * H; ++j) z[j] = sigmoid(z[j]);
  for (int64_t j = 2 * H; j < 3 * H; ++j) z[j] = std::tanh(z[j]);
  for (int64_t j = 3 * H; j < G; ++j) z[j] = sigmoid(z[j]);
  const scalar_t* __restrict__ i = z;
  const scalar_t* __restrict__ f = z + H;
  const scalar_t* __restrict__ g = z + 2 * H;
  const scalar_t* __restrict__ o = z + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    c[j] = i[j] * g[j] + f[j] * c_prev[j];
    tc[j] = std::tanh(c[j]);
    h[j] = o[j] * tc[j];
  }
  narrow_into(low, h, H);
}

// One row of one forward step. z: (G) receives the activations from x (the input product, product type),
// b (bias) and p (the recurrent product, product type or ``scalar_t``; zeros at a first step); c_prev: zeros
// at a first step. With p == nullptr, z already holds the recurrent product, and x and b are added to it.
template <typename scalar_t, typename low_t, typename product_t>
inline void forward_row(int64_t H, scalar_t* __restrict__ z, const low_t* __restrict__ x,
                        const scalar_t* __restrict__ b, const product_t* __restrict__ p,
                        const scalar_t* __restrict__ c_prev, scalar_t* __restrict__ c, scalar_t* __restrict__ tc,
                        scalar_t* __restrict__ h, low_t* __restrict__ low) {
  const int64_t G = 4 * H;
  if (p == nullptr) {
    for (int64_t j = 0; j < G; ++j) z[j] = (widen<scalar_t>(x[j]) + b[j]) + z[j];
  } else {
    for (int64_t j = 0; j < G; ++j) z[j] = (widen<scalar_t>(x[j]) + b[j]) + widen<scalar_t>(p[j]);
  }
  activate_row(H, z, c_prev, c, tc, h, low);
}

// One row of one backward step: the gate gradients into ``grads`` (G), dc carried to the previous step in gc.
// dh_next: dh from step t + 1 (product type or ``scalar_t``; zeros where the sentence ends here);
// c_prev: zeros at a first step.
template <typename scalar_t, typename next_t>
inline void backward_row(int64_t H, const scalar_t* __restrict__ a, const scalar_t* __restrict__ tc,
                         const scalar_t* __restrict__ dh_out, const next_t* __restrict__ dh_next,
                         const scalar_t* __restrict__ c_prev, scalar_t* __restrict__ gc,
                         scalar_t* __restrict__ grads) {
  const scalar_t* __restrict__ i = a;
  const scalar_t* __restrict__ f = a + H;
  const scalar_t* __restrict__ g = a + 2 * H;
  const scalar_t* __restrict__ o = a + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    const scalar_t dh = dh_out[j] + widen<scalar_t>(dh_next[j]);
    const scalar_t dc = gc[j] + dh * o[j] * (scalar_t(1) - tc[j] * tc[j]);
    grads[j] = dc * g[j] * i[j] * (scalar_t(1) - i[j]);
    grads[H + j] = dc * c_prev[j] * f[j] * (scalar_t(1) - f[j]);
    grads[2 * H + j] = dc * i[j] * (scalar_t(1) - g[j] * g[j]);
    grads[3 * H + j] = dh * tc[j] * o[j] * (scalar_t(1) - o[j]);
    gc[j] = dc * f[j];
  }
}

// ---------------------------------------------------------------------------------------------------------
// The recurrent step products on CPUs with AVX-512: float32 (MEDNER_PACKED_FLOAT), and bfloat16 where the CPU
// also has AVX512-BF16 (MEDNER_PACKED_BF16). A step multiplies at most a batch of rows (32) by the recurrent
// weights (H x 4H forward, 4H x H backward): through at::bmm_out that costs a call and a re-packing of the
// whole weight matrix every step (and in bfloat16 a result rounded to bfloat16), and reaches a third to a half
// of the CPU's multiply-add rate at these sizes. Here the weights are packed once per batch and direction,
// the products accumulate in float32 registers and are stored in float32, where the time loop reads them
// next (forward: in place of the pre-activations; backward: dh for the previous step).

// Columns per panel of packed weights (four vectors of 16 float32 sums) and rows per tile: 6 x 4 = 24
// accumulators of the 32 vector registers, one weight vector load per 6 multiply-add instructions.
constexpr int64_t kPanel = 64;
constexpr int kTileRows = 6;

// Whether a layer of ``hidden`` units per direction runs its step products (in low_t) on the packed kernels.
template <typename low_t>
inline bool packed_steps(int64_t hidden) {
  if constexpr (std::is_same_v<low_t, at::BFloat16>) {
    return MEDNER_PACKED_BF16 && hidden % kPanel == 0;
  } else if constexpr (std::is_same_v<low_t, float>) {
    return MEDNER_PACKED_FLOAT && hidden % kPanel == 0;
  } else {
    return false;
  }
}

// The packed products' operands: bfloat16 as its bits, float32 as it is.
inline const uint16_t* bits(const at::BFloat16* p) { return reinterpret_cast<const uint16_t*>(p); }
inline uint16_t* bits(at::BFloat16* p) { return reinterpret_cast<uint16_t*>(p); }
inline const float* bits(const float* p) { return p; }
template <typename low_t>
using bits_t = std::conditional_t<std::is_same_v<low_t, at::BFloat16>, uint16_t, float>;

// Packs B (k x n, n a multiple of kPanel; element (i, j) at src[i * sk + j * sn]) for packed_product, in
// panels of kPanel columns. bfloat16 (k even): each panel (k / 2, kPanel, 2), the two rows one dot-product
// instruction takes side by side. float32: each panel (k, kPanel).
inline void pack_weights_into(int64_t k, int64_t n, const uint16_t* src, int64_t sk, int64_t sn, uint16_t* dst) {
  for (int64_t panel = 0; panel < n / kPanel; ++panel)
    for (int64_t i = 0; i < k / 2; ++i)
      for (int64_t c = 0; c < kPanel; ++c) {
        const uint16_t* from = src + (2 * i) * sk + (panel * kPanel + c) * sn;
        uint16_t* to = dst + ((panel * (k / 2) + i) * kPanel + c) * 2;
        to[0] = from[0];
        to[1] = from[sk];
      }
}

inline void pack_weights_into(int64_t k, int64_t n, const float* src, int64_t sk, int64_t sn, float* dst) {
  for (int64_t panel = 0; panel < n / kPanel; ++panel)
    for (int64_t i = 0; i < k; ++i)
      for (int64_t c = 0; c < kPanel; ++c) dst[(panel * k + i) * kPanel + c] = src[i * sk + (panel * kPanel + c) * sn];
}

#if MEDNER_PACKED_FLOAT
// R rows of C, one panel's kPanel columns: C = A B, A (R x k) rows ``lda`` apart, sums in float32.
// bfloat16: one dot-product instruction per pair of k; float32: one fused multiply-add per k.
template <int R, typename in_t>
inline void product_tile(int64_t k, const in_t* a, int64_t lda, const in_t* panel, float* c, int64_t ldc) {
  __m512 acc[R][4];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < 4; ++v) acc[r][v] = _mm512_setzero_ps();
  if constexpr (std::is_same_v<in_t, uint16_t>) {
#if MEDNER_PACKED_BF16
    for (int64_t i = 0; i < k / 2; ++i) {
      const uint16_t* b = panel + i * 2 * kPanel;
      const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 32),
                     b2 = (__m512bh)_mm512_loadu_si512(b + 64), b3 = (__m512bh)_mm512_loadu_si512(b + 96);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        int32_t pair;
        std::memcpy(&pair, a + r * lda + 2 * i, sizeof pair);
        const __m512bh x = (__m512bh)_mm512_set1_epi32(pair);
        acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, b0);
        acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, b1);
        acc[r][2] = _mm512_dpbf16_ps(acc[r][2], x, b2);
        acc[r][3] = _mm512_dpbf16_ps(acc[r][3], x, b3);
      }
    }
#endif
  } else {
    for (int64_t i = 0; i < k; ++i) {
      const float* b = panel + i * kPanel;
      const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16), b2 = _mm512_loadu_ps(b + 32),
                   b3 = _mm512_loadu_ps(b + 48);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512 x = _mm512_set1_ps(a[r * lda + i]);
        acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
        acc[r][2] = _mm512_fmadd_ps(x, b2, acc[r][2]);
        acc[r][3] = _mm512_fmadd_ps(x, b3, acc[r][3]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < 4; ++v) _mm512_storeu_ps(c + r * ldc + 16 * v, acc[r][v]);
}
#endif

// C (m x n, rows ``ldc`` apart, float32) = A (m x k, rows ``lda`` apart) times B packed by pack_weights_into,
// sums in float32. Each sum runs over k in the same order whatever m, the rows or the thread.
template <typename in_t>
inline void packed_product(int64_t m, int64_t k, int64_t n, const in_t* a, int64_t lda, const in_t* packed,
                           float* c, int64_t ldc) {
#if MEDNER_PACKED_FLOAT
  for (int64_t panel = 0; panel < n / kPanel; ++panel) {
    const in_t* b = packed + panel * k * kPanel;
    float* out = c + panel * kPanel;
    int64_t r = 0;
    for (; r + kTileRows <= m; r += kTileRows) product_tile<kTileRows>(k, a + r * lda, lda, b, out + r * ldc, ldc);
    const in_t* a_rest = a + r * lda;
    float* c_rest = out + r * ldc;
    switch (m - r) {
      case 5: product_tile<5>(k, a_rest, lda, b, c_rest, ldc); break;
      case 4: product_tile<4>(k, a_rest, lda, b, c_rest, ldc); break;
      case 3: product_tile<3>(k, a_rest, lda, b, c_rest, ldc); break;
      case 2: product_tile<2>(k, a_rest, lda, b, c_rest, ldc); break;
      case 1: product_tile<1>(k, a_rest, lda, b, c_rest, ldc); break;
      default: break;
    }
  }
#else
  TORCH_CHECK(false, "medner kernels: built without AVX-512, no packed products");
#endif
}

// Per-thread memory the time loops reuse from call to call (fresh memory faults its pages in every batch).
template <typename T>
T* reused(std::vector<T>& memory, size_t n) {
  if (memory.size() < n) memory.resize(n);
  return memory.data();
}
template <typename T>
std::vector<T>& packed_weights() {
  static thread_local std::vector<T> memory;
  return memory;
}
thread_local std::vector<float> packed_sums;

// The recurrent weights of each direction in ``weights`` (directions, k, cols; any strides), packed one after
// the other for packed_product into this thread's reused memory.
template <typename low_t>
const bits_t<low_t>* pack_directions(const at::Tensor& weights) {
  const int64_t n = weights.size(0), k = weights.size(1), cols = weights.size(2);
  bits_t<low_t>* to = reused(packed_weights<bits_t<low_t>>(), n * k * cols);
  const bits_t<low_t>* from = bits(weights.data_ptr<low_t>());
  for (int64_t e = 0; e < n; ++e)
    pack_weights_into(k, cols, from + e * weights.stride(0), weights.stride(1), weights.stride(2), to + e * k * cols);
  return to;
}

// Whether the two directions run their time loops side by side, one thread each: with two threads or more,
// outside a parallel region. Each step of one direction is a few microseconds of work, too little to split
// between threads without waiting at every step; a whole direction per thread waits once per batch.
inline bool directions_in_parallel() { return at::get_num_threads() > 1 && !at::in_parallel_region(); }

// Runs fn(d0, d1) over the directions [d0, d1): both at once on one thread, or one per thread.
template <typename F>
void over_directions(F&& fn) {
  if (directions_in_parallel()) {
    at::parallel_for(0, 2, 1, [&](int64_t begin, int64_t end) {
      for (int64_t d = begin; d < end; ++d) fn(d, d + 1);
    });
  } else {
    fn(0, 2);
  }
}

// The time loop of directions [d0, d1) (both, or one). The step products of the range go to its own part of
// ``buffer``, (d1 - d0, size, G) contiguous from d0 * widest * G, so two ranges never share memory.
template <typename scalar_t, typename low_t>
void forward_directions(int64_t d0, int64_t d1, const at::Tensor& pre, const at::Tensor& bias,
                        const at::Tensor& w_hh_t, at::Tensor& gates, at::Tensor& cells, at::Tensor& tanh_cells,
                        at::Tensor& recurrent, at::Tensor& out, const at::Tensor& reverse, at::Tensor& buffer,
                        const std::vector<int64_t>& sizes, const std::vector<int64_t>& offsets) {
  const int64_t rows = gates.size(1), H = cells.size(2), G = 4 * H, widest = sizes[0], n = d1 - d0;
  const low_t* pp = pre.data_ptr<low_t>();
  const scalar_t* biasp = bias.data_ptr<scalar_t>();
  const int64_t* rev = reverse.data_ptr<int64_t>();
  scalar_t* gp = gates.data_ptr<scalar_t>();
  scalar_t* cp = cells.data_ptr<scalar_t>();
  scalar_t* tp = tanh_cells.data_ptr<scalar_t>();
  low_t* rp = recurrent.data_ptr<low_t>();
  scalar_t* op = out.data_ptr<scalar_t>();
  const low_t* bp = buffer.data_ptr<low_t>() + d0 * widest * G;
  const at::Tensor states = recurrent.narrow(0, d0, n), weights = w_hh_t.narrow(0, d0, n);
  // Packed products (float32 states, float32 or bfloat16 products): each step's product goes straight into
  // its rows of ``gates``, in float32.
  constexpr bool kPackable = std::is_same_v<scalar_t, float>;
  const bool packed = kPackable && packed_steps<low_t>(H);
  const bits_t<low_t>* wp = nullptr;
  if constexpr (kPackable) {
    if (packed) wp = pack_directions<low_t>(weights);
  }
  // The recurrent product and the previous cell state of a first step.
  const std::vector<low_t> no_product(G, low_t(0));
  const std::vector<scalar_t> no_cell(H, scalar_t(0));
  for (size_t t = 0; t < sizes.size(); ++t) {
    const int64_t size = sizes[t], start = offsets[t];
    const bool first = t == 0;
    const int64_t before = first ? 0 : offsets[t - 1];
    if (!first && packed) {
      if constexpr (kPackable) {
        for (int64_t e = 0; e < n; ++e)
          packed_product(size, H, G, bits(rp) + ((d0 + e) * (rows + 1) + before) * H, H, wp + e * H * G,
                         gp + ((d0 + e) * rows + start) * G, G);
      }
    } else if (!first) {
      // shape: (n, size, G): h_{t-1} W_hh^T for the running sentences
      at::Tensor product = buffer.narrow(0, d0 * widest * G, n * size * G).view({n, size, G});
      at::bmm_out(product, states.narrow(1, before, size), weights);
    }
    at::parallel_for(0, n * size, kGrain, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k) {
        const int64_t d = d0 + k / size, r = k % size, row = start + r;
        const int64_t at = d == 0 ? row : rev[row];  // the token's forward position
        forward_row<scalar_t, low_t, low_t>(
            H, gp + (d * rows + row) * G, pp + at * 2 * G + d * G, biasp + d * G,
            first ? no_product.data() : packed ? nullptr : bp + k * G,
            first ? no_cell.data() : cp + (d * (rows + 1) + before + r) * H, cp + (d * (rows + 1) + row) * H,
            tp + (d * rows + row) * H, op + at * 2 * H + d * H, rp + (d * (rows + 1) + row) * H);
      }
    });
  }
}

// The backward time loop of directions [d0, d1). Its scratch rows and step products are its own parts of
// ``scratch`` (from d0 * widest * G) and ``buffer`` (from d0 * widest * H), as in forward_directions.
template <typename scalar_t, typename low_t>
void backward_directions(int64_t d0, int64_t d1, const at::Tensor& gates, const at::Tensor& cells,
                         const at::Tensor& tanh_cells, const at::Tensor& grad_out, const at::Tensor& w_hh,
                         at::Tensor& grad_low, at::Tensor& grad_fwd, at::Tensor& grad_bias, at::Tensor& grad_c,
                         at::Tensor& scratch, at::Tensor& buffer, const at::Tensor& reverse,
                         const std::vector<int64_t>& sizes, const std::vector<int64_t>& offsets) {
  const int64_t rows = gates.size(1), H = cells.size(2), G = 4 * H, widest = sizes[0], n = d1 - d0;
  const int64_t low_rows = grad_low.size(1);  // rows, or more: padding the kernel leaves alone
  // The gate gradients are computed in ``scalar_t`` into per-row scratch (this step's rows), summed
  // into the bias gradient in a fixed order, and stored in the product type, in both row orders.
  const scalar_t* ap = gates.data_ptr<scalar_t>();
  const scalar_t* cp = cells.data_ptr<scalar_t>();
  const scalar_t* tp = tanh_cells.data_ptr<scalar_t>();
  const scalar_t* dhp = grad_out.data_ptr<scalar_t>();
  const int64_t* rev = reverse.data_ptr<int64_t>();
  scalar_t* sp = scratch.data_ptr<scalar_t>() + d0 * widest * G;
  low_t* low_p = grad_low.data_ptr<low_t>();
  low_t* fwd_p = grad_fwd.data_ptr<low_t>();
  scalar_t* gbp = grad_bias.data_ptr<scalar_t>();
  scalar_t* gcp = grad_c.data_ptr<scalar_t>();
  low_t* bp = buffer.data_ptr<low_t>() + d0 * widest * H;
  const at::Tensor step_grads = grad_low.narrow(0, d0, n), weights = w_hh.narrow(0, d0, n);
  // Packed products (as in forward_directions): dh for the previous step comes in float32, (n, widest, H) in
  // ``sums``.
  constexpr bool kPackable = std::is_same_v<scalar_t, float>;
  const bool packed = kPackable && packed_steps<low_t>(H);
  const bits_t<low_t>* wp = nullptr;
  scalar_t* sums = nullptr;
  if constexpr (kPackable) {
    if (packed) {
      wp = pack_directions<low_t>(weights);
      sums = reused(packed_sums, n * widest * H);
    }
  }
  // dh from a next step that does not exist, and the previous cell state of a first step.
  const std::vector<low_t> no_next(H, low_t(0));
  const std::vector<scalar_t> no_next_sum(H, scalar_t(0));
  const std::vector<scalar_t> no_cell(H, scalar_t(0));
  const int64_t steps = static_cast<int64_t>(sizes.size());
  for (int64_t t = steps - 1; t >= 0; --t) {
    const int64_t size = sizes[t], start = offsets[t];
    // Rows below ``carried`` get dh from step t + 1 through the recurrent product (the buffer, laid out
    // (n, carried, H)); the sentences above it end at this step.
    const int64_t carried = t + 1 < steps ? sizes[t + 1] : 0;
    const int64_t before = t > 0 ? offsets[t - 1] : 0;
    at::parallel_for(0, n * size, kGrain, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k) {
        const int64_t e = k / size, d = d0 + e, r = k % size, row = start + r;
        const int64_t at = d == 0 ? row : rev[row];
        scalar_t* grads = sp + k * G;
        const scalar_t* c_prev = t > 0 ? cp + (d * (rows + 1) + before + r) * H : no_cell.data();
        if (packed) {
          backward_row<scalar_t, scalar_t>(H, ap + (d * rows + row) * G, tp + (d * rows + row) * H,
                                           dhp + at * 2 * H + d * H,
                                           r < carried ? sums + (e * widest + r) * H : no_next_sum.data(), c_prev,
                                           gcp + (d * widest + r) * H, grads);
        } else {
          backward_row<scalar_t, low_t>(H, ap + (d * rows + row) * G, tp + (d * rows + row) * H,
                                        dhp + at * 2 * H + d * H,
                                        r < carried ? bp + (e * carried + r) * H : no_next.data(), c_prev,
                                        gcp + (d * widest + r) * H, grads);
        }
        low_t* low = low_p + (d * low_rows + row) * G;
        narrow_into(low, grads, G);
        std::memcpy(fwd_p + at * 2 * G + d * G, low, G * sizeof(low_t));
      }
    });
    // The bias gradient, rows in order (the same sums whatever the number of threads).
    for (int64_t e = 0; e < n; ++e) {
      scalar_t* gb = gbp + (d0 + e) * G;
      for (int64_t r = 0; r < size; ++r) {
        const scalar_t* grads = sp + (e * size + r) * G;
        for (int64_t j = 0; j < G; ++j) gb[j] += grads[j];
      }
    }
    if (t > 0 && packed) {
      if constexpr (kPackable) {
        for (int64_t e = 0; e < n; ++e)
          packed_product(size, G, H, bits(low_p) + ((d0 + e) * low_rows + start) * G, G, wp + e * G * H,
                         sums + e * widest * H, H);
      }
    } else if (t > 0) {
      // shape: (n, size, H): the gate gradients of this step times W_hh, dh for step t - 1
      at::Tensor product = buffer.narrow(0, d0 * widest * H, n * size * H).view({n, size, H});
      at::bmm_out(product, step_grads.narrow(1, start, size), weights);
    }
  }
}

void check(bool ok, const char* what) { TORCH_CHECK(ok, "medner kernels: ", what); }

// Calls fn(scalar_t{}, low_t{}) for the supported types of (gates, product weights): float64 throughout,
// float32 throughout, or float32 with bfloat16 products.
template <typename F>
void dispatch_lstm(const at::Tensor& gates, const at::Tensor& weights, F&& fn) {
  const bool low = weights.scalar_type() == at::kBFloat16;
  if (gates.scalar_type() == at::kDouble && !low) {
    fn(double{}, double{});
  } else if (gates.scalar_type() == at::kFloat && !low) {
    fn(float{}, float{});
  } else if (gates.scalar_type() == at::kFloat && low) {
    fn(float{}, at::BFloat16{});
  } else {
    check(false, "float64, float32, or float32 with bfloat16 products");
  }
}

// Calls fn(scalar_t{}) for float64 or float32 CRF scores.
template <typename F>
void dispatch_crf(const at::Tensor& emissions, F&& fn) {
  if (emissions.scalar_type() == at::kDouble) {
    fn(double{});
  } else if (emissions.scalar_type() == at::kFloat) {
    fn(float{});
  } else {
    check(false, "CRF: float32 or float64");
  }
}

void check_common(const at::Tensor& gates, const std::vector<at::Tensor>& others, const at::Tensor& reverse,
                  const std::vector<int64_t>& sizes, const std::vector<int64_t>& offsets) {
  check(gates.device().is_cpu(), "CPU tensors only");
  check(gates.is_contiguous() && gates.dim() == 3 && gates.size(0) == 2, "gates (2, rows, 4H) contiguous");
  for (const auto& t : others) check(t.is_contiguous() && t.device().is_cpu(), "every tensor contiguous on the CPU");
  check(!sizes.empty() && sizes.size() == offsets.size(), "one size and one offset per step");
  const int64_t rows = gates.size(1);
  check(reverse.scalar_type() == at::kLong && reverse.is_contiguous() && reverse.numel() == rows,
        "reverse (rows,) int64");
  const int64_t* rev = reverse.data_ptr<int64_t>();
  for (int64_t r = 0; r < rows; ++r) check(rev[r] >= 0 && rev[r] < rows, "reverse maps rows to rows");
}

void forward_steps(at::Tensor pre, at::Tensor bias, at::Tensor w_hh_t, at::Tensor gates, at::Tensor cells,
                   at::Tensor tanh_cells, at::Tensor recurrent, at::Tensor out, at::Tensor reverse, at::Tensor buffer,
                   std::vector<int64_t> sizes, std::vector<int64_t> offsets) {
  check_common(gates, {pre, bias, cells, tanh_cells, recurrent, out, buffer}, reverse, sizes, offsets);
  check(w_hh_t.device().is_cpu() && w_hh_t.dim() == 3, "w_hh_t (2, H, 4H) on the CPU, any strides");
  const int64_t rows = gates.size(1), G = gates.size(2);
  check(buffer.numel() >= 2 * sizes[0] * G, "buffer too small");
  check(pre.dim() == 2 && pre.size(0) >= rows && pre.size(1) == 2 * G && pre.scalar_type() == w_hh_t.scalar_type(),
        "pre (rows or more, 8H) in the product type");
  check(bias.numel() == 2 * G && bias.scalar_type() == gates.scalar_type(), "bias (2, 4H) in the gates' type");
  check(out.dim() == 2 && out.size(0) == rows && out.size(1) == G / 2 && out.scalar_type() == gates.scalar_type(),
        "out (rows, 2H) in the gates' type");
  dispatch_lstm(gates, w_hh_t, [&](auto scalar, auto low) {
    over_directions([&](int64_t d0, int64_t d1) {
      forward_directions<decltype(scalar), decltype(low)>(d0, d1, pre, bias, w_hh_t, gates, cells, tanh_cells,
                                                          recurrent, out, reverse, buffer, sizes, offsets);
    });
  });
}

void backward_steps(at::Tensor gates, at::Tensor cells, at::Tensor tanh_cells, at::Tensor grad_out, at::Tensor w_hh,
                    at::Tensor grad_low, at::Tensor grad_fwd, at::Tensor grad_bias, at::Tensor grad_c,
                    at::Tensor scratch, at::Tensor buffer, at::Tensor reverse, std::vector<int64_t> sizes,
                    std::vector<int64_t> offsets) {
  check_common(gates, {cells, tanh_cells, grad_out, w_hh, grad_low, grad_fwd, grad_bias, grad_c, scratch, buffer},
               reverse, sizes, offsets);
  const int64_t rows = gates.size(1), G = gates.size(2);
  check(buffer.numel() >= 2 * sizes[0] * cells.size(2), "buffer too small");
  check(scratch.numel() >= 2 * sizes[0] * G, "scratch too small");
  check(grad_bias.numel() == 2 * G && grad_bias.scalar_type() == gates.scalar_type(),
        "grad_bias is (2, 4H) in the gates' type");
  check(grad_out.numel() == rows * G / 2 && grad_out.scalar_type() == gates.scalar_type(),
        "grad_out (rows, 2H) in the gates' type");
  check(grad_low.dim() == 3 && grad_low.size(0) == 2 && grad_low.size(1) >= rows && grad_low.size(2) == G &&
            grad_fwd.dim() == 2 && grad_fwd.size(0) >= rows && grad_fwd.size(1) == 2 * G &&
            grad_low.scalar_type() == w_hh.scalar_type() && grad_fwd.scalar_type() == w_hh.scalar_type(),
        "grad_low (2, rows or more, 4H) and grad_fwd (rows or more, 8H) in the product type");
  dispatch_lstm(gates, w_hh, [&](auto scalar, auto low) {
    over_directions([&](int64_t d0, int64_t d1) {
      backward_directions<decltype(scalar), decltype(low)>(d0, d1, gates, cells, tanh_cells, grad_out, w_hh, grad_low,
                                                           grad_fwd, grad_bias, grad_c, scratch, buffer, reverse,
                                                           sizes, offsets);
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// The linear-chain CRF of medner.model.crf: the forward algorithm, its gradient (forward-backward
// marginals) and Viterbi, one sentence per task. emissions (B, T, K) contiguous, lengths (B,) int64 >= 1,
// start (K), transitions (K, K) with [i][j] = tag i followed by tag j, end (K), all in one floating type.

// log(sum(exp(v))), shifted by the largest value; by 0 when that is infinite, as torch.logsumexp does, so an
// infinite score gives an infinite log-sum (inf - inf would give NaN) and a NaN anywhere gives NaN.
template <typename scalar_t>
inline scalar_t log_sum_exp(const scalar_t* v, int64_t n) {
  scalar_t top = v[0];
  for (int64_t i = 1; i < n; ++i) top = v[i] > top ? v[i] : top;
  if (std::isinf(top)) top = 0;
  scalar_t sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(v[i] - top);
  return top + std::log(sum);
}

template <typename scalar_t>
void crf_forward_impl(const at::Tensor& emissions, const at::Tensor& lengths, const at::Tensor& start,
                      const at::Tensor& transitions, const at::Tensor& end, at::Tensor& log_z, at::Tensor& alphas) {
  const int64_t B = emissions.size(0), T = emissions.size(1), K = emissions.size(2);
  const scalar_t* ep = emissions.data_ptr<scalar_t>();
  const int64_t* lp = lengths.data_ptr<int64_t>();
  const scalar_t *sp = start.data_ptr<scalar_t>(), *tp = transitions.data_ptr<scalar_t>(), *np = end.data_ptr<scalar_t>();
  scalar_t* zp = log_z.data_ptr<scalar_t>();
  scalar_t* ap = alphas.data_ptr<scalar_t>();
  at::parallel_for(0, B, 1, [&](int64_t begin, int64_t stop) {
    std::vector<scalar_t> v(K);
    for (int64_t b = begin; b < stop; ++b) {
      const scalar_t* e = ep + b * T * K;
      scalar_t* a = ap + b * T * K;
      for (int64_t j = 0; j < K; ++j) a[j] = sp[j] + e[j];
      for (int64_t t = 1; t < lp[b]; ++t) {
        for (int64_t j = 0; j < K; ++j) {
          for (int64_t i = 0; i < K; ++i) v[i] = a[(t - 1) * K + i] + tp[i * K + j];
          a[t * K + j] = e[t * K + j] + log_sum_exp(v.data(), K);
        }
      }
      const scalar_t* last = a + (lp[b] - 1) * K;
      for (int64_t j = 0; j < K; ++j) v[j] = last[j] + np[j];
      zp[b] = log_sum_exp(v.data(), K);
    }
  });
}

template <typename scalar_t>
void crf_backward_impl(const at::Tensor& emissions, const at::Tensor& lengths, const at::Tensor& transitions,
                       const at::Tensor& end, const at::Tensor& alphas, const at::Tensor& log_z,
                       const at::Tensor& grad_log_z, at::Tensor& grad_emissions, at::Tensor& pair_counts) {
  const int64_t B = emissions.size(0), T = emissions.size(1), K = emissions.size(2);
  const scalar_t* ep = emissions.data_ptr<scalar_t>();
  const int64_t* lp = lengths.data_ptr<int64_t>();
  const scalar_t *tp = transitions.data_ptr<scalar_t>(), *np = end.data_ptr<scalar_t>();
  const scalar_t *ap = alphas.data_ptr<scalar_t>(), *zp = log_z.data_ptr<scalar_t>(), *gp = grad_log_z.data_ptr<scalar_t>();
  scalar_t* gep = grad_emissions.data_ptr<scalar_t>();
  scalar_t* pcp = pair_counts.data_ptr<scalar_t>();  // (B, K, K): each sentence's expected transitions, times g
  at::parallel_for(0, B, 1, [&](int64_t begin, int64_t stop) {
    std::vector<scalar_t> beta(T * K), v(K), next(K);
    for (int64_t b = begin; b < stop; ++b) {
      const int64_t n = lp[b];
      const scalar_t* e = ep + b * T * K;
      const scalar_t* a = ap + b * T * K;
      const scalar_t z = zp[b], g = gp[b];
      scalar_t* ge = gep + b * T * K;
      scalar_t* pc = pcp + b * K * K;
      // beta_t[i]: log-sum of every continuation after tag i at position t, end score included.
      for (int64_t i = 0; i < K; ++i) beta[(n - 1) * K + i] = np[i];
      for (int64_t t = n - 2; t >= 0; --t) {
        for (int64_t j = 0; j < K; ++j) next[j] = e[(t + 1) * K + j] + beta[(t + 1) * K + j];
        for (int64_t i = 0; i < K; ++i) {
          for (int64_t j = 0; j < K; ++j) v[j] = tp[i * K + j] + next[j];
          beta[t * K + i] = log_sum_exp(v.data(), K);
        }
      }
      for (int64_t t = 0; t < n; ++t)
        for (int64_t j = 0; j < K; ++j) ge[t * K + j] = g * std::exp(a[t * K + j] + beta[t * K + j] - z);
      for (int64_t t = n; t < T; ++t)
        for (int64_t j = 0; j < K; ++j) ge[t * K + j] = 0;
      for (int64_t x = 0; x < K * K; ++x) pc[x] = 0;
      for (int64_t t = 1; t < n; ++t) {
        for (int64_t j = 0; j < K; ++j) next[j] = e[t * K + j] + beta[t * K + j] - z;
        for (int64_t i = 0; i < K; ++i) {
          const scalar_t from = a[(t - 1) * K + i];
          for (int64_t j = 0; j < K; ++j) pc[i * K + j] += std::exp(from + tp[i * K + j] + next[j]);
        }
      }
      for (int64_t x = 0; x < K * K; ++x) pc[x] *= g;
    }
  });
}

template <typename scalar_t>
void crf_viterbi_impl(const at::Tensor& emissions, const at::Tensor& lengths, const at::Tensor& start,
                      const at::Tensor& transitions, const at::Tensor& end, at::Tensor& paths) {
  const int64_t B = emissions.size(0), T = emissions.size(1), K = emissions.size(2);
  const scalar_t* ep = emissions.data_ptr<scalar_t>();
  const int64_t* lp = lengths.data_ptr<int64_t>();
  const scalar_t *sp = start.data_ptr<scalar_t>(), *tp = transitions.data_ptr<scalar_t>(), *np = end.data_ptr<scalar_t>();
  int64_t* pp = paths.data_ptr<int64_t>();
  at::parallel_for(0, B, 1, [&](int64_t begin, int64_t stop) {
    std::vector<scalar_t> best(K), next(K);
    std::vector<int64_t> back(T * K);
    for (int64_t b = begin; b < stop; ++b) {
      const int64_t n = lp[b];
      const scalar_t* e = ep + b * T * K;
      for (int64_t j = 0; j < K; ++j) best[j] = sp[j] + e[j];
      for (int64_t t = 1; t < n; ++t) {
        for (int64_t j = 0; j < K; ++j) {
          // the first best previous tag on ties, as torch.max
          int64_t arg = 0;
          scalar_t top = best[0] + tp[j];
          for (int64_t i = 1; i < K; ++i) {
            const scalar_t c = best[i] + tp[i * K + j];
            if (c > top) top = c, arg = i;
          }
          next[j] = top + e[t * K + j];
          back[t * K + j] = arg;
        }
        best.swap(next);
      }
      int64_t tag = 0;
      scalar_t top = best[0] + np[0];
      for (int64_t j = 1; j < K; ++j)
        if (best[j] + np[j] > top) top = best[j] + np[j], tag = j;
      int64_t* path = pp + b * T;
      for (int64_t t = n - 1; t >= 0; --t) {
        path[t] = tag;
        if (t > 0) tag = back[t * K + tag];
      }
      for (int64_t t = n; t < T; ++t) path[t] = -1;
    }
  });
}

void check_crf(const at::Tensor& emissions, const at::Tensor& lengths, const std::vector<at::Tensor>& scores) {
  check(emissions.device().is_cpu() && emissions.is_contiguous() && emissions.dim() == 3, "emissions (B, T, K) contiguous on the CPU");
  check(lengths.scalar_type() == at::kLong && lengths.is_contiguous() && lengths.numel() == emissions.size(0),
        "lengths (B,) int64");
  const int64_t T = emissions.size(1);
  const int64_t* lp = lengths.data_ptr<int64_t>();
  for (int64_t b = 0; b < lengths.numel(); ++b) check(lp[b] >= 1 && lp[b] <= T, "every length in 1..seq_len");
  for (const auto& t : scores)
    check(t.is_contiguous() && t.scalar_type() == emissions.scalar_type(), "CRF scores contiguous, emissions' type");
}

std::tuple<at::Tensor, at::Tensor> crf_forward(at::Tensor emissions, at::Tensor lengths, at::Tensor start,
                                               at::Tensor transitions, at::Tensor end) {
  check_crf(emissions, lengths, {start, transitions, end});
  at::Tensor log_z = at::empty({emissions.size(0)}, emissions.options());
  at::Tensor alphas = at::empty_like(emissions);
  dispatch_crf(emissions, [&](auto scalar) {
    crf_forward_impl<decltype(scalar)>(emissions, lengths, start, transitions, end, log_z, alphas);
  });
  return {log_z, alphas};
}

std::tuple<at::Tensor, at::Tensor> crf_backward(at::Tensor emissions, at::Tensor lengths, at::Tensor transitions,
                                                at::Tensor end, at::Tensor alphas, at::Tensor log_z,
                                                at::Tensor grad_log_z) {
  check_crf(emissions, lengths, {transitions, end, alphas, log_z, grad_log_z});
  at::Tensor grad_emissions = at::empty_like(emissions);
  at::Tensor pair_counts = at::empty({emissions.size(0), emissions.size(2), emissions.size(2)}, emissions.options());
  dispatch_crf(emissions, [&](auto scalar) {
    crf_backward_impl<decltype(scalar)>(emissions, lengths, transitions, end, alphas, log_z, grad_log_z,
                                        grad_emissions, pair_counts);
  });
  return {grad_emissions, pair_counts};
}

at::Tensor crf_viterbi(at::Tensor emissions, at::Tensor lengths, at::Tensor start, at::Tensor transitions,
                       at::Tensor end) {
  check_crf(emissions, lengths, {start, transitions, end});
  at::Tensor paths = at::empty({emissions.size(0), emissions.size(1)}, lengths.options());
  dispatch_crf(emissions, [&](auto scalar) {
    crf_viterbi_impl<decltype(scalar)>(emissions, lengths, start, transitions, end, paths);
  });
  return paths;
}

// How many threads at::parallel_for hands ``tasks`` one-item tasks to: at::get_num_threads() (at most
// ``tasks``) when the library was built with OpenMP, 1 when its parallel loops compiled to serial code.
int64_t parallel_threads(int64_t tasks) {
  std::vector<int64_t> seen(static_cast<size_t>(std::max<int64_t>(tasks, 1)), -1);
  at::parallel_for(0, tasks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) seen[k] = at::get_thread_num();
  });
  std::sort(seen.begin(), seen.end());
  return std::unique(seen.begin(), seen.end()) - seen.begin();
}

// Whether a layer of ``hidden`` units per direction runs its step products of ``type`` ("float32" or
// "bfloat16") on the packed kernels.
bool packed_products(int64_t hidden, std::string type) {
  check(type == "float32" || type == "bfloat16", "packed_products: float32 or bfloat16");
  return type == "float32" ? packed_steps<float>(hidden) : packed_steps<at::BFloat16>(hidden);
}

template <typename low_t>
void check_packable(int64_t k, int64_t n) {
  check(packed_steps<low_t>(kPanel) && n % kPanel == 0 && (std::is_same_v<low_t, float> || k % 2 == 0),
        "packed products: AVX-512 (AVX512-BF16 for bfloat16), k even in bfloat16, n a multiple of 64");
}

// b (k, n) float32 or bfloat16, any strides, packed by pack_weights_into: (k * n) of b's type.
at::Tensor pack_weights(at::Tensor b) {
  check(b.dim() == 2 && b.device().is_cpu() && (b.scalar_type() == at::kFloat || b.scalar_type() == at::kBFloat16),
        "pack_weights: b (k, n) float32 or bfloat16 on the CPU");
  const int64_t k = b.size(0), n = b.size(1);
  at::Tensor packed = at::empty({k * n}, b.options().memory_format(at::MemoryFormat::Contiguous));
  if (b.scalar_type() == at::kBFloat16) {
    check_packable<at::BFloat16>(k, n);
    pack_weights_into(k, n, bits(b.data_ptr<at::BFloat16>()), b.stride(0), b.stride(1),
                      bits(packed.data_ptr<at::BFloat16>()));
  } else {
    check_packable<float>(k, n);
    pack_weights_into(k, n, b.data_ptr<float>(), b.stride(0), b.stride(1), packed.data_ptr<float>());
  }
  return packed;
}

// a (m, k) times the (k, n) weights of pack_weights (the same type), as the time loops multiply: (m, n) float32.
at::Tensor packed_matmul(at::Tensor a, at::Tensor packed, int64_t n) {
  check(a.scalar_type() == packed.scalar_type() && a.dim() == 2 && a.is_contiguous() && packed.is_contiguous() &&
            a.device().is_cpu() && packed.device().is_cpu() && packed.numel() == a.size(1) * n,
        "packed_matmul: a (m, k) contiguous and packed weights of k * n, one type, on the CPU");
  const int64_t m = a.size(0), k = a.size(1);
  at::Tensor c = at::empty({m, n}, a.options().dtype(at::kFloat));
  if (a.scalar_type() == at::kBFloat16) {
    check_packable<at::BFloat16>(k, n);
    packed_product(m, k, n, bits(a.data_ptr<at::BFloat16>()), k, bits(packed.data_ptr<at::BFloat16>()),
                   c.data_ptr<float>(), n);
  } else {
    check(a.scalar_type() == at::kFloat, "packed_matmul: float32 or bfloat16");
    check_packable<float>(k, n);
    packed_product(m, k, n, a.data_ptr<float>(), k, packed.data_ptr<float>(), c.data_ptr<float>(), n);
  }
  return c;
}

}  // namespace

TORCH_LIBRARY(medner, m) {
  m.def("packed_products", &packed_products);
  m.def("pack_weights", &pack_weights);
  m.def("packed_matmul", &packed_matmul);
  m.def("parallel_threads", &parallel_threads);
  m.def("forward_steps", &forward_steps);
  m.def("backward_steps", &backward_steps);
  m.def("crf_forward", &crf_forward);
  m.def("crf_backward", &crf_backward);
  m.def("crf_viterbi", &crf_viterbi);
}
