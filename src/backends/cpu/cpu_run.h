// cpu_run.h — one run of consecutive graph nodes compiled for oneDNN (see runtime/backend.h,
// NodeRun). Activations stay in the layouts oneDNN's primitives prefer (blocked, e.g. nChw16c)
// between ops; a value is reordered only when a consumer wants another layout (the plain ONNX
// layout at the run's edges and for the glue ops that run on plain tensors).
//
// Building (once per input shape): each node is lowered by one function of lower_*.cpp into
// steps (a oneDNN primitive with its arguments, or a plain kernel on plain tensors); then every
// buffer of the run gets its bytes in one arena planned by lifetime; weights are packed once.
// Running executes the steps in order and allocates nothing of fungen's own.
//
// Batch: when every op of the run treats images independently (the case for YOLO exports), the
// run is built for one image and executed once per image of the batch, so buffers stay small
// and in cache.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fungen/status.h"
#include "graph/graph.h"
#include "ops/op.h"
#include "runtime/backend.h"

namespace fungen::cpu {

using dnnl::memory;

memory::dims to_dims(const Shape& s);

struct CpuOptions {
  int threads = 1;
  bool bf16 = false;  // convolutions' activations and weights in bfloat16
  // int8: convolutions with s8 activations (per-tensor scales from `calibration`) and s8 weights
  // (per-output-channel scales); activations that only feed such convolutions stay s8.
  bool int8 = false;
  std::shared_ptr<const CalibrationTable> calibration;
  std::shared_ptr<CalibrationTable> record;  // fp32: record the largest |x| of conv inputs
};

// Bytes that hold one or more buffers: arena-planned, or a boundary tensor of the run.
struct Storage {
  size_t bytes = 0;
  int first = 0, last = 0;                        // step indices of its lifetime
  int boundary_input = -1, boundary_output = -1;  // index in the run's inputs/outputs, or -1
  size_t image_stride = 0;                        // boundary: bytes between images of the batch
  std::shared_ptr<void> owned;                    // constants and packed weights
  std::byte* ptr = nullptr;
};

// A tensor in one physical layout, at `offset` bytes into its storage.
struct Buf {
  memory::desc desc;
  int storage = -1;
  size_t offset = 0;
  memory mem;  // created when storage is placed
};

class CpuRun;

// One step of a run.
struct Step {
  std::string label;  // for logs: node name and what the step does
  // A oneDNN primitive with (DNNL_ARG_*, buffer id) arguments...
  dnnl::primitive prim;
  std::vector<std::pair<int, int>> args;
  std::vector<dnnl_exec_arg_t> exec_args;  // filled at finalize
  // ...or a plain kernel (reference) on plain tensors.
  KernelFn kernel = nullptr;
  const Node* node = nullptr;
  std::vector<int> in_bufs, out_bufs;  // -1: omitted or constant (then the tensor is set)
  std::vector<Tensor> in_tensors, out_tensors;
  std::vector<const Tensor*> in_ptrs;
  std::vector<Tensor*> out_ptrs;
  int scratch_storage = -1;
  size_t scratch_bytes = 0;
  // ...or the backend's own code on raw buffers (their bytes at run time, in `own_bufs` order).
  std::function<void(const std::vector<std::byte*>&)> own;
  std::vector<int> own_bufs;
  std::vector<std::byte*> own_ptrs;  // sized once, filled before each call
  // Calibration: before the step, the largest |value| of buffer `record_buf` (f32) goes into
  // CpuOptions::record under the name of value `record_value`.
  int record_value = -1, record_buf = -1;
};

class CpuRun final : public NodeKernel {
 public:
  static Result<std::unique_ptr<CpuRun>> build(const Graph& graph, const NodeRun& run,
                                               const CpuOptions& options);
  Status run(KernelContext& ctx) override;

  // --- for the lower_*.cpp functions ---
  const Graph& graph() const { return graph_; }
  const CpuOptions& options() const { return options_; }
  dnnl::engine& engine() { return engine_; }
  // The layout this run keeps 4-D activations in: nChw16c; nhwc for int8 (oneDNN 2.6's int8
  // convolutions take only channels-last); FUNGEN_CPU_LAYOUT=nhwc|nChw16c|nChw8c overrides.
  memory::format_tag layout() const { return layout_; }
  memory::desc blocked_desc(const Shape& s, memory::data_type dt) const {
    return memory::desc(to_dims(s), dt, layout_);
  }
  // The value's shape inside the run (dim 0 is 1 when the run goes image by image).
  const Shape& shape(int value) const { return shapes_[static_cast<size_t>(value)]; }
  bool is_constant(int value) const;
  const Tensor& constant(int value) const;
  // True when `node_index` is the last reader of `value` and the value leaves the run nowhere.
  bool dies_at(int value, size_t node_index) const;
  size_t current_node() const { return current_node_; }
  // Does `value` leave the run (a run output)?
  bool leaves_run(int value) const { return leaves_run_[static_cast<size_t>(value)]; }
  // The value's layout as produced.
  const memory::desc& desc_of(int value) const;
  // A buffer holding `value` in layout `want`, reordering (once) if it was produced otherwise.
  int get(int value, const memory::desc& want);
  int get_plain(int value) { return get(value, plain_desc(value)); }
  memory::desc plain_desc(int value) const;
  // Makes `desc` the layout `value` is produced in, in a new buffer (or in the run's output
  // tensor when the value leaves the run and the layout is plain).
  int define(int value, const memory::desc& desc);
  // Makes `value` an alias of buffer `buf` reinterpreted as `desc` (same bytes), e.g. Reshape.
  int define_alias(int value, int buf, const memory::desc& desc);
  // A buffer of `desc` over the bytes of buffer `buf` from `offset` on (views such as Split).
  int view(int buf, const memory::desc& desc, size_t offset);
  // Makes `value` a view of buffer `buf` at `offset` bytes (zero-copy Split).
  int define_view(int value, int buf, const memory::desc& desc, size_t offset);
  // Concat without copies: in a 4-D tensor of one image with channel blocks of 16, a channel range
  // that starts at a multiple of 16 is a contiguous byte range of the blocked tensor. A value
  // that feeds such a Concat is produced straight into its slice (see plan_concats()). Per value:
  // other values of the run (attention's reshapes to area×heads) may carry another leading dim.
  bool blocks_are_contiguous(int value) const {
    const Shape& s = shape(value);
    return s.size() == 4 && s[0] == 1;
  }
  // Byte offset of channel `c` in the blocked layout of a one-image tensor of shape `s`.
  static size_t channel_offset(const Shape& s, int64_t c, memory::data_type dt);
  const Buf& buf(int id) const { return bufs_[static_cast<size_t>(id)]; }
  // Is `value` already held in layout `desc` at (`storage`, `offset`)?
  bool holds(int value, int storage, size_t offset, const memory::desc& desc) const {
    for (int b : variants_[static_cast<size_t>(value)]) {
      const Buf& x = bufs_[static_cast<size_t>(b)];
      if (x.storage == storage && x.offset == offset && x.desc == desc) return true;
    }
    return false;
  }
  // Adds a step; the buffers it names are live at it. `scratchpad` is the primitive's.
  void add_primitive(std::string label, dnnl::primitive prim, std::vector<std::pair<int, int>> args,
                     const memory::desc& scratchpad);
  // A plain-tensor step: the op's reference kernel, or `kernel` (the backend's own).
  void add_plain(const Node& node, std::vector<int> in_bufs, std::vector<int> out_bufs,
                 KernelFn kernel = nullptr);
  // A step of the backend's own code on buffers `bufs` (in their layouts as defined).
  void add_own(std::string label, std::vector<int> bufs,
               std::function<void(const std::vector<std::byte*>&)> fn);
  // A buffer that lives as long as the run (packed weights, bias): `src` reordered into `want` now.
  int pack(const memory& src, const memory::desc& want);
  // May a step write over buffer `buf` of `value` (it dies at the current node and nothing else
  // shares its bytes)?
  bool can_overwrite(int value, int buf) const;
  dnnl::stream& stream() { return stream_; }
  // Calibration: the last step added records the range of `value` held in buffer `buf`.
  void record_range(int value, int buf);
  // int8: the scale and zero point of `value`'s s8/u8 variants (real = scale * (q - zero)); scale
  // 0 when it has none.
  float scale_of(int value) const { return qscale_[static_cast<size_t>(value)]; }
  int zero_of(int value) const { return qzero_[static_cast<size_t>(value)]; }
  void set_scale(int value, float scale, int zero = 0) {
    qscale_[static_cast<size_t>(value)] = scale;
    qzero_[static_cast<size_t>(value)] = zero;
  }
  // Is `value` to be produced into a slice of a Concat (in the blocked f32/bf16 layout)?
  bool is_placed(int value) const { return placement_[static_cast<size_t>(value)].first >= 0; }
  // The nodes of the run that read `value`.
  std::vector<const Node*> readers(int value) const;
  // Does `value` reach a convolution of the run, directly or through glue that keeps the 4-D
  // feature map? (False for the detect head's last convolutions and DFL.)
  bool feeds_conv(int value) const;

 private:
  CpuRun(const Graph& graph, const CpuOptions& options);
  static Result<std::unique_ptr<CpuRun>> build_unchecked(const Graph& graph, const NodeRun& run,
                                                         const CpuOptions& options);
  // What lowering one node may change, to undo a lowering that declines part way.
  struct Checkpoint {
    size_t bufs = 0, storages = 0, steps = 0, packed = 0, scratchpad_bytes = 0;
    std::vector<std::vector<int>> variants;
    std::vector<int> reserved;
    std::vector<float> qscale;
    std::vector<int> qzero;
    std::vector<std::pair<int, int>> lifetimes;
  };
  Checkpoint checkpoint() const;
  void restore(const Checkpoint& cp);
  Status lower(const NodeRun& run);
  Status run_unchecked(KernelContext& ctx);
  void record(const Step& s);
  void plan_concats(const NodeRun& run);
  // Where `value` must live when produced in the blocked layout: (storage, offset), or storage -1.
  std::pair<int, size_t> placed(int value);
  Status finalize(const NodeRun& run);
  // get() for a quantized value with a zero point: the backend's own loop
  // (quantize_zero_point.cpp); -1 when the quantized layout is not channels-last.
  int convert_zero_point(int value, int src, const memory::desc& want);
  void touch(int buf);  // extends the lifetime of the buffer's storage to the current step
  int new_storage(size_t bytes);

  const Graph& graph_;
  CpuOptions options_;
  memory::format_tag layout_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  int images_ = 1;
  std::vector<Shape> shapes_;
  std::vector<int> last_reader_;            // value -> last node index (in the graph) that reads it
  std::vector<bool> leaves_run_;            // value -> is a run output
  std::vector<int> output_index_;           // value -> index in run outputs, or -1
  std::vector<std::vector<int>> variants_;  // value -> buffers holding it (first: as produced)
  std::vector<Buf> bufs_;
  std::vector<Storage> storages_;
  std::vector<Step> steps_;
  std::vector<memory> packed_;  // weights, bias
  size_t current_node_ = 0;
  std::vector<std::pair<int, size_t>> placement_;  // value -> (concat output value, byte offset)
  std::vector<int> reserved_;                      // concat output value -> its storage
  std::vector<float> qscale_;                      // value -> scale of its s8 variants (0: none)
  std::vector<int> qzero_;                         // value -> zero point of its u8 variants
  size_t run_first_ = 0, run_last_ = 0;
  size_t scratchpad_bytes_ = 0;
  memory scratchpad_;
  std::shared_ptr<void> arena_;
  std::vector<int> input_storage_, output_storage_;
  std::vector<int> boundary_bufs_;  // buffers on boundary storages: pointed per image
  std::vector<std::pair<Tensor*, int>> boundary_tensors_;  // plain steps' views of those
};

// Lowering of one node into steps; returns kUnsupported when this node can't be lowered.
using LowerFn = Status (*)(CpuRun& run, const Node& node);
Status lower_conv(CpuRun& run, const Node& node);
Status lower_pool(CpuRun& run, const Node& node);
Status lower_resize(CpuRun& run, const Node& node);
Status lower_concat(CpuRun& run, const Node& node);
Status lower_split(CpuRun& run, const Node& node);
Status lower_eltwise(CpuRun& run, const Node& node);
Status lower_binary(CpuRun& run, const Node& node);
Status lower_view(CpuRun& run, const Node& node);
Status lower_matmul(CpuRun& run, const Node& node);
Status lower_softmax(CpuRun& run, const Node& node);
Status lower_transpose(CpuRun& run, const Node& node);
Status lower_softmax_axis(CpuRun& run, const Node& node);
Status lower_plain(CpuRun& run, const Node& node);

// Conv/FusedConv geometry in oneDNN's terms (lower_conv.cpp).
struct ConvGeometry {
  memory::dims src, weights, bias, dst, strides, dilations, pad_l, pad_r;
};
Status conv_geometry(CpuRun& run, const Node& node, ConvGeometry* g);
// int8 convolution (lower_conv_int8.cpp); kUnsupported when the input has no calibrated range or
// int8_excluded().
Status lower_conv_int8(CpuRun& run, const Node& node);
// Does convolution `conv` stay out of int8 by its place in the graph (the fine levels: input at
// 1/8 of the image's resolution or more; the detect head's branches: the last convolution of a
// branch and the single-reader chain of convolutions that feeds it)?
bool int8_excluded(const CpuRun& run, const Node& conv);
// Channel Concat whose parts do not start on 16-channel blocks (concat_blocked.cpp).
Status lower_concat_unaligned(CpuRun& run, const Node& node, memory::data_type t);

// Does every op of the run treat the images of the batch independently, so the run can go image
// by image? (cpu_run_batch.cpp)
bool images_independent(const Graph& g, const NodeRun& run, int64_t batch);

// Helpers.
memory::format_tag plain_tag(size_t rank);
// The plain (row-major) layout of a tensor of shape `s`, any rank oneDNN takes; rank 0 as {1}.
memory::desc plain_md(const Shape& s, memory::data_type dt = memory::data_type::f32);
// The ranks the backend takes (oneDNN's limit); rank 0 is held as one element.
constexpr size_t kMaxRank = DNNL_MAX_NDIMS;
bool is_reference_impl(const char* impl_info);

}  // namespace fungen::cpu
