// precision_flags.h — the --precision / --calibrate / --calibration flags shared by the
// subcommands that load an engine (bench, compare-precision), and the calibration they imply.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "fungen/calibration.h"
#include "fungen/status.h"

namespace fungen::cli {

struct PrecisionFlags {
  std::string precision = "fp32";
  std::string calibrate_dir;     // int8: calibrate on these images (and save the table)
  std::string calibration_file;  // int8: the table's path (default: next to the model)
};

// Adds the three flags; `choices` lists the precisions the subcommand takes.
void add_precision_flags(CLI::App* cmd, PrecisionFlags& flags,
                         const std::vector<std::string>& choices);

// For int8: the table from --calibrate DIR (recorded now and written to the calibration path)
// or read from the calibration path; nullptr for the other precisions.
Result<std::shared_ptr<const CalibrationTable>> load_calibration(const std::string& model,
                                                                 const PrecisionFlags& flags,
                                                                 int threads);

}  // namespace fungen::cli
