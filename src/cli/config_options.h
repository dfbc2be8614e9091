// config_options.h — the flags every config-aware subcommand shares (--profile, --config, and the
// per-field overrides), turned into a resolved Config with fungen's precedence.
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <string>

#include "fungen/config.h"

namespace fungen::cli {

struct ConfigFlags {
  std::string profile;
  std::string file;
  std::map<std::string, std::string> values;  // field -> text given on the command line
};

// Adds --profile and --config; with `detection`, also --device --model-dir --conf --iou
// --max-det --batch --threads (stored as text; resolve_config() parses and range-checks them).
void add_config_flags(CLI::App* cmd, ConfigFlags& flags, bool detection);
Result<ResolvedConfig> resolve_config_flags(const ConfigFlags& flags);

}  // namespace fungen::cli
