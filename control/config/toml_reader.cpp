#include "control/config/toml_reader.h"

#include <algorithm>

namespace anylb::toml_reader {

namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Milliseconds of "2s", "500ms", "1m"; -1 if the text is not such a duration.
int64_t parse_duration_ms(std::string_view text) {
  size_t digits = 0;
  int64_t n = 0;
  while (digits < text.size() && digits < 10 && text[digits] >= '0' && text[digits] <= '9') {
    n = n * 10 + (text[digits++] - '0');
  }
  const std::string_view unit = text.substr(digits);
  if (digits == 0 || digits == 10) return -1;
  if (unit == "ms") return n;
  if (unit == "s") return n * 1000;
  if (unit == "m") return n * 60'000;
  return -1;
}

}  // namespace

int line_of(const toml::node& n) { return static_cast<int>(n.source().begin.line); }
int line_of(const toml::key& k) { return static_cast<int>(k.source().begin.line); }

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    default: return "a date/time";
  }
}

int Scope::line_of_key(std::string_view key) const {
  const toml::node* n = table.get(key);
  return n != nullptr ? line_of(*n) : line;
}

bool Reader::fail(int line, const std::string& message) {
  error_ = make_error(source_ + ":" + std::to_string(line) + ": " + message);
  return false;
}

bool Reader::check_keys(const Scope& s, std::span<const std::string_view> allowed) {
  // Tables iterate in key order; report the unknown key that comes first in the file.
  const toml::key* first = nullptr;
  for (auto&& [key, value] : s.table) {
    if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end()) continue;
    if (first == nullptr || line_of(key) < line_of(*first)) first = &key;
  }
  if (first == nullptr) return true;
  std::string message = s.about("unknown key '" + std::string(first->str()) + "'");
  // A typo is at most two edits away or a cut-short word; offer every such
  // key, since "prot" may mean port as well as protocol.
  const std::string_view typo = first->str();
  std::string guesses;
  for (std::string_view candidate : allowed) {
    if (edit_distance(typo, candidate) <= 2 ||
        (typo.size() >= 3 && candidate.substr(0, typo.size()) == typo)) {
      guesses += guesses.empty() ? "'" : " or '";
      guesses += candidate;
      guesses += '\'';
    }
  }
  if (!guesses.empty()) message += " (did you mean " + guesses + "?)";
  return fail(line_of(*first), message);
}

bool Reader::require(const Scope& s, std::string_view key, const std::string& why) {
  if (s.table.contains(key)) return true;
  return fail(s.line, s.about("missing required key '" + std::string(key) + "'" + why));
}

bool Reader::read_string(const Scope& s, std::string_view key, std::string& out, bool allow_empty) {
  const toml::node* n = s.table.get(key);
  if (n == nullptr) return true;
  const auto* v = n->as_string();
  if (v == nullptr) {
    return fail(line_of(*n), s.field(key) + ": must be a string (got " + type_name(*n) + ")");
  }
  if (v->get().empty() && !allow_empty) {
    return fail(line_of(*n), s.field(key) + ": must not be empty");
  }
  out = v->get();
  return true;
}

bool Reader::read_bool(const Scope& s, std::string_view key, bool& out) {
  const toml::node* n = s.table.get(key);
  if (n == nullptr) return true;
  const auto* v = n->as_boolean();
  if (v == nullptr) {
    return fail(line_of(*n), s.field(key) + ": must be true or false (got " + type_name(*n) + ")");
  }
  out = v->get();
  return true;
}

bool Reader::read_string_list(const Scope& s, std::string_view key,
                              std::vector<std::string>& out) {
  const toml::node* n = s.table.get(key);
  if (n == nullptr) return true;
  const std::string want = s.field(key) + ": must be an array of non-empty strings";
  const auto* array = n->as_array();
  if (array == nullptr) return fail(line_of(*n), want + " (got " + type_name(*n) + ")");
  std::vector<std::string> values;
  for (const toml::node& element : *array) {
    const auto* v = element.as_string();
    if (v == nullptr || v->get().empty()) return fail(line_of(element), want);
    values.push_back(v->get());
  }
  out = std::move(values);
  return true;
}

bool Reader::read_integer_list(const Scope& s, std::string_view key, std::vector<uint32_t>& out,
                               int64_t lo, int64_t hi) {
  const toml::node* n = s.table.get(key);
  if (n == nullptr) return true;
  const std::string want = s.field(key) + ": must be a non-empty array of integers " +
                           std::to_string(lo) + ".." + std::to_string(hi);
  const auto* array = n->as_array();
  if (array == nullptr || array->empty()) {
    return fail(line_of(*n), want + " (got " + (array ? "[]" : type_name(*n)) + ")");
  }
  std::vector<uint32_t> values;
  for (const toml::node& element : *array) {
    const auto* v = element.as_integer();
    if (v == nullptr) return fail(line_of(element), want + " (got " + type_name(element) + ")");
    if (v->get() < lo || v->get() > hi) {
      return fail(line_of(element), want + " (got " + std::to_string(v->get()) + ")");
    }
    values.push_back(static_cast<uint32_t>(v->get()));
  }
  out = std::move(values);
  return true;
}

bool Reader::read_duration_ms(const Scope& s, std::string_view key, uint32_t& out) {
  const toml::node* n = s.table.get(key);
  if (n == nullptr) return true;
  constexpr int64_t kMaxMs = 3'600'000;
  const std::string want = s.field(key) +
                           ": must be a duration of 1ms..1h such as \"2s\", \"500ms\", \"1m\" "
                           "or integer milliseconds";
  int64_t ms = -1;
  std::string got;
  if (const auto* i = n->as_integer()) {
    ms = i->get();
    got = std::to_string(ms);
  } else if (const auto* str = n->as_string()) {
    ms = parse_duration_ms(str->get());
    got = "'" + str->get() + "'";
  } else {
    got = type_name(*n);
  }
  if (ms < 1 || ms > kMaxMs) return fail(line_of(*n), want + " (got " + got + ")");
  out = static_cast<uint32_t>(ms);
  return true;
}

bool Reader::read_address(const Scope& s, std::string_view key, std::optional<IpAddress>& out,
                          uint8_t family) {
  std::string text;
  if (!read_string(s, key, text)) return false;
  if (text.empty()) return true;
  auto ip = parse_ip_address(text);
  if (!ip) return fail(s.line_of_key(key), s.field(key) + ": '" + text + "' is not an IP address");
  if (family != 0 && ip->family != family) {
    return fail(s.line_of_key(key), s.field(key) + ": '" + text + "' is not an IPv" +
                                        std::to_string(family) + " address");
  }
  out = *ip;
  return true;
}

bool Reader::read_prefix(const Scope& s, std::string_view key, std::optional<IpPrefix>& out,
                         uint8_t family) {
  std::string text;
  if (!read_string(s, key, text)) return false;
  if (text.empty()) return true;
  auto prefix = parse_ip_prefix(text);
  if (!prefix) return fail(s.line_of_key(key), s.field(key) + ": " + prefix.error().message);
  if (prefix->base.family != family) {
    return fail(s.line_of_key(key), s.field(key) + ": '" + text + "' is not an IPv" +
                                        std::to_string(family) + " prefix");
  }
  out = *prefix;
  return true;
}

bool Reader::read_mac(const Scope& s, std::string_view key, MacAddress& out) {
  std::string text;
  if (!read_string(s, key, text)) return false;
  if (text.empty()) return true;
  auto mac = parse_mac_address(text);
  if (!mac) return fail(s.line_of_key(key), s.field(key) + ": " + mac.error().message);
  out = *mac;
  return true;
}

bool Reader::read_table(const Scope& s, std::string_view key, const char* header,
                        const toml::table*& out) {
  const toml::node* n = s.table.get(key);
  if (n == nullptr) return true;
  out = n->as_table();
  if (out == nullptr) return fail(line_of(*n), s.field(key) + ": must be a table (" + header + ")");
  return true;
}

bool Reader::read_tables(const Scope& s, std::string_view key, const char* header,
                         std::vector<const toml::table*>& out) {
  const toml::node* n = s.table.get(key);
  if (n == nullptr) return true;
  const std::string want = s.field(key) + ": must be an array of tables (" + header + ")";
  const auto* array = n->as_array();
  if (array == nullptr) return fail(line_of(*n), want);
  for (const toml::node& element : *array) {
    if (!element.is_table()) return fail(line_of(element), want);
    out.push_back(element.as_table());
  }
  return true;
}

}  // namespace anylb::toml_reader
