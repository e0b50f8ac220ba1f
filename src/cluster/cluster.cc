#include "cluster/cluster.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "common/log.h"

namespace lambkin::cluster {

namespace {

constexpr char kClusterDdl[] = R"sql(
CREATE TABLE IF NOT EXISTS cluster_nodes (
  id TEXT PRIMARY KEY,
  address TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL  -- ms on the database's clock
);
)sql";

// Milliseconds since the epoch on the database's clock: one clock for every node.
std::string DatabaseNow(store::Engine engine) {
  return engine == store::Engine::kPostgres
             ? "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT"
             : "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
}

// A 64-bit FNV-1a hash, finalised with a mix so that similar node ids score independently.
uint64_t Score(std::string_view key, std::string_view node) {
  uint64_t h = 1469598103934665603ULL;
  auto feed = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  feed(key);
  feed("|");
  feed(node);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace

const store::Migrations& Schema() {
  static const store::Migrations kMigrations = {{"cluster", 1, kClusterDdl, "", {}}};
  return kMigrations;
}

Cluster::Cluster(store::Database* db, Node self) : db_(db), self_(std::move(self)) {
  live_ = {self_};
}

Cluster::~Cluster() { Stop(); }

void Cluster::Subscribe(std::string topic, std::function<void()> reload) {
  subscribers_[std::move(topic)].push_back(std::move(reload));
}

Status Cluster::Start() {
  if (!multi_node()) return Status::Ok();
  LAMBKIN_RETURN_IF_ERROR(Beat());
  LAMBKIN_RETURN_IF_ERROR(ReadNodes());
  // The generations as of now: everything older is what this node loaded at start.
  generations_.clear();
  LAMBKIN_RETURN_IF_ERROR(db_->ReadOne([&](store::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT topic, generation FROM store_topics"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      generations_[st.ColumnText(0)] = st.ColumnInt(1);
    }
    return Status::Ok();
  }));
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void Cluster::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (!multi_node()) return;
  Status s = db_->TransactConcurrent([&](store::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("DELETE FROM cluster_nodes WHERE id = ?"));
    return st.Bind(1, self_.id).Run();
  });
  (void)s;  // a node that cannot say goodbye times out instead
}

Status Cluster::Beat() {
  std::string now = DatabaseNow(db_->engine());
  return db_->TransactConcurrent([&](store::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare(fmt::format(
                     "INSERT INTO cluster_nodes (id, address, started_at, heartbeat_at) VALUES "
                     "(?, ?, {0}, {0}) ON CONFLICT (id) DO UPDATE SET heartbeat_at = {0}, "
                     "address = excluded.address",
                     now)));
    LAMBKIN_RETURN_IF_ERROR(st.Bind(1, self_.id).Bind(2, self_.address).Run());
    // Nodes gone for an hour are forgotten.
    LAMBKIN_ASSIGN_OR_RETURN(
        auto gone, txn.Prepare(fmt::format(
                       "DELETE FROM cluster_nodes WHERE heartbeat_at < {} - 3600000", now)));
    return gone.Run();
  });
}

Status Cluster::ReadNodes() {
  std::vector<Node> live;
  LAMBKIN_RETURN_IF_ERROR(db_->ReadOne([&](store::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st,
                             txn.Prepare(fmt::format("SELECT id, address FROM cluster_nodes WHERE "
                                                     "heartbeat_at > {} - ? ORDER BY id",
                                                     DatabaseNow(db_->engine()))));
    st.Bind(1, static_cast<int64_t>(kNodeTimeout.count()));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      live.push_back({st.ColumnText(0), st.ColumnText(1)});
    }
    return Status::Ok();
  }));
  // This node is live while it runs, whatever its last write managed.
  if (std::none_of(live.begin(), live.end(), [&](const Node& n) { return n.id == self_.id; })) {
    live.push_back(self_);
  }
  std::lock_guard lock(mu_);
  live_ = std::move(live);
  return Status::Ok();
}

Status Cluster::CheckTopics() {
  std::vector<std::string> moved;
  LAMBKIN_RETURN_IF_ERROR(db_->ReadOne([&](store::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT topic, generation FROM store_topics"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      std::string topic = st.ColumnText(0);
      int64_t generation = st.ColumnInt(1);
      auto [it, fresh] = generations_.try_emplace(topic, generation);
      if (fresh || it->second != generation) {
        it->second = generation;
        moved.push_back(topic);
      }
    }
    return Status::Ok();
  }));
  for (const std::string& topic : moved) {
    auto it = subscribers_.find(topic);
    if (it == subscribers_.end()) continue;
    for (const auto& reload : it->second) reload();
  }
  return Status::Ok();
}

void Cluster::Loop() {
  std::unique_ptr<store::Listener> listener;
  auto next_beat = std::chrono::steady_clock::now() + kHeartbeat;
  auto report = [](const Status& s) {
    if (!s.ok()) log::Warning("cluster", s.message());
  };
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    if (listener == nullptr) {
      auto l = db_->Listen(store::kChangesChannel);
      if (l.ok()) {
        listener = std::move(*l);
        // Whatever changed while not listening.
        report(CheckTopics());
      }
    }
    auto now = std::chrono::steady_clock::now();
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::max(next_beat - now, std::chrono::steady_clock::duration::zero()));
    bool notified = false;
    if (listener != nullptr) {
      auto got = listener->Wait(std::min(wait, std::chrono::milliseconds(250)));
      if (!got.ok()) {
        listener.reset();
      } else {
        notified = !got->empty();
      }
    } else {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::min(wait, std::chrono::milliseconds(250)), [&] { return stop_; });
    }
    if (notified) report(CheckTopics());
    if (std::chrono::steady_clock::now() >= next_beat) {
      next_beat = std::chrono::steady_clock::now() + kHeartbeat;
      report(Beat());
      report(ReadNodes());
      report(CheckTopics());
    }
  }
}

std::vector<Node> Cluster::Live() const {
  std::lock_guard lock(mu_);
  return live_;
}

std::string Cluster::Home(std::string_view key) const {
  std::vector<Node> order = Placement(key);
  return order.empty() ? self_.id : order.front().id;
}

std::vector<std::string> Cluster::Others() const {
  std::vector<std::string> ids;
  for (const Node& n : Live()) {
    if (n.id != self_.id) ids.push_back(n.id);
  }
  return ids;
}

std::vector<Node> Cluster::Placement(std::string_view key) const {
  std::vector<Node> nodes = Live();
  std::vector<std::pair<uint64_t, size_t>> scored;
  scored.reserve(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) scored.emplace_back(Score(key, nodes[i].id), i);
  std::sort(scored.begin(), scored.end(), std::greater<>());
  std::vector<Node> out;
  out.reserve(nodes.size());
  for (const auto& [score, i] : scored) out.push_back(nodes[i]);
  return out;
}

}  // namespace lambkin::cluster
