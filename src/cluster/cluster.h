// Cluster: the nodes (`lambkin serve` processes) that share one PostgreSQL store.
//
// Each node has a row in `cluster_nodes` (id, the address peers reach it at, a heartbeat on
// the database's clock) and refreshes it every second; a node whose heartbeat is older than
// kNodeTimeout counts as gone. Home() places a key (a function) on one live node by
// rendezvous hashing, so every node agrees on the home while the set of live nodes agrees, and
// only the keys of a node that leaves move. The same thread keeps caches coherent: it LISTENs
// for the store's change notifications (store::Touch) and checks every topic's generation
// once a second as well (a notification can be missed while reconnecting), calling the
// subscribed reload for each topic that moved, so a change made on any node is seen on every
// node within about a second.
//
// On SQLite there is one node: Home() is always this node and nothing is polled.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "store/database.h"

namespace lambkin::cluster {

// Its tables, as numbered migrations (store/database.h).
const store::Migrations& Schema();

inline constexpr std::chrono::milliseconds kHeartbeat{1000};
inline constexpr std::chrono::milliseconds kNodeTimeout{5000};

struct Node {
  std::string id;
  std::string address;  // host:port of its HTTP listener
  bool operator==(const Node&) const = default;
};

// The key a function is placed by: its invocations (and Event invocations) run on the home
// node of this key.
inline std::string FunctionKey(std::string_view account, std::string_view region,
                               std::string_view name) {
  std::string key;
  key.reserve(account.size() + region.size() + name.size() + 2);
  key.append(account).append("/").append(region).append("/").append(name);
  return key;
}

class Cluster {
 public:
  // `self.id` must be unique (a random id per process start).
  Cluster(store::Database* db, Node self);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Calls `reload` (on the cluster's thread) whenever `topic` changes on any node.
  // REQUIRES: before Start().
  void Subscribe(std::string topic, std::function<void()> reload);
  // Registers this node and starts the heartbeat and change watch.
  Status Start();
  // Leaves the cluster (the row is deleted, so peers stop routing here at once).
  void Stop();

  // REQUIRES: before Start().
  void SetAddress(std::string address) {
    self_.address = std::move(address);
    live_ = {self_};
  }
  const Node& self() const { return self_; }
  bool multi_node() const { return db_->engine() == store::Engine::kPostgres; }
  // The live nodes (this one included), by id.
  std::vector<Node> Live() const;
  // The live nodes in `key`'s rendezvous order: the home first, then the fallbacks.
  std::vector<Node> Placement(std::string_view key) const;
  // The id of `key`'s home node.
  std::string Home(std::string_view key) const;
  // The ids of the live nodes other than this one.
  std::vector<std::string> Others() const;

 private:
  Status Beat();
  Status ReadNodes();
  Status CheckTopics();
  void Loop();

  store::Database* db_;
  Node self_;
  std::map<std::string, std::vector<std::function<void()>>> subscribers_;
  std::map<std::string, int64_t> generations_;

  mutable std::mutex mu_;
  std::vector<Node> live_;
  bool stop_ = false;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace lambkin::cluster
