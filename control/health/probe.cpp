#include "control/health/probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

extern char** environ;

namespace anylb {

namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

socklen_t to_sockaddr(const IpAddress& a, uint16_t port, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (a.is_v6()) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    std::memcpy(&s6->sin6_addr, a.bytes.data(), 16);
    return sizeof(sockaddr_in6);
  }
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  s4->sin_family = AF_INET;
  s4->sin_port = htons(port);
  std::memcpy(&s4->sin_addr, a.bytes.data(), 4);
  return sizeof(sockaddr_in);
}

}  // namespace

struct Prober::Probe {
  uint64_t id = 0;
  ProbeTarget target;
  uint64_t started_ms = 0;
  uint64_t deadline_ms = 0;
  int fd = -1;        // socket, or pidfd for a command
  pid_t pid = -1;     // command
  bool sent = false;  // HTTP request written
  std::string reply;  // what came back so far
  bool done = false;  // the verdict is in
  bool ok = false;
  std::string detail;

  void conclude(bool success, std::string why) {
    done = true;
    ok = success;
    detail = std::move(why);
  }
};

Prober::Prober() : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {}

Prober::~Prober() {
  for (auto& [id, p] : probes_) {
    if (p->pid > 0) {
      kill(p->pid, SIGKILL);
      waitpid(p->pid, nullptr, 0);
    }
    if (p->fd >= 0) close(p->fd);
  }
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

uint64_t Prober::start(const ProbeTarget& target, uint64_t now_ms) {
  auto p = std::make_unique<Probe>();
  p->id = next_id_++;
  p->target = target;
  p->started_ms = now_ms;
  p->deadline_ms = now_ms + target.timeout_ms;
  uint32_t events = 0;
  std::string error;

  if (target.kind == HealthCheckKind::Command) {
    const std::string addr = target.address.to_string();
    const char* argv[] = {"/bin/sh", "-c", target.command.c_str(), "anylb-health", addr.c_str(),
                          nullptr};
    pid_t pid = -1;
    // The command's output goes to stderr with anylbd's log: anylbd's stdout
    // can be ExaBGP's command stream (bgp.exabgp_pipe = "-").
    posix_spawn_file_actions_t io;
    posix_spawn_file_actions_init(&io);
    posix_spawn_file_actions_adddup2(&io, STDERR_FILENO, STDOUT_FILENO);
    const int rc = posix_spawn(&pid, "/bin/sh", &io, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&io);
    if (rc != 0) {
      error = std::string("cannot run the command: ") + std::strerror(rc);
    } else {
      p->pid = pid;
      p->fd = pidfd_open(pid);
      if (p->fd < 0) error = std::string("pidfd_open: ") + std::strerror(errno);
      events = EPOLLIN;
    }
  } else {
    sockaddr_storage ss;
    const socklen_t len = to_sockaddr(target.address, target.port, ss);
    const int type = target.kind == HealthCheckKind::Udp ? SOCK_DGRAM : SOCK_STREAM;
    p->fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
      error = std::string("socket: ") + std::strerror(errno);
    } else if (connect(p->fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 &&
               errno != EINPROGRESS) {
      error = std::string("connect: ") + std::strerror(errno);
    } else if (type == SOCK_DGRAM) {
      if (send(p->fd, target.udp_send.data(), target.udp_send.size(), 0) < 0) {
        error = std::string("send: ") + std::strerror(errno);
      }
      events = EPOLLIN;
    } else {
      events = EPOLLOUT;
    }
  }
  const uint64_t id = p->id;
  if (error.empty()) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, p->fd, &ev) != 0) {
      error = std::string("epoll_ctl: ") + std::strerror(errno);
    }
  }
  if (!error.empty()) p->conclude(false, error);  // reported by the next poll()
  probes_.emplace(id, std::move(p));
  return id;
}

void Prober::finish(uint64_t id, bool ok, std::string detail, uint64_t now_ms,
                    const std::function<void(const ProbeResult&)>& done) {
  auto it = probes_.find(id);
  if (it == probes_.end()) return;
  Probe& p = *it->second;
  if (p.fd >= 0) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, p.fd, nullptr);
    close(p.fd);
  }
  if (p.pid > 0) {  // still running: it timed out
    kill(p.pid, SIGKILL);
    waitpid(p.pid, nullptr, 0);
  }
  ProbeResult r{id, ok, std::move(detail), static_cast<uint32_t>(now_ms - p.started_ms)};
  probes_.erase(it);
  done(r);
}

void Prober::on_event(Probe& p, uint32_t events, uint64_t now_ms) {
  const ProbeTarget& t = p.target;
  if (t.kind == HealthCheckKind::Command) {
    // The pidfd is readable: the command has exited.
    int status = 0;
    if (waitpid(p.pid, &status, WNOHANG) == p.pid) {
      p.pid = -1;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      p.conclude(ok, WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                       : "killed by signal " + std::to_string(WTERMSIG(status)));
    }
    return;
  }
  if (t.kind != HealthCheckKind::Udp && !p.sent) {
    // A TCP connect finished, one way or the other.
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return p.conclude(false, std::string("connect: ") + std::strerror(err));
    if (t.kind == HealthCheckKind::Tcp) return p.conclude(true, "connected");
    const std::string req = "GET " + t.http_path + " HTTP/1.0\r\nHost: " +
                            t.address.to_string() +
                            "\r\nUser-Agent: anylb-health\r\nConnection: close\r\n\r\n";
    if (send(p.fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
      return p.conclude(false, std::string("send: ") + std::strerror(errno));
    }
    p.sent = true;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = p.id;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, p.fd, &ev);
    return;
  }
  if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
  char buf[2048];
  const ssize_t n = recv(p.fd, buf, sizeof buf, 0);
  if (n < 0) {
    if (errno == EAGAIN) return;
    return p.conclude(false, std::string("recv: ") + std::strerror(errno));
  }
  p.reply.append(buf, static_cast<size_t>(n));
  if (t.kind == HealthCheckKind::Udp) {
    const bool ok = t.udp_expect.empty() || p.reply.find(t.udp_expect) != std::string::npos;
    return p.conclude(ok, ok ? "reply" : "reply without the expected bytes");
  }
  // HTTP: decided once the status line is in (or the peer closed).
  if (p.reply.find("\r\n") == std::string::npos && n > 0) return;
  int status = 0;
  if (p.reply.rfind("HTTP/", 0) == 0 && p.reply.size() >= 12) status = std::atoi(p.reply.c_str() + 9);
  if (status == 0) return p.conclude(false, "no HTTP status line");
  (void)now_ms;
  p.conclude(status == t.http_expect_status, "HTTP " + std::to_string(status));
}

void Prober::poll(int wait_ms, uint64_t now_ms,
                  const std::function<void(const ProbeResult&)>& done) {
  epoll_event events[64];
  const int n = epoll_wait(epoll_fd_, events, 64, wait_ms);
  for (int i = 0; i < n; ++i) {
    auto it = probes_.find(events[i].data.u64);
    if (it != probes_.end() && !it->second->done) on_event(*it->second, events[i].events, now_ms);
  }
  std::vector<uint64_t> finished;
  for (auto& [id, p] : probes_) {
    if (!p->done && now_ms >= p->deadline_ms) {
      p->conclude(false, "timeout after " + std::to_string(p->target.timeout_ms) + " ms");
    }
    if (p->done) finished.push_back(id);
  }
  for (uint64_t id : finished) {
    Probe& p = *probes_.at(id);
    finish(id, p.ok, p.detail, now_ms, done);
  }
}

}  // namespace anylb
