// End-to-end engine tests on small models written by ModelBuilder: folding of shape chains,
// dead-node removal, errors at load, input checks, and no allocation per inference.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <set>

#include "fungen/engine.h"
#include "graph/passes/passes.h"
#include "model_builder.h"
#include "onnx/onnx_import.h"
#include "util/memory.h"

// Counts every operator new while g_count_allocations is set (all threads).
namespace {
std::atomic<bool> g_count_allocations{false};
std::atomic<size_t> g_new_calls{0};
std::atomic<size_t> g_largest_new{0};
}  // namespace

void* operator new(std::size_t n) {
  if (g_count_allocations.load(std::memory_order_relaxed)) {
    ++g_new_calls;
    size_t prev = g_largest_new.load();
    while (n > prev && !g_largest_new.compare_exchange_weak(prev, n)) {
    }
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return operator new(n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace fungen {
namespace {

using test::attr_int;
using test::attr_ints;

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// x[N,3,9,7] -> Conv(3->4, 3x3, pad 1) -> Sigmoid*x (SiLU) -> Reshape to [N, -1]. With
// `unsimplified`, the Reshape target comes from Shape->Gather->Unsqueeze->Concat like a raw
// torch export; otherwise it is a constant.
std::string conv_silu_model(bool unsimplified, uint32_t seed) {
  std::mt19937 rng(seed);
  test::ModelBuilder b(17);
  b.input("x", DType::kFloat32, {std::string("N"), int64_t{3}, int64_t{9}, int64_t{7}});
  b.initializer("w", test::random_tensor({4, 3, 3, 3}, rng));
  b.initializer("bias", test::random_tensor({4}, rng));
  b.node("Conv", {"x", "w", "bias"}, {"c"},
         {{"pads", attr_ints({1, 1, 1, 1})}, {"kernel_shape", attr_ints({3, 3})}});
  b.node("Sigmoid", {"c"}, {"s"});
  b.node("Mul", {"c", "s"}, {"y"});
  if (unsimplified) {
    b.initializer("zero", test::int64_tensor({}, {0}));
    b.initializer("minus_one", test::int64_tensor({1}, {-1}));
    b.node("Shape", {"y"}, {"shape"});
    b.node("Gather", {"shape", "zero"}, {"n"}, {{"axis", attr_int(0)}});
    b.node("Unsqueeze", {"n", "axes0"}, {"n1"});
    b.initializer("axes0", test::int64_tensor({1}, {0}));
    b.node("Concat", {"n1", "minus_one"}, {"target"}, {{"axis", attr_int(0)}});
  } else {
    b.initializer("target", test::int64_tensor({2}, {0, -1}));
  }
  b.node("Reshape", {"y", "target"}, {"out"});
  b.output("out");
  return b.build();
}

TEST(Engine, UnsimplifiedShapeChainFoldsToTheSimplifiedGraph) {
  uint32_t seed = test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::string raw = conv_silu_model(true, seed);
  std::string simple = conv_silu_model(false, seed);
  // Note: the unsimplified model lists axes0 after its use, as some exporters do.
  auto g = import_onnx_model(as_bytes(raw), "raw");
  ASSERT_TRUE(g.ok()) << g.status().message();
  ASSERT_TRUE(bind_schemas(*g).ok());
  Shape in_shape{3, 3, 9, 7};
  ASSERT_TRUE(specialize_shapes(*g, {&in_shape, 1}).ok());
  remove_dead_nodes(*g);
  std::multiset<std::string> ops;
  for (const Node& n : g->nodes) ops.insert(n.op_type);
  EXPECT_EQ(ops, (std::multiset<std::string>{"Conv", "Sigmoid", "Mul", "Reshape"}));

  auto e_raw = Engine::load_from_memory(as_bytes(raw), {.threads = 2});
  auto e_simple = Engine::load_from_memory(as_bytes(simple), {.threads = 1});
  ASSERT_TRUE(e_raw.ok()) << e_raw.status().message();
  ASSERT_TRUE(e_simple.ok()) << e_simple.status().message();
  std::mt19937 rng(seed + 1);
  for (int64_t batch : {1, 3}) {
    Tensor x = test::random_tensor({batch, 3, 9, 7}, rng);
    std::vector<Tensor> a, b;
    ASSERT_TRUE(e_raw->run({&x, 1}, a).ok());
    ASSERT_TRUE(e_simple->run({&x, 1}, b).ok());
    ASSERT_EQ(a[0].shape(), (Shape{batch, 4 * 9 * 7}));
    ASSERT_EQ(a[0].shape(), b[0].shape());
    for (int64_t i = 0; i < a[0].numel(); ++i) {
      ASSERT_NEAR(a[0].data<float>()[i], b[0].data<float>()[i], 1e-5f) << i;
    }
  }
}

// After the first run plans memory, a run allocates no buffer: every tensor lives in the planned
// arena or in the plan's output buffers (all of them come from allocate_buffer, which counts).
// Kernels may still build small bookkeeping objects (shape vectors, and oneDNN 2.6's argument
// map inside each primitive execution); those stay below 1 KiB each, so no tensor-sized
// temporary can hide among them.
TEST(Engine, SecondInferenceAllocatesNoBuffers) {
  std::string model = conv_silu_model(true, test::test_seed());
  for (const char* backend : {"reference", "auto"}) {
    SCOPED_TRACE(backend);
    auto engine = Engine::load_from_memory(as_bytes(model), {.threads = 2, .backend = backend});
    ASSERT_TRUE(engine.ok()) << engine.status().message();
    Tensor x(DType::kFloat32, {2, 3, 9, 7});
    std::vector<Tensor> out;
    ASSERT_TRUE(engine->run({&x, 1}, out).ok());  // first run plans and allocates
    size_t buffers_before = buffer_allocation_count();
    g_new_calls = 0;
    g_largest_new = 0;
    g_count_allocations = true;
    Status s = engine->run({&x, 1}, out);
    if (s.ok()) s = engine->run({&x, 1}, out);
    g_count_allocations = false;
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(buffer_allocation_count(), buffers_before);
    EXPECT_LT(g_largest_new.load(), 1024u) << "a kernel allocated a tensor-sized temporary";
    RecordProperty(std::string("small_allocations_") + backend,
                   static_cast<int>(g_new_calls.load()));
  }
}

TEST(Engine, UnsupportedOpFailsAtLoadNamingNodeOpAndOpset) {
  test::ModelBuilder b(17);
  b.input("x", DType::kFloat32, {int64_t{1}, int64_t{4}});
  b.node("FancyNewOp", {"x"}, {"y"});
  b.output("y");
  auto e = Engine::load_from_memory(as_bytes(b.build()));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnsupported);
  const std::string& m = e.status().message();
  EXPECT_NE(m.find("FancyNewOp_0"), std::string::npos) << m;
  EXPECT_NE(m.find("opset 17"), std::string::npos) << m;
  EXPECT_NE(m.find("'FancyNewOp' is not supported"), std::string::npos) << m;
}

TEST(Engine, UnknownAttributeAndOpsetAreRejectedAtLoad) {
  test::ModelBuilder b(17);
  b.input("x", DType::kFloat32, {int64_t{1}, int64_t{4}});
  b.node("Sigmoid", {"x"}, {"y"}, {{"beta", test::attr_float(2.0f)}});
  b.output("y");
  auto e = Engine::load_from_memory(as_bytes(b.build()));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("attribute 'beta'"), std::string::npos)
      << e.status().message();

  test::ModelBuilder c(23);
  c.input("x", DType::kFloat32, {int64_t{1}, int64_t{4}});
  c.node("Sigmoid", {"x"}, {"y"});
  c.output("y");
  e = Engine::load_from_memory(as_bytes(c.build()));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("opset 23"), std::string::npos) << e.status().message();
}

TEST(Engine, WrongInputDtypeOrShapeIsAClearError) {
  std::string model = conv_silu_model(false, 1);
  auto engine = Engine::load_from_memory(as_bytes(model));
  ASSERT_TRUE(engine.ok());
  std::vector<Tensor> out;
  Tensor wrong_dtype(DType::kInt64, {1, 3, 9, 7});
  Status s = engine->run({&wrong_dtype, 1}, out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("dtype int64"), std::string::npos) << s.message();
  Tensor wrong_shape(DType::kFloat32, {1, 3, 8, 7});
  s = engine->run({&wrong_shape, 1}, out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("[1,3,8,7]"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[N,3,9,7]"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace fungen

namespace fungen {
namespace {

// Reshape's target shape fed as a graph input (as ONNX's node tests do): the engine specializes
// its plan on that small input's value, and a new value gives a new, correct plan.
TEST(Engine, ShapeFedAsAnInputSpecializesOnItsValue) {
  test::ModelBuilder b(17);
  b.input("x", DType::kFloat32, {int64_t{2}, int64_t{3}, int64_t{4}});
  b.input("shape", DType::kInt64, {int64_t{2}});
  b.node("Reshape", {"x", "shape"}, {"y"});
  b.output("y");
  std::string bytes = b.build();
  auto engine =
      Engine::load_from_memory({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  std::mt19937 rng(test::test_seed());
  Tensor x = test::random_tensor({2, 3, 4}, rng);
  for (auto target :
       {std::vector<int64_t>{6, 4}, std::vector<int64_t>{-1, 12}, std::vector<int64_t>{6, 4}}) {
    Tensor shape = test::int64_tensor({2}, target);
    std::vector<Tensor> inputs{x, shape};
    std::vector<Tensor> out;
    Status s = engine->run(inputs, out);
    ASSERT_TRUE(s.ok()) << s.message();
    Shape expected{target[0] < 0 ? 2 : target[0], target[1]};
    EXPECT_EQ(out[0].shape(), expected);
    EXPECT_EQ(0, std::memcmp(out[0].raw(), x.raw(), x.nbytes()));
  }
}

}  // namespace
}  // namespace fungen
