// fungen config show|save|validate — the resolved settings and where each came from.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/config_options.h"
#include "fungen/config.h"

namespace fungen::cli {

void add_config_flags(CLI::App* cmd, ConfigFlags& flags, bool detection) {
  std::string profiles;
  for (const std::string& p : Config::profile_names())
    profiles += (profiles.empty() ? "" : ", ") + p;
  cmd->add_option("--profile", flags.profile,
                  "Settings profile: " + profiles + " (default: auto-detect)");
  cmd->add_option("--config", flags.file, "JSON config file (default: $FUNGEN_CONFIG)");
  if (!detection) return;
  struct Flag {
    const char* name;
    const char* field;
    const char* help;
  };
  static const Flag kFlags[] = {
      {"--device", "device", "auto, cpu, cuda or cuda:N"},
      {"--model-dir", "model_dir", "Directory of models (--name is looked up here)"},
      {"--conf", "conf_threshold", "Confidence threshold: keep scores > conf (default 0.25)"},
      {"--iou", "iou_threshold", "NMS IoU threshold (default 0.45)"},
      {"--max-det", "max_det", "Most detections per image (default 300)"},
      {"--batch", "batch_size", "Images per inference (dynamic-batch models)"},
      {"--threads,-t", "threads", "Engine threads (0 = one per physical core)"},
  };
  for (const Flag& f : kFlags) cmd->add_option(f.name, flags.values[f.field], f.help);
}

Result<ResolvedConfig> resolve_config_flags(const ConfigFlags& flags) {
  ConfigRequest req;
  req.profile = flags.profile;
  req.file = flags.file;
  for (const auto& [field, text] : flags.values) {
    if (!text.empty()) req.flags[field] = text;
  }
  return resolve_config(req);
}

namespace {

struct ConfigCmdOptions {
  ConfigFlags flags;
  std::string save_path;
};

int show(const ConfigCmdOptions& opt) {
  auto r = resolve_config_flags(opt.flags);
  if (!r.ok()) return report(r.status());
  // Where each value came from goes to stderr, so stdout is the JSON alone.
  std::fprintf(stderr, "# profile: %s (%s)\n", r->config.profile.c_str(),
               r->profile_reason.c_str());
  if (!r->file.empty()) std::fprintf(stderr, "# file: %s\n", r->file.c_str());
  std::fprintf(stderr, "# precedence: flag > environment > file > profile\n");
  for (const auto& [field, env] : config_fields()) {
    std::fprintf(stderr, "# %-16s from %-11s%s\n", field.c_str(),
                 config_source_name(r->sources[field]),
                 env.empty() ? "" : ("  (env " + env + ")").c_str());
  }
  std::fputs(r->config.to_json().c_str(), stdout);
  return 0;
}

int save(const ConfigCmdOptions& opt) {
  auto r = resolve_config_flags(opt.flags);
  if (!r.ok()) return report(r.status());
  Status s = r->config.save(opt.save_path);
  if (!s.ok()) return report(s);
  std::fprintf(stderr, "wrote %s (profile %s)\n", opt.save_path.c_str(), r->config.profile.c_str());
  return 0;
}

int validate(const ConfigCmdOptions& opt) {
  if (opt.flags.file.empty())
    return report(invalid_argument("config validate needs --config FILE or a FILE argument"));
  auto c = Config::load(opt.flags.file);
  if (!c.ok()) return report(c.status());
  Status s = c->validate();
  if (!s.ok()) return report(s.with_context(opt.flags.file));
  std::printf("%s: valid (profile %s)\n", opt.flags.file.c_str(), c->profile.c_str());
  return 0;
}

}  // namespace

Action add_config_command(CLI::App& app) {
  auto opt = std::make_shared<ConfigCmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "config", "Show, save or validate settings (profiles, file, FUNGEN_* environment)");
  cmd->require_subcommand(1);
  cmd->footer(
      "Precedence: command-line flag > environment (FUNGEN_*) > config file > profile default.");
  CLI::App* show_cmd =
      cmd->add_subcommand("show", "Print the resolved settings as JSON, with where each came from");
  add_config_flags(show_cmd, opt->flags, true);
  CLI::App* save_cmd = cmd->add_subcommand("save", "Write the resolved settings to a JSON file");
  add_config_flags(save_cmd, opt->flags, true);
  save_cmd->add_option("file", opt->save_path, "Output JSON file")->required();
  CLI::App* validate_cmd = cmd->add_subcommand("validate", "Check a JSON config file");
  validate_cmd->add_option("file", opt->flags.file, "JSON config file");
  validate_cmd->add_option("--config", opt->flags.file, "JSON config file");
  return [opt, show_cmd, save_cmd, validate_cmd] {
    if (show_cmd->parsed()) return show(*opt);
    if (save_cmd->parsed()) return save(*opt);
    if (validate_cmd->parsed()) return validate(*opt);
    return 2;
  };
}

}  // namespace fungen::cli
