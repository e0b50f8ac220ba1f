// Several `lambkin serve` nodes on one PostgreSQL database:
//  - API throughput: signed GetFunctionConfiguration from N keep-alive connections spread over
//    every node, on 1 node and then on 3 (each cluster on a fresh database), with the trivial
//    health handler spread the same way as the baseline measured in the same run;
//  - warm invoke latency (median, p99; the minimal compiled `provided` bootstrap) through each
//    of the 3 nodes: through the function's home node (direct) and through the other two (the
//    node forwards it to the home over a kept-alive connection), against one loopback HTTP round
//    trip (GET /lambkin/v1/health on the home node) and a 1-byte TCP echo round trip measured
//    in the same run, interleaved. The home is the node that starts the function's execution
//    environment (the one with child processes); the bench checks there is exactly one.
//
//   cluster_bench --store postgres://USER@HOST:PORT[/DB] --lambkin build/src/lambkin
//                 --bootstrap build/bench/minimal_bootstrap [--runtimes DIR] [--seconds 3]
//                 [--connections 6] [--runs 2000]
//
// The bench creates a database of its own per cluster (connecting to DB to do so, default the
// user's database) and drops it afterwards; each node has its own --data directory and
// listens on 127.0.0.1:0.
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <boost/asio.hpp>

#include "bench_util.h"
#include "common/crypto.h"
#include "functions/zip_testing.h"
#include "postgres_bench.h"
#include "store/database.h"

namespace {

using lambkin::bench::Connection;
using lambkin::bench::Ms;
using lambkin::bench::ReadFileOrExit;
using lambkin::bench::Server;
using lambkin::bench::WithDatabase;
using Clock = std::chrono::steady_clock;
using tcp = boost::asio::ip::tcp;

struct Stats {
  double median = 0, p99 = 0;
};

Stats Summarise(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}

void Die(const std::string& what) {
  std::fprintf(stderr, "FAILED: %s\n", what.c_str());
  std::exit(1);
}

std::string g_admin_url;
std::vector<std::string> g_databases;
std::vector<Server> g_servers;  // running, stopped at exit (also when a check fails)

void AdminExec(const std::string& sql) {
  auto admin = lambkin::store::OpenPostgres(g_admin_url);
  if (!admin.ok()) Die("connect " + g_admin_url + ": " + admin.status().message());
  if (auto s = (*admin)->Exec(sql); !s.ok()) Die(sql + ": " + s.message());
}

void StopAll() {
  for (Server& s : g_servers) lambkin::bench::StopServer(s);
  g_servers.clear();
}

void DropAll() {
  StopAll();
  auto admin = lambkin::store::OpenPostgres(g_admin_url);
  if (!admin.ok()) return;
  for (const std::string& db : g_databases) {
    (void)(*admin)->Exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", db));
  }
  g_databases.clear();
}

// Every process below `pid`, through /proc/PID/task/*/children. A node keeps a few helpers
// (sandbox launchers); an execution environment adds its own.
int Descendants(pid_t pid) {
  int count = 0;
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid), ec)) {
    std::ifstream in(task.path() / "children");
    pid_t child;
    while (in >> child) count += 1 + Descendants(child);
  }
  return count;
}

void Create(Connection& c, const std::string& name, const std::string& zip) {
  std::string body =
      R"({"FunctionName":")" + name +
      R"(","Runtime":"provided.al2023","Handler":"h","Role":"arn:aws:iam::123456789012:role/r",)"
      R"("MemorySize":256,"Code":{"ZipFile":")" +
      lambkin::Base64Encode(zip) + R"("}})";
  std::string out;
  if (int status = c.Request("POST", "/2015-03-31/functions", body, &out); status != 201) {
    Die(fmt::format("CreateFunction {}: {} {}", name, status, out));
  }
}

double Invoke(Connection& c, const std::string& name) {
  auto t = Clock::now();
  std::string out;
  int status =
      c.Request("POST", "/2015-03-31/functions/" + name + "/invocations", R"({"k":1})", &out);
  double ms = Ms(Clock::now() - t);
  if (status != 200 || out != R"({"k":1})") Die(fmt::format("Invoke {}: {} {}", name, status, out));
  return ms;
}

double Health(Connection& c) {
  auto t = Clock::now();
  if (c.Request("GET", "/lambkin/v1/health", "") != 200) Die("health");
  return Ms(Clock::now() - t);
}

// A 1-byte TCP echo on loopback: the floor under any request between two processes.
class Echo {
 public:
  Echo() : acceptor_(ioc_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] {
      tcp::socket peer(ioc_);
      acceptor_.accept(peer);
      peer.set_option(tcp::no_delay(true));
      char b;
      boost::system::error_code ec;
      while (boost::asio::read(peer, boost::asio::buffer(&b, 1), ec) == 1) {
        boost::asio::write(peer, boost::asio::buffer(&b, 1), ec);
        if (ec) break;
      }
    });
    client_.connect(acceptor_.local_endpoint());
    client_.set_option(tcp::no_delay(true));
  }
  ~Echo() {
    client_.close();
    thread_.join();
  }
  double RoundTrip() {
    char b = 'x';
    auto t = Clock::now();
    boost::asio::write(client_, boost::asio::buffer(&b, 1));
    boost::asio::read(client_, boost::asio::buffer(&b, 1));
    return Ms(Clock::now() - t);
  }

 private:
  boost::asio::io_context ioc_;
  tcp::acceptor acceptor_;
  tcp::socket client_{ioc_};
  std::thread thread_;
};

struct Options {
  std::string store, binary = "build/src/lambkin", bootstrap = "build/bench/minimal_bootstrap";
  std::string runtimes;
  double seconds = 3;
  int connections = 6;
  int runs = 2000;
};

struct Cluster {
  std::string database;
  std::vector<Server> nodes;

  std::vector<unsigned> Ports() const {
    std::vector<unsigned> ports;
    for (const Server& s : nodes) ports.push_back(s.port);
    return ports;
  }
};

// `count` nodes on a fresh PostgreSQL database, or one node on SQLite (`count` 0).
Cluster StartCluster(const Options& o, int count, const std::string& extra_args = "") {
  static int made = 0;
  Cluster c;
  std::string args = extra_args;
  if (!o.runtimes.empty()) args += " --runtimes " + o.runtimes;
  if (count == 0) {
    c.nodes.push_back(lambkin::bench::StartServer(o.binary, args));
    g_servers.push_back(c.nodes.back());
    return c;
  }
  c.database = fmt::format("lambkin_cluster_bench_{}_{}", getpid(), ++made);
  AdminExec("CREATE DATABASE " + c.database);
  g_databases.push_back(c.database);
  args += " --store " + WithDatabase(o.store, c.database);
  for (int i = 0; i < count; ++i) {
    c.nodes.push_back(lambkin::bench::StartServer(o.binary, args));
    g_servers.push_back(c.nodes.back());
  }
  // Every node must see every other before placement agrees: rows in cluster_nodes, then one
  // more heartbeat period (1 s) for each node to read them.
  auto db = lambkin::store::OpenPostgres(WithDatabase(o.store, c.database));
  if (!db.ok()) Die(db.status().message());
  for (int tries = 0;; ++tries) {
    auto st = (*db)->Prepare("SELECT COUNT(*) FROM cluster_nodes");
    if (!st.ok()) Die(st.status().message());
    auto row = st->Step();
    if (row.ok() && *row && st->ColumnInt(0) == count) break;
    if (tries > 200) Die("the nodes did not all register in cluster_nodes");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  return c;
}

void StopCluster(Cluster& c) {
  for (Server& s : c.nodes) {
    std::erase_if(g_servers, [&](const Server& r) { return r.pid == s.pid; });
    lambkin::bench::StopServer(s);
  }
  if (c.database.empty()) return;
  AdminExec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", c.database));
  std::erase(g_databases, c.database);
}

struct Throughputs {
  double health = 0, config = 0;
  // CPU per GetFunctionConfiguration in microseconds: the nodes', and the PostgreSQL server's
  // (-1: not on this machine, or SQLite).
  double node_us = 0, server_us = -1;
};

double NodesCpuSeconds(const Cluster& c) {
  double total = 0;
  for (const Server& s : c.nodes) total += lambkin::bench::CpuSeconds(s.pid);
  return total;
}

Throughputs MeasureThroughput(const Options& o, const Cluster& c, pid_t postmaster) {
  const std::string config = "/2015-03-31/functions/bench/configuration";
  std::vector<unsigned> ports = c.Ports();
  lambkin::bench::Throughput(ports, "/lambkin/v1/health", o.connections, 0.5);  // warm-up
  lambkin::bench::Throughput(ports, config, o.connections, 0.5);
  Throughputs t;
  t.health = lambkin::bench::Throughput(ports, "/lambkin/v1/health", o.connections, o.seconds);
  bool server = postmaster > 0 && !c.database.empty();
  double nodes0 = NodesCpuSeconds(c);
  double server0 = server ? lambkin::bench::ServerCpuSeconds(postmaster) : 0;
  t.config = lambkin::bench::Throughput(ports, config, o.connections, o.seconds);
  double requests = t.config * o.seconds;
  t.node_us = (NodesCpuSeconds(c) - nodes0) / requests * 1e6;
  if (server)
    t.server_us = (lambkin::bench::ServerCpuSeconds(postmaster) - server0) / requests * 1e6;
  return t;
}

// Warm invoke latency through each node of `c`, interleaved with the loopback baselines.
struct Invokes {
  int home = -1;
  std::vector<Stats> through;  // by node
  Stats http, tcp;
};

Invokes MeasureInvokes(const Options& o, const Cluster& c, const std::string& zip,
                       const lambkin::bench::Credentials& credentials) {
  {
    Connection conn(c.nodes[0].port, credentials);
    Create(conn, "compiled", zip);
  }
  std::vector<std::unique_ptr<Connection>> conns;
  for (const Server& s : c.nodes)
    conns.push_back(std::make_unique<Connection>(s.port, credentials));
  std::vector<int> helpers;
  for (const Server& s : c.nodes) helpers.push_back(Descendants(s.pid));
  for (auto& conn : conns) {
    for (int i = 0; i < 50; ++i) Invoke(*conn, "compiled");  // cold start, forwarder connections
  }
  Invokes out;
  for (size_t i = 0; i < c.nodes.size(); ++i) {
    if (Descendants(c.nodes[i].pid) <= helpers[i]) continue;
    if (out.home >= 0) Die("more than one node started an environment of the function");
    out.home = static_cast<int>(i);
  }
  if (out.home < 0) Die("no node started an environment of the function");
  Connection home_conn(c.nodes[out.home].port, credentials);
  Echo echo;
  std::vector<std::vector<double>> through(c.nodes.size());
  std::vector<double> http, tcp_rtt;
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    for (size_t n = 0; n < conns.size(); ++n) {
      for (int i = 0; i < o.runs / kRounds; ++i)
        through[n].push_back(Invoke(*conns[n], "compiled"));
    }
    for (int i = 0; i < o.runs / kRounds; ++i) http.push_back(Health(home_conn));
    for (int i = 0; i < o.runs / kRounds; ++i) tcp_rtt.push_back(echo.RoundTrip());
  }
  for (auto& t : through) out.through.push_back(Summarise(t));
  out.http = Summarise(http);
  out.tcp = Summarise(tcp_rtt);
  return out;
}

// Prints `r`; returns what forwarding adds at the median (the worst forwarding node).
double PrintInvokes(const char* title, const Invokes& r) {
  const Stats& direct = r.through[r.home];
  std::printf("%s\n", title);
  std::printf("  via node %d (home, direct):  median %.3f ms, p99 %.3f ms\n", r.home + 1,
              direct.median, direct.p99);
  double worst = 0;
  for (size_t n = 0; n < r.through.size(); ++n) {
    if (static_cast<int>(n) == r.home) continue;
    const Stats& f = r.through[n];
    worst = std::max(worst, f.median - direct.median);
    std::printf(
        "  via node %zu (forwarded):     median %.3f ms, p99 %.3f ms (%+.3f ms median, "
        "%+.3f ms p99)\n",
        n + 1, f.median, f.p99, f.median - direct.median, f.p99 - direct.p99);
  }
  std::printf(
      "  loopback HTTP round trip (GET /lambkin/v1/health on the home node): median %.3f "
      "ms, p99 %.3f ms\n",
      r.http.median, r.http.p99);
  std::printf(
      "  loopback TCP round trip (1-byte echo):                              median %.3f "
      "ms, p99 %.3f ms\n",
      r.tcp.median, r.tcp.p99);
  std::printf(
      "  forwarding adds %.3f ms at the median (worst forwarding node) = %.2f loopback "
      "HTTP round trips (aim <= 1)\n",
      worst, worst / r.http.median);
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--store")) o.store = argv[i + 1];
    if (!std::strcmp(argv[i], "--lambkin")) o.binary = argv[i + 1];
    if (!std::strcmp(argv[i], "--bootstrap")) o.bootstrap = argv[i + 1];
    if (!std::strcmp(argv[i], "--runtimes")) o.runtimes = argv[i + 1];
    if (!std::strcmp(argv[i], "--seconds")) o.seconds = std::atof(argv[i + 1]);
    if (!std::strcmp(argv[i], "--connections")) o.connections = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) o.runs = std::atoi(argv[i + 1]);
  }
  if (!lambkin::store::IsPostgresUrl(o.store)) {
    std::fprintf(stderr,
                 "usage: cluster_bench --store postgres://USER@HOST:PORT [--lambkin BIN] "
                 "[--bootstrap BIN] [--runtimes DIR] [--seconds S] [--connections N] "
                 "[--runs N]\n");
    return 2;
  }
  g_admin_url = o.store;
  std::atexit(DropAll);
  const pid_t postmaster = lambkin::bench::FindPostmaster(o.store);
  const std::string compiled =
      lambkin::functions::testing::MakeZip({{"bootstrap", ReadFileOrExit(o.bootstrap)}});
  std::printf(
      "nodes: %s serve --threads 2, each its own --data; PostgreSQL %s (a fresh database "
      "per cluster)\n",
      o.binary.c_str(), o.store.c_str());

  // For reference: one node on SQLite.
  Cluster lite = StartCluster(o, 0);
  lambkin::bench::CreateBenchFunction(lite.nodes[0].port);
  Throughputs t0 = MeasureThroughput(o, lite, postmaster);
  StopCluster(lite);

  // One node on PostgreSQL.
  Cluster one = StartCluster(o, 1);
  lambkin::bench::CreateBenchFunction(one.nodes[0].port);
  Throughputs t1 = MeasureThroughput(o, one, postmaster);
  Invokes i1 = MeasureInvokes(o, one, compiled, {});
  StopCluster(one);

  // Three nodes.
  Cluster three = StartCluster(o, 3);
  lambkin::bench::CreateBenchFunction(three.nodes[0].port);
  Throughputs t3 = MeasureThroughput(o, three, postmaster);
  Invokes i3 = MeasureInvokes(o, three, compiled, {});
  StopCluster(three);

  // Three nodes without authentication: how much of forwarding is the second SigV4 check.
  Cluster open = StartCluster(o, 3, "--auth none");
  lambkin::bench::Credentials unsigned_requests;
  unsigned_requests.sign = false;
  Invokes i3n = MeasureInvokes(o, open, compiled, unsigned_requests);
  StopCluster(open);

  std::printf(
      "\nGetFunctionConfiguration (signed), %d keep-alive connections spread over the "
      "nodes, %.1f s each:\n",
      o.connections, o.seconds);
  std::printf("  SQLite, 1 node:      %8.0f req/s   (trivial health handler: %8.0f req/s)\n",
              t0.config, t0.health);
  std::printf("  PostgreSQL, 1 node:  %8.0f req/s   (trivial health handler: %8.0f req/s)\n",
              t1.config, t1.health);
  std::printf("  PostgreSQL, 3 nodes: %8.0f req/s   (trivial health handler: %8.0f req/s)\n",
              t3.config, t3.health);
  std::printf(
      "  ratio 3 nodes / 1 node: %.2f (health handler: %.2f); PostgreSQL 1 node / SQLite: "
      "%.2f\n",
      t3.config / t1.config, t3.health / t1.health, t1.config / t0.config);
  auto cpu = [](const char* what, const Throughputs& t) {
    if (t.server_us < 0) {
      std::printf("  CPU per request, %-20s nodes %6.1f us\n", what, t.node_us);
    } else {
      std::printf(
          "  CPU per request, %-20s nodes %6.1f us + PostgreSQL server %6.1f us = %6.1f us\n", what,
          t.node_us, t.server_us, t.node_us + t.server_us);
    }
  };
  cpu("SQLite, 1 node:", t0);
  cpu("PostgreSQL, 1 node:", t1);
  cpu("PostgreSQL, 3 nodes:", t3);
  std::printf("  (the client's threads run on the same %ld cores)\n",
              sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("\nwarm invoke (compiled bootstrap), %d per path, interleaved in 20 rounds:\n",
              o.runs);
  std::printf("  PostgreSQL, 1 node: median %.3f ms, p99 %.3f ms\n", i1.through[0].median,
              i1.through[0].p99);
  PrintInvokes("PostgreSQL, 3 nodes, signed requests:", i3);
  PrintInvokes("PostgreSQL, 3 nodes, --auth none (no SigV4 check on either node):", i3n);
  return 0;
}
