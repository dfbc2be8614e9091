// fungen command-line tool. One file per subcommand under src/cli/.
#include <cstdio>
#include <exception>
#include <new>

#include "cli/commands.h"

namespace fungen::cli {

int exit_code_for(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return 0;
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kUnsupported:
    case StatusCode::kCorrupt:
      return 3;
    case StatusCode::kIoError:
      return 4;
    case StatusCode::kOutOfMemory:
      return 5;
    case StatusCode::kInternal:
      return 1;
  }
  return 1;
}

int report(const Status& status) {
  if (status.ok()) return 0;
  std::fprintf(stderr, "fungen: error: %s\n", status.message().c_str());
  return exit_code_for(status);
}

}  // namespace fungen::cli

int main(int argc, char** argv) {
  using namespace fungen::cli;
  CLI::App app{"fungen — YOLO object detection on video, on the CPU and NVIDIA GPUs", "fungen"};
  app.set_version_flag("--version", "fungen " FUNGEN_VERSION);
  app.require_subcommand(1);
  std::vector<std::pair<CLI::App*, Action>> actions;
  Action infer = add_infer_command(app);
  actions.emplace_back(app.get_subcommand("infer"), infer);
  Action bench = add_bench_command(app);
  actions.emplace_back(app.get_subcommand("bench"), bench);
  Action detect = add_detect_command(app);
  actions.emplace_back(app.get_subcommand("detect"), detect);
  Action config = add_config_command(app);
  actions.emplace_back(app.get_subcommand("config"), config);
  Action doctor = add_doctor_command(app);
  actions.emplace_back(app.get_subcommand("doctor"), doctor);
  Action convert = add_convert_command(app);
  actions.emplace_back(app.get_subcommand("convert"), convert);
  Action compare = add_compare_precision_command(app);
  actions.emplace_back(app.get_subcommand("compare-precision"), compare);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    for (auto& [sub, action] : actions) {
      if (sub->parsed()) return action();
    }
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "fungen: error: out of memory; try a smaller batch or input\n");
    return 5;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fungen: error: internal error: %s\n", e.what());
    return 1;
  }
  return 2;
}
