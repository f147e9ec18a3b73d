// The admin API's transport: HTTP/1.1, one request per connection, on a Unix
// socket (mode 0600) and optionally on loopback TCP. Debian's cpp-httplib
// (0.11) cannot listen on a Unix socket, and the API needs only this much
// HTTP, so it is written here; requests are small and answered in turn by
// one thread.
#pragma once

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
  // Binds the Unix socket (replacing a stale one) and, if tcp_port != 0,
  // 127.0.0.1:tcp_port; serves from a thread until stop().
  Result<bool> start(const std::string& unix_path, uint16_t tcp_port, Handler handler);
  void stop();

 private:
  void serve();
  void handle(int fd);
  std::vector<int> listeners_;
  std::string unix_path_;
  Handler handler_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  int wake_[2] = {-1, -1};
};

// A client for anylbctl: one request over the Unix socket.
Result<HttpResponse> http_call(const std::string& unix_path, const std::string& method,
                               const std::string& target, const std::string& body = "");

}  // namespace anylb
