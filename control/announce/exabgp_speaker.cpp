#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "control/announce/speaker.h"

namespace anylb {

Result<bool> ExaBgpSpeaker::set(const VipRoute& route, bool announce) {
  const std::string prefix =
      route.address.to_string() + (route.address.is_v6() ? "/128" : "/32");
  const std::string line =
      std::string(announce ? "announce" : "withdraw") + " route " + prefix + " next-hop self\n";
  // Opened per line: a named pipe whose reader (ExaBGP) restarted is found
  // again, and a missing reader is an error now rather than a blocked write.
  const int fd = path_ == "-" ? STDOUT_FILENO
                              : open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return make_error("ExaBGP pipe " + path_ + ": " + std::strerror(errno));
  const ssize_t n = write(fd, line.data(), line.size());
  const int err = errno;
  if (fd != STDOUT_FILENO) close(fd);
  if (n != static_cast<ssize_t>(line.size())) {
    return make_error("ExaBGP pipe " + path_ + ": " + std::strerror(err));
  }
  return true;
}

}  // namespace anylb
