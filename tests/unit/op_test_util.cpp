#include "op_test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "ops/op.h"
#include "ops/op_util.h"

namespace fungen::test {

Attribute attr_int(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}
Attribute attr_float(float v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = v;
  return a;
}
Attribute attr_string(std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = std::move(v);
  return a;
}
Attribute attr_ints(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(v);
  return a;
}
Attribute attr_floats(std::vector<float> v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloats;
  a.floats = std::move(v);
  return a;
}

Result<std::vector<Tensor>> run_op(const std::string& op_type, std::vector<OpInput> inputs,
                                   const AttrList& attrs, int64_t opset, int num_outputs,
                                   ThreadPool* pool) {
  const OpSchema* schema = find_op_schema(op_type);
  if (!schema) return unsupported("no such op in fungen's table: " + op_type);
  Graph g;
  g.opset = opset;
  Node node;
  node.name = "test_" + op_type;
  node.op_type = op_type;
  node.schema = schema;
  for (auto& [k, v] : attrs) node.attributes[k] = v;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].tensor.empty()) {
      node.inputs.push_back(-1);
      continue;
    }
    int id = g.add_value("in" + std::to_string(i));
    Value& v = g.values[static_cast<size_t>(id)];
    v.dtype = inputs[i].tensor.dtype();
    v.shape = inputs[i].tensor.shape();
    v.shape_known = true;
    if (inputs[i].constant) v.constant = inputs[i].tensor;
    node.inputs.push_back(id);
  }
  for (int i = 0; i < num_outputs; ++i)
    node.outputs.push_back(g.add_value("out" + std::to_string(i)));
  InferContext ictx(node, g);
  FUNGEN_RETURN_IF_ERROR(schema->infer(ictx));
  std::vector<Tensor> outs;
  for (int id : node.outputs) {
    const Value& v = g.values[static_cast<size_t>(id)];
    if (!v.shape_known) return internal_error("shape function left output " + v.name + " unset");
    outs.emplace_back(v.dtype, v.shape);
  }
  std::vector<const Tensor*> in_ptrs;
  for (auto& in : inputs) in_ptrs.push_back(in.tensor.empty() ? nullptr : &in.tensor);
  std::vector<Tensor*> out_ptrs;
  for (auto& t : outs) out_ptrs.push_back(&t);
  std::vector<std::byte> scratch(ictx.scratch_bytes() + 64);
  KernelContext kctx(node, opset, in_ptrs, out_ptrs, scratch.data(), ictx.scratch_bytes(), pool);
  FUNGEN_RETURN_IF_ERROR(schema->reference(kctx));
  return outs;
}

Tensor random_tensor(Shape shape, std::mt19937& rng, float lo, float hi) {
  Tensor t(DType::kFloat32, std::move(shape));
  std::uniform_real_distribution<float> dist(lo, hi);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
  return t;
}

Tensor int64_tensor(Shape shape, std::vector<int64_t> values) {
  Tensor t(DType::kInt64, std::move(shape));
  std::memcpy(t.raw(), values.data(), values.size() * sizeof(int64_t));
  return t;
}

double element(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kFloat32:
      return t.data<float>()[i];
    case DType::kFloat64:
      return t.data<double>()[i];
    case DType::kFloat16:
      return float16_to_float(t.data<uint16_t>()[i]);
    case DType::kBFloat16:
      return bfloat16_to_float(t.data<uint16_t>()[i]);
    case DType::kInt8:
      return t.data<int8_t>()[i];
    case DType::kUInt8:
      return t.data<uint8_t>()[i];
    case DType::kInt16:
      return t.data<int16_t>()[i];
    case DType::kUInt16:
      return t.data<uint16_t>()[i];
    case DType::kInt32:
      return t.data<int32_t>()[i];
    case DType::kInt64:
      return static_cast<double>(t.data<int64_t>()[i]);
    case DType::kUInt32:
      return t.data<uint32_t>()[i];
    case DType::kUInt64:
      return static_cast<double>(t.data<uint64_t>()[i]);
    case DType::kBool:
      return t.data<uint8_t>()[i] ? 1.0 : 0.0;
    default:
      ADD_FAILURE() << "element(): dtype " << dtype_name(t.dtype());
      return 0;
  }
}

void set_element(Tensor& t, int64_t i, double v) {
  switch (t.dtype()) {
    case DType::kFloat32:
      t.data<float>()[i] = static_cast<float>(v);
      break;
    case DType::kFloat64:
      t.data<double>()[i] = v;
      break;
    case DType::kFloat16:
      t.data<uint16_t>()[i] = float_to_float16(static_cast<float>(v));
      break;
    case DType::kBFloat16:
      t.data<uint16_t>()[i] = float_to_bfloat16(static_cast<float>(v));
      break;
    case DType::kInt8:
      t.data<int8_t>()[i] = static_cast<int8_t>(v);
      break;
    case DType::kUInt8:
      t.data<uint8_t>()[i] = static_cast<uint8_t>(v);
      break;
    case DType::kInt16:
      t.data<int16_t>()[i] = static_cast<int16_t>(v);
      break;
    case DType::kUInt16:
      t.data<uint16_t>()[i] = static_cast<uint16_t>(v);
      break;
    case DType::kInt32:
      t.data<int32_t>()[i] = static_cast<int32_t>(v);
      break;
    case DType::kInt64:
      t.data<int64_t>()[i] = static_cast<int64_t>(v);
      break;
    case DType::kUInt32:
      t.data<uint32_t>()[i] = static_cast<uint32_t>(v);
      break;
    case DType::kUInt64:
      t.data<uint64_t>()[i] = static_cast<uint64_t>(v);
      break;
    case DType::kBool:
      t.data<uint8_t>()[i] = v != 0 ? 1 : 0;
      break;
    default:
      ADD_FAILURE() << "set_element(): dtype " << dtype_name(t.dtype());
      break;
  }
}

uint32_t test_seed() {
  static const uint32_t seed = [] {
    if (const char* s = std::getenv("FUNGEN_TEST_SEED"))
      return static_cast<uint32_t>(std::strtoul(s, nullptr, 10));
    return static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }();
  return seed;
}

double rel_l2(const Tensor& a, const Tensor& ref) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    if (!std::isfinite(a.data<float>()[i])) return INFINITY;
    double d = static_cast<double>(a.data<float>()[i]) - ref.data<float>()[i];
    num += d * d;
    den += static_cast<double>(ref.data<float>()[i]) * ref.data<float>()[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

}  // namespace fungen::test
