// Test-only: an admin API on a Unix socket that answers each path with
// scripted replies (one after another, the last one repeated), and records
// the requests: anylbctl's side of the conversation without an anylbd.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "control/api/http_server.h"

namespace anylb::test {

class FakeAnylbd {
 public:
  explicit FakeAnylbd(const std::string& name)
      : dir_("/tmp/anylb-fake-anylbd-" + std::to_string(getpid()) + "-" + name) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    socket = dir_ + "/api.sock";
  }
  ~FakeAnylbd() {
    server_.stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Replies to `path`, in turn; a JSON body unless told otherwise.
  void script(const std::string& path, std::vector<std::string> bodies, int status = 200) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<HttpResponse>& list = replies_[path];
    for (auto& b : bodies) list.push_back({status, "application/json", std::move(b)});
  }

  bool start() {
    auto ok = server_.start(socket, 0, [this](const HttpRequest& r) { return answer(r); });
    return ok.ok();
  }

  std::vector<HttpRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

  std::string socket;

 private:
  HttpResponse answer(const HttpRequest& r) {
    std::lock_guard<std::mutex> lock(mu_);
    seen_.push_back(r);
    auto it = replies_.find(r.path);
    if (it == replies_.end() || it->second.empty()) return {404, "application/json", "{}"};
    const size_t n = sent_[r.path]++;
    return it->second[std::min(n, it->second.size() - 1)];
  }

  std::string dir_;
  HttpServer server_;
  std::mutex mu_;
  std::map<std::string, std::vector<HttpResponse>> replies_;
  std::map<std::string, size_t> sent_;
  std::vector<HttpRequest> seen_;
};

}  // namespace anylb::test
