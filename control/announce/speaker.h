// The BGP speaker anylbd drives: per VIP, announce its prefix or withdraw it.
// Implementations talk to a real speaker (BIRD's control socket, ExaBGP's
// process API). Failures are returned, never thrown: anylbd keeps
// forwarding, reports the speaker's state, and retries.
#pragma once

#include <string>

#include "dataplane/core/ip_address.h"
#include "dataplane/core/result.h"

namespace anylb {

struct VipRoute {
  std::string vip;    // VIP name
  IpAddress address;  // announced as a host route (/32 or /128)
};

class BgpSpeaker {
 public:
  virtual ~BgpSpeaker() = default;
  virtual const char* kind() const = 0;
  // Makes the speaker announce (true) or withdraw (false) the route.
  virtual Result<bool> set(const VipRoute& route, bool announce) = 0;
};

// BIRD 2 through its control socket: each VIP is a static protocol the
// operator declares (docs/operations.md), named protocol_prefix + the VIP name
// with every character BIRD does not allow in a symbol turned into '_'
// (bird_protocol_name in control/config/config.h, which validate_config also
// uses to reject two VIPs on one protocol); announce = `enable`, withdraw =
// `disable`.
class BirdSpeaker : public BgpSpeaker {
 public:
  BirdSpeaker(std::string socket_path, std::string protocol_prefix)
      : socket_(std::move(socket_path)), prefix_(std::move(protocol_prefix)) {}
  const char* kind() const override { return "bird"; }
  Result<bool> set(const VipRoute& route, bool announce) override;
  std::string protocol_name(const std::string& vip) const;

  // One command on the socket; the reply's text, or an error with BIRD's code.
  Result<std::string> command(const std::string& line);

 private:
  std::string socket_;
  std::string prefix_;
};

// ExaBGP's process API: anylbd writes `announce route P next-hop self` and
// `withdraw route P next-hop self` lines to a stream ExaBGP reads (its
// `process` stdin, or a named pipe).
class ExaBgpSpeaker : public BgpSpeaker {
 public:
  explicit ExaBgpSpeaker(std::string path) : path_(std::move(path)) {}
  const char* kind() const override { return "exabgp"; }
  Result<bool> set(const VipRoute& route, bool announce) override;

 private:
  std::string path_;  // "-": standard output
};

}  // namespace anylb
