// The admin API's routes, over a Controller: JSON in and out, Prometheus
// text on /metrics. Pure over its inputs (no sockets), so its validation is
// unit-tested: bad JSON, an unknown VIP, an out-of-range weight are 4xx
// answers that leave the state as it was.
//
//   GET  /status              node, dataplane, readiness, drain, speaker, publish timings
//   GET  /vips                per VIP: announced, why, healthy / min_healthy, counters
//   GET  /backends            per backend: health, weight, configured and effective state
//   GET  /metrics             Prometheus text
//   GET  /lookup?protocol=tcp&src=A&sport=P&dst=V&dport=Q   where a new flow goes now
//   POST /drain   /undrain    withdraw / announce again every VIP of this node
//   POST /reload              re-read the config file (errors: file, line, field)
//   POST /weight  {"vip": "web", "backend": "10.1.0.2", "weight": 50}
//
// A request that came over the loopback TCP port (HttpRequest::from_tcp) gets
// GET /metrics or a 403: any local user can reach that port.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "control/daemon/controller.h"
#include "control/api/http_server.h"

namespace anylb {

struct ApiContext {
  std::string config_path;  // empty: the embedded default (reload re-reads it)
  std::function<uint64_t()> now_ms;
};

HttpResponse handle_api(const HttpRequest& request, Controller& controller,
                        const ApiContext& context);

// Prometheus exposition text of everything /metrics serves.
std::string render_metrics(const Controller& controller);

}  // namespace anylb
