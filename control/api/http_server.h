// The admin API's transport: HTTP/1.1, one request per connection, on a Unix
// socket (mode 0600) and optionally on loopback TCP. Any local user can reach
// the TCP port, so the server marks what came in on it (HttpRequest::from_tcp)
// and the routes (control/daemon/admin_api.cpp) serve only GET /metrics there;
// everything that changes state is on the Unix socket. Debian's cpp-httplib
// (0.11) cannot listen on a Unix socket, and the API needs only this much
// HTTP, so it is written here; requests are small and answered in turn by
// one thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/core/result.h"

namespace anylb {

struct HttpRequest {
  std::string method;  // GET, POST
  std::string path;    // without the query
  std::map<std::string, std::string> query;
  std::string body;
  // Set by HttpServer: the request came over the loopback TCP port, which
  // file modes do not guard, rather than the 0600 Unix socket.
  bool from_tcp = false;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Parses a request head and body; errors say what is malformed. Pure.
Result<HttpRequest> parse_http_request(const std::string& raw);
std::string format_http_response(const HttpResponse& r);

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  ~HttpServer();
  // Binds the Unix socket and, if tcp_port != 0, 127.0.0.1:tcp_port; serves
  // from a thread until stop(). Something already at unix_path is replaced
  // only if it is a stale socket (connecting is refused): a live one is
  // another daemon's, and anything else is not ours to delete. A handler that
  // throws gets its client a 500; the server keeps serving.
  Result<bool> start(const std::string& unix_path, uint16_t tcp_port, Handler handler);
  // Removes the socket file only if it is still the one start() bound, not
  // one another process has put at the path since.
  void stop();

 private:
  void serve();
  void handle(int fd, bool from_tcp);
  std::vector<int> listeners_;
  int tcp_listener_ = -1;
  std::string unix_path_;
  dev_t unix_dev_ = 0;
  ino_t unix_ino_ = 0;
  Handler handler_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  int wake_[2] = {-1, -1};
};

// A client for anylbctl: one request over the Unix socket.
Result<HttpResponse> http_call(const std::string& unix_path, const std::string& method,
                               const std::string& target, const std::string& body = "");

}  // namespace anylb
