#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "control/announce/speaker.h"
#include "control/config/config.h"

namespace anylb {

namespace {

// A reply is lines "DDDD-text" (more follows), " text" (continuation) and a
// last "DDDD text". Codes 8xxx and 9xxx are errors (birdc's convention).
struct Reply {
  bool complete = false;
  int code = 0;
  std::string text;
};

void parse_lines(std::string& buf, Reply& r) {
  size_t nl;
  while (!r.complete && (nl = buf.find('\n')) != std::string::npos) {
    const std::string line = buf.substr(0, nl);
    buf.erase(0, nl + 1);
    if (line.size() >= 5 && std::isdigit(static_cast<unsigned char>(line[0]))) {
      r.code = std::atoi(line.substr(0, 4).c_str());
      if (!r.text.empty()) r.text += '\n';
      r.text += line.substr(5);
      if (line[4] == ' ') r.complete = true;
    } else if (!line.empty()) {
      if (!r.text.empty()) r.text += '\n';
      r.text += line.substr(1);
    }
  }
}

class Connection {
 public:
  explicit Connection(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof a.sun_path) {
      error_ = "socket path too long";
      return;
    }
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      error_ = std::strerror(errno);
    }
  }
  ~Connection() {
    if (fd_ >= 0) close(fd_);
  }
  const std::string& error() const { return error_; }

  Result<Reply> read_reply(int timeout_ms) {
    Reply r;
    char chunk[4096];
    while (!r.complete) {
      parse_lines(buf_, r);
      if (r.complete) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) != 1) return make_error("no reply within " +
                                                           std::to_string(timeout_ms) + " ms");
      const ssize_t n = read(fd_, chunk, sizeof chunk);
      if (n <= 0) return make_error("connection closed");
      buf_.append(chunk, static_cast<size_t>(n));
    }
    return r;
  }
  bool write_line(const std::string& line) {
    const std::string l = line + "\n";
    return ::send(fd_, l.data(), l.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(l.size());
  }

 private:
  int fd_ = -1;
  std::string error_;
  std::string buf_;
};

}  // namespace

// The validator rejects VIPs that share a protocol by this same function.
std::string BirdSpeaker::protocol_name(const std::string& vip) const {
  return bird_protocol_name(prefix_, vip);
}

Result<std::string> BirdSpeaker::command(const std::string& line) {
  Connection c(socket_);
  if (!c.error().empty()) return make_error("BIRD socket " + socket_ + ": " + c.error());
  auto hello = c.read_reply(2000);  // "0001 BIRD 2.0.12 ready."
  if (!hello) return make_error("BIRD socket " + socket_ + ": " + hello.error().message);
  if (!c.write_line(line)) return make_error("BIRD socket " + socket_ + ": write failed");
  auto reply = c.read_reply(5000);
  if (!reply) return make_error("BIRD '" + line + "': " + reply.error().message);
  if (reply->code >= 8000) {
    return make_error("BIRD '" + line + "': " + std::to_string(reply->code) + " " + reply->text);
  }
  return reply->text;
}

Result<bool> BirdSpeaker::set(const VipRoute& route, bool announce) {
  auto r = command((announce ? "enable " : "disable ") + protocol_name(route.vip));
  if (!r) return r.error();
  return true;
}

}  // namespace anylb
