#include "ops/op.h"

#include "util/assert.h"

namespace fungen {

void InferContext::set_output(size_t i, DType dtype, Shape shape) {
  if (!has_output(i)) return;  // omitted optional output
  Value& v = graph_.values[static_cast<size_t>(node_.outputs[i])];
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.shape_known = true;
}

Status InferContext::fail(StatusCode code, const std::string& what) const {
  return Status(code, node_.describe(graph_.opset) + ": " + what);
}

}  // namespace fungen
