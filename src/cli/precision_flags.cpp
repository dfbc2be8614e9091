#include "cli/precision_flags.h"

#include <cstdio>
#include <filesystem>

namespace fungen::cli {

void add_precision_flags(CLI::App* cmd, PrecisionFlags& flags,
                         const std::vector<std::string>& choices) {
  std::string list;
  for (const std::string& c : choices) list += (list.empty() ? "" : " | ") + c;
  cmd->add_option("--precision", flags.precision, list)->check(CLI::IsMember(choices));
  cmd->add_option("--calibrate", flags.calibrate_dir,
                  "int8: folder of sample images to record activation ranges on (fp32 run), "
                  "saved to the calibration file");
  cmd->add_option("--calibration", flags.calibration_file,
                  "int8: calibration file to write/read (default: MODEL.int8.json)");
}

Result<std::shared_ptr<const CalibrationTable>> load_calibration(const std::string& model,
                                                                 const PrecisionFlags& flags,
                                                                 int threads) {
  if (flags.precision != "int8") {
    if (!flags.calibrate_dir.empty() || !flags.calibration_file.empty())
      return invalid_argument("--calibrate/--calibration are for --precision int8");
    return std::shared_ptr<const CalibrationTable>();
  }
  const std::string path =
      flags.calibration_file.empty() ? default_calibration_path(model) : flags.calibration_file;
  if (!flags.calibrate_dir.empty()) {
    FUNGEN_ASSIGN_OR_RETURN(auto images, list_images(flags.calibrate_dir));
    FUNGEN_ASSIGN_OR_RETURN(CalibrationTable table, calibrate(model, images, {.threads = threads}));
    FUNGEN_RETURN_IF_ERROR(write_calibration(path, table));
    std::fprintf(stderr, "calibrated %zu convolution inputs on %d image(s) of %s -> %s\n",
                 table.absmax.size(), table.images, flags.calibrate_dir.c_str(), path.c_str());
    return std::make_shared<const CalibrationTable>(std::move(table));
  }
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return invalid_argument("precision int8 needs calibration data and " + path +
                            " does not exist: pass --calibrate DIR (a folder of sample images)");
  }
  FUNGEN_ASSIGN_OR_RETURN(CalibrationTable table, read_calibration(path));
  return std::make_shared<const CalibrationTable>(std::move(table));
}

}  // namespace fungen::cli
