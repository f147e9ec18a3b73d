// Health probes run concurrently from one thread: non-blocking sockets and
// process fds on one epoll set, so a thousand backends need no thousand
// threads. Kinds: TCP connect, HTTP GET with an expected status, UDP request
// with an expected reply, and an external command (its exit status), as
// anycast-healthchecker runs them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "control/config/config.h"
#include "dataplane/core/ip_address.h"

namespace anylb {

struct ProbeTarget {
  HealthCheckKind kind = HealthCheckKind::Tcp;
  IpAddress address;
  uint16_t port = 0;
  uint32_t timeout_ms = 1000;
  std::string http_path = "/";
  uint16_t http_expect_status = 200;
  std::string udp_send;    // bytes, escapes already decoded
  std::string udp_expect;  // the reply must contain it; empty: any reply
  std::string command;     // run by /bin/sh with the address as $1
};

struct ProbeResult {
  uint64_t id = 0;
  bool ok = false;
  std::string detail;  // why it failed, or what it saw ("HTTP 200")
  uint32_t latency_ms = 0;
};

// The escapes of health.send and health.expect are decoded by decode_escapes
// (control/config/config.h): the config reader checks them with the same
// function, so a payload the config accepts is one the monitor can send.

class Prober {
 public:
  Prober();
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // Starts a probe; its result comes out of poll() (at the latest when its
  // timeout passes). Returns the probe's id.
  uint64_t start(const ProbeTarget& target, uint64_t now_ms);
  // Waits up to wait_ms for progress, then reports every finished probe.
  void poll(int wait_ms, uint64_t now_ms, const std::function<void(const ProbeResult&)>& done);
  size_t in_flight() const { return probes_.size(); }

 private:
  struct Probe;
  void finish(uint64_t id, bool ok, std::string detail, uint64_t now_ms,
              const std::function<void(const ProbeResult&)>& done);
  void on_event(Probe& p, uint32_t events, uint64_t now_ms);

  int epoll_fd_ = -1;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Probe>> probes_;
};

}  // namespace anylb
