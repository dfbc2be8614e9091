// model_discovery.cpp — see model_discovery.h.
#include "detect/model_discovery.h"

#include <spawn.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "fungen/log.h"
#include "runtime/plan_file.h"

extern char** environ;

namespace fungen::detect {
namespace fs = std::filesystem;

std::vector<std::string> pt_export_command(const std::string& pt_path) {
  const char* py = std::getenv("FUNGEN_PYTHON");
  std::string python = (py && *py) ? py : "python3";
  return {python, "-c",
          "import sys; from ultralytics import YOLO; YOLO(sys.argv[1]).export(format='onnx')",
          pt_path};
}

std::string shell_quote_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !a.empty() &&
                 a.find_first_not_of(
                     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:+,") ==
                     std::string::npos;
    if (plain) {
      out += a;
      continue;
    }
    out += '\'';
    for (char c : a) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
    out += '\'';
  }
  return out;
}

Result<std::string> convert_pt_to_onnx(const std::string& pt_path) {
  std::vector<std::string> argv = pt_export_command(pt_path);
  std::string shown = shell_quote_command(argv);
  fs::path onnx = fs::path(pt_path).replace_extension(".onnx");
  log(LogLevel::kWarn, "converting {} to {} once with the Ultralytics exporter: {}", pt_path,
      onnx.string(), shown);
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (rc != 0) {
    return unsupported(pt_path + ": cannot run '" + argv[0] +
                       "' to convert this .pt; install "
                       "ultralytics (pip install ultralytics) and run: " +
                       shown);
  }
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  std::error_code ec;
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0 || !fs::exists(onnx, ec)) {
    return unsupported(pt_path +
                       ": the Ultralytics exporter failed or is not installed; fungen "
                       "never unpickles .pt files itself. Install ultralytics (pip install "
                       "ultralytics) and run: " +
                       shown + "  (or set FUNGEN_PYTHON to a python that has it)");
  }
  return onnx.string();
}

Result<FoundModel> find_model(const std::string& model_dir, const std::string& name,
                              bool allow_convert) {
  if (name.empty()) return invalid_argument("empty model name");
  FoundModel found;
  fs::path given(name);
  std::error_code ec;
  // A name with an extension, or a path, picks that file.
  fs::path direct = given.is_absolute() || model_dir.empty() ? given : fs::path(model_dir) / given;
  std::string ext = given.extension().string();
  if (ext == ".onnx" || ext == ".engine" || ext == ".pt") {
    if (!fs::exists(direct, ec)) return not_found(direct.string() + ": no such model file");
    if (ext == ".onnx") {
      found.path = direct.string();
      return found;
    }
    if (ext == ".engine") {
      if (is_plan_file(direct.string())) {
        found.path = direct.string();
        return found;
      }
      return unsupported(direct.string() +
                         ": this .engine is foreign to fungen (TensorRT's or another tool's, not "
                         "a fungen plan); give the .onnx it was built from");
    }
    if (!allow_convert) {
      return unsupported(direct.string() + ": .pt needs converting; run: " +
                         shell_quote_command(pt_export_command(direct.string())));
    }
    FUNGEN_ASSIGN_OR_RETURN(found.path, convert_pt_to_onnx(direct.string()));
    found.notes.push_back("converted " + direct.string() + " to " + found.path);
    return found;
  }
  fs::path base = direct;
  fs::path engine = fs::path(base.string() + ".engine");
  fs::path onnx = fs::path(base.string() + ".onnx");
  fs::path pt = fs::path(base.string() + ".pt");
  if (fs::exists(engine, ec)) {
    // fungen's own plan (fungen convert) loads, rebuilt by Engine::load when it is stale.
    if (is_plan_file(engine.string())) {
      found.path = engine.string();
      return found;
    }
    found.notes.push_back(engine.string() +
                          ": skipped: this .engine is foreign to fungen (not a fungen plan; "
                          "TensorRT engines are tied to another runtime, GPU and version)");
    log(LogLevel::kWarn, "{}", found.notes.back());
  }
  if (fs::exists(onnx, ec)) {
    found.path = onnx.string();
    return found;
  }
  if (fs::exists(pt, ec)) {
    if (!allow_convert) {
      return unsupported(pt.string() + ": .pt needs converting; run: " +
                         shell_quote_command(pt_export_command(pt.string())));
    }
    FUNGEN_ASSIGN_OR_RETURN(found.path, convert_pt_to_onnx(pt.string()));
    found.notes.push_back("converted " + pt.string() + " to " + found.path);
    return found;
  }
  return not_found("no model '" + name + "' in " +
                   (model_dir.empty() ? std::string(".") : model_dir) + " (looked for " +
                   engine.filename().string() + ", " + onnx.filename().string() + ", " +
                   pt.filename().string() + ")");
}

}  // namespace fungen::detect
