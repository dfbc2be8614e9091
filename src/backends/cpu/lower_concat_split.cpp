// Concat and Split along the channels of 4-D activations, in the blocked layout: Concat as
// oneDNN's concat, Split as reorders out of sub-memory views of the input.
#include <string>

#include "backends/cpu/cpu_run.h"

namespace fungen::cpu {

namespace {
int64_t norm_axis(int64_t axis, size_t rank) {
  return axis < 0 ? axis + static_cast<int64_t>(rank) : axis;
}
}  // namespace

namespace {

// Channel offsets of the parts, or empty when one does not start on a 16-channel block.
std::vector<int64_t> block_offsets(CpuRun& run, const std::vector<int>& parts) {
  std::vector<int64_t> offsets;
  int64_t c = 0;
  for (int id : parts) {
    if (c % 16 != 0) return {};
    offsets.push_back(c);
    c += id >= 0 ? run.shape(id)[1] : 0;
  }
  return offsets;
}

}  // namespace

Status lower_concat(CpuRun& run, const Node& node) {
  const int y = node.outputs[0];
  const Shape& ys = run.shape(y);
  if (ys.size() != 4 || norm_axis(node.attr_int("axis", 0), 4) != 1)
    return unsupported("only channel concat of 4-D");
  for (int id : node.inputs) {
    if (id < 0 || run.is_constant(id)) return unsupported("constant operand");
  }
  const memory::data_type bt =
      run.options().bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  std::vector<int64_t> offsets = block_offsets(run, node.inputs);
  if (run.blocks_are_contiguous(y) && run.layout() == memory::format_tag::nChw16c &&
      !offsets.empty()) {
    // Parts live in their slices of the output: copy in only those produced elsewhere.
    int yb = run.define(y, run.blocked_desc(ys, bt));
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      int id = node.inputs[i];
      memory::desc part = run.blocked_desc(run.shape(id), bt);
      size_t at = run.buf(yb).offset + CpuRun::channel_offset(ys, offsets[i], bt);
      if (run.holds(id, run.buf(yb).storage, at, part)) continue;
      int src = run.get(id, part);
      int dst = run.view(yb, part, CpuRun::channel_offset(ys, offsets[i], bt));
      dnnl::reorder::primitive_desc pd(run.engine(), part, run.engine(), part);
      run.add_primitive(node.name + " (concat part " + std::to_string(i) + ")", dnnl::reorder(pd),
                        {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}}, pd.scratchpad_desc());
    }
    return Status();
  }
  // Parts inside 16-channel blocks: fungen's own copy (oneDNN's generic concat is slow).
  if (run.blocks_are_contiguous(y)) {
    Status s = lower_concat_unaligned(run, node, bt);
    if (s.ok() || s.code() != StatusCode::kUnsupported) return s;
  }
  // All inputs in the layout of the first (they are normally produced blocked alike).
  memory::desc first = run.desc_of(node.inputs[0]);
  const memory::data_type t = first.data_type();
  std::vector<memory::desc> srcs;
  for (int id : node.inputs) srcs.push_back(memory::desc(to_dims(run.shape(id)), t, run.layout()));
  memory::desc dst(to_dims(ys), t, run.layout());
  dnnl::concat::primitive_desc pd;
  try {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    pd = dnnl::concat::primitive_desc(dst, 1, srcs, run.engine(), attr);
  } catch (const dnnl::error& e) {
    return unsupported(std::string("oneDNN concat: ") + e.what());
  }
  std::vector<std::pair<int, int>> args;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    args.push_back({DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), run.get(node.inputs[i], srcs[i])});
  }
  args.push_back({DNNL_ARG_DST, run.define(y, pd.dst_desc())});
  run.add_primitive(node.name + " (concat " + pd.impl_info_str() + ")", dnnl::concat(pd),
                    std::move(args), pd.scratchpad_desc());
  return Status();
}

Status lower_split(CpuRun& run, const Node& node) {
  const int x = node.inputs[0];
  const Shape& xs = run.shape(x);
  if (xs.size() != 4 || norm_axis(node.attr_int("axis", 0), 4) != 1)
    return unsupported("only channel split of 4-D");
  memory::desc src = run.desc_of(x);
  const memory::data_type t = src.data_type();
  // Views of the input's channel ranges; a range not aligned to the layout's blocks fails here.
  std::vector<memory::desc> views;
  int64_t offset = 0;
  try {
    for (int id : node.outputs) {
      const Shape& s = run.shape(id);
      views.push_back(src.submemory_desc(to_dims(s), {0, offset, 0, 0}));
      offset += s[1];
    }
  } catch (const dnnl::error& e) {
    return unsupported(std::string("split view: ") + e.what());
  }
  int xb = run.get(x, src);
  std::vector<int64_t> offsets = block_offsets(run, node.outputs);
  if (run.blocks_are_contiguous(x) && run.layout() == memory::format_tag::nChw16c &&
      src == run.blocked_desc(xs, t) && !offsets.empty()) {
    for (size_t i = 0; i < node.outputs.size(); ++i) {  // zero-copy: each part is a byte range
      int id = node.outputs[i];
      if (id >= 0)
        run.define_view(id, xb, run.blocked_desc(run.shape(id), t),
                        CpuRun::channel_offset(xs, offsets[i], t));
    }
    return Status();
  }
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    int id = node.outputs[i];
    if (id < 0) continue;
    memory::desc dense(
        to_dims(run.shape(id)), t,
        src.data.format_kind == dnnl_blocked && src.data.format_desc.blocking.inner_nblks == 0
            ? memory::format_tag::nchw
            : run.layout());
    int view = run.view(xb, views[i], 0);
    dnnl::reorder::primitive_desc pd(run.engine(), views[i], run.engine(), dense);
    int yb = run.define(id, dense);
    run.add_primitive(node.name + " (split part " + std::to_string(i) + ")", dnnl::reorder(pd),
                      {{DNNL_ARG_FROM, view}, {DNNL_ARG_TO, yb}}, pd.scratchpad_desc());
  }
  return Status();
}

}  // namespace fungen::cpu
