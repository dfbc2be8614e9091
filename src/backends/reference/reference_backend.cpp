// The reference backend: every op's plain kernel from the op table.
#include "runtime/backend.h"

namespace fungen {
namespace {

class ReferenceKernel final : public NodeKernel {
 public:
  explicit ReferenceKernel(KernelFn fn) : fn_(fn) {}
  Status run(KernelContext& ctx) override { return fn_(ctx); }

 private:
  KernelFn fn_;
};

class ReferenceBackend final : public Backend {
 public:
  std::string_view name() const override { return "reference"; }
  bool supports(const Node& node, const Graph&) const override {
    return node.schema && node.schema->reference;
  }
  Result<std::unique_ptr<NodeKernel>> prepare(const Node& node, const Graph&) override {
    return std::unique_ptr<NodeKernel>(new ReferenceKernel(node.schema->reference));
  }
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend() {
  return std::make_unique<ReferenceBackend>();
}

}  // namespace fungen
