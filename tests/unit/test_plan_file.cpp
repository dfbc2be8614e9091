// Plan files (.engine) on the CPU: bytes, tensors and fingerprints; bit-identical outputs from a
// plan vs the ONNX model; tuning choices carried along; foreign files, atomic writes, static
// batches, a GPU plan on a machine without a GPU. Rebuilds: test_plan_rebuild.cpp.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "fungen/engine.h"
#include "ops/op_util.h"
#include "plan_test_util.h"
#include "runtime/engine_impl.h"
#include "runtime/plan_file.h"
#include "runtime/plan_io.h"

namespace fungen {
namespace {
using namespace fungen::test;

TEST(PlanIo, PrimitivesRoundTripAndTruncationIsDetected) {
  PlanWriter w;
  w.u32(0xdeadbeef);
  w.i64(-5);
  w.f64(0.125);
  w.str("héllo");
  std::vector<uint8_t> bytes(w.bytes().begin(), w.bytes().end());
  PlanReader r(bytes);
  EXPECT_EQ(r.u32(), 0xdeadbeefu);
  EXPECT_EQ(r.i64(), -5);
  EXPECT_EQ(r.f64(), 0.125);
  EXPECT_EQ(r.str(), "héllo");
  EXPECT_FALSE(r.failed());
  EXPECT_EQ(r.u8(), 0);
  EXPECT_TRUE(r.failed());
  PlanReader big(std::span<const uint8_t>(bytes.data(), 4));  // a count larger than the bytes
  EXPECT_EQ(big.count(1), 0u);
  EXPECT_TRUE(big.failed());
}

TEST(PlanIo, ConvWeightsAreStoredAsFp16InAnFp16Pool) {
  std::mt19937 rng(test::test_seed());
  Tensor t = test::random_tensor({4, 3, 3, 3}, rng);
  ConstantPool pool(/*fp16_conv_weights=*/true);
  EXPECT_EQ(pool.add(t, true), 0);
  EXPECT_EQ(pool.add(t.clone(), false), 0);  // same bytes: one entry
  PlanWriter w;
  write_pool(w, pool);
  std::vector<uint8_t> bytes(w.bytes().begin(), w.bytes().end());
  PlanReader r(bytes);
  auto back = read_pool(r);
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_LT(bytes.size(), t.nbytes());  // half the bytes, plus a header
  for (int64_t i = 0; i < t.numel(); ++i) {
    float want = float16_to_float(float_to_float16(t.data<float>()[i]));
    ASSERT_EQ((*back)[0].data<float>()[i], want) << "seed " << test::test_seed() << " i " << i;
  }
}

TEST(PlanFingerprint, VersionsAndDifferences) {
  EXPECT_EQ(cuda_version_string(13000), "13.0");
  EXPECT_EQ(cuda_version_string(12080), "12.8");
  EXPECT_EQ(cudnn_version_string(91000), "9.10.0");
  EXPECT_EQ(cudnn_version_string(8907), "8.9.7");
  EXPECT_EQ(nvidia_driver_version("NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06  "
                                  "Sun Jul 27 07:09:32 UTC 2025\nGCC version: gcc 12"),
            "580.65.06");
  EXPECT_EQ(nvidia_driver_version(""), "");
  PlanFingerprint a = current_fingerprint("cpu").value(), b = a;
  EXPECT_EQ(fingerprint_difference(a, b), "");
  b.device = "Other";
  b.cudnn = "9.1.0";
  std::string diff = fingerprint_difference(a, b);
  EXPECT_NE(diff.find("device '" + a.device + "' -> 'Other'"), std::string::npos) << diff;
  EXPECT_NE(diff.find("cuDNN '' -> '9.1.0'"), std::string::npos) << diff;
  PlanFingerprint c;
  for (const auto& [name, value] : b.fields()) EXPECT_TRUE(c.set_field(name, value));
  EXPECT_EQ(c, b);
  EXPECT_FALSE(c.set_field("from a newer fungen", "x"));
}

TEST(PlanFile, RoundTripGivesBitIdenticalOutputs) {
  std::string dir = make_dir("roundtrip");
  std::string path = converted(dir);
  ASSERT_TRUE(is_plan_file(path));
  auto from_plan = Engine::load(path, {.threads = 1});
  ASSERT_TRUE(from_plan.ok()) << from_plan.status().message();
  auto from_onnx = Engine::load(dir + "/m.onnx", {.threads = 1, .backend = cpu_backend()});
  ASSERT_TRUE(from_onnx.ok()) << from_onnx.status().message();
  EXPECT_EQ(from_plan->metadata().at("imgsz"), "[16, 16]");
  std::mt19937 rng(test::test_seed());
  for (int64_t batch : {1, 2, 3}) {  // 3 is not in the plan: built from its unspecialized graph
    Tensor in = test::random_tensor({batch, 3, 16, 16}, rng, 0.f, 1.f);
    Tensor a = run_once(from_plan.value(), in), b = run_once(from_onnx.value(), in);
    ASSERT_EQ(a.shape(), b.shape());
    EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0)
        << "batch " << batch << " seed " << test::test_seed();
  }
  // The plan's graphs were used: specialized for batches 1 and 2, already fused.
  auto plan = read_plan_file(path);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->batches, (std::vector<int64_t>{1, 2}));
  ASSERT_EQ(plan->specialized.size(), 2u);
  EXPECT_EQ(EngineAccess::impl(from_plan.value()).optimized.size(), 2u);
  if (cpu_backend() == "cpu") {
    bool fused = false;
    for (const Node& n : plan->specialized[0].graph.nodes) fused |= n.op_type == "FusedConv";
    EXPECT_TRUE(fused) << "the stored graph is the one after fungen's fusions";
  }
  // Serialization is deterministic.
  EXPECT_EQ(serialize_plan(plan.value()).value(), serialize_plan(plan.value()).value());
}

TEST(PlanFile, TuningChoicesTravelWithThePlan) {
  std::string dir = make_dir("tuning");
  std::string path = converted(dir);
  auto plan = read_plan_file(path);
  ASSERT_TRUE(plan.ok());
  plan->tuning["conv x=1,3,16,16 test"] = {.algorithm = 6, .math_type = 1, .workspace = 4096};
  ASSERT_TRUE(write_plan_file(path, plan.value()).ok());
  auto engine = Engine::load(path, {.threads = 1});
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  auto hit = EngineAccess::impl(engine.value()).tuning->find("conv x=1,3,16,16 test");
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->algorithm, 6);
  EXPECT_EQ(hit->workspace, 4096u);
}

TEST(PlanFile, ForeignEngineIsNotAPlan) {
  std::string dir = make_dir("foreign");
  write(dir + "/t.engine", "TensorRT serialized engine bytes");
  EXPECT_FALSE(is_plan_file(dir + "/t.engine"));
  EXPECT_FALSE(read_plan_file(dir + "/t.engine").ok());
  EXPECT_FALSE(Engine::load(dir + "/t.engine").ok());
}

TEST(PlanFile, GpuPlanWithoutAGpuRunsTheSourceOrSaysNoCudaDevice) {
  if (current_fingerprint("cuda").ok()) GTEST_SKIP() << "a CUDA device is present";
  std::string dir = make_dir("no_gpu");
  std::string path = converted(dir);
  auto plan = read_plan_file(path);
  ASSERT_TRUE(plan.ok());
  plan->backend = "cuda";
  plan->precision = "fp16";
  ASSERT_TRUE(write_plan_file(path, plan.value()).ok());
  {
    LogCapture logs;
    auto e = Engine::load(path, {.threads = 1});
    ASSERT_TRUE(e.ok()) << e.status().message();
    EXPECT_EQ(logs.count("no CUDA device"), 1u);
  }
  fs::remove(dir + "/m.onnx");
  auto e = Engine::load(path, {.threads = 1});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message().rfind("no CUDA device", 0), 0u) << e.status().message();
}

TEST(PlanFile, WriteIsAtomicAndLeavesNoTemporaryFile) {
  std::string dir = make_dir("atomic");
  std::string path = converted(dir);
  for (const auto& entry : fs::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  }
  auto plan = read_plan_file(path);
  ASSERT_TRUE(plan.ok());
  Status s = write_plan_file(dir + "/no_such_dir/m.engine", plan.value());
  EXPECT_EQ(s.code(), StatusCode::kIoError) << s.message();
  EXPECT_TRUE(read_plan_file(path).ok()) << "the old plan is untouched";
}

TEST(PlanFile, StaticBatchModelRefusesOtherBatches) {
  std::string dir = make_dir("static");
  test::ModelBuilder b(17);
  b.input("images", DType::kFloat32, {int64_t{1}, int64_t{3}, int64_t{4}, int64_t{4}});
  b.node("Relu", {"images"}, {"out"});
  b.output("out");
  write(dir + "/s.onnx", b.build());
  auto plan = build_plan(dir + "/s.onnx", {.backend = cpu_backend(), .batches = {8}});
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("static batch of 1"), std::string::npos);
  EXPECT_TRUE(build_plan(dir + "/s.onnx", {.backend = cpu_backend(), .batches = {1}}).ok());
  auto fitted = build_plan(dir + "/s.onnx",
                           {.backend = cpu_backend(), .batches = {1, 8}, .fit_static_batch = true});
  ASSERT_TRUE(fitted.ok()) << fitted.status().message();
  EXPECT_EQ(fitted->batches, (std::vector<int64_t>{1}));
}

}  // namespace
}  // namespace fungen
