#include "runtime/plan_io.h"

#include <cstring>
#include <set>

#include "ops/op.h"
#include "ops/op_util.h"

namespace fungen {

void PlanWriter::u32(uint32_t v) {
  for (int i = 0; i < 4; ++i) u8(static_cast<uint8_t>(v >> (8 * i)));
}
void PlanWriter::u64(uint64_t v) {
  for (int i = 0; i < 8; ++i) u8(static_cast<uint8_t>(v >> (8 * i)));
}
void PlanWriter::f32(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  u32(bits);
}
void PlanWriter::f64(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  u64(bits);
}
void PlanWriter::str(const std::string& s) {
  u32(static_cast<uint32_t>(s.size()));
  raw(s);
}

const uint8_t* PlanReader::take(size_t n) {
  if (failed_ || n > left()) {
    failed_ = true;
    return nullptr;
  }
  const uint8_t* p = bytes_.data() + pos_;
  pos_ += n;
  return p;
}
uint8_t PlanReader::u8() {
  const uint8_t* p = take(1);
  return p ? *p : 0;
}
uint32_t PlanReader::u32() {
  const uint8_t* p = take(4);
  if (!p) return 0;
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}
uint64_t PlanReader::u64() {
  const uint8_t* p = take(8);
  if (!p) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}
float PlanReader::f32() {
  uint32_t bits = u32();
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}
double PlanReader::f64() {
  uint64_t bits = u64();
  double v;
  std::memcpy(&v, &bits, 8);
  return v;
}
std::string PlanReader::str() {
  uint32_t n = u32();
  const uint8_t* p = take(n);
  return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
}
uint32_t PlanReader::count(size_t min_item_bytes) {
  uint32_t n = u32();
  if (failed_ || static_cast<uint64_t>(n) * std::max<size_t>(min_item_bytes, 1) > left()) {
    failed_ = true;
    return 0;
  }
  return n;
}

uint64_t fnv1a64(const void* data, size_t n, uint64_t seed) {
  uint64_t h = seed;
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

// --- tensors and the constant pool ---

int ConstantPool::add(const Tensor& t, bool conv_weight) {
  const uint64_t h = fnv1a64(t.raw(), t.nbytes(), static_cast<uint64_t>(t.dtype()) + 1);
  std::vector<int>& same = by_hash_[h];
  for (int i : same) {
    const Tensor& o = tensors_[static_cast<size_t>(i)];
    if (o.dtype() == t.dtype() && o.shape() == t.shape() &&
        (o.raw() == t.raw() || std::memcmp(o.raw(), t.raw(), t.nbytes()) == 0)) {
      if (conv_weight && fp16_ && t.dtype() == DType::kFloat32)
        half_[static_cast<size_t>(i)] = true;
      return i;
    }
  }
  tensors_.push_back(t);
  half_.push_back(conv_weight && fp16_ && t.dtype() == DType::kFloat32);
  same.push_back(static_cast<int>(tensors_.size() - 1));
  return static_cast<int>(tensors_.size() - 1);
}

size_t ConstantPool::stored_bytes() const {
  size_t n = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    n += half_[i] ? tensors_[i].nbytes() / 2 : tensors_[i].nbytes();
  }
  return n;
}

void write_tensor(PlanWriter& w, const Tensor& t, bool as_fp16) {
  w.u32(static_cast<uint32_t>(t.dtype()));
  w.u32(static_cast<uint32_t>(t.shape().size()));
  for (int64_t d : t.shape()) w.i64(d);
  w.u8(as_fp16 ? 1 : 0);  // storage: 0 the dtype's own bytes, 1 float32 kept as float16
  if (!as_fp16) {
    w.u64(t.nbytes());
    if (t.nbytes()) w.raw(t.raw(), t.nbytes());
    return;
  }
  const auto* f = static_cast<const float*>(t.raw());
  const size_t n = static_cast<size_t>(t.numel());
  w.u64(n * 2);
  for (size_t i = 0; i < n; ++i) {
    uint16_t h = float_to_float16(f[i]);
    w.u8(static_cast<uint8_t>(h));
    w.u8(static_cast<uint8_t>(h >> 8));
  }
}

Result<Tensor> read_tensor(PlanReader& r) {
  auto dtype = static_cast<DType>(r.u32());
  uint32_t rank = r.count(8);
  Shape shape;
  for (uint32_t i = 0; i < rank; ++i) shape.push_back(r.i64());
  uint8_t storage = r.u8();
  uint64_t nbytes = r.u64();
  if (r.failed()) return corrupt("truncated tensor");
  for (int64_t d : shape) {
    if (d < 0 || d > (int64_t{1} << 40)) return corrupt("tensor with a bad dimension");
  }
  const size_t elem = dtype_size(dtype);
  const uint64_t numel = static_cast<uint64_t>(shape_numel(shape));
  const bool half = storage == 1;
  if (storage > 1 || (elem == 0 && dtype != DType::kString) || (half && dtype != DType::kFloat32) ||
      nbytes != numel * (half ? 2 : elem) || nbytes > r.left()) {
    return corrupt("tensor header does not match its data");
  }
  const uint8_t* p = r.take(nbytes);
  Tensor t(dtype, shape);
  if (!half) {
    if (nbytes) std::memcpy(t.raw(), p, nbytes);
    return t;
  }
  auto* f = static_cast<float*>(t.raw());
  for (uint64_t i = 0; i < numel; ++i) {
    f[i] = float16_to_float(static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
  }
  return t;
}

void write_pool(PlanWriter& w, const ConstantPool& pool) {
  w.u32(static_cast<uint32_t>(pool.size()));
  for (size_t i = 0; i < pool.size(); ++i) write_tensor(w, pool.tensor(i), pool.as_fp16(i));
}

Result<std::vector<Tensor>> read_pool(PlanReader& r) {
  uint32_t n = r.count(17);
  if (r.failed()) return corrupt("truncated constant pool");
  std::vector<Tensor> out;
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    auto t = read_tensor(r);
    if (!t.ok()) return t.status().with_context("constant " + std::to_string(i));
    out.push_back(std::move(t).value());
  }
  return out;
}

// --- graphs ---

namespace {

void write_ints(PlanWriter& w, const std::vector<int>& v) {
  w.u32(static_cast<uint32_t>(v.size()));
  for (int x : v) w.u32(static_cast<uint32_t>(x));
}
std::vector<int> read_ints(PlanReader& r) {
  std::vector<int> v(r.count(4));
  for (int& x : v) x = static_cast<int>(r.u32());
  return v;
}

bool is_conv_weight(const Graph& g, int value) {
  for (const Node& n : g.nodes) {
    if ((n.op_type == "Conv" || n.op_type == "FusedConv") && n.inputs.size() > 1 &&
        n.inputs[1] == value) {
      return true;
    }
  }
  return false;
}

Status write_attribute(PlanWriter& w, const std::string& name, const Attribute& a) {
  if (a.kind == Attribute::Kind::kGraph) {
    return unsupported("attribute '" + name + "' holds a subgraph, which plans do not store");
  }
  w.str(name);
  w.u8(static_cast<uint8_t>(a.kind));
  w.f32(a.f);
  w.i64(a.i);
  w.str(a.s);
  w.u8(a.kind == Attribute::Kind::kTensor ? 1 : 0);
  if (a.kind == Attribute::Kind::kTensor) write_tensor(w, a.t);
  w.u32(static_cast<uint32_t>(a.floats.size()));
  for (float f : a.floats) w.f32(f);
  w.u32(static_cast<uint32_t>(a.ints.size()));
  for (int64_t i : a.ints) w.i64(i);
  w.u32(static_cast<uint32_t>(a.strings.size()));
  for (const std::string& s : a.strings) w.str(s);
  return Status();
}

Result<Attribute> read_attribute(PlanReader& r) {
  Attribute a;
  a.kind = static_cast<Attribute::Kind>(r.u8());
  a.f = r.f32();
  a.i = r.i64();
  a.s = r.str();
  if (r.u8()) {
    FUNGEN_ASSIGN_OR_RETURN(a.t, read_tensor(r));
  }
  a.floats.resize(r.count(4));
  for (float& f : a.floats) f = r.f32();
  a.ints.resize(r.count(8));
  for (int64_t& i : a.ints) i = r.i64();
  a.strings.resize(r.count(4));
  for (std::string& s : a.strings) s = r.str();
  if (r.failed()) return corrupt("truncated attribute");
  return a;
}

}  // namespace

Status write_graph(PlanWriter& w, const Graph& g, ConstantPool& pool) {
  w.i64(g.opset);
  w.i64(g.ir_version);
  w.str(g.producer_name);
  w.str(g.producer_version);
  w.str(g.graph_name);
  w.u32(static_cast<uint32_t>(g.metadata.size()));
  for (const auto& [k, v] : g.metadata) {
    w.str(k);
    w.str(v);
  }
  w.u32(static_cast<uint32_t>(g.values.size()));
  for (size_t id = 0; id < g.values.size(); ++id) {
    const Value& v = g.values[id];
    w.str(v.name);
    w.u32(static_cast<uint32_t>(v.dtype));
    w.u8(v.shape_known ? 1 : 0);
    w.u32(static_cast<uint32_t>(v.shape.size()));
    for (int64_t d : v.shape) w.i64(d);
    w.u8(v.declared_shape ? 1 : 0);
    w.u32(static_cast<uint32_t>(v.declared.size()));
    for (const DeclaredDim& d : v.declared) {
      w.i64(d.size);
      w.str(d.symbol);
    }
    int c = v.constant ? pool.add(*v.constant, is_conv_weight(g, static_cast<int>(id))) : -1;
    w.u32(static_cast<uint32_t>(c));
  }
  w.u32(static_cast<uint32_t>(g.nodes.size()));
  for (const Node& n : g.nodes) {
    w.str(n.name);
    w.str(n.op_type);
    w.str(n.domain);
    write_ints(w, n.inputs);
    write_ints(w, n.outputs);
    w.u32(static_cast<uint32_t>(n.attributes.size()));
    for (const auto& [name, a] : n.attributes) {
      FUNGEN_RETURN_IF_ERROR(write_attribute(w, name, a).with_context(n.describe(g.opset)));
    }
  }
  write_ints(w, g.inputs);
  write_ints(w, g.outputs);
  return Status();
}

Result<Graph> read_graph(PlanReader& r, const std::vector<Tensor>& pool) {
  Graph g;
  g.opset = r.i64();
  g.ir_version = r.i64();
  g.producer_name = r.str();
  g.producer_version = r.str();
  g.graph_name = r.str();
  for (uint32_t i = 0, n = r.count(8); i < n; ++i) {
    std::string k = r.str();
    g.metadata[k] = r.str();
  }
  const uint32_t values = r.count(26);
  if (r.failed()) return corrupt("truncated graph header");
  std::set<std::string> names;
  for (uint32_t id = 0; id < values; ++id) {
    std::string name = r.str();
    if (!name.empty() && !names.insert(name).second) return corrupt("value '" + name + "' twice");
    Value& v = g.values[static_cast<size_t>(g.add_value(name))];
    v.dtype = static_cast<DType>(r.u32());
    v.shape_known = r.u8() != 0;
    v.shape.resize(r.count(8));
    for (int64_t& d : v.shape) d = r.i64();
    v.declared_shape = r.u8() != 0;
    v.declared.resize(r.count(12));
    for (DeclaredDim& d : v.declared) {
      d.size = r.i64();
      d.symbol = r.str();
    }
    uint32_t c = r.u32();
    if (r.failed()) return corrupt("truncated value list");
    if (c != UINT32_MAX) {
      if (c >= pool.size()) return corrupt("value '" + name + "' names a missing constant");
      v.constant = pool[c];
    }
  }
  const uint32_t nodes = r.count(24);
  const auto in_range = [&](const std::vector<int>& ids) {
    for (int id : ids) {
      if (id < -1 || id >= static_cast<int>(values)) return false;
    }
    return true;
  };
  for (uint32_t k = 0; k < nodes; ++k) {
    Node n;
    n.name = r.str();
    n.op_type = r.str();
    n.domain = r.str();
    n.inputs = read_ints(r);
    n.outputs = read_ints(r);
    for (uint32_t a = 0, na = r.count(30); a < na; ++a) {
      std::string name = r.str();
      FUNGEN_ASSIGN_OR_RETURN(n.attributes[name], read_attribute(r));
    }
    if (r.failed()) return corrupt("truncated node list");
    if (!in_range(n.inputs) || !in_range(n.outputs)) {
      return corrupt("node '" + n.name + "' refers to a missing value");
    }
    n.schema = find_op_schema(n.op_type);
    if (!n.schema) n.schema = find_internal_op_schema(n.op_type);
    if (!n.schema) {
      return unsupported("node '" + n.name + "': op '" + n.op_type +
                         "' is unknown to this fungen (plan from another version?)");
    }
    g.nodes.push_back(std::move(n));
  }
  g.inputs = read_ints(r);
  g.outputs = read_ints(r);
  if (r.failed()) return corrupt("truncated graph");
  if (!in_range(g.inputs) || !in_range(g.outputs)) return corrupt("graph inputs out of range");
  g.rebuild_producers();
  return g;
}

}  // namespace fungen
