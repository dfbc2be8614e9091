// registry.cpp — builds the op table from ops/op_list.h (the only list of ops).
#include <algorithm>
#include <array>

#include "ops/op.h"
#include "ops/op_list.h"

namespace fungen {

#define FUNGEN_DECLARE_OP(name, attrs, min_opset) \
  Status infer_##name(InferContext&);             \
  Status reference_##name(KernelContext&);
FUNGEN_OPS(FUNGEN_DECLARE_OP)
FUNGEN_INTERNAL_OPS(FUNGEN_DECLARE_OP)
#undef FUNGEN_DECLARE_OP

namespace {

#define FUNGEN_SCHEMA(name, attrs, min_opset) \
  OpSchema{#name, attrs, min_opset, &infer_##name, &reference_##name},
const OpSchema kSchemas[] = {FUNGEN_OPS(FUNGEN_SCHEMA) OpSchema{}};
#undef FUNGEN_SCHEMA
#define FUNGEN_INTERNAL_SCHEMA(name, attrs, min_opset) \
  OpSchema{#name, attrs, min_opset, &infer_##name, &reference_##name, true},
const OpSchema kInternalSchemas[] = {FUNGEN_INTERNAL_OPS(FUNGEN_INTERNAL_SCHEMA) OpSchema{}};
#undef FUNGEN_INTERNAL_SCHEMA

#define FUNGEN_COUNT(name, attrs, min_opset) +1
constexpr size_t kNumOps = 0 FUNGEN_OPS(FUNGEN_COUNT);
#undef FUNGEN_COUNT
static_assert(std::size(kSchemas) == kNumOps + 1, "op table and op list disagree");

const std::array<const OpSchema*, kNumOps> kSchemaPointers = [] {
  std::array<const OpSchema*, kNumOps> out{};
  for (size_t i = 0; i < kNumOps; ++i) out[i] = &kSchemas[i];
  return out;
}();

}  // namespace

const OpSchema* find_op_schema(std::string_view op_type) {
  for (size_t i = 0; i < kNumOps; ++i) {
    if (kSchemas[i].name == op_type) return &kSchemas[i];
  }
  return nullptr;
}

const OpSchema* find_internal_op_schema(std::string_view op_type) {
  for (const OpSchema& s : kInternalSchemas) {
    if (!s.name.empty() && s.name == op_type) return &s;
  }
  return nullptr;
}

std::span<const OpSchema* const> all_op_schemas() {
  return kSchemaPointers;
}

}  // namespace fungen
