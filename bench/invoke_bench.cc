// Invoke benchmarks against a real `lambkin serve`:
//  - warm invoke round trip (median, p99) with a minimal compiled `provided` bootstrap, and
//    with the Python and Node.js runtimes, as a ratio against two loopback HTTP round trips
//    on the same server (the health route) measured in the same run (aim <= 3x);
//  - cold start: the extra time Lambkin adds over the runtime's own start-up (sandbox, spawn,
//    init handshake), i.e. cold invoke - warm invoke - bare interpreter start (aim <= 15 ms);
//  - warm invokes per second with 8 concurrent callers.
//
//   invoke_bench --lambkin build/src/lambkin --bootstrap build/bench/minimal_bootstrap
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "common/crypto.h"
#include "functions/zip_testing.h"

namespace {

using lambkin::bench::Connection;
using lambkin::bench::Ms;
using lambkin::bench::ReadFileOrExit;
using Clock = std::chrono::steady_clock;

void Create(Connection& c, const std::string& name, const std::string& runtime,
            const std::string& handler, const std::string& zip) {
  std::string body =
      R"({"FunctionName":")" + name + R"(","Runtime":")" + runtime + R"(","Handler":")" + handler +
      R"(","Role":"arn:aws:iam::123456789012:role/r","MemorySize":256,"Code":{"ZipFile":")" +
      lambkin::Base64Encode(zip) + R"("}})";
  std::string out;
  if (c.Request("POST", "/2015-03-31/functions", body, &out) != 201) {
    std::fprintf(stderr, "CreateFunction %s failed: %s\n", name.c_str(), out.c_str());
    std::exit(1);
  }
}

double Invoke(Connection& c, const std::string& name) {
  auto t = Clock::now();
  std::string out;
  int status =
      c.Request("POST", "/2015-03-31/functions/" + name + "/invocations", R"({"k":1})", &out);
  double ms = Ms(Clock::now() - t);
  if (status != 200) {
    std::fprintf(stderr, "Invoke %s: %d %s\n", name.c_str(), status, out.c_str());
    std::exit(1);
  }
  return ms;
}

struct Stats {
  double median, p99;
};

Stats Summarise(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}

// Time to start the runtime's own process to completion, without Lambkin: the floor under
// any cold start.
double BareStartMs(const std::vector<std::string>& argv, int runs) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    pid_t pid = fork();
    if (pid == 0) {
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    waitpid(pid, nullptr, 0);
    t.push_back(Ms(Clock::now() - start));
  }
  return Summarise(t).median;
}

// Cold invokes: each a fresh environment (the description changes, so the configuration's
// revision does).
double ColdMs(Connection& c, const std::string& name, int runs) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    std::string body = R"({"Description":"cold )" + std::to_string(i) + R"("})";
    if (c.Request("PUT", "/2015-03-31/functions/" + name + "/configuration", body) != 200) {
      std::exit(1);
    }
    t.push_back(Invoke(c, name));
  }
  return Summarise(t).median;
}

}  // namespace

int main(int argc, char** argv) {
  std::string binary = "build/src/lambkin";
  std::string bootstrap = "build/bench/minimal_bootstrap";
  int warm_runs = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--lambkin")) binary = argv[i + 1];
    if (!std::strcmp(argv[i], "--bootstrap")) bootstrap = argv[i + 1];
    if (!std::strcmp(argv[i], "--runs")) warm_runs = std::atoi(argv[i + 1]);
  }
  auto server = lambkin::bench::StartServer(binary);
  Connection c(server.port);
  std::string runtimes;
  c.Request("GET", "/lambkin/v1/runtime-versions", "", &runtimes);
  std::string python =
      "python3." + runtimes.substr(runtimes.find("\"python3.") + 9,
                                   runtimes.find('"', runtimes.find("\"python3.") + 9) -
                                       runtimes.find("\"python3.") - 9);
  Create(c, "compiled", "provided.al2023", "h",
         lambkin::functions::testing::MakeZip({{"bootstrap", ReadFileOrExit(bootstrap)}}));
  Create(c, "python", python, "app.handler",
         lambkin::functions::testing::MakeZip({{"app.py", "def handler(e, c):\n    return e\n"}}));
  Create(c, "node", "nodejs20.x", "index.handler",
         lambkin::functions::testing::MakeZip(
             {{"index.mjs", "export const handler = async (e) => e;\n"}}));

  // Baseline: two loopback HTTP round trips on the same stack.
  std::vector<double> base;
  for (int i = 0; i < warm_runs; ++i) {
    auto t = Clock::now();
    c.Request("GET", "/lambkin/v1/health", "");
    c.Request("GET", "/lambkin/v1/health", "");
    base.push_back(Ms(Clock::now() - t));
  }
  Stats b = Summarise(base);
  std::printf("baseline: two loopback HTTP round trips: median %.3f ms, p99 %.3f ms\n", b.median,
              b.p99);

  for (const char* fn : {"compiled", "python", "node"}) {
    Invoke(c, fn);  // cold start once
    std::vector<double> warm;
    for (int i = 0; i < warm_runs; ++i) warm.push_back(Invoke(c, fn));
    Stats s = Summarise(warm);
    std::printf(
        "warm invoke %-9s median %.3f ms (%.2fx baseline), p99 %.3f ms (%.2fx baseline p99)\n", fn,
        s.median, s.median / b.median, s.p99, s.p99 / b.p99);
  }

  struct ColdCase {
    const char* fn;
    std::vector<std::string> bare;
  };
  std::vector<ColdCase> cold = {
      {"compiled", {"/bin/true"}},
      {"python", {"/usr/bin/python3", "-c", "pass"}},
      {"node", {"/usr/bin/node", "-e", "0"}},
  };
  for (const auto& cc : cold) {
    std::vector<double> warm;
    for (int i = 0; i < 50; ++i) warm.push_back(Invoke(c, cc.fn));
    double warm_ms = Summarise(warm).median;
    double cold_ms = ColdMs(c, cc.fn, 15);
    double bare_ms = BareStartMs(cc.bare, 15);
    std::printf(
        "cold start %-9s invoke %.2f ms = warm %.2f ms + runtime start %.2f ms + "
        "Lambkin %.2f ms (aim <= 15 ms)\n",
        cc.fn, cold_ms, warm_ms, bare_ms, cold_ms - warm_ms - bare_ms);
  }

  // Throughput: 8 concurrent callers, each on its own connection.
  std::atomic<long> done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> callers;
  for (int i = 0; i < 8; ++i) {
    callers.emplace_back([&] {
      Connection conn(server.port);
      while (!stop) {
        Invoke(conn, "compiled");
        ++done;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // warm the pool
  long before = done.load();
  auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  long after = done.load();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  stop = true;
  for (auto& t : callers) t.join();
  std::printf("throughput: %.0f warm invokes/s with 8 concurrent callers (compiled bootstrap)\n",
              static_cast<double>(after - before) / secs);
  lambkin::bench::StopServer(server);
  return 0;
}
