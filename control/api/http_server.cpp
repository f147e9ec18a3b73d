#include "control/api/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace anylb {

namespace {

constexpr size_t kMaxRequest = 64 * 1024;

std::string url_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::strtol(s.substr(i + 1, 2).c_str(), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

// Reads a whole request (head + Content-Length body), bounded in size and time.
Result<std::string> read_request(int fd, int timeout_ms) {
  std::string raw;
  char buf[4096];
  size_t need = 0;  // head + body, once the head is in
  while (need == 0 || raw.size() < need) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) return make_error("timeout");
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return make_error("connection closed");
    raw.append(buf, static_cast<size_t>(n));
    if (raw.size() > kMaxRequest) return make_error("too large");
    if (need == 0) {
      const size_t end = raw.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      size_t length = 0;
      std::string head = raw.substr(0, end);
      for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (size_t at = head.find("\r\ncontent-length:"); at != std::string::npos) {
        length = std::strtoul(head.c_str() + at + 17, nullptr, 10);
      }
      if (length > kMaxRequest) return make_error("too large");
      need = end + 4 + length;
    }
  }
  return raw;
}

// A JSON string literal of an exception's text. Such text may quote request
// bytes that are not UTF-8 (or not printable), and the reply must stay valid
// JSON whatever they are, so only printable ASCII passes; the rest is '?'.
std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c >= 0x20 && c < 0x7f ? c : '?';
  }
  return out + "\"";
}

// What is at a socket path we are about to bind: nothing, or a stale socket
// (now removed), is fine; a live socket or any other file is an error and is
// left alone.
Result<bool> clear_stale_socket(const std::string& path, const sockaddr_un& a) {
  struct stat st{};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return true;
    return make_error("api.socket " + path + ": " + std::strerror(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return make_error("api.socket " + path + ": exists and is not a socket (not removing it)");
  }
  // Non-blocking: a live server with a full backlog answers EAGAIN instead of
  // making us wait, and counts as live.
  const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (probe < 0) return make_error("api.socket " + path + ": " + std::strerror(errno));
  const bool connected = connect(probe, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  const int e = errno;
  close(probe);
  if (connected || e == EAGAIN || e == EINPROGRESS) {
    return make_error("api.socket " + path + ": another process is listening on " + path);
  }
  if (e != ECONNREFUSED) {
    return make_error("api.socket " + path + ": cannot tell whether it is in use: " +
                      std::strerror(e));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return make_error("api.socket " + path + ": stale socket: " + std::strerror(errno));
  }
  return true;
}

bool write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Result<HttpRequest> parse_http_request(const std::string& raw) {
  const size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return make_error("no end of the request head");
  const size_t line_end = raw.find("\r\n");
  const std::string line = raw.substr(0, line_end);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos || line.compare(sp2 + 1, 5, "HTTP/") != 0) {
    return make_error("malformed request line '" + line.substr(0, 80) + "'");
  }
  HttpRequest r;
  r.method = line.substr(0, sp1);
  const std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const size_t q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) {
    std::string rest = target.substr(q + 1);
    size_t start = 0;
    while (start <= rest.size()) {
      const size_t amp = rest.find('&', start);
      const std::string kv = rest.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
      if (!kv.empty()) {
        const size_t eq = kv.find('=');
        r.query[url_decode(kv.substr(0, eq))] =
            eq == std::string::npos ? "" : url_decode(kv.substr(eq + 1));
      }
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
  }
  r.body = raw.substr(head_end + 4);
  return r;
}

std::string format_http_response(const HttpResponse& r) {
  return "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) +
         "\r\nContent-Type: " + r.content_type + "\r\nContent-Length: " +
         std::to_string(r.body.size()) + "\r\nConnection: close\r\n\r\n" + r.body;
}

HttpServer::~HttpServer() { stop(); }

Result<bool> HttpServer::start(const std::string& unix_path, uint16_t tcp_port, Handler handler) {
  handler_ = std::move(handler);
  stop_ = false;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (unix_path.size() >= sizeof a.sun_path) return make_error("api.socket: path too long");
  std::memcpy(a.sun_path, unix_path.c_str(), unix_path.size() + 1);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(unix_path).parent_path(), ec);
  if (auto clear = clear_stale_socket(unix_path, a); !clear) return clear;
  const int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  // Created 0600 from the start: no window in which others could connect.
  const mode_t old_mask = umask(0177);
  const bool bound = u >= 0 && bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  umask(old_mask);
  struct stat st{};
  if (!bound || stat(unix_path.c_str(), &st) != 0 || listen(u, 16) != 0) {
    const std::string e = std::strerror(errno);
    if (u >= 0) close(u);
    if (bound) unlink(unix_path.c_str());  // ours: bind just created it
    return make_error("api.socket " + unix_path + ": " + e);
  }
  unix_path_ = unix_path;
  unix_dev_ = st.st_dev;
  unix_ino_ = st.st_ino;
  listeners_.push_back(u);
  if (tcp_port != 0) {
    const int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(tcp_port);
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // never another address
    if (t < 0 || bind(t, reinterpret_cast<sockaddr*>(&in), sizeof in) != 0 || listen(t, 16) != 0) {
      const std::string e = std::strerror(errno);
      if (t >= 0) close(t);
      stop();
      return make_error("api.tcp_port " + std::to_string(tcp_port) + ": " + e);
    }
    listeners_.push_back(t);
    tcp_listener_ = t;
  }
  if (pipe2(wake_, O_CLOEXEC) != 0) {
    const std::string e = std::strerror(errno);
    stop();
    return make_error("pipe: " + e);
  }
  thread_ = std::thread([this] { serve(); });
  return true;
}

void HttpServer::stop() {
  stop_ = true;
  if (wake_[1] >= 0) {
    const char c = 0;
    (void)!write(wake_[1], &c, 1);
  }
  if (thread_.joinable()) thread_.join();
  for (int fd : listeners_) close(fd);
  listeners_.clear();
  tcp_listener_ = -1;
  for (int& fd : wake_) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  struct stat st{};
  if (!unix_path_.empty() && lstat(unix_path_.c_str(), &st) == 0 && st.st_dev == unix_dev_ &&
      st.st_ino == unix_ino_) {
    unlink(unix_path_.c_str());
  }
  unix_path_.clear();
}

void HttpServer::serve() {
  while (!stop_) {
    std::vector<pollfd> fds;
    for (int fd : listeners_) fds.push_back({fd, POLLIN, 0});
    fds.push_back({wake_[0], POLLIN, 0});
    if (poll(fds.data(), fds.size(), 1000) <= 0) continue;
    for (size_t i = 0; i + 1 < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      const int c = accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      handle(c, fds[i].fd == tcp_listener_);
      close(c);
    }
  }
}

void HttpServer::handle(int fd, bool from_tcp) {
  HttpResponse response;
  auto raw = read_request(fd, 2000);
  if (!raw) {
    response = {raw.error().message == "too large" ? 413 : 400, "application/json",
                "{\"error\":\"" + raw.error().message + "\"}\n"};
  } else if (auto req = parse_http_request(*raw); !req) {
    response = {400, "application/json", "{\"error\":\"malformed request\"}\n"};
  } else {
    req->from_tcp = from_tcp;
    // A handler's exception must not end this thread (std::terminate, and
    // the daemon with it): it is one failed request.
    try {
      response = handler_(*req);
    } catch (const std::exception& e) {
      response = {500, "application/json",
                   "{\"error\":" + json_quote(std::string("internal error: ") + e.what()) + "}\n"};
    } catch (...) {
      response = {500, "application/json", "{\"error\":\"internal error\"}\n"};
    }
  }
  write_all(fd, format_http_response(response));
}

Result<HttpResponse> http_call(const std::string& unix_path, const std::string& method,
                               const std::string& target, const std::string& body) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (unix_path.size() >= sizeof a.sun_path) return make_error("socket path too long");
  std::memcpy(a.sun_path, unix_path.c_str(), unix_path.size() + 1);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    const std::string e = std::strerror(errno);
    if (fd >= 0) close(fd);
    return make_error("cannot reach anylbd at " + unix_path + ": " + e + " (is it running?)");
  }
  const std::string req = method + " " + target + " HTTP/1.1\r\nHost: anylbd\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  std::string raw;
  if (write_all(fd, req)) {
    char buf[8192];
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 10000) != 1) break;
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      raw.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  const size_t head_end = raw.find("\r\n\r\n");
  if (raw.compare(0, 9, "HTTP/1.1 ") != 0 || head_end == std::string::npos) {
    return make_error("anylbd at " + unix_path + ": no valid HTTP reply");
  }
  HttpResponse r;
  r.status = std::atoi(raw.c_str() + 9);
  r.body = raw.substr(head_end + 4);
  return r;
}

}  // namespace anylb
