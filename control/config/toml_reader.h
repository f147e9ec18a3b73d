// Typed fields out of toml++ tables, with messages that name file, line and
// field. Private to control/config: nothing outside this folder sees toml++.
#pragma once

#include <toml++/toml.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/core/ip_address.h"
#include "dataplane/core/result.h"

namespace anylb::toml_reader {

template <typename E>
struct NamedValue {
  const char* name;
  E value;
};

template <typename E, size_t N>
std::string choice_list(const NamedValue<E> (&choices)[N]) {
  std::string list;
  for (const auto& c : choices) {
    if (!list.empty()) list += ", ";
    list += c.name;
  }
  return list;
}

int line_of(const toml::node& n);
int line_of(const toml::key& k);
std::string type_name(const toml::node& n);  // "an integer", "a string", ...

// A table and how messages name it: fields read "<label><sep><key>", problems
// of the table itself "<label>: ...".
struct Scope {
  const toml::table& table;
  std::string label;  // "node", "vip 'web'", "vip 'web': health"; empty at top level
  const char* sep;    // "." or ": "
  int line;           // the table's header, where missing keys are reported

  std::string field(std::string_view key) const {
    return label.empty() ? std::string(key) : label + sep + std::string(key);
  }
  std::string about(const std::string& what) const {
    return label.empty() ? what : label + ": " + what;
  }
  int line_of_key(std::string_view key) const;  // the key's line, else the table's
};

// Stops at the first problem: every read returns false once one is recorded,
// so callers unwind with `if (!...) return false;`. An absent key leaves the
// output untouched, which is how defaults survive.
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  const Error& error() const { return error_; }
  bool fail(int line, const std::string& message);

  // Unknown keys are typos until proven otherwise.
  bool check_keys(const Scope& s, std::span<const std::string_view> allowed);
  bool check_keys(const Scope& s, std::initializer_list<std::string_view> allowed) {
    return check_keys(s, std::span(allowed.begin(), allowed.size()));
  }
  bool require(const Scope& s, std::string_view key, const std::string& why = {});

  bool read_string(const Scope& s, std::string_view key, std::string& out,
                   bool allow_empty = false);
  bool read_bool(const Scope& s, std::string_view key, bool& out);
  // An array of strings, each non-empty.
  bool read_string_list(const Scope& s, std::string_view key, std::vector<std::string>& out);
  // An array of integers in lo..hi, at least one.
  bool read_integer_list(const Scope& s, std::string_view key, std::vector<uint32_t>& out,
                         int64_t lo, int64_t hi);
  bool read_duration_ms(const Scope& s, std::string_view key, uint32_t& out);
  bool read_address(const Scope& s, std::string_view key, std::optional<IpAddress>& out,
                    uint8_t family = 0);  // 0: either family
  bool read_prefix(const Scope& s, std::string_view key, std::optional<IpPrefix>& out,
                   uint8_t family);
  bool read_mac(const Scope& s, std::string_view key, MacAddress& out);
  // A sub-table such as [node] or [vip.health]; `out` stays null when absent.
  bool read_table(const Scope& s, std::string_view key, const char* header,
                  const toml::table*& out);
  bool read_tables(const Scope& s, std::string_view key, const char* header,
                   std::vector<const toml::table*>& out);

  template <typename T>
  bool read_integer(const Scope& s, std::string_view key, T& out, int64_t lo, int64_t hi,
                    const char* unit = "") {
    const toml::node* n = s.table.get(key);
    if (n == nullptr) return true;
    const std::string want = s.field(key) + ": must be an integer " + std::to_string(lo) + ".." +
                             std::to_string(hi) + unit;
    const auto* v = n->as_integer();
    if (v == nullptr) return fail(line_of(*n), want + " (got " + type_name(*n) + ")");
    if (v->get() < lo || v->get() > hi) {
      return fail(line_of(*n), want + " (got " + std::to_string(v->get()) + ")");
    }
    out = static_cast<T>(v->get());
    return true;
  }

  template <typename E, size_t N>
  bool read_choice(const Scope& s, std::string_view key, E& out,
                   const NamedValue<E> (&choices)[N]) {
    const toml::node* n = s.table.get(key);
    if (n == nullptr) return true;
    const std::string want = "one of " + choice_list(choices);
    const auto* v = n->as_string();
    if (v == nullptr) {
      return fail(line_of(*n), s.field(key) + ": must be " + want + " (got " + type_name(*n) + ")");
    }
    for (const auto& c : choices) {
      if (v->get() == c.name) {
        out = c.value;
        return true;
      }
    }
    return fail(line_of(*n), s.field(key) + ": '" + v->get() + "' is not " + want);
  }

 private:
  std::string source_;
  Error error_;
};

}  // namespace anylb::toml_reader
