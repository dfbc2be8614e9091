// run_node_tests — runs the ONNX backend node tests (Debian's libonnx-testdata) through
// fungen::Engine and compares every output with the expected one.
//
//   build/bin/fungen_node_tests                   # every case; exit 1 if an implemented op fails
//   build/bin/fungen_node_tests --op Conv         # only cases whose op is Conv
//   build/bin/fungen_node_tests --list            # cases, their op and whether fungen has it
//   build/bin/fungen_node_tests --data DIR --filter test_conv --failures-only
//   build/bin/fungen_node_tests --no-fork --filter test_relu   # in-process, for a debugger
//
// Each case runs in a child process (a crashing or hanging kernel FAILS that case, the run
// goes on); --timeout bounds one case (default 120 s).
// A case is data/node/<case>/model.onnx with test_data_set_*/input_N.pb and output_N.pb. It is
// SKIPPED when one of its ops is not in fungen's op table or fungen reports kUnsupported (an
// attribute value, dtype, opset, input kind); otherwise it must PASS: floats within
// |got - want| <= atol + rtol * |want| (rtol 1e-3, atol 1e-5, as ONNX's backend tests; NaN
// matches NaN), integers and bools exactly.
#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "fungen/engine.h"
#include "node/node_compare.h"
#include "onnx/onnx_import.h"
#include "ops/op.h"

namespace fs = std::filesystem;
using namespace fungen;

namespace {

constexpr const char* kDefaultData = "/usr/share/libonnx-testdata/data/node";
constexpr int kSkipExitCode = 77;  // CTest SKIP_RETURN_CODE: no test data installed

struct Options {
  std::string data = kDefaultData;
  std::string op;
  std::string filter;
  bool list = false;
  bool failures_only = false;
  bool fork_cases = true;  // run each case in a child so a crashing kernel fails one case
  int case_timeout_s = 120;
  int threads = 1;
};

enum class Outcome { kPass, kFail, kSkip };

// Cases whose ONNX 1.12 expected data disagrees with ONNX Runtime, the peer fungen is held to
// (tests/conformance). They still run and print; a mismatch is reported as DIVERGES, not as a
// pass, and a match means the entry is stale and should go.
struct KnownDivergence {
  const char* test_case;
  const char* reason;
};
constexpr KnownDivergence kKnownDivergences[] = {
    {"test_resize_downsample_scales_cubic_align_corners",
     "ONNX 1.12's reference maps align_corners with the unfloored length in*scale; ONNX Runtime "
     "1.32 and fungen use the output size floor(in*scale)"},
    {"test_resize_downsample_scales_linear_align_corners",
     "ONNX 1.12's reference maps align_corners with the unfloored length in*scale; ONNX Runtime "
     "1.32 and fungen use the output size floor(in*scale)"},
};

const char* known_divergence(const std::string& name) {
  for (const KnownDivergence& d : kKnownDivergences) {
    if (name == d.test_case) return d.reason;
  }
  return nullptr;
}

struct CaseResult {
  Outcome outcome = Outcome::kSkip;
  std::string reason;
};

struct Tally {
  int passed = 0, failed = 0, skipped = 0;
};

std::optional<std::vector<uint8_t>> read_bytes(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)),
                              std::istreambuf_iterator<char>());
}

std::string lower_alnum(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(c));
  }
  return out;
}

// The op a case is about: the longest op name (of the model's ops or fungen's) that prefixes
// the case name without "test_" and underscores; else the first node's op.
std::string case_op(const std::string& case_name, const Graph* graph) {
  std::string key = lower_alnum(case_name.rfind("test_", 0) == 0 ? case_name.substr(5) : case_name);
  std::vector<std::string> candidates;
  if (graph) {
    for (const Node& n : graph->nodes) candidates.push_back(n.op_type);
  }
  for (const OpSchema* s : all_op_schemas()) candidates.emplace_back(s->name);
  std::string best;
  for (const std::string& op : candidates) {
    std::string l = lower_alnum(op);
    if (!l.empty() && key.rfind(l, 0) == 0 && l.size() > lower_alnum(best).size()) best = op;
  }
  if (best.empty() && graph && !graph->nodes.empty()) best = graph->nodes[0].op_type;
  return best.empty() ? "?" : best;
}

std::string first_missing_op(const Graph& graph) {
  for (const Node& n : graph.nodes) {
    if (!find_op_schema(n.op_type)) return n.op_type;
  }
  return "";
}

std::vector<fs::path> numbered_files(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> files;
  for (int i = 0;; ++i) {
    fs::path p = dir / (prefix + std::to_string(i) + ".pb");
    if (!fs::exists(p)) break;
    files.push_back(p);
  }
  return files;
}

// ONNX's test data stores bfloat16 tensors as uint16 (numpy has no bfloat16): same bits.
Tensor as_model_dtype(Tensor t, DType model_dtype) {
  if (t.dtype() == DType::kUInt16 && model_dtype == DType::kBFloat16) {
    Tensor bf16(DType::kBFloat16, t.shape());
    if (t.nbytes()) std::memcpy(bf16.raw(), t.raw(), t.nbytes());
    return bf16;
  }
  return t;
}

CaseResult skip(std::string why) {
  return {Outcome::kSkip, std::move(why)};
}
CaseResult fail(std::string why) {
  return {Outcome::kFail, std::move(why)};
}

// A Status from load/run: kUnsupported skips, anything else fails.
CaseResult from_status(const Status& s, const char* stage) {
  if (s.code() == StatusCode::kUnsupported) return skip(s.message());
  return fail(std::string(stage) + ": " + s.message());
}

CaseResult run_data_set(Engine& engine, const fs::path& set_dir) {
  std::vector<fs::path> input_files = numbered_files(set_dir, "input_");
  std::vector<fs::path> output_files = numbered_files(set_dir, "output_");
  std::vector<Tensor> inputs(engine.inputs().size());
  std::vector<bool> bound(inputs.size(), false);
  for (size_t i = 0; i < input_files.size(); ++i) {
    auto bytes = read_bytes(input_files[i]);
    if (!bytes) return fail("cannot read " + input_files[i].string());
    std::string name;
    Result<Tensor> t = parse_tensor_proto(*bytes, &name);
    if (!t.ok()) return from_status(t.status(), input_files[i].filename().c_str());
    // Bind by name when it matches a model input, else by position.
    size_t slot = i;
    for (size_t k = 0; k < engine.inputs().size(); ++k) {
      if (!name.empty() && engine.inputs()[k].name == name) slot = k;
    }
    if (slot >= inputs.size() || bound[slot]) {
      return fail("the test has " + std::to_string(input_files.size()) +
                  " inputs but the engine takes " + std::to_string(inputs.size()));
    }
    inputs[slot] = as_model_dtype(std::move(t).value(), engine.inputs()[slot].dtype);
    bound[slot] = true;
  }
  if (std::count(bound.begin(), bound.end(), false) != 0) {
    return fail("the engine takes " + std::to_string(inputs.size()) + " inputs, the test gives " +
                std::to_string(input_files.size()));
  }
  // Some test data contradict their own model's declared input shape (e.g. CastLike's 'like'
  // in ONNX 1.12): that is a SKIP with the reason, not a fungen failure.
  for (size_t k = 0; k < inputs.size(); ++k) {
    const TensorInfo& info = engine.inputs()[k];
    if (info.shape.empty()) continue;  // no declared shape (or a scalar): nothing to contradict
    bool agrees = info.shape.size() == inputs[k].shape().size();
    for (size_t d = 0; agrees && d < info.shape.size(); ++d) {
      agrees = info.shape[d] < 0 || info.shape[d] == inputs[k].shape()[d];
    }
    if (!agrees) {
      return skip("test data shape " + shape_to_string(inputs[k].shape()) + " of input '" +
                  info.name + "' contradicts the model's declared " + shape_to_string(info.shape));
    }
  }
  std::vector<Tensor> outputs;
  Status s = engine.run(inputs, outputs);
  if (!s.ok()) return from_status(s, "run");
  if (outputs.size() < output_files.size()) {
    return fail("engine produced " + std::to_string(outputs.size()) + " outputs, expected " +
                std::to_string(output_files.size()));
  }
  for (size_t i = 0; i < output_files.size(); ++i) {
    auto bytes = read_bytes(output_files[i]);
    if (!bytes) return fail("cannot read " + output_files[i].string());
    Result<Tensor> want = parse_tensor_proto(*bytes);
    if (!want.ok()) return from_status(want.status(), output_files[i].filename().c_str());
    std::string diff = node_test::compare_tensors(
        outputs[i], as_model_dtype(std::move(want).value(), outputs[i].dtype()));
    if (!diff.empty()) {
      const std::string& name = engine.outputs()[i].name;
      return fail(set_dir.filename().string() + " output " + std::to_string(i) + " '" + name +
                  "': " + diff);
    }
  }
  return {Outcome::kPass, ""};
}

CaseResult run_case(const fs::path& dir, const std::vector<uint8_t>& model, const Graph& graph,
                    const Options& opt) {
  std::string missing = first_missing_op(graph);
  if (!missing.empty()) return skip("op " + missing + " not implemented");
  EngineOptions eo;
  eo.threads = opt.threads;
  Result<Engine> engine = Engine::load_from_memory(model, eo, dir.filename().string());
  if (!engine.ok()) return from_status(engine.status(), "load");
  std::vector<fs::path> sets;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_directory() && entry.path().filename().string().rfind("test_data_set_", 0) == 0) {
      sets.push_back(entry.path());
    }
  }
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return skip("no test_data_set_* directory");
  for (const fs::path& set : sets) {
    CaseResult r;
    try {
      r = run_data_set(engine.value(), set);
    } catch (const std::exception& e) {
      r = fail(std::string("exception: ") + e.what());
    }
    if (r.outcome != Outcome::kPass) return r;
  }
  return {Outcome::kPass, ""};
}

// Runs one case in a child process: a crash or hang in a kernel fails that case only.
CaseResult run_case_isolated(const fs::path& dir, const std::vector<uint8_t>& model,
                             const Graph& graph, const Options& opt) {
  std::fflush(stdout);
  std::fflush(stderr);
  int fds[2];
  if (pipe(fds) != 0) return run_case(dir, model, graph, opt);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return run_case(dir, model, graph, opt);
  }
  if (pid == 0) {
    close(fds[0]);
    alarm(static_cast<unsigned>(opt.case_timeout_s));
    CaseResult r = run_case(dir, model, graph, opt);
    std::string msg = std::to_string(static_cast<int>(r.outcome)) + r.reason;
    size_t done = 0;
    while (done < msg.size()) {
      ssize_t n = write(fds[1], msg.data() + done, msg.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  std::string msg;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) msg.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  if (WIFSIGNALED(wstatus)) {
    int sig = WTERMSIG(wstatus);
    if (sig == SIGALRM) return fail("timed out after " + std::to_string(opt.case_timeout_s) + " s");
    return fail(std::string("crashed: signal ") + std::to_string(sig) + " (" + strsignal(sig) +
                ")");
  }
  if (msg.empty()) return fail("the case's process exited without a result");
  return {static_cast<Outcome>(msg[0] - '0'), msg.substr(1)};
}

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--data DIR] [--op NAME] [--filter SUBSTRING] [--list] "
               "[--failures-only] [--threads N] [--timeout SECONDS] [--no-fork]\n"
               "  default data: %s (or $FUNGEN_ONNX_NODE_DATA)\n",
               argv0, kDefaultData);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (const char* env = std::getenv("FUNGEN_ONNX_NODE_DATA")) opt.data = env;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--data")
      opt.data = value();
    else if (a == "--op")
      opt.op = value();
    else if (a == "--filter")
      opt.filter = value();
    else if (a == "--threads")
      opt.threads = std::atoi(value().c_str());
    else if (a == "--list")
      opt.list = true;
    else if (a == "--failures-only")
      opt.failures_only = true;
    else if (a == "--no-fork")
      opt.fork_cases = false;
    else if (a == "--timeout")
      opt.case_timeout_s = std::max(1, std::atoi(value().c_str()));
    else
      return usage(argv[0]);
  }
  if (!fs::is_directory(opt.data)) {
    std::printf("no ONNX node-test data at %s (install Debian's libonnx-testdata or pass --data)\n",
                opt.data.c_str());
    return kSkipExitCode;
  }

  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(opt.data)) {
    if (fs::exists(entry.path() / "model.onnx")) cases.push_back(entry.path());
  }
  std::sort(cases.begin(), cases.end());

  std::map<std::string, Tally> per_op;
  Tally total;
  int implemented_failures = 0;
  int diverged = 0;
  for (const fs::path& dir : cases) {
    const std::string name = dir.filename().string();
    if (!opt.filter.empty() && name.find(opt.filter) == std::string::npos) continue;
    auto model = read_bytes(dir / "model.onnx");
    if (!model) continue;
    Result<Graph> graph = import_onnx_model(*model, name);
    const std::string op = case_op(name, graph.ok() ? &graph.value() : nullptr);
    if (!opt.op.empty() && lower_alnum(op) != lower_alnum(opt.op)) continue;

    if (opt.list) {
      std::string state = !graph.ok() ? "import: " + graph.status().message()
                          : first_missing_op(graph.value()).empty()
                              ? "implemented"
                              : "missing op " + first_missing_op(graph.value());
      std::printf("%-60s %-24s %s\n", name.c_str(), op.c_str(), state.c_str());
      continue;
    }

    CaseResult r;
    if (!graph.ok()) {
      // A model the importer refuses as corrupt is an importer bug; unsupported is a skip.
      r = from_status(graph.status(), "import");
    } else {
      r = opt.fork_cases ? run_case_isolated(dir, *model, graph.value(), opt)
                         : run_case(dir, *model, graph.value(), opt);
    }
    Tally& t = per_op[op];
    const char* word = "SKIP";
    if (const char* why = known_divergence(name)) {
      if (r.outcome == Outcome::kFail) {
        ++diverged;
        std::printf("DIVERGES %s (%s; %s)\n", name.c_str(), why, r.reason.c_str());
        continue;
      }
      if (r.outcome == Outcome::kPass) {
        std::printf("NOTE %s now matches the ONNX data: remove it from kKnownDivergences\n",
                    name.c_str());
      }
    }
    switch (r.outcome) {
      case Outcome::kPass:
        ++t.passed;
        ++total.passed;
        word = "PASS";
        break;
      case Outcome::kFail:
        ++t.failed;
        ++total.failed;
        ++implemented_failures;
        word = "FAIL";
        break;
      case Outcome::kSkip:
        ++t.skipped;
        ++total.skipped;
        break;
    }
    if (!opt.failures_only || r.outcome == Outcome::kFail) {
      if (r.reason.empty())
        std::printf("%s %s\n", word, name.c_str());
      else
        std::printf("%s %s (%s)\n", word, name.c_str(), r.reason.c_str());
    }
    std::fflush(stdout);
  }
  if (opt.list) return 0;

  std::printf("\nper op (passed/failed/skipped):\n");
  for (const auto& [op, t] : per_op) {
    if (t.passed == 0 && t.failed == 0 && opt.failures_only) continue;
    std::printf("  %-28s %3d %3d %3d%s\n", op.c_str(), t.passed, t.failed, t.skipped,
                t.failed ? "  <- FAILING" : "");
  }
  if (diverged)
    std::printf("%d known divergences from ONNX's data (ONNX Runtime agrees with fungen)\n",
                diverged);
  std::printf("%d passed, %d failed, %d skipped\n", total.passed, total.failed, total.skipped);
  return implemented_failures ? 1 : 0;
}
