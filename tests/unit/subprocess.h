// Test-only: run one of the built tools (anylbctl, anylb-dpdk) as the
// operator does, its arguments passed as they are (an empty one included),
// its stdout and stderr kept in files so that a chatty child never blocks.
// meson passes the tools' paths in the environment (tests/*/meson.build).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace anylb::test {

// The path in environment variable `name`, or empty when the test runs
// outside meson.
inline std::string tool_path(const char* name) {
  const char* p = std::getenv(name);
  return p == nullptr ? "" : p;
}

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

class Subprocess {
 public:
  Subprocess(const std::string& program, const std::vector<std::string>& args) {
    static int serial = 0;
    const std::string base = (std::filesystem::temp_directory_path() /
                              ("anylb-sub-" + std::to_string(getpid()) + "-" +
                               std::to_string(serial++)))
                                 .string();
    out_path_ = base + ".out";
    err_path_ = base + ".err";
    // Everything before fork(): the test may run threads (a fake anylbd), so
    // the child does only what is async-signal-safe before exec.
    std::vector<std::string> argv_s{program};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int out_fd = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int err_fd = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_ = fork();
    if (pid_ == 0) {
      if (dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) _exit(127);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out_fd);
    close(err_fd);
  }
  ~Subprocess() {
    if (pid_ > 0 && status_ < 0) {
      kill(pid_, SIGKILL);
      wait();
    }
    std::filesystem::remove(out_path_);
    std::filesystem::remove(err_path_);
  }
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  std::string out() const { return slurp(out_path_); }
  std::string err() const { return slurp(err_path_); }
  void signal(int sig) const {
    if (pid_ > 0) kill(pid_, sig);  // never kill(-1): that is every process
  }

  // Waits for stdout (or stderr) to contain `text`, up to `limit` or until
  // the process exits.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds limit,
                       bool on_stderr = false) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while ((on_stderr ? err() : out()).find(text) == std::string::npos) {
      if (exited()) return (on_stderr ? err() : out()).find(text) != std::string::npos;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  // The exit status; 128 + the signal when one killed it.
  int wait() {
    reap(0);
    return status_;
  }
  // Whether it has exited (then wait() returns at once).
  bool exited() {
    reap(WNOHANG);
    return status_ >= 0;
  }

 private:
  void reap(int options) {
    if (status_ >= 0) return;
    if (pid_ <= 0) {  // fork failed
      status_ = 255;
      return;
    }
    int st = 0;
    const pid_t r = waitpid(pid_, &st, options);
    if (r == 0) return;  // WNOHANG: still running
    if (r != pid_) {
      status_ = 255;
      return;
    }
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }

  pid_t pid_ = -1;
  int status_ = -1;
  std::string out_path_, err_path_;
};

}  // namespace anylb::test
