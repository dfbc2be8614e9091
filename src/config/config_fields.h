// config_fields.h — the one table of Config fields: name, environment variable, type, range.
// Parsing from text and JSON, validation, printing and the precedence code all walk this table.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "fungen/config.h"

namespace fungen::config_detail {

using Member = std::variant<std::string Config::*, float Config::*, int Config::*, bool Config::*,
                            double Config::*>;

struct Field {
  const char* name;
  const char* env;  // "" when no environment variable
  Member member;
  double min = 0, max = 0;           // numbers: inclusive range
  std::vector<std::string> choices;  // strings: allowed values (empty: any; device is special)
};

const std::vector<Field>& fields();
const Field* find_field(const std::string& name);

// "" when the field's value is allowed, else "<value> is outside [min, max]" or similar.
std::string check_field(const Config& c, const Field& f);
std::string field_value_text(const Config& c, const Field& f);
Status set_from_text(Config& c, const Field& f, const std::string& text);

}  // namespace fungen::config_detail
