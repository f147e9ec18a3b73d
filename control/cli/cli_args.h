// Checks on command-line values that CLI11 leaves out, for CLI11 transforms
// (a returned message fails the option, and CLI11 names the option).
// Header-only: anylb-dpdk does not link the anylbctl library.
//
// Numbers on the command line are decimal. CLI11 2.1.2 converts integers
// with strtoll(base 0): "050" would be octal 40, "0x10" hex 16, and "080" a
// confusing type error; its floating-point conversion (strtold) takes "nan",
// "inf" and hex floats, which pass range checks or mean "forever". anylbctl
// and anylb-dpdk run every numeric option through decimal_arg() first.
#pragma once

#include <string>

namespace anylb {

// For a CLI11 transform: empty when `text` is a plain decimal number (digits;
// with `fraction`, at most one '.' among them), and then rewritten without
// leading zeros so that CLI11's base-0 conversion reads it as written ("050"
// -> "50"); otherwise why it is not one. Range checks stay with CLI11.
inline std::string decimal_arg(std::string& text, bool fraction = false) {
  size_t digits = 0, dots = 0;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '.' && fraction) {
      ++dots;
    } else {
      digits = 0;
      break;
    }
  }
  if (digits == 0 || dots > 1) {
    return "'" + text + "' is not a decimal number" + (fraction ? "" : " (digits only)");
  }
  if (!fraction) {
    const size_t first = text.find_first_not_of('0');
    text = first == std::string::npos ? "0" : text.substr(first);
  }
  return {};
}

// An empty path is a mistake (an unset variable in a script, say), not a
// request for the embedded demo config: that one comes only when --config is
// left out.
inline std::string non_empty_path_arg(std::string& text) {
  return text.empty() ? "an empty path (leave the option out for the embedded config)" : "";
}

}  // namespace anylb
