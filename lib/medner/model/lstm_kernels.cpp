// The two time loops of medner.model.lstm's fused bidirectional LSTM, compiled.
//
// Same arithmetic as the pure PyTorch loops in lstm.py (the reference, and the tests' yardstick):
// one batched matrix product per step through ATen (at::bmm_out, so MKL/oneDNN as in PyTorch),
// and everything element-wise of that step in ONE pass over the running rows instead of a dozen
// PyTorch operations, each with its own dispatch, temporary and trip through memory.
//
// Tensors (all contiguous; "2" is the direction, rows are packed rows, G = 4H, gate order i, f, o, g):
//   gates      (2, rows, G)      in: input pre-activations (bias included); out: activations
//   cells      (2, rows + 1, H)  out: c_t (row ``rows`` is the zero state, untouched)
//   hiddens    (2, rows + 1, H)  out: h_t
//   tanh_cells (2, rows, H)      out: tanh(c_t)
//   recurrent  (2, rows + 1, H)  out: h_t as the recurrent product reads it (a bfloat16 copy, or ``hiddens`` itself)
//   w_hh_t     (2, H, G)         recurrent weights, transposed, in the product type
//   buffer     (2 * sizes[0] * G) scratch in the product type
// Backward adds grad_hiddens (2, rows, H), w_hh (2, G, H), grad_gates (2, rows, G), grad_low (its copy in the
// product type, or grad_gates itself), grad_c (2, sizes[0], H) zeros, buffer (2 * sizes[0] * H).
//
// Built on first use by medner.model.lstm_build with -O3 -march=native and fast-math code generation
// (compile step only, so the process's floating-point flags are never touched).

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace {

// Rows of one step handed to one thread at a time: a row is 4H values, a few microseconds of work.
constexpr int64_t kGrain = 4;

template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

template <typename scalar_t, typename low_t>
void forward_steps_impl(at::Tensor& gates, const at::Tensor& w_hh_t, at::Tensor& cells, at::Tensor& hiddens,
                        at::Tensor& tanh_cells, at::Tensor& recurrent, at::Tensor& buffer,
                        const std::vector<int64_t>& sizes, const std::vector<int64_t>& offsets) {
  const int64_t rows = gates.size(1), H = cells.size(2), G = 4 * H;
  const bool copy_low = !recurrent.is_same(hiddens);
  scalar_t* gp = gates.data_ptr<scalar_t>();
  scalar_t* cp = cells.data_ptr<scalar_t>();
  scalar_t* hp = hiddens.data_ptr<scalar_t>();
  scalar_t* tp = tanh_cells.data_ptr<scalar_t>();
  low_t* rp = recurrent.data_ptr<low_t>();
  const low_t* bp = buffer.data_ptr<low_t>();
  for (size_t t = 0; t < sizes.size(); ++t) {
    const int64_t size = sizes[t], start = offsets[t];
    const bool first = t == 0;
    const int64_t before = first ? 0 : offsets[t - 1];
    if (!first) {
      // shape: (2, size, G): h_{t-1} W_hh^T for the running sentences, both directions
      at::Tensor product = buffer.narrow(0, 0, 2 * size * G).view({2, size, G});
      at::bmm_out(product, recurrent.narrow(1, before, size), w_hh_t);
    }
    at::parallel_for(0, 2 * size, kGrain, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k) {
        const int64_t d = k / size, r = k % size;
        scalar_t* z = gp + (d * rows + start + r) * G;
        if (!first) {
          const low_t* p = bp + k * G;
          for (int64_t j = 0; j < G; ++j) z[j] += static_cast<scalar_t>(p[j]);
        }
        for (int64_t j = 0; j < 3 * H; ++j) z[j] = sigmoid(z[j]);
        for (int64_t j = 3 * H; j < G; ++j) z[j] = std::tanh(z[j]);
        const scalar_t *i = z, *f = z + H, *o = z + 2 * H, *g = z + 3 * H;
        const int64_t row = start + r;
        scalar_t* c = cp + (d * (rows + 1) + row) * H;
        scalar_t* tc = tp + (d * rows + row) * H;
        scalar_t* h = hp + (d * (rows + 1) + row) * H;
        if (first) {
          for (int64_t j = 0; j < H; ++j) c[j] = i[j] * g[j];
        } else {
          const scalar_t* c_prev = cp + (d * (rows + 1) + before + r) * H;
          for (int64_t j = 0; j < H; ++j) c[j] = i[j] * g[j] + f[j] * c_prev[j];
        }
        for (int64_t j = 0; j < H; ++j) {
          tc[j] = std::tanh(c[j]);
          h[j] = o[j] * tc[j];
        }
        if (copy_low) {
          low_t* low = rp + (d * (rows + 1) + row) * H;
          for (int64_t j = 0; j < H; ++j) low[j] = static_cast<low_t>(h[j]);
        }
      }
    });
  }
}

template <typename scalar_t, typename low_t>
void backward_steps_impl(const at::Tensor& gates, const at::Tensor& cells, const at::Tensor& tanh_cells,
                         const at::Tensor& grad_hiddens, const at::Tensor& w_hh, at::Tensor& grad_gates,
                         at::Tensor& grad_low, at::Tensor& grad_c, at::Tensor& buffer,
                         const std::vector<int64_t>& sizes, const std::vector<int64_t>& offsets) {
  const int64_t rows = gates.size(1), H = cells.size(2), G = 4 * H, widest = sizes[0];
  const bool copy_low = !grad_low.is_same(grad_gates);
  const scalar_t* ap = gates.data_ptr<scalar_t>();
  const scalar_t* cp = cells.data_ptr<scalar_t>();
  const scalar_t* tp = tanh_cells.data_ptr<scalar_t>();
  const scalar_t* dhp = grad_hiddens.data_ptr<scalar_t>();
  scalar_t* out_p = grad_gates.data_ptr<scalar_t>();
  low_t* low_p = grad_low.data_ptr<low_t>();
  scalar_t* gcp = grad_c.data_ptr<scalar_t>();
  low_t* bp = buffer.data_ptr<low_t>();
  const int64_t steps = static_cast<int64_t>(sizes.size());
  for (int64_t t = steps - 1; t >= 0; --t) {
    const int64_t size = sizes[t], start = offsets[t];
    // Rows below ``carried`` get dh from step t + 1 through the recurrent product (the buffer, laid out
    // (2, carried, H)); the sentences above it end at this step.
    const int64_t carried = t + 1 < steps ? sizes[t + 1] : 0;
    const int64_t before = t > 0 ? offsets[t - 1] : 0;
    at::parallel_for(0, 2 * size, kGrain, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k) {
        const int64_t d = k / size, r = k % size, row = start + r;
        const scalar_t* a = ap + (d * rows + row) * G;
        const scalar_t *i = a, *f = a + H, *o = a + 2 * H, *g = a + 3 * H;
        const scalar_t* tc = tp + (d * rows + row) * H;
        const scalar_t* dh_out = dhp + (d * rows + row) * H;
        const low_t* dh_next = r < carried ? bp + (d * carried + r) * H : nullptr;
        const scalar_t* c_prev = t > 0 ? cp + (d * (rows + 1) + before + r) * H : nullptr;
        scalar_t* gc = gcp + (d * widest + r) * H;
        scalar_t* out = out_p + (d * rows + row) * G;
        for (int64_t j = 0; j < H; ++j) {
          const scalar_t dh = dh_out[j] + (dh_next ? static_cast<scalar_t>(dh_next[j]) : scalar_t(0));
          const scalar_t dc = gc[j] + dh * o[j] * (scalar_t(1) - tc[j] * tc[j]);
          const scalar_t previous = c_prev ? c_prev[j] : scalar_t(0);
          out[j] = dc * g[j] * i[j] * (scalar_t(1) - i[j]);
          out[H + j] = dc * previous * f[j] * (scalar_t(1) - f[j]);
          out[2 * H + j] = dh * tc[j] * o[j] * (scalar_t(1) - o[j]);
          out[3 * H + j] = dc * i[j] * (scalar_t(1) - g[j] * g[j]);
          gc[j] = dc * f[j];
        }
        if (copy_low) {
          low_t* low = low_p + (d * rows + row) * G;
          for (int64_t j = 0; j < G; ++j) low[j] = static_cast<low_t>(out[j]);
        }
      }
    });
    if (t > 0) {
      // shape: (2, size, H): the gate gradients of this step times W_hh, dh for step t - 1
      at::Tensor product = buffer.narrow(0, 0, 2 * size * H).view({2, size, H});
      at::bmm_out(product, grad_low.narrow(1, start, size), w_hh);
    }
  }
}

void check(bool ok, const char* what) { TORCH_CHECK(ok, "medner_lstm: ", what); }

void check_common(const at::Tensor& gates, const std::vector<at::Tensor>& others, const std::vector<int64_t>& sizes,
                  const std::vector<int64_t>& offsets) {
  check(gates.device().is_cpu(), "CPU tensors only");
  check(gates.is_contiguous(), "gates must be contiguous");
  for (const auto& t : others) check(t.is_contiguous() && t.device().is_cpu(), "every tensor contiguous on the CPU");
  check(!sizes.empty() && sizes.size() == offsets.size(), "one size and one offset per step");
}

void forward_steps(at::Tensor gates, at::Tensor w_hh_t, at::Tensor cells, at::Tensor hiddens, at::Tensor tanh_cells,
                   at::Tensor recurrent, at::Tensor buffer, std::vector<int64_t> sizes, std::vector<int64_t> offsets) {
  check_common(gates, {w_hh_t, cells, hiddens, tanh_cells, recurrent, buffer}, sizes, offsets);
  check(buffer.numel() >= 2 * sizes[0] * gates.size(2), "buffer too small");
  const bool low = w_hh_t.scalar_type() == at::kBFloat16;
  if (gates.scalar_type() == at::kDouble && !low) {
    forward_steps_impl<double, double>(gates, w_hh_t, cells, hiddens, tanh_cells, recurrent, buffer, sizes, offsets);
  } else if (gates.scalar_type() == at::kFloat && !low) {
    forward_steps_impl<float, float>(gates, w_hh_t, cells, hiddens, tanh_cells, recurrent, buffer, sizes, offsets);
  } else if (gates.scalar_type() == at::kFloat && low) {
    forward_steps_impl<float, at::BFloat16>(gates, w_hh_t, cells, hiddens, tanh_cells, recurrent, buffer, sizes,
                                            offsets);
  } else {
    check(false, "float64, float32, or float32 with bfloat16 products");
  }
}

void backward_steps(at::Tensor gates, at::Tensor cells, at::Tensor tanh_cells, at::Tensor grad_hiddens,
                    at::Tensor w_hh, at::Tensor grad_gates, at::Tensor grad_low, at::Tensor grad_c, at::Tensor buffer,
                    std::vector<int64_t> sizes, std::vector<int64_t> offsets) {
  check_common(gates, {cells, tanh_cells, grad_hiddens, w_hh, grad_gates, grad_low, grad_c, buffer}, sizes, offsets);
  check(buffer.numel() >= 2 * sizes[0] * cells.size(2), "buffer too small");
  const bool low = w_hh.scalar_type() == at::kBFloat16;
  if (gates.scalar_type() == at::kDouble && !low) {
    backward_steps_impl<double, double>(gates, cells, tanh_cells, grad_hiddens, w_hh, grad_gates, grad_low, grad_c,
                                        buffer, sizes, offsets);
  } else if (gates.scalar_type() == at::kFloat && !low) {
    backward_steps_impl<float, float>(gates, cells, tanh_cells, grad_hiddens, w_hh, grad_gates, grad_low, grad_c,
                                      buffer, sizes, offsets);
  } else if (gates.scalar_type() == at::kFloat && low) {
    backward_steps_impl<float, at::BFloat16>(gates, cells, tanh_cells, grad_hiddens, w_hh, grad_gates, grad_low,
                                             grad_c, buffer, sizes, offsets);
  } else {
    check(false, "float64, float32, or float32 with bfloat16 products");
  }
}

}  // namespace

TORCH_LIBRARY(medner_lstm, m) {
  m.def("forward_steps", &forward_steps);
  m.def("backward_steps", &backward_steps);
}
