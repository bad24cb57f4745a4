#pragma once
// Starts this test binary again as real worker processes, one per rank, with torchrun's variables set
// (127.0.0.1, a free port, 1 intra-op thread), and waits for them with a deadline: a worker still running
// then is SIGKILLed and reported as hung, so a broken timeout fails the test instead of stalling ctest.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace asr_test {

// The environment variable that turns a start of this binary into a worker running that scenario.
inline constexpr const char* kScenarioVariable = "ASR_DIST_SCENARIO";
inline constexpr const char* kOutputDirVariable = "ASR_DIST_DIR";

inline int free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("no free TCP port on 127.0.0.1: " + std::string(std::strerror(errno)));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct RankOutcome {
  int rank = 0;
  bool exited = false;
  int exit_code = -1;
  int signal = 0;
  bool hung = false;  // still running at the deadline, killed by the launcher
  std::string log;    // its stdout and stderr
};

struct LaunchResult {
  std::vector<RankOutcome> ranks;
  double elapsed_s = 0;
};

// Starts `ranks_to_start` of a world of `world_size` running `scenario`, writing into `dir`, and waits at
// most `deadline_s` for all of them.
inline LaunchResult launch_ranks(const std::string& scenario, int world_size, const std::vector<int>& ranks_to_start,
                                 const std::string& dir, double deadline_s) {
  const int port = free_tcp_port();
  std::vector<std::string> base;
  static const char* const kReplaced[] = {"RANK=",        "LOCAL_RANK=",  "WORLD_SIZE=",      "LOCAL_WORLD_SIZE=",
                                          "MASTER_ADDR=", "MASTER_PORT=", "OMP_NUM_THREADS=", "ASR_DIST_"};
  for (char** e = environ; *e; ++e) {
    bool replaced = false;
    for (const char* prefix : kReplaced) replaced = replaced || std::strncmp(*e, prefix, std::strlen(prefix)) == 0;
    if (!replaced) base.emplace_back(*e);
  }
  const auto started = std::chrono::steady_clock::now();
  std::map<pid_t, size_t> running;
  LaunchResult result;
  for (int rank : ranks_to_start) {
    std::vector<std::string> env = base;
    env.push_back("RANK=" + std::to_string(rank));
    env.push_back("LOCAL_RANK=" + std::to_string(rank));
    env.push_back("WORLD_SIZE=" + std::to_string(world_size));
    env.push_back("LOCAL_WORLD_SIZE=" + std::to_string(world_size));
    env.push_back("MASTER_ADDR=127.0.0.1");
    env.push_back("MASTER_PORT=" + std::to_string(port));
    env.push_back("OMP_NUM_THREADS=1");
    env.push_back(std::string(kScenarioVariable) + "=" + scenario);
    env.push_back(std::string(kOutputDirVariable) + "=" + dir);
    std::vector<char*> envp;
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string exe = "/proc/self/exe";
    std::vector<char*> argv{exe.data(), nullptr};
    const std::string log_path = dir + "/rank" + std::to_string(rank) + ".log";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("posix_spawn failed: " + std::string(std::strerror(rc)));
    RankOutcome outcome;
    outcome.rank = rank;
    result.ranks.push_back(outcome);
    running[pid] = result.ranks.size() - 1;
  }
  const auto deadline = started + std::chrono::duration<double>(deadline_s);
  while (!running.empty()) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0 && running.count(pid)) {
      auto& o = result.ranks[running[pid]];
      o.exited = WIFEXITED(status);
      o.exit_code = o.exited ? WEXITSTATUS(status) : -1;
      o.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
      running.erase(pid);
      continue;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      for (auto& [hung_pid, index] : running) {
        ::kill(hung_pid, SIGKILL);
        ::waitpid(hung_pid, nullptr, 0);
        result.ranks[index].hung = true;
      }
      running.clear();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  result.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  for (auto& o : result.ranks) {
    std::ifstream in(dir + "/rank" + std::to_string(o.rank) + ".log");
    std::stringstream text;
    text << in.rdbuf();
    o.log = text.str();
  }
  return result;
}

inline std::string describe(const RankOutcome& o) {
  std::string what = o.hung     ? "hung (killed at the deadline)"
                     : o.exited ? "exit " + std::to_string(o.exit_code)
                                : "signal " + std::to_string(o.signal);
  return "rank " + std::to_string(o.rank) + ": " + what + "\n--- log ---\n" + o.log;
}

}  // namespace asr_test
