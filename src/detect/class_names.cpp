// class_names.cpp — Ultralytics' `names` metadata (a Python literal) and names files.
#include <cctype>
#include <fstream>
#include <sstream>

#include "fungen/detector.h"

namespace fungen {
namespace {

class LiteralParser {
 public:
  explicit LiteralParser(const std::string& text) : s_(text) {}

  Result<std::map<int, std::string>> parse() {
    skip_space();
    std::map<int, std::string> names;
    if (peek() == '{') {
      ++pos_;
      while (true) {
        skip_space();
        if (peek() == '}') {
          ++pos_;
          break;
        }
        FUNGEN_ASSIGN_OR_RETURN(int id, parse_key());
        skip_space();
        if (peek() != ':') return error("expected ':' after key " + std::to_string(id));
        ++pos_;
        skip_space();
        FUNGEN_ASSIGN_OR_RETURN(std::string name, parse_string());
        if (!names.emplace(id, std::move(name)).second) {
          return error("class id " + std::to_string(id) + " appears twice");
        }
        skip_space();
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        if (peek() == '}') {
          ++pos_;
          break;
        }
        return error("expected ',' or '}'");
      }
    } else if (peek() == '[') {
      ++pos_;
      int id = 0;
      while (true) {
        skip_space();
        if (peek() == ']') {
          ++pos_;
          break;
        }
        FUNGEN_ASSIGN_OR_RETURN(std::string name, parse_string());
        names.emplace(id++, std::move(name));
        skip_space();
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        if (peek() == ']') {
          ++pos_;
          break;
        }
        return error("expected ',' or ']'");
      }
    } else {
      return error("expected '{' or '['");
    }
    skip_space();
    if (pos_ != s_.size()) return error("unexpected text after the literal");
    return names;
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  Status error(const std::string& what) const {
    return invalid_argument("class names literal, at character " + std::to_string(pos_) + ": " +
                            what);
  }

  Result<int> parse_key() {
    if (peek() == '\'' || peek() == '"') {  // {"0": "person"} (JSON) is accepted too
      FUNGEN_ASSIGN_OR_RETURN(std::string text, parse_string());
      LiteralParser digits(text);
      return digits.parse_int_all();
    }
    return parse_int();
  }
  Result<int> parse_int_all() {
    FUNGEN_ASSIGN_OR_RETURN(int v, parse_int());
    if (pos_ != s_.size()) return error("a class id must be a non-negative integer");
    return v;
  }
  Result<int> parse_int() {
    size_t start = pos_;
    long long v = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      v = v * 10 + (s_[pos_++] - '0');
      if (v > 1000000) return error("class id too large");
    }
    if (pos_ == start) return error("a class id must be a non-negative integer");
    return static_cast<int>(v);
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  Result<uint32_t> parse_hex(int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      char c = peek();
      if (!std::isxdigit(static_cast<unsigned char>(c))) return error("bad hex escape");
      v = v * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(c))
                                             ? c - '0'
                                             : (std::tolower(c) - 'a' + 10));
      ++pos_;
    }
    if (v > 0x10FFFF) return error("escape out of Unicode range");
    return v;
  }

  // A Python str literal in ' or " quotes (optionally prefixed u), with backslash escapes.
  Result<std::string> parse_string() {
    if (peek() == 'u' || peek() == 'U') ++pos_;
    char quote = peek();
    if (quote != '\'' && quote != '"') return error("expected a quoted name");
    ++pos_;
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) return error("unterminated string");
      char c = s_[pos_++];
      if (c == quote) break;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) return error("unterminated escape");
      char e = s_[pos_++];
      switch (e) {
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'v':
          out += '\v';
          break;
        case '\n':
          break;  // line continuation
        case 'x': {
          FUNGEN_ASSIGN_OR_RETURN(uint32_t v, parse_hex(2));
          append_utf8(out, v);
          break;
        }
        case 'u': {
          FUNGEN_ASSIGN_OR_RETURN(uint32_t v, parse_hex(4));
          append_utf8(out, v);
          break;
        }
        case 'U': {
          FUNGEN_ASSIGN_OR_RETURN(uint32_t v, parse_hex(8));
          append_utf8(out, v);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t v = static_cast<uint32_t>(e - '0');
            for (int i = 0; i < 2 && peek() >= '0' && peek() <= '7'; ++i)
              v = v * 8 + static_cast<uint32_t>(s_[pos_++] - '0');
            append_utf8(out, v);
          } else {  // Python keeps unknown escapes verbatim
            out += '\\';
            out += e;
          }
      }
    }
    return out;
  }

  const std::string& s_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::map<int, std::string>> parse_class_names(const std::string& literal) {
  return LiteralParser(literal).parse();
}

Result<std::map<int, std::string>> read_class_names_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found(path + ": cannot open the class names file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (text[first] == '{' || text[first] == '[')) {
    auto names = parse_class_names(text);
    if (!names.ok()) return names.status().with_context(path);
    return names;
  }
  std::map<int, std::string> names;
  std::istringstream lines(text);
  std::string line;
  int id = 0;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    names.emplace(id++, line);
  }
  while (!names.empty() && names.rbegin()->second.empty()) names.erase(std::prev(names.end()));
  if (names.empty()) return invalid_argument(path + ": the class names file is empty");
  return names;
}

}  // namespace fungen
