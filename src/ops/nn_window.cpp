// Geometry of sliding-window ops; see nn_window.h.
#include "ops/nn_window.h"

#include <string>

namespace fungen {
namespace {

std::string ints_to_string(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

// Reads an ints attribute of length `n` (default `fallback` for every element when absent).
Status read_ints(const Node& node, const char* name, size_t n, int64_t fallback, int64_t min_value,
                 std::vector<int64_t>* out) {
  if (!node.has_attr(name)) {
    out->assign(n, fallback);
    return Status();
  }
  *out = node.attr_ints(name);
  if (out->size() != n) {
    return invalid_argument("attribute " + std::string(name) + "=" + ints_to_string(*out) +
                            " must have " + std::to_string(n) + " values");
  }
  for (int64_t v : *out) {
    if (v < min_value) {
      return invalid_argument("attribute " + std::string(name) + "=" + ints_to_string(*out) +
                              " has a value below " + std::to_string(min_value));
    }
  }
  return Status();
}

Status read_auto_pad(const Node& node, std::string* auto_pad) {
  *auto_pad = node.attr_string("auto_pad", "NOTSET");
  if (*auto_pad != "NOTSET" && *auto_pad != "SAME_UPPER" && *auto_pad != "SAME_LOWER" &&
      *auto_pad != "VALID") {
    return invalid_argument("attribute auto_pad='" + *auto_pad +
                            "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
  }
  return Status();
}

Status read_pads(const Node& node, size_t n, WindowGeometry* g) {
  std::vector<int64_t> pads;
  FUNGEN_RETURN_IF_ERROR(read_ints(node, "pads", 2 * n, 0, 0, &pads));
  g->pads_begin.assign(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(n));
  g->pads_end.assign(pads.begin() + static_cast<std::ptrdiff_t>(n), pads.end());
  return Status();
}

}  // namespace

Status compute_window(const Node& node, const Shape& in_spatial, const std::vector<int64_t>& kernel,
                      const WindowOptions& options, WindowGeometry* g) {
  const size_t n = in_spatial.size();
  g->in = in_spatial;
  g->kernel = kernel;
  if (kernel.size() != n) {
    return invalid_argument("kernel has " + std::to_string(kernel.size()) +
                            " spatial dims, input " + std::to_string(n));
  }
  for (int64_t k : kernel) {
    if (k < 1)
      return invalid_argument("kernel_shape " + ints_to_string(kernel) + " has a value < 1");
  }
  FUNGEN_RETURN_IF_ERROR(read_ints(node, "strides", n, 1, 1, &g->strides));
  if (options.dilations_allowed) {
    FUNGEN_RETURN_IF_ERROR(read_ints(node, "dilations", n, 1, 1, &g->dilations));
  } else {
    g->dilations.assign(n, 1);
  }
  std::string auto_pad;
  FUNGEN_RETURN_IF_ERROR(read_auto_pad(node, &auto_pad));
  int64_t ceil_mode = options.ceil_mode_allowed ? node.attr_int("ceil_mode", 0) : 0;
  if (ceil_mode != 0 && ceil_mode != 1) {
    return invalid_argument("attribute ceil_mode=" + std::to_string(ceil_mode) + " must be 0 or 1");
  }
  g->out.assign(n, 0);
  if (auto_pad == "NOTSET") {
    FUNGEN_RETURN_IF_ERROR(read_pads(node, n, g));
  } else {
    g->pads_begin.assign(n, 0);
    g->pads_end.assign(n, 0);
  }
  for (size_t i = 0; i < n; ++i) {
    const int64_t span = (g->kernel[i] - 1) * g->dilations[i] + 1;  // extent of one window
    const int64_t s = g->strides[i];
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      g->out[i] = (g->in[i] + s - 1) / s;
      int64_t total = (g->out[i] - 1) * s + span - g->in[i];
      if (total < 0) total = 0;
      g->pads_begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g->pads_end[i] = total - g->pads_begin[i];
      continue;
    }
    const int64_t padded = g->in[i] + g->pads_begin[i] + g->pads_end[i];
    if (padded < span) {
      return invalid_argument("window of extent " + std::to_string(span) + " in spatial dim " +
                              std::to_string(i) + " exceeds the padded input size " +
                              std::to_string(padded));
    }
    if (ceil_mode) {
      g->out[i] = (padded - span + s - 1) / s + 1;
      // A last window that would start inside the end padding is dropped.
      if ((g->out[i] - 1) * s >= g->in[i] + g->pads_begin[i]) --g->out[i];
    } else {
      g->out[i] = (padded - span) / s + 1;
    }
  }
  return Status();
}

Status compute_transpose_window(const Node& node, const Shape& in_spatial,
                                const std::vector<int64_t>& kernel, WindowGeometry* g) {
  const size_t n = in_spatial.size();
  g->in = in_spatial;
  g->kernel = kernel;
  FUNGEN_RETURN_IF_ERROR(read_ints(node, "strides", n, 1, 1, &g->strides));
  FUNGEN_RETURN_IF_ERROR(read_ints(node, "dilations", n, 1, 1, &g->dilations));
  std::vector<int64_t> output_padding;
  FUNGEN_RETURN_IF_ERROR(read_ints(node, "output_padding", n, 0, 0, &output_padding));
  for (size_t i = 0; i < n; ++i) {
    if (output_padding[i] >= g->strides[i] && output_padding[i] >= g->dilations[i]) {
      return invalid_argument("attribute output_padding=" + ints_to_string(output_padding) +
                              " must be smaller than the stride or the dilation");
    }
  }
  std::string auto_pad;
  FUNGEN_RETURN_IF_ERROR(read_auto_pad(node, &auto_pad));
  std::vector<int64_t> output_shape;
  if (node.has_attr("output_shape")) {
    output_shape = node.attr_ints("output_shape");
    // Some exporters write N and C too; keep the spatial tail.
    if (output_shape.size() == n + 2)
      output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
    if (output_shape.size() != n) {
      return invalid_argument(
          "attribute output_shape=" + ints_to_string(node.attr_ints("output_shape")) +
          " must have " + std::to_string(n) + " values");
    }
  }
  g->out.assign(n, 0);
  g->pads_begin.assign(n, 0);
  g->pads_end.assign(n, 0);
  if (auto_pad == "NOTSET" && output_shape.empty()) FUNGEN_RETURN_IF_ERROR(read_pads(node, n, g));
  for (size_t i = 0; i < n; ++i) {
    const int64_t full = g->strides[i] * (g->in[i] - 1) + output_padding[i] +
                         (g->kernel[i] - 1) * g->dilations[i] + 1;
    int64_t target = -1;
    if (!output_shape.empty()) {
      target = output_shape[i];
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      target = g->in[i] * g->strides[i];
    }
    if (target >= 0) {
      // A negative total (output_shape beyond the full size) extends the end, as in the spec's
      // reference implementation, which splits with floor division.
      const int64_t total = full - target;
      const int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);  // floor(total / 2)
      g->pads_begin[i] = auto_pad == "SAME_UPPER" ? half : total - half;
      g->pads_end[i] = total - g->pads_begin[i];
      g->out[i] = target;
    } else {
      g->out[i] = full - g->pads_begin[i] - g->pads_end[i];
    }
    if (g->out[i] < 1) {
      return invalid_argument("output size " + std::to_string(g->out[i]) + " in spatial dim " +
                              std::to_string(i) + " is not positive");
    }
  }
  return Status();
}

Window3 to_window3(const WindowGeometry& g) {
  Window3 w;
  const int pad = 3 - g.rank();
  for (int i = 0; i < 3; ++i) {
    const bool real = i >= pad;
    const size_t j = static_cast<size_t>(i - pad);
    w.in[i] = real ? g.in[j] : 1;
    w.out[i] = real ? g.out[j] : 1;
    w.kernel[i] = real ? g.kernel[j] : 1;
    w.strides[i] = real ? g.strides[j] : 1;
    w.dilations[i] = real ? g.dilations[j] : 1;
    w.pads[i] = real ? g.pads_begin[j] : 0;
  }
  return w;
}

}  // namespace fungen
