// commands.h — each subcommand lives in its own file and registers itself here.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "fungen/status.h"

namespace fungen::cli {

// Exit codes (docs/cli.md): 0 ok, 1 internal error, 2 bad command line, 3 bad input
// (missing/corrupt/unsupported model or file, bad value), 4 I/O error (disk full, permission),
// 5 out of memory, 6 validation failed (convert --validate), 130 interrupted.
int exit_code_for(const Status& status);
// Prints "fungen: error: <message>" on stderr and returns exit_code_for(status).
int report(const Status& status);

// A subcommand's action, run after parsing; returns the process exit code.
using Action = std::function<int()>;

Action add_infer_command(CLI::App& app);
Action add_bench_command(CLI::App& app);
Action add_detect_command(CLI::App& app);
Action add_config_command(CLI::App& app);
Action add_doctor_command(CLI::App& app);
Action add_convert_command(CLI::App& app);
Action add_compare_precision_command(CLI::App& app);

}  // namespace fungen::cli
