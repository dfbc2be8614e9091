#include "backends/cpu/cpu_run.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>

#include "backends/cpu/cpu_ops.h"
#include "fungen/log.h"
#include "graph/memory_plan.h"
#include "util/assert.h"
#include "util/memory.h"

namespace fungen::cpu {

memory::dims to_dims(const Shape& s) {
  return memory::dims(s.begin(), s.end());
}

memory::format_tag plain_tag(size_t rank) {
  using tag = memory::format_tag;
  switch (rank) {
    case 0:
    case 1:
      return tag::a;
    case 2:
      return tag::ab;
    case 3:
      return tag::abc;
    case 4:
      return tag::abcd;
    case 5:
      return tag::abcde;
    case 6:
      return tag::abcdef;
    default:
      return tag::undef;
  }
}

memory::desc plain_md(const Shape& s, memory::data_type dt) {
  // oneDNN has no rank-0 memory: a scalar is one element of rank 1. Above the ranks its plain
  // tags name, a dense row-major layout is given by strides.
  if (s.empty()) return memory::desc({1}, dt, memory::format_tag::a);
  memory::format_tag tag = plain_tag(s.size());
  if (tag != memory::format_tag::undef) return memory::desc(to_dims(s), dt, tag);
  memory::dims strides(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) strides[i - 1] = strides[i] * std::max<int64_t>(s[i], 1);
  return memory::desc(to_dims(s), dt, strides);
}

namespace {

memory::format_tag layout_for(const CpuOptions& options) {
  // FUNGEN_CPU_LAYOUT=nhwc|nChw16c|nChw8c overrides the default, for layout experiments.
  const char* env = std::getenv("FUNGEN_CPU_LAYOUT");
  std::string v = env ? env : "";
  if (v == "nhwc") return memory::format_tag::nhwc;
  if (v == "nChw8c") return memory::format_tag::nChw8c;
  if (v == "nChw16c") return memory::format_tag::nChw16c;
  return options.int8 ? memory::format_tag::nhwc : memory::format_tag::nChw16c;
}

}  // namespace

bool is_reference_impl(const char* impl_info) {
  return std::strncmp(impl_info, "ref", 3) == 0;
}

CpuRun::CpuRun(const Graph& graph, const CpuOptions& options)
    : graph_(graph),
      options_(options),
      layout_(layout_for(options)),
      engine_(dnnl::engine::kind::cpu, 0),
      stream_(engine_) {}

bool CpuRun::is_constant(int value) const {
  return graph_.values[static_cast<size_t>(value)].is_constant();
}
const Tensor& CpuRun::constant(int value) const {
  return *graph_.values[static_cast<size_t>(value)].constant;
}

bool CpuRun::dies_at(int value, size_t node_index) const {
  return last_reader_[static_cast<size_t>(value)] == static_cast<int>(node_index) &&
         !leaves_run_[static_cast<size_t>(value)];
}

const memory::desc& CpuRun::desc_of(int value) const {
  const auto& v = variants_[static_cast<size_t>(value)];
  FUNGEN_ASSERT(!v.empty());
  return bufs_[static_cast<size_t>(v.front())].desc;
}

memory::desc CpuRun::plain_desc(int value) const {
  return plain_md(shape(value));
}

int CpuRun::new_storage(size_t bytes) {
  Storage st;
  st.bytes = bytes;
  st.first = st.last = static_cast<int>(steps_.size());
  storages_.push_back(std::move(st));
  return static_cast<int>(storages_.size()) - 1;
}

void CpuRun::touch(int buf) {
  Storage& st = storages_[static_cast<size_t>(bufs_[static_cast<size_t>(buf)].storage)];
  int now = static_cast<int>(steps_.size());
  st.first = std::min(st.first, now);
  st.last = std::max(st.last, now);
}

size_t CpuRun::channel_offset(const Shape& s, int64_t c, memory::data_type dt) {
  return static_cast<size_t>(c * s[2] * s[3]) * memory::data_type_size(dt);
}

int CpuRun::define_view(int value, int buf, const memory::desc& desc, size_t offset) {
  int id = view(buf, desc, offset);
  variants_[static_cast<size_t>(value)] = {id};
  return id;
}

int CpuRun::define(int value, const memory::desc& desc) {
  Buf b;
  b.desc = desc;
  int out = output_index_[static_cast<size_t>(value)];
  const memory::data_type t = options_.bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  std::pair<int, size_t> where{-1, 0};
  if (blocks_are_contiguous(value) && desc == blocked_desc(shape(value), t)) where = placed(value);
  if (where.first >= 0) {
    b.storage = where.first;
    b.offset = where.second;
  } else if (out >= 0 && desc == plain_desc(value)) {
    b.storage = output_storage_[static_cast<size_t>(out)];
  } else {
    b.storage = new_storage(desc.get_size());
  }
  bufs_.push_back(b);
  int id = static_cast<int>(bufs_.size()) - 1;
  variants_[static_cast<size_t>(value)] = {id};
  touch(id);
  return id;
}

int CpuRun::define_alias(int value, int buf, const memory::desc& desc) {
  int id = view(buf, desc, 0);
  variants_[static_cast<size_t>(value)] = {id};
  return id;
}

int CpuRun::view(int buf, const memory::desc& desc, size_t offset) {
  Buf b;
  b.desc = desc;
  b.storage = bufs_[static_cast<size_t>(buf)].storage;
  b.offset = bufs_[static_cast<size_t>(buf)].offset + offset;
  bufs_.push_back(b);
  int id = static_cast<int>(bufs_.size()) - 1;
  touch(id);
  return id;
}

int CpuRun::get(int value, const memory::desc& want) {
  auto& vs = variants_[static_cast<size_t>(value)];
  FUNGEN_ASSERT(!vs.empty());
  for (int id : vs) {
    if (bufs_[static_cast<size_t>(id)].desc == want) {
      touch(id);
      return id;
    }
  }
  int src = vs.front();
  // From the f32 variant when there is one (a second s8 variant would need a second rounding).
  for (int id : vs) {
    if (bufs_[static_cast<size_t>(id)].desc.data_type() == memory::data_type::f32) {
      src = id;
      break;
    }
  }
  auto quantized = [](memory::data_type t) {
    return t == memory::data_type::s8 || t == memory::data_type::u8;
  };
  const bool from_q = quantized(bufs_[static_cast<size_t>(src)].desc.data_type());
  const bool to_q = quantized(want.data_type());
  // Quantized to quantized: only a layout change (a second rounding would go via f32).
  FUNGEN_ASSERT(!(from_q && to_q) ||
                bufs_[static_cast<size_t>(src)].desc.data_type() == want.data_type());
  // A zero point never goes through oneDNN's reorder (quantize_zero_point.cpp) for the
  // channels-last layout int8 convolutions take; other layouts (FUNGEN_CPU_LAYOUT) still do.
  if (from_q != to_q && zero_of(value) != 0) {
    const int id = convert_zero_point(value, src, want);
    if (id >= 0) return id;
  }
  Buf b;
  b.desc = want;
  b.storage = new_storage(want.get_size());
  bufs_.push_back(b);
  int dst = static_cast<int>(bufs_.size()) - 1;
  // int8: real = scale * (q - zero), so quantizing is q = real / scale + zero and dequantizing
  // (q - zero) * scale (oneDNN's reorder: dst = output_scale * (src - src_zero) + dst_zero).
  dnnl::primitive_attr attr;
  if (from_q != to_q) {
    float scale = scale_of(value);
    FUNGEN_ASSERT(scale > 0);
    attr.set_output_scales(0, {to_q ? 1.0f / scale : scale});
    if (zero_of(value) != 0)
      attr.set_zero_points(to_q ? DNNL_ARG_DST : DNNL_ARG_SRC, 0, {zero_of(value)});
  }
  dnnl::reorder::primitive_desc pd(engine_, bufs_[static_cast<size_t>(src)].desc, engine_, want,
                                   attr);
  add_primitive("reorder " + graph_.values[static_cast<size_t>(value)].name, dnnl::reorder(pd),
                {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}}, pd.scratchpad_desc());
  vs.push_back(dst);
  return dst;
}

void CpuRun::add_primitive(std::string label, dnnl::primitive prim,
                           std::vector<std::pair<int, int>> args, const memory::desc& scratchpad) {
  for (auto& a : args) touch(a.second);
  scratchpad_bytes_ = std::max(scratchpad_bytes_, scratchpad.get_size());
  Step s;
  s.label = std::move(label);
  s.prim = std::move(prim);
  s.args = std::move(args);
  steps_.push_back(std::move(s));
}

void CpuRun::add_plain(const Node& node, std::vector<int> in_bufs, std::vector<int> out_bufs,
                       KernelFn kernel) {
  for (int b : in_bufs) {
    if (b >= 0) touch(b);
  }
  for (int b : out_bufs) {
    if (b >= 0) touch(b);
  }
  Step s;
  s.label = node.name + " (" + node.op_type + (kernel ? ", own)" : ", plain)");
  s.kernel = kernel ? kernel : node.schema->reference;
  s.node = &node;
  s.in_bufs = std::move(in_bufs);
  s.out_bufs = std::move(out_bufs);
  if (node.scratch_bytes) {
    s.scratch_storage = new_storage(node.scratch_bytes);
    s.scratch_bytes = node.scratch_bytes;
  }
  steps_.push_back(std::move(s));
}

void CpuRun::add_own(std::string label, std::vector<int> bufs,
                     std::function<void(const std::vector<std::byte*>&)> fn) {
  for (int b : bufs) touch(b);
  Step s;
  s.label = std::move(label);
  s.own = std::move(fn);
  s.own_ptrs.resize(bufs.size());
  s.own_bufs = std::move(bufs);
  steps_.push_back(std::move(s));
}

int CpuRun::pack(const memory& src, const memory::desc& want) {
  memory dst(want, engine_);
  dnnl::reorder(src, dst).execute(stream_, const_cast<memory&>(src), dst);
  stream_.wait();
  packed_.push_back(dst);
  Storage st;
  st.bytes = want.get_size();
  st.owned = std::shared_ptr<void>(dst.get_data_handle(), [](void*) {});  // packed_ owns it
  st.ptr = static_cast<std::byte*>(dst.get_data_handle());
  storages_.push_back(std::move(st));
  Buf b;
  b.desc = want;
  b.storage = static_cast<int>(storages_.size()) - 1;
  bufs_.push_back(b);
  return static_cast<int>(bufs_.size()) - 1;
}

void CpuRun::record_range(int value, int buf) {
  if (bufs_[static_cast<size_t>(buf)].desc.data_type() != memory::data_type::f32) return;
  steps_.back().record_value = value;
  steps_.back().record_buf = buf;
}

std::vector<const Node*> CpuRun::readers(int value) const {
  std::vector<const Node*> out;
  for (size_t n = run_first_; n <= run_last_; ++n) {
    const Node& node = graph_.nodes[n];
    if (std::find(node.inputs.begin(), node.inputs.end(), value) != node.inputs.end())
      out.push_back(&node);
  }
  return out;
}

bool CpuRun::feeds_conv(int value) const {
  // Through glue that keeps the feature map (4-D in and out): Split/Concat of C2f blocks, SPPF's
  // MaxPools, upsampling, residual adds.
  static const char* const kGlue[] = {"Split", "Concat", "MaxPool", "Resize",
                                      "Add",   "Mul",    "Sigmoid", "Identity"};
  std::vector<int> todo = {value};
  std::vector<bool> seen(graph_.values.size(), false);
  while (!todo.empty()) {
    int v = todo.back();
    todo.pop_back();
    if (seen[static_cast<size_t>(v)]) continue;
    seen[static_cast<size_t>(v)] = true;
    for (const Node* r : readers(v)) {
      if (r->op_type == "Conv" || r->op_type == "FusedConv") return true;
      bool glue = false;
      for (const char* g : kGlue) glue |= r->op_type == g;
      if (!glue) continue;
      for (int out : r->outputs) {
        if (out >= 0 && shape(out).size() == 4) todo.push_back(out);
      }
    }
  }
  return false;
}

bool CpuRun::can_overwrite(int value, int buf) const {
  if (!dies_at(value, current_node_)) return false;
  int storage = bufs_[static_cast<size_t>(buf)].storage;
  const Storage& st = storages_[static_cast<size_t>(storage)];
  if (st.boundary_input >= 0 || st.boundary_output >= 0 || st.owned) return false;
  int sharing = 0;
  for (const Buf& b : bufs_) sharing += b.storage == storage;
  return sharing == 1;
}

Result<std::unique_ptr<CpuRun>> CpuRun::build(const Graph& graph, const NodeRun& run,
                                              const CpuOptions& options) {
  // No oneDNN exception leaves the backend: a lowering that throws was undone and runs plain
  // (lower()); anything else oneDNN refuses is an error of this run.
  try {
    return build_unchecked(graph, run, options);
  } catch (const dnnl::error& e) {
    return internal_error(std::string("cpu backend: oneDNN: ") + e.what());
  }
}

Result<std::unique_ptr<CpuRun>> CpuRun::build_unchecked(const Graph& graph, const NodeRun& run,
                                                        const CpuOptions& options) {
  // oneDNN sizes its parallel work when a primitive is created: bound it here as in run().
  omp_set_num_threads(options.threads);
  std::unique_ptr<CpuRun> r(new CpuRun(graph, options));
  const size_t nv = graph.values.size();
  r->shapes_.resize(nv);
  r->last_reader_.assign(nv, -1);
  r->leaves_run_.assign(nv, false);
  r->output_index_.assign(nv, -1);
  r->variants_.resize(nv);
  r->qscale_.assign(nv, 0.0f);
  r->qzero_.assign(nv, 0);
  r->run_first_ = run.first;
  r->run_last_ = run.last;
  int64_t batch = 1;
  if (!run.inputs.empty()) {
    const Shape& s = graph.values[static_cast<size_t>(run.inputs[0])].shape;
    if (!s.empty()) batch = s[0];
  }
  bool per_image = batch > 1 && images_independent(graph, run, batch);
  r->images_ = per_image ? static_cast<int>(batch) : 1;
  for (size_t v = 0; v < nv; ++v) {
    r->shapes_[v] = graph.values[v].shape;
    if (per_image && !graph.values[v].is_constant() && !r->shapes_[v].empty()) r->shapes_[v][0] = 1;
  }
  for (size_t n = run.first; n <= run.last; ++n) {
    for (int id : graph.nodes[n].inputs) {
      if (id >= 0) r->last_reader_[static_cast<size_t>(id)] = static_cast<int>(n);
    }
  }
  for (size_t i = 0; i < run.outputs.size(); ++i) {
    int id = run.outputs[i];
    r->leaves_run_[static_cast<size_t>(id)] = true;
    if (r->output_index_[static_cast<size_t>(id)] < 0)
      r->output_index_[static_cast<size_t>(id)] = static_cast<int>(i);
  }
  // Boundary storages.
  for (size_t i = 0; i < run.inputs.size(); ++i) {
    int id = run.inputs[i];
    memory::desc d = r->plain_desc(id);
    int st = r->new_storage(d.get_size());
    r->storages_[static_cast<size_t>(st)].boundary_input = static_cast<int>(i);
    r->storages_[static_cast<size_t>(st)].image_stride = per_image ? d.get_size() : 0;
    r->input_storage_.push_back(st);
    Buf b;
    b.desc = d;
    b.storage = st;
    r->bufs_.push_back(b);
    r->variants_[static_cast<size_t>(id)] = {static_cast<int>(r->bufs_.size()) - 1};
  }
  for (size_t i = 0; i < run.outputs.size(); ++i) {
    memory::desc d = r->plain_desc(run.outputs[i]);
    int st = r->new_storage(d.get_size());
    r->storages_[static_cast<size_t>(st)].boundary_output = static_cast<int>(i);
    r->storages_[static_cast<size_t>(st)].image_stride = per_image ? d.get_size() : 0;
    r->output_storage_.push_back(st);
  }
  r->plan_concats(run);
  FUNGEN_RETURN_IF_ERROR(r->lower(run));
  FUNGEN_RETURN_IF_ERROR(r->finalize(run));
  return r;
}

CpuRun::Checkpoint CpuRun::checkpoint() const {
  Checkpoint cp;
  cp.bufs = bufs_.size();
  cp.storages = storages_.size();
  cp.steps = steps_.size();
  cp.packed = packed_.size();
  cp.scratchpad_bytes = scratchpad_bytes_;
  cp.variants = variants_;
  cp.reserved = reserved_;
  cp.qscale = qscale_;
  cp.qzero = qzero_;
  for (const Storage& st : storages_) cp.lifetimes.push_back({st.first, st.last});
  return cp;
}

void CpuRun::restore(const Checkpoint& cp) {
  bufs_.resize(cp.bufs);
  storages_.resize(cp.storages);
  steps_.resize(cp.steps);
  packed_.resize(cp.packed);
  scratchpad_bytes_ = cp.scratchpad_bytes;
  variants_ = cp.variants;
  reserved_ = cp.reserved;
  qscale_ = cp.qscale;
  qzero_ = cp.qzero;
  for (size_t i = 0; i < cp.lifetimes.size(); ++i) {
    storages_[i].first = cp.lifetimes[i].first;
    storages_[i].last = cp.lifetimes[i].second;
  }
}

Status CpuRun::lower(const NodeRun& run) {
  for (size_t n = run.first; n <= run.last; ++n) {
    current_node_ = n;
    const Node& node = graph_.nodes[n];
    LowerFn fn = lowering_for(node.op_type);
    // A lowering that declines (or that oneDNN refuses with an exception) may have added
    // reorders, buffers or packed weights already: undo them, and run the node's plain kernel.
    Checkpoint cp = checkpoint();
    Status s;
    try {
      s = fn ? fn(*this, node) : unsupported("no oneDNN lowering");
    } catch (const dnnl::error& e) {
      s = unsupported(std::string("oneDNN: ") + e.what());
    }
    if (!s.ok()) {
      log(LogLevel::kDebug, "cpu: {} ({}) runs plain: {}", node.name, node.op_type, s.message());
      restore(cp);
      try {
        s = lower_plain(*this, node);
      } catch (const dnnl::error& e) {
        s = internal_error(std::string("oneDNN: ") + e.what());
      }
    }
    if (!s.ok()) return s.with_context(node.describe(graph_.opset));
  }
  // Run outputs end in their boundary tensors, in the plain layout.
  for (size_t i = 0; i < run.outputs.size(); ++i) {
    int id = run.outputs[i];
    int st = output_storage_[i];
    bool there = false;
    for (int b : variants_[static_cast<size_t>(id)])
      there |= bufs_[static_cast<size_t>(b)].storage == st;
    if (there) continue;
    Buf b;
    b.desc = plain_desc(id);
    b.storage = st;
    bufs_.push_back(b);
    int dst = static_cast<int>(bufs_.size()) - 1;
    int src = variants_[static_cast<size_t>(id)].front();
    dnnl::reorder::primitive_desc pd(engine_, bufs_[static_cast<size_t>(src)].desc, engine_,
                                     b.desc);
    add_primitive("output " + graph_.values[static_cast<size_t>(id)].name, dnnl::reorder(pd),
                  {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}}, pd.scratchpad_desc());
  }
  return Status();
}

Status CpuRun::finalize(const NodeRun& run) {
  // Arena: every storage that is neither a boundary tensor nor owned.
  std::vector<BufferRequest> requests;
  std::vector<int> which;
  for (size_t i = 0; i < storages_.size(); ++i) {
    const Storage& st = storages_[i];
    if (st.boundary_input >= 0 || st.boundary_output >= 0 || st.owned || st.bytes == 0) continue;
    requests.push_back({st.bytes, st.first, st.last});
    which.push_back(static_cast<int>(i));
  }
  MemoryPlan plan = plan_memory(requests);
  size_t total = plan.arena_bytes + scratchpad_bytes_ + kArenaAlignment;
  arena_ = allocate_buffer(total);
  if (!arena_)
    return out_of_memory("cannot allocate " + std::to_string(total >> 20) +
                         " MiB for the cpu backend");
  auto* base = static_cast<std::byte*>(arena_.get());
  for (size_t r = 0; r < requests.size(); ++r)
    storages_[static_cast<size_t>(which[r])].ptr = base + plan.offsets[r];
  size_t pad_offset = (plan.arena_bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
  scratchpad_ =
      memory(memory::desc({static_cast<memory::dim>(std::max<size_t>(scratchpad_bytes_, 1))},
                          memory::data_type::u8, memory::format_tag::a),
             engine_, base + pad_offset);
  // oneDNN memory objects over the placed bytes (boundary ones are pointed per run).
  for (Buf& b : bufs_) {
    const Storage& st = storages_[static_cast<size_t>(b.storage)];
    void* p = st.ptr ? static_cast<void*>(st.ptr + b.offset) : nullptr;
    b.mem = memory(b.desc, engine_, p);
  }
  for (Step& s : steps_) {
    if (s.kernel) {
      const Node& node = *s.node;
      for (size_t i = 0; i < node.inputs.size(); ++i) {
        int id = node.inputs[i];
        int b = s.in_bufs[i];
        if (b >= 0) {
          const Buf& buf = bufs_[static_cast<size_t>(b)];
          const Storage& st = storages_[static_cast<size_t>(buf.storage)];
          // The value's own shape (a rank-0 or high-rank tensor's buffer desc is not it).
          s.in_tensors.push_back(Tensor::view(graph_.values[static_cast<size_t>(id)].dtype,
                                              shape(id), st.ptr ? st.ptr + buf.offset : nullptr));
        } else if (id >= 0) {
          s.in_tensors.push_back(constant(id));
        } else {
          s.in_tensors.emplace_back();
        }
      }
      for (size_t i = 0; i < node.outputs.size(); ++i) {
        int id = node.outputs[i];
        int b = s.out_bufs[i];
        if (b >= 0) {
          const Buf& buf = bufs_[static_cast<size_t>(b)];
          const Storage& st = storages_[static_cast<size_t>(buf.storage)];
          s.out_tensors.push_back(Tensor::view(graph_.values[static_cast<size_t>(id)].dtype,
                                               shape(id), st.ptr ? st.ptr + buf.offset : nullptr));
        } else {
          s.out_tensors.emplace_back();
        }
      }
      for (size_t i = 0; i < node.inputs.size(); ++i) {
        bool present = s.in_bufs[i] >= 0 || node.inputs[i] >= 0;
        s.in_ptrs.push_back(present ? &s.in_tensors[i] : nullptr);
      }
      for (size_t i = 0; i < node.outputs.size(); ++i) {
        s.out_ptrs.push_back(s.out_bufs[i] >= 0 ? &s.out_tensors[i] : nullptr);
      }
      if (s.scratch_storage >= 0)
        s.scratch_bytes = storages_[static_cast<size_t>(s.scratch_storage)].bytes;
    } else if (!s.own) {
      for (auto& [arg, b] : s.args)
        s.exec_args.push_back({arg, bufs_[static_cast<size_t>(b)].mem.get()});
      s.exec_args.push_back({DNNL_ARG_SCRATCHPAD, scratchpad_.get()});
    }
  }
  for (size_t i = 0; i < bufs_.size(); ++i) {
    const Storage& st = storages_[static_cast<size_t>(bufs_[i].storage)];
    if (st.boundary_input >= 0 || st.boundary_output >= 0)
      boundary_bufs_.push_back(static_cast<int>(i));
  }
  for (Step& s : steps_) {
    if (!s.kernel) continue;
    for (size_t i = 0; i < s.in_bufs.size(); ++i) {
      int b = s.in_bufs[i];
      if (b < 0) continue;
      const Storage& st = storages_[static_cast<size_t>(bufs_[static_cast<size_t>(b)].storage)];
      if (st.boundary_input >= 0 || st.boundary_output >= 0)
        boundary_tensors_.push_back({&s.in_tensors[i], b});
    }
    for (size_t i = 0; i < s.out_bufs.size(); ++i) {
      int b = s.out_bufs[i];
      if (b < 0) continue;
      const Storage& st = storages_[static_cast<size_t>(bufs_[static_cast<size_t>(b)].storage)];
      if (st.boundary_input >= 0 || st.boundary_output >= 0)
        boundary_tensors_.push_back({&s.out_tensors[i], b});
    }
  }
  size_t prims = 0;
  for (const Step& s : steps_) prims += !s.kernel && !s.own;
  log(LogLevel::kDebug,
      "cpu run: {} nodes -> {} steps ({} oneDNN), {} image(s) per batch, arena {:.1f} MiB",
      run.last - run.first + 1, steps_.size(), prims, images_,
      static_cast<double>(total) / (1 << 20));
  return Status();
}

}  // namespace fungen::cpu
