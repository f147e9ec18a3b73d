// anylbctl's commands against the running anylbd, through its admin API on
// the Unix socket: status, vips, backends, drain/undrain, reload, weight,
// top, and lookup --live. Each prints what it got and returns the exit status;
// an error, or a reply it cannot read (a field missing or of another type),
// is one line on stderr naming the socket and the field, and status 2.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "control/cli/lookup.h"

namespace anylb {

struct DaemonCommand {
  std::string socket = "/run/anylb/anylbd.sock";
  std::string name;  // status | vips | backends | drain | undrain | reload | weight | top | lookup
  // weight
  std::string vip, backend;
  int64_t weight = 0;
  // top, drain --watch
  double interval_s = 1.0;
  uint32_t count = 0;  // refreshes (top: 0 = until interrupted; drain: seconds to watch)
  LookupQuery lookup;
};

int run_daemon_command(const DaemonCommand& command, std::FILE* out);

}  // namespace anylb
