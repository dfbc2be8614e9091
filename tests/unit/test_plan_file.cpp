// Plan files (.engine) on the CPU: byte round trip, bit-identical outputs from a plan vs the ONNX
// model, rebuild on a fingerprint / format version / source change with one log line, damaged
// and foreign files, a GPU plan on a machine without a GPU, and the tuning cache carried along.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "fungen/engine.h"
#include "fungen/image.h"
#include "fungen/log.h"
#include "fungen/model_manager.h"
#include "model_builder.h"
#include "op_test_util.h"
#include "ops/op_util.h"
#include "runtime/engine_impl.h"
#include "runtime/plan_file.h"
#include "runtime/plan_io.h"

namespace fungen {
namespace {
namespace fs = std::filesystem;

// images [N,3,16,16] -> Conv 3x3 (8) + SiLU -> Conv 1x1 (6) -> [N, 6, 256]: a raw head's shape.
std::string conv_model(uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  Tensor w1 = test::random_tensor({8, 3, 3, 3}, rng, -0.5f, 0.5f);
  Tensor b1 = test::random_tensor({8}, rng, -0.1f, 0.1f);
  Tensor w2 = test::random_tensor({6, 8, 1, 1}, rng, -0.5f, 0.5f);
  for (int64_t i = 0; i < w2.numel(); ++i) w2.data<float>()[i] *= scale;
  test::ModelBuilder b(17);
  b.input("images", DType::kFloat32, {std::string("N"), int64_t{3}, int64_t{16}, int64_t{16}});
  b.initializer("w1", w1).initializer("b1", b1).initializer("w2", w2);
  b.initializer("shape", test::int64_tensor({3}, {0, 6, 256}));
  b.node("Conv", {"images", "w1", "b1"}, {"c1"},
         {{"pads", test::attr_ints({1, 1, 1, 1})}, {"kernel_shape", test::attr_ints({3, 3})}});
  b.node("Sigmoid", {"c1"}, {"s1"});
  b.node("Mul", {"c1", "s1"}, {"a1"});
  b.node("Conv", {"a1", "w2"}, {"c2"});
  b.node("Reshape", {"c2", "shape"}, {"output0"});
  b.output("output0");
  b.metadata("imgsz", "[16, 16]");
  return b.build();
}

std::string make_dir(const std::string& name) {
  std::string dir = testing::TempDir() + "/fungen_plan_" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The backend these tests plan for: oneDNN when built in (fusions, runs), else the reference.
std::string cpu_backend() {
#ifdef FUNGEN_HAVE_ONEDNN
  return "cpu";
#else
  return "reference";
#endif
}

Tensor run_once(Engine& e, const Tensor& in) {
  std::vector<Tensor> out;
  Status s = e.run({&in, 1}, out);
  EXPECT_TRUE(s.ok()) << s.message();
  return out.empty() ? Tensor() : out[0].clone();
}

// Collects log lines while alive.
struct LogCapture {
  std::mutex m;
  std::vector<std::string> lines;
  LogCapture() {
    set_log_sink([this](LogLevel, std::string_view msg) {
      std::lock_guard<std::mutex> lock(m);
      lines.emplace_back(msg);
    });
  }
  ~LogCapture() { set_log_sink(nullptr); }
  size_t count(const std::string& needle) {
    std::lock_guard<std::mutex> lock(m);
    size_t n = 0;
    for (const auto& l : lines) n += l.find(needle) != std::string::npos;
    return n;
  }
};

// Builds dir/m.onnx and dir/m.engine (batches 1 and 2); returns the plan path.
std::string converted(const std::string& dir, uint32_t seed = 3) {
  write(dir + "/m.onnx", conv_model(seed));
  auto plan = build_plan(dir + "/m.onnx", {.backend = cpu_backend(), .batches = {1, 2}});
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_TRUE(write_plan_file(dir + "/m.engine", plan.value()).ok());
  return dir + "/m.engine";
}

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

TEST(PlanFile, OtherMachineIsRebuiltWithOneLogLineAndRewritten) {
  std::string dir = make_dir("fingerprint");
  std::string path = converted(dir);
  auto plan = read_plan_file(path);
  ASSERT_TRUE(plan.ok());
  plan->fingerprint.device = "Imaginary GPU 9000";
  plan->fingerprint.cudnn = "8.0.0";
  ASSERT_TRUE(write_plan_file(path, plan.value()).ok());
  LogCapture logs;
  auto engine = Engine::load(path, {.threads = 1});
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  EXPECT_EQ(logs.count("rebuilding"), 1u);
  EXPECT_EQ(logs.count("Imaginary GPU 9000"), 1u) << "the line names what differs";
  auto rewritten = read_plan_file(path);
  ASSERT_TRUE(rewritten.ok());
  EXPECT_EQ(rewritten->fingerprint, current_fingerprint(cpu_backend()).value());
  // Loading again: up to date, nothing rebuilt.
  auto again = Engine::load(path, {.threads = 1});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(logs.count("rebuilding"), 1u);
  // The rebuilt plan computes what the model computes.
  auto onnx = Engine::load(dir + "/m.onnx", {.threads = 1, .backend = cpu_backend()});
  std::mt19937 rng(test::test_seed());
  Tensor in = test::random_tensor({2, 3, 16, 16}, rng, 0.f, 1.f);
  Tensor a = run_once(again.value(), in), b = run_once(onnx.value(), in);
  EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0);
}

TEST(PlanFile, FakeMachineFingerprintTriggersTheRebuild) {
  std::string dir = make_dir("fake_machine");
  std::string path = converted(dir);
  PlanFingerprint fake = current_fingerprint(cpu_backend()).value();
  fake.fungen_version = "99.0.0";
  LogCapture logs;
  auto engine = load_plan(path, {.threads = 1, .machine = &fake});
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  EXPECT_EQ(logs.count("99.0.0"), 1u);
  EXPECT_EQ(read_plan_file(path)->fingerprint.fungen_version, "99.0.0");
  auto same = load_plan(path, {.threads = 1, .machine = &fake});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(logs.count("rebuilding"), 1u);
}

TEST(PlanFile, OlderFormatVersionIsRebuilt) {
  std::string dir = make_dir("version");
  std::string path = converted(dir);
  std::string bytes = read(path);
  const uint32_t old_version = 0;
  std::memcpy(&bytes[8], &old_version, 4);  // right after the magic
  write(path, bytes);
  EXPECT_EQ(read_plan_file(path).status().code(), StatusCode::kUnsupported);
  LogCapture logs;
  auto engine = Engine::load(path, {.threads = 1});
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  EXPECT_EQ(logs.count("format version 0"), 1u);
  EXPECT_EQ(read_plan_header(path)->format_version, kPlanFormatVersion);
}

TEST(PlanFile, ChangedSourceModelIsRebuilt) {
  std::string dir = make_dir("source");
  std::string path = converted(dir, 3);
  write(dir + "/m.onnx", conv_model(4));  // retrained: other weights
  LogCapture logs;
  auto engine = Engine::load(path, {.threads = 1});
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  EXPECT_EQ(logs.count("changed"), 1u);
  auto onnx = Engine::load(dir + "/m.onnx", {.threads = 1, .backend = cpu_backend()});
  std::mt19937 rng(test::test_seed());
  Tensor in = test::random_tensor({1, 3, 16, 16}, rng, 0.f, 1.f);
  Tensor a = run_once(engine.value(), in), b = run_once(onnx.value(), in);
  EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0);
}

TEST(PlanFile, DamagedPlanIsRebuiltOrNamesTheMissingSource) {
  std::string dir = make_dir("damaged");
  std::string path = converted(dir);
  std::string bytes = read(path);
  bytes[bytes.size() / 2] ^= 0x55;
  write(path, bytes);
  EXPECT_EQ(read_plan_file(path).status().code(), StatusCode::kCorrupt);
  {
    LogCapture logs;
    ASSERT_TRUE(Engine::load(path, {.threads = 1}).ok());
    EXPECT_EQ(logs.count("damaged"), 1u);
  }
  ASSERT_TRUE(read_plan_file(path).ok()) << "rewritten";
  write(path, bytes);
  fs::remove(dir + "/m.onnx");
  auto e = Engine::load(path, {.threads = 1});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("missing"), std::string::npos) << e.status().message();
}

TEST(PlanFile, SourceMovedBesideThePlanIsFound) {
  std::string dir = make_dir("moved");
  std::string path = converted(dir);
  std::string moved = make_dir("moved_to");
  fs::rename(path, moved + "/m.engine");
  fs::rename(dir + "/m.onnx", moved + "/m.onnx");
  auto plan = read_plan_file(moved + "/m.engine");
  ASSERT_TRUE(plan.ok());
  plan->fingerprint.driver = "1.0";
  ASSERT_TRUE(write_plan_file(moved + "/m.engine", plan.value()).ok());
  LogCapture logs;
  auto e = Engine::load(moved + "/m.engine", {.threads = 1});
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(logs.count(moved + "/m.onnx"), 1u);
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
}

std::vector<std::vector<Detection>> predict(ModelManager& mm, const Image& img) {
  Frame f = img.frame();
  auto r = mm.predict_batch({&f, 1}, 0.0f, 0.45f, 300);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : std::vector<std::vector<Detection>>{};
}

TEST(PlanFile, ModelManagerPrefersAFungenPlanAndRebuildsAStaleOne) {
  std::string dir = make_dir("model_manager");
  std::string path = converted(dir);
  Image img(16, 16);
  std::mt19937 rng(test::test_seed());
  for (int i = 0; i < 16 * 16 * 3; ++i) img.data()[i] = static_cast<uint8_t>(rng() % 256);
  ModelManager from_onnx(dir, "cpu", 2, false, false);
  ASSERT_TRUE(from_onnx.load_model("m.onnx").ok());
  auto want = predict(from_onnx, img);

  ModelManager mm(dir, "cpu", 2, false, false);
  Status s = mm.load_model("m");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(fs::path(mm.model_path()).filename(), "m.engine");
  EXPECT_TRUE(mm.load_notes().empty());
  auto got = predict(mm, img);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_FALSE(want.empty());
  ASSERT_EQ(got[0].size(), want[0].size());
  ASSERT_FALSE(got[0].empty()) << "conf 0 keeps boxes: the comparison compares something";
  for (size_t i = 0; i < got[0].size(); ++i) {
    EXPECT_EQ(got[0][i].class_id, want[0][i].class_id);
    EXPECT_EQ(got[0][i].confidence, want[0][i].confidence);
    EXPECT_EQ(got[0][i].x1, want[0][i].x1);
    EXPECT_EQ(got[0][i].y2, want[0][i].y2);
  }

  auto plan = read_plan_file(path);
  ASSERT_TRUE(plan.ok());
  plan->fingerprint.compute_capability = "7.5";
  ASSERT_TRUE(write_plan_file(path, plan.value()).ok());
  LogCapture logs;
  ASSERT_TRUE(mm.load_model("m").ok());
  EXPECT_EQ(logs.count("rebuilding"), 1u);
  EXPECT_EQ(read_plan_file(path)->fingerprint.compute_capability, "");
}

TEST(PlanFile, ModelManagerOnTheCpuRunsAGpuPlansSource) {
  std::string dir = make_dir("model_manager_gpu_plan");
  std::string path = converted(dir);
  auto plan = read_plan_file(path);
  ASSERT_TRUE(plan.ok());
  plan->backend = "cuda";
  ASSERT_TRUE(write_plan_file(path, plan.value()).ok());
  ModelManager mm(dir, "cpu", 2, false, false);
  Status s = mm.load_model("m");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(fs::path(mm.model_path()).filename(), "m.onnx");
  ASSERT_EQ(mm.load_notes().size(), 1u);
  EXPECT_NE(mm.load_notes()[0].find("GPU plan"), std::string::npos);
}

}  // namespace
}  // namespace fungen
