// fungen infer — run a model on .npy inputs and write its outputs as .npy.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "fungen/engine.h"
#include "io/npy.h"

namespace fungen::cli {
namespace {

struct InferOptions {
  std::string model;
  std::vector<std::string> inputs;
  std::string output;
  std::string output_dir;
  int threads = 0;
  std::string backend = "auto";
  std::string precision = "fp32";
};

// Orders the --input arguments by graph input: positional, or name=path.
Result<std::vector<std::string>> input_paths(const Engine& engine,
                                             const std::vector<std::string>& args) {
  const auto& infos = engine.inputs();
  std::vector<std::string> paths(infos.size());
  size_t next = 0;
  for (const std::string& arg : args) {
    size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      std::string name = arg.substr(0, eq);
      size_t k = 0;
      while (k < infos.size() && infos[k].name != name) ++k;
      if (k < infos.size()) {
        if (!paths[k].empty()) return invalid_argument("--input: '" + name + "' given twice");
        paths[k] = arg.substr(eq + 1);
        continue;
      }
      // Not an input name: treat as a path that contains '='.
    }
    while (next < paths.size() && !paths[next].empty()) ++next;
    if (next >= paths.size()) {
      return invalid_argument("--input: more inputs than the model's " +
                              std::to_string(infos.size()));
    }
    paths[next++] = arg;
  }
  for (size_t k = 0; k < paths.size(); ++k) {
    if (paths[k].empty()) {
      return invalid_argument("missing --input for model input '" + infos[k].name + "'");
    }
  }
  return paths;
}

std::string safe_file_name(const std::string& name) {
  std::string s = name;
  for (char& c : s) {
    if (c == '/' || c == '\\' || c == ':' || c == '\0') c = '_';
  }
  return s.empty() || s == "." || s == ".." ? "output" : s;
}

int run_infer(const InferOptions& opt) {
  if (opt.output.empty() == opt.output_dir.empty()) {
    return report(invalid_argument("give exactly one of --output FILE.npy or --output-dir DIR"));
  }
  EngineOptions eo;
  eo.threads = opt.threads;
  eo.backend = opt.backend;
  eo.precision = opt.precision;
  auto engine = Engine::load(opt.model, eo);
  if (!engine.ok()) return report(engine.status());
  auto paths = input_paths(*engine, opt.inputs);
  if (!paths.ok()) return report(paths.status());
  std::vector<Tensor> inputs;
  for (const std::string& p : paths.value()) {
    auto t = read_npy(p);
    if (!t.ok()) return report(t.status());
    inputs.push_back(std::move(t).value());
  }
  std::vector<Tensor> outputs;
  Status s = engine->run(inputs, outputs);
  if (!s.ok()) return report(s.with_context(opt.model));
  if (!opt.output.empty()) return report(write_npy(opt.output, outputs[0]));
  std::error_code ec;
  std::filesystem::create_directories(opt.output_dir, ec);
  if (ec)
    return report(io_error(opt.output_dir + ": cannot create directory (" + ec.message() + ")"));
  for (size_t i = 0; i < outputs.size(); ++i) {
    std::string path = opt.output_dir + "/" + safe_file_name(engine->outputs()[i].name) + ".npy";
    Status w = write_npy(path, outputs[i]);
    if (!w.ok()) return report(w);
  }
  return 0;
}

}  // namespace

Action add_infer_command(CLI::App& app) {
  auto opt = std::make_shared<InferOptions>();
  CLI::App* cmd = app.add_subcommand("infer", "Run a model on .npy inputs; write outputs as .npy");
  cmd->add_option("--model,-m", opt->model, "ONNX model file")->required();
  cmd->add_option("--input,-i", opt->inputs,
                  "Input .npy (repeat in graph-input order, or name=path)")
      ->required();
  cmd->add_option("--output,-o", opt->output, "Write the first output to this .npy file");
  cmd->add_option("--output-dir", opt->output_dir, "Write every output as <name>.npy here");
  cmd->add_option("--threads,-t", opt->threads, "Worker threads (0 = physical cores)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--backend", opt->backend,
                  "auto (fastest compiled in; the GPU when present) | cuda | cpu (oneDNN) | "
                  "reference (plain kernels)")
      ->capture_default_str();
  cmd->add_option("--precision", opt->precision,
                  "fp32 | fp16 (cuda) | bf16 (cpu with AVX512-BF16); int8 needs `fungen bench`")
      ->check(CLI::IsMember({"fp32", "fp16", "bf16"}))
      ->capture_default_str();
  return [opt] { return run_infer(*opt); };
}

}  // namespace fungen::cli
