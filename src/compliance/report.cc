#include "compliance/report.h"

#include <algorithm>
#include <map>
#include <memory>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/clock.h"

namespace lambkin::compliance {

namespace {

constexpr int64_t kDayMillis = 86400000;

// A function version: account, region, name, version (0 is $LATEST).
using VersionKey = std::tuple<std::string, std::string, std::string, int64_t>;

// The same, flattened into one string: the hash maps' key.
std::string FlatKey(std::string_view account, std::string_view region, std::string_view name,
                    int64_t version) {
  std::string key;
  key.reserve(account.size() + region.size() + name.size() + 24);
  key.append(account).append(1, '\x1f').append(region).append(1, '\x1f').append(name);
  key.append(1, '\x1f').append(std::to_string(version));
  return key;
}

struct StoredVersion {
  VersionKey key;
  std::string flat;  // FlatKey(key)
  std::string runtime, architecture, update_mode;
  std::optional<int64_t> runtime_version;
  std::string code_sha256;
  int64_t last_modified = 0;
  int64_t image_base = 0;
  std::vector<std::string> layers;  // layer packages, in order
};

struct RolloutRegion {
  std::string phase;
  std::optional<int64_t> phase1_at;
  std::optional<std::string> held;
  bool paused = false;
};

struct Hold {
  int64_t runtime_version = 0;
  std::string code_sha256;
  std::string reason;
};

struct Activity {
  std::optional<int64_t> last_at;
  int64_t recent = 0;
};

// Everything the report reads from the store, in one transaction.
struct Stored {
  std::vector<StoredVersion> versions;
  std::map<std::pair<int64_t, std::string>, int> stages;  // (runtime version, region) → stage
  std::map<std::pair<int64_t, std::string>, RolloutRegion> rollouts;
  std::unordered_set<std::string> reverted;  // runtime version id + '#' + FlatKey
  std::unordered_map<std::string, std::vector<Hold>> holds;
  std::map<std::string, catalog::RuntimeLifecycle, std::less<>> lifecycles;
  std::unordered_map<std::string, Activity> activity;
  std::unordered_map<std::string, int64_t> pinned_since;
};

std::string VersionLabel(int64_t number) {
  return number == 0 ? "$LATEST" : std::to_string(number);
}

std::string Days(int64_t millis) {
  int64_t days = std::max<int64_t>(0, millis / kDayMillis);
  return days == 1 ? "1 day" : fmt::format("{} days", days);
}

// The part of an urgency that grows with days, bounded so that age never outranks a worse kind
// of reason (a runtime blocked for updates, 900).
int64_t Capped(int64_t days) { return std::clamp<int64_t>(days, 0, 250); }

std::string Plural(int64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

Status ReadStore(store::Txn& txn, const ReportOptions& o, Stored* out) {
  *out = Stored{};
  {
    std::string sql =
        "SELECT account, region, name, version, runtime, architecture, update_mode, "
        "runtime_version, code_sha256, last_modified, CASE WHEN runtime = '' THEN config "
        "ELSE NULL END FROM function_versions WHERE 1 = 1";
    if (o.region) sql += " AND region = ?1";
    if (o.runtime) sql += fmt::format(" AND (runtime = ?{} OR runtime = '')", o.region ? 2 : 1);
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare(sql));
    if (o.region) st.Bind(1, *o.region);
    if (o.runtime) st.Bind(o.region ? 2 : 1, *o.runtime);
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      StoredVersion v;
      v.key = {st.ColumnText(0), st.ColumnText(1), st.ColumnText(2), st.ColumnInt(3)};
      v.flat = FlatKey(st.ColumnView(0), st.ColumnView(1), st.ColumnView(2), st.ColumnInt(3));
      v.runtime = st.ColumnText(4);
      v.architecture = st.ColumnText(5);
      v.update_mode = st.ColumnText(6);
      if (!st.ColumnIsNull(7)) v.runtime_version = st.ColumnInt(7);
      v.code_sha256 = st.ColumnText(8);
      v.last_modified = st.ColumnInt(9);
      if (!st.ColumnIsNull(10)) {
        nlohmann::json config = nlohmann::json::parse(st.ColumnView(10), nullptr, false);
        if (config.is_object()) v.image_base = config.value("image_base", int64_t{0});
      }
      out->versions.push_back(std::move(v));
    }
  }
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < out->versions.size(); ++i) index.emplace(out->versions[i].flat, i);
  {
    LAMBKIN_ASSIGN_OR_RETURN(auto st,
                             txn.Prepare("SELECT account, region, name, version, code_sha256 FROM "
                                         "function_version_layers ORDER BY account, region, "
                                         "name, version, position"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      auto it = index.find(
          FlatKey(st.ColumnView(0), st.ColumnView(1), st.ColumnView(2), st.ColumnInt(3)));
      if (it != index.end()) out->versions[it->second].layers.push_back(st.ColumnText(4));
    }
  }
  {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("SELECT runtime_version, region, stage FROM runtime_version_regions"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out->stages[{st.ColumnInt(0), st.ColumnText(1)}] = static_cast<int>(st.ColumnInt(2));
    }
  }
  {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("SELECT g.runtime_version, g.region, g.phase, g.phase1_at, g.held, "
                             "r.paused_at FROM rollout_regions g JOIN rollouts r ON "
                             "r.runtime_version = g.runtime_version"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      RolloutRegion g;
      g.phase = st.ColumnText(2);
      if (!st.ColumnIsNull(3)) g.phase1_at = st.ColumnInt(3);
      if (!st.ColumnIsNull(4)) g.held = st.ColumnText(4);
      g.paused = !st.ColumnIsNull(5);
      out->rollouts[{st.ColumnInt(0), st.ColumnText(1)}] = std::move(g);
    }
  }
  {
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT runtime_version, account, region, name, "
                                                  "version FROM rollout_reverted"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out->reverted.insert(fmt::format(
          "{}#{}", st.ColumnInt(0),
          FlatKey(st.ColumnView(1), st.ColumnView(2), st.ColumnView(3), st.ColumnInt(4))));
    }
  }
  {
    LAMBKIN_ASSIGN_OR_RETURN(auto st,
                             txn.Prepare("SELECT runtime_version, account, region, name, version, "
                                         "code_sha256, reason FROM rollout_holds"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out->holds[FlatKey(st.ColumnView(1), st.ColumnView(2), st.ColumnView(3), st.ColumnInt(4))]
          .push_back({st.ColumnInt(0), st.ColumnText(5), st.ColumnText(6)});
    }
  }
  {
    LAMBKIN_ASSIGN_OR_RETURN(std::vector<catalog::RuntimeLifecycle> all,
                             catalog::LoadLifecycles(txn));
    for (auto& l : all) out->lifecycles.emplace(l.runtime, std::move(l));
  }
  {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("SELECT account, region, name, version, day, invocations, last_at "
                             "FROM function_activity"));
    const int64_t today = o.now_ms / kDayMillis;
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      Activity& a = out->activity[FlatKey(st.ColumnView(0), st.ColumnView(1), st.ColumnView(2),
                                          st.ColumnInt(3))];
      if (st.ColumnInt(4) > today - 30) a.recent += st.ColumnInt(5);
      a.last_at = std::max(a.last_at.value_or(0), st.ColumnInt(6));
    }
  }
  {
    // When each version's current streak of Manual edits began (the pin's age): the first
    // Manual edit after its last edit in another mode. Only Manual versions look it up.
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st,
        txn.Prepare("SELECT e.account, e.region, e.name, e.version, MIN(e.at) FROM "
                    "runtime_version_edits e WHERE e.update_mode = 'Manual' AND e.seq > "
                    "COALESCE((SELECT MAX(x.seq) FROM runtime_version_edits x WHERE "
                    "x.account = e.account AND x.region = e.region AND x.name = e.name AND "
                    "x.version = e.version AND x.update_mode <> 'Manual'), 0) "
                    "GROUP BY e.account, e.region, e.name, e.version"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out->pinned_since.emplace(
          FlatKey(st.ColumnView(0), st.ColumnView(1), st.ColumnView(2), st.ColumnInt(3)),
          st.ColumnInt(4));
    }
  }
  {
    // When the mode last became Manual (recorded since this table exists; a pin to the version
    // already running has no edit above).
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT account, region, name, version, at FROM "
                                                  "update_mode_changes WHERE update_mode = "
                                                  "'Manual'"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out->pinned_since[FlatKey(st.ColumnView(0), st.ColumnView(1), st.ColumnView(2),
                                st.ColumnInt(3))] = st.ColumnInt(4);
    }
  }
  return Status::Ok();
}

// The catalogue's view used per row: versions by runtime, newest last.
struct Versions {
  std::map<int64_t, const catalog::RuntimeVersion*> by_id;
  std::map<std::string, std::vector<const catalog::RuntimeVersion*>, std::less<>> by_runtime;
};

class Builder {
 public:
  Builder(const std::vector<catalog::RuntimeVersion>& all, const Stored& stored,
          PackageIndex* packages, const ReportOptions& o)
      : stored_(stored), packages_(packages), o_(o) {
    for (const auto& v : all) {
      versions_.by_id[v.id] = &v;
      versions_.by_runtime[v.runtime].push_back(&v);
    }
    for (auto& [runtime, list] : versions_.by_runtime) {
      std::sort(list.begin(), list.end(),
                [](const auto* a, const auto* b) { return a->number < b->number; });
    }
  }

  Result<ReportRow> Row(const StoredVersion& v) {
    ReportRow r;
    const auto& [account, region, function, number] = v.key;
    r.account = account;
    r.region = region;
    r.function = function;
    r.version = VersionLabel(number);
    r.architecture = v.architecture;
    const bool image = v.runtime.empty();
    r.package_type = image ? "Image" : "Zip";
    r.update_mode = image ? "Image" : v.update_mode;
    const catalog::RuntimeVersion* current = nullptr;
    if (image) {
      current = Find(v.image_base);
      if (current != nullptr) r.runtime = current->runtime;
    } else {
      r.runtime = v.runtime;
      current = v.runtime_version ? Find(*v.runtime_version) : nullptr;
    }
    if (o_.runtime && r.runtime != *o_.runtime) return Status(StatusCode::kResourceNotFound, "");
    if (current != nullptr) r.runtime_version = current->name;

    // How far behind the newest version released here (phase 1 or beyond, not blocked).
    const catalog::RuntimeVersion* newest = nullptr;
    std::optional<int64_t> behind_since;
    for (const auto* candidate : ReleasedIn(r.runtime, region, catalog::ReleaseStage::kPhase1)) {
      newest = candidate;
      if (current != nullptr && candidate->number > current->number) {
        ++r.versions_behind;
        int64_t at = ReleasedAt(*candidate, region);
        behind_since = std::min(behind_since.value_or(at), at);
      }
    }
    if (newest != nullptr) r.newest_runtime_version = newest->name;
    if (behind_since) r.days_behind = std::max<int64_t>(0, o_.now_ms - *behind_since) / kDayMillis;

    Lifecycle(r);
    if (image) {
      ImageReasons(r, current, newest);
    } else if (v.update_mode == "Manual") {
      ManualReasons(r, v, newest);
    } else if (v.update_mode == "FunctionUpdate") {
      FunctionUpdateReasons(r, v, newest);
    } else {
      LAMBKIN_RETURN_IF_ERROR(AutoReasons(r, v, current));
    }
    if (!image && current != nullptr) LAMBKIN_RETURN_IF_ERROR(Dependencies(r, v, *current));

    if (auto a = stored_.activity.find(v.flat); a != stored_.activity.end()) {
      r.last_invoked_ms = a->second.last_at;
      r.invocations_30d = a->second.recent;
    }
    std::stable_sort(r.reasons.begin(), r.reasons.end(),
                     [](const Reason& a, const Reason& b) { return a.urgency > b.urgency; });
    if (!r.reasons.empty()) {
      r.must_act = r.reasons.front().actor;
      r.urgency = r.reasons.front().urgency;
    }
    return r;
  }

 private:
  const catalog::RuntimeVersion* Find(int64_t id) const {
    auto it = versions_.by_id.find(id);
    return it == versions_.by_id.end() ? nullptr : it->second;
  }

  // Versions of `runtime` released in `region` to at least `stage`, oldest first.
  // Read once per runtime, region and stage.
  const std::vector<const catalog::RuntimeVersion*>& ReleasedIn(const std::string& runtime,
                                                                const std::string& region,
                                                                catalog::ReleaseStage stage) {
    auto key = std::make_tuple(runtime, region, static_cast<int>(stage));
    auto cached = released_.find(key);
    if (cached != released_.end()) return cached->second;
    std::vector<const catalog::RuntimeVersion*>& out = released_[key];
    auto it = versions_.by_runtime.find(runtime);
    if (it == versions_.by_runtime.end()) return out;
    for (const auto* v : it->second) {
      if (v->state == catalog::RuntimeVersionState::kBlocked) continue;
      auto s = stored_.stages.find({v->id, region});
      // No row: released everywhere (a built-in first version).
      if (s != stored_.stages.end() && s->second < static_cast<int>(stage)) continue;
      out.push_back(v);
    }
    return out;
  }

  // When a version reached phase 1 in a region (its publication when it has no rollout there).
  int64_t ReleasedAt(const catalog::RuntimeVersion& v, const std::string& region) const {
    auto g = stored_.rollouts.find({v.id, region});
    if (g != stored_.rollouts.end() && g->second.phase1_at) return *g->second.phase1_at;
    return v.published_at;
  }

  void Lifecycle(ReportRow& r) const {
    r.release_state = "GA";
    auto l = stored_.lifecycles.find(r.runtime);
    if (l == stored_.lifecycles.end()) return;
    const catalog::RuntimeLifecycle& life = l->second;
    r.release_state = std::string(catalog::ReleaseState(life, o_.now_ms));
    r.next_lifecycle_date = catalog::NextLifecycleDate(life, o_.now_ms);
    const bool image = r.package_type == "Image";
    const std::string move =
        image ? "rebuild the image on a supported runtime" : "move to a supported runtime";
    if (!image && catalog::Blocks(life, catalog::LifecycleGate::kUpdate, o_.now_ms)) {
      r.reasons.push_back(
          {Actor::kFunctionOwner, 900,
           fmt::format("{} takes no more updates since {}: the function can no longer be "
                       "changed, only moved to a supported runtime — migrate now",
                       r.runtime, *life.update_block_date)});
    } else if (r.release_state == "DEPRECATED" ||
               (!image && catalog::Blocks(life, catalog::LifecycleGate::kCreate, o_.now_ms))) {
      std::string since =
          r.release_state == "DEPRECATED"
              ? fmt::format("is deprecated since {} and gets no more security patches",
                            *life.deprecation_date)
              : fmt::format("takes no new functions since {}", *life.create_block_date);
      std::string next =
          r.next_lifecycle_date
              ? fmt::format("; {} from {}",
                            r.next_lifecycle_date->what == "create block" ? "no new functions"
                                                                          : "no more updates",
                            r.next_lifecycle_date->date)
              : "";
      r.reasons.push_back(
          {Actor::kFunctionOwner, 800, fmt::format("{} {}{} — {}", r.runtime, since, next, move)});
    } else if (r.next_lifecycle_date &&
               r.next_lifecycle_date->at_ms - o_.now_ms <= o_.soon_days * kDayMillis) {
      int64_t days = (r.next_lifecycle_date->at_ms - o_.now_ms + kDayMillis - 1) / kDayMillis;
      const std::string& what = r.next_lifecycle_date->what;
      std::string event = what == "deprecation"    ? "will be deprecated"
                          : what == "create block" ? "will take no new functions"
                                                   : "will take no more updates";
      r.reasons.push_back(
          {Actor::kFunctionOwner, 300 + (o_.soon_days - days),
           fmt::format("{} {} on {} (in {}) — plan to {}", r.runtime, event,
                       r.next_lifecycle_date->date, Plural(days, "day", "days"), move)});
    }
  }

  void ImageReasons(ReportRow& r, const catalog::RuntimeVersion* base,
                    const catalog::RuntimeVersion* newest) const {
    if (base == nullptr) {
      r.reasons.push_back({Actor::kNobody, 0,
                           "built on an image Lambkin does not recognise as a runtime version: "
                           "rebuild it from your base image's newest release regularly"});
      return;
    }
    if (r.versions_behind > 0 && newest != nullptr) {
      r.reasons.push_back(
          {Actor::kFunctionOwner, 500 + Capped(r.days_behind),
           fmt::format("container image built on {}; {} released since ({} behind) — "
                       "images are never patched for you: rebuild from {} and redeploy "
                       "(lambkin image rebase)",
                       base->name, Plural(r.versions_behind, "newer base", "newer bases"),
                       Days(r.days_behind * kDayMillis), newest->name)});
    }
  }

  void ManualReasons(ReportRow& r, const StoredVersion& v,
                     const catalog::RuntimeVersion* newest) const {
    auto since = stored_.pinned_since.find(v.flat);
    int64_t pinned_ms =
        o_.now_ms - (since != stored_.pinned_since.end() ? since->second : v.last_modified);
    if (r.versions_behind > 0 && newest != nullptr) {
      r.reasons.push_back(
          {Actor::kFunctionOwner, 600 + Capped(pinned_ms / kDayMillis),
           fmt::format("pinned to {} for {} — Manual is a temporary rollback; {} released "
                       "since: fix the incompatibility and switch back to Auto on {}",
                       r.runtime_version, Days(pinned_ms),
                       Plural(r.versions_behind, "newer version", "newer versions"),
                       newest->name)});
    } else {
      r.reasons.push_back(
          {Actor::kNobody, 10,
           fmt::format("pinned to {} (the newest) for {}: it stops receiving patches with "
                       "the next release — switch back to Auto",
                       r.runtime_version, Days(pinned_ms))});
    }
  }

  void FunctionUpdateReasons(ReportRow& r, const StoredVersion& v,
                             const catalog::RuntimeVersion* newest) const {
    if (r.versions_behind == 0 || newest == nullptr) return;
    const bool latest = std::get<3>(v.key) == 0;
    int64_t idle = o_.now_ms - v.last_modified;
    r.reasons.push_back(
        {Actor::kFunctionOwner, 400 + Capped(r.days_behind),
         latest
             ? fmt::format("FunctionUpdate and not updated for {} while {} released — "
                           "update the function (any code or configuration change picks up "
                           "{}) or switch it to Auto",
                           Days(idle),
                           Plural(r.versions_behind, "newer version was", "newer versions were"),
                           newest->name)
             : fmt::format("published version in FunctionUpdate mode: it is never updated, "
                           "so it stays on {} while {} released — switch it to Auto",
                           r.runtime_version,
                           Plural(r.versions_behind, "newer version was", "newer versions were"))});
  }

  Status AutoReasons(ReportRow& r, const StoredVersion& v, const catalog::RuntimeVersion* current) {
    if (current == nullptr) return Status::Ok();
    // The version Auto function versions move to here: the newest released to phase 2.
    const std::vector<const catalog::RuntimeVersion*>& phase2 =
        ReleasedIn(r.runtime, r.region, catalog::ReleaseStage::kPhase2);
    // Phase-2 rollouts still moving versions here, newest first.
    if (auto it = versions_.by_runtime.find(r.runtime); it != versions_.by_runtime.end()) {
      for (auto rit = it->second.rbegin(); rit != it->second.rend(); ++rit) {
        const catalog::RuntimeVersion* target = *rit;
        if (target->number <= current->number) break;
        if (stored_.reverted.contains(fmt::format("{}#{}", target->id, v.flat))) {
          r.reasons.push_back(
              {Actor::kFunctionOwner, 700,
               fmt::format("the health gate moved it back from {} when its errors rose: fix the "
                           "incompatibility (test on {} with Manual on a copy), then it moves "
                           "again",
                           target->name, target->name)});
          return Status::Ok();
        }
        if (auto h = stored_.holds.find(v.flat); h != stored_.holds.end()) {
          for (const Hold& hold : h->second) {
            if (hold.runtime_version != target->id || hold.code_sha256 != v.code_sha256) continue;
            r.reasons.push_back(
                {Actor::kFunctionOwner, 650,
                 fmt::format("predicted to break on {}: {} — fix the bundle (bundle both "
                             "packages, or neither) or deploy new code",
                             target->name, hold.reason)});
            return Status::Ok();
          }
        }
        auto g = stored_.rollouts.find({target->id, r.region});
        // Only where the rollout has reached the region (phase 1 or 2): one paused before
        // it got here keeps nothing behind that was released here.
        if (g != stored_.rollouts.end() && (g->second.held || g->second.paused) &&
            (g->second.phase == "phase1" || g->second.phase == "phase2")) {
          r.reasons.push_back({Actor::kOperator, 450,
                               g->second.held
                                   ? fmt::format("the rollout of {} is held in {} ({}): resume or "
                                                 "abort it (lambkin rollout resume/abort)",
                                                 target->name, r.region, *g->second.held)
                                   : fmt::format("the rollout of {} is paused: resume it (lambkin "
                                                 "rollout resume)",
                                                 target->name)});
          return Status::Ok();
        }
      }
    }
    if (!phase2.empty() && phase2.back()->number > current->number) {
      r.reasons.push_back(
          {Actor::kNobody, 5,
           fmt::format("moving to {} in phase 2 of its rollout", phase2.back()->name)});
    }
    return Status::Ok();
  }

  Status Dependencies(ReportRow& r, const StoredVersion& v, const catalog::RuntimeVersion& rv) {
    std::string key = fmt::format("{}|{}|{}", rv.id, v.code_sha256, fmt::join(v.layers, ","));
    std::shared_ptr<const Analysis>& a = analyses_[key];
    if (a == nullptr) {
      std::vector<catalog::BomEntry> bundled;
      std::vector<std::string> shas = {v.code_sha256};
      shas.insert(shas.end(), v.layers.begin(), v.layers.end());
      for (const std::string& sha : shas) {
        Result<Packages> p = packages_->Of(sha);
        if (!p.ok()) {
          // A package that cannot be read here leaves the row without a dependency verdict
          // rather than the whole report without rows.
          analyses_.erase(key);
          r.reasons.push_back(
              {Actor::kNobody, 0,
               fmt::format("its packages could not be inspected: {}", p.status().message())});
          return Status::Ok();
        }
        bundled.insert(bundled.end(), (*p)->begin(), (*p)->end());
      }
      a = std::make_shared<const Analysis>(Analyze(*rv.bom, bundled));
    }
    r.dependency_row = a->row;
    r.findings = a->findings;
    for (const Finding& f : r.findings) {
      if (f.row == Row::kRuntimeWithBundled) {
        r.reasons.push_back(
            {Actor::kFunctionOwner, f.satisfied ? 350 : 750,
             fmt::format("uses {} from the runtime with its dependency {} {} bundled{}: a "
                         "runtime update of {} may need a newer {}, and the bundled copy wins — "
                         "bundle {} too, or remove {}",
                         f.a, f.b, f.b_version,
                         f.satisfied ? ""
                                     : fmt::format(" (the runtime's {} {} requires {} {})", f.a,
                                                   f.a_version, f.b, f.spec),
                         f.a, f.b, f.a, f.b)});
        break;
      }
    }
    for (const Finding& f : r.findings) {
      if (f.row == Row::kBundledWithRuntime && (f.coupled || !f.satisfied)) {
        r.reasons.push_back(
            {Actor::kFunctionOwner, f.satisfied ? 200 : 740,
             fmt::format("bundles {} {} but takes {} {} from the runtime{} — {}", f.a, f.a_version,
                         f.b, f.b_version,
                         f.satisfied ? fmt::format(" ({} and {} are tightly coupled)", f.a, f.b)
                                     : fmt::format(", which does not satisfy {} {}", f.b, f.spec),
                         fmt::format("bundle {} as well", f.b))});
        break;
      }
    }
    return Status::Ok();
  }

  const Stored& stored_;
  PackageIndex* packages_;
  const ReportOptions& o_;
  Versions versions_;
  std::map<std::tuple<std::string, std::string, int>, std::vector<const catalog::RuntimeVersion*>>
      released_;
  // Analyses by runtime version and packages (code, then layers): versions share code.
  std::unordered_map<std::string, std::shared_ptr<const Analysis>> analyses_;
};

}  // namespace

std::string_view ActorName(Actor actor) {
  switch (actor) {
    case Actor::kNobody:
      return "nobody";
    case Actor::kOperator:
      return "operator";
    case Actor::kFunctionOwner:
      return "function owner";
  }
  return "nobody";
}

Result<std::vector<ReportRow>> BuildReport(store::Database* db, const catalog::Catalog& catalog,
                                           PackageIndex* packages, const ReportOptions& options) {
  Stored stored;
  LAMBKIN_RETURN_IF_ERROR(
      db->Read([&](store::Txn& txn) -> Status { return ReadStore(txn, options, &stored); }));
  // Every package the report looks into, read in one go (inspected now if never before).
  std::vector<std::string> shas;
  for (const StoredVersion& v : stored.versions) {
    if (v.runtime.empty()) continue;
    shas.push_back(v.code_sha256);
    shas.insert(shas.end(), v.layers.begin(), v.layers.end());
  }
  std::sort(shas.begin(), shas.end());
  shas.erase(std::unique(shas.begin(), shas.end()), shas.end());
  // Best effort: a package that cannot be read is reported on its rows (Builder::Dependencies).
  (void)packages->Preload(shas);

  std::vector<catalog::RuntimeVersion> all = catalog.List();
  Builder builder(all, stored, packages, options);
  std::vector<ReportRow> rows;
  rows.reserve(stored.versions.size());
  for (const StoredVersion& v : stored.versions) {
    Result<ReportRow> row = builder.Row(v);
    if (!row.ok()) {
      if (row.status().code() == StatusCode::kResourceNotFound) continue;  // filtered out
      return row.status();
    }
    rows.push_back(std::move(*row));
  }
  // Most urgent first: sorted by index, then the rows permuted in place (each moved once).
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&rows](size_t a, size_t b) { return rows[a].urgency > rows[b].urgency; });
  for (size_t i = 0; i < order.size(); ++i) {
    if (order[i] == i) continue;
    ReportRow held = std::move(rows[i]);
    size_t j = i;
    while (order[j] != i) {
      size_t from = order[j];
      rows[j] = std::move(rows[from]);
      order[j] = j;
      j = from;
    }
    rows[j] = std::move(held);
    order[j] = j;
  }
  return rows;
}

nlohmann::json FindingsToJson(const std::vector<Finding>& findings) {
  nlohmann::json out = nlohmann::json::array();
  for (const Finding& f : findings) {
    out.push_back({{"Row", RowName(f.row)},
                   {"Ecosystem", f.ecosystem},
                   {"Package", f.a},
                   {"PackageVersion", f.a_version},
                   {"Dependency", f.b},
                   {"DependencyVersion", f.b_version},
                   {"Requires", f.spec},
                   {"TightlyCoupled", f.coupled},
                   {"Satisfied", f.satisfied}});
  }
  return out;
}

nlohmann::json ReportRowToJson(const ReportRow& r) {
  nlohmann::json reasons = nlohmann::json::array();
  for (const Reason& x : r.reasons) {
    reasons.push_back({{"MustAct", ActorName(x.actor)}, {"Reason", x.text}});
  }
  auto optional = [](const std::string& s) {
    return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
  };
  nlohmann::json next = nullptr;
  if (r.next_lifecycle_date) {
    next = {{"Event", r.next_lifecycle_date->what}, {"Date", r.next_lifecycle_date->date}};
  }
  return {{"Account", r.account},
          {"Region", r.region},
          {"FunctionName", r.function},
          {"Version", r.version},
          {"PackageType", r.package_type},
          {"Runtime", optional(r.runtime)},
          {"Architecture", r.architecture},
          {"UpdateMode", r.update_mode},
          {"RuntimeVersion", optional(r.runtime_version)},
          {"NewestRuntimeVersion", optional(r.newest_runtime_version)},
          {"VersionsBehind", r.versions_behind},
          {"DaysBehind", r.days_behind},
          {"ReleaseState", r.release_state},
          {"NextLifecycleDate", next},
          {"MustAct", ActorName(r.must_act)},
          {"Urgency", r.urgency},
          {"Reasons", reasons},
          {"LastInvoked", r.last_invoked_ms ? nlohmann::json(FormatAwsTimestamp(*r.last_invoked_ms))
                                            : nlohmann::json(nullptr)},
          {"Invocations30Days", r.invocations_30d},
          {"DependencyRow",
           r.dependency_row ? nlohmann::json(RowName(*r.dependency_row)) : nlohmann::json(nullptr)},
          {"DependencyFindings", FindingsToJson(r.findings)}};
}

namespace {
// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
void AppendCsvField(std::string& out, std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(s);
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}
}  // namespace

std::string ReportCsv(const std::vector<ReportRow>& rows) {
  std::string out =
      "account,region,function,version,package_type,runtime,architecture,update_mode,"
      "runtime_version,newest_runtime_version,versions_behind,days_behind,release_state,"
      "next_lifecycle_event,next_lifecycle_date,must_act,urgency,reasons,last_invoked,"
      "invocations_30_days,dependency_row\r\n";
  out.reserve(out.size() + rows.size() * 320);
  std::string reasons;
  for (const ReportRow& r : rows) {
    reasons.clear();
    for (const Reason& x : r.reasons) {
      if (!reasons.empty()) reasons += "; ";
      reasons += x.text;
    }
    const std::string_view fields[] = {
        r.account,
        r.region,
        r.function,
        r.version,
        r.package_type,
        r.runtime,
        r.architecture,
        r.update_mode,
        r.runtime_version,
        r.newest_runtime_version,
        "",  // versions_behind
        "",  // days_behind
        r.release_state,
        r.next_lifecycle_date ? std::string_view(r.next_lifecycle_date->what) : "",
        r.next_lifecycle_date ? std::string_view(r.next_lifecycle_date->date) : "",
        ActorName(r.must_act),
        "",  // urgency
        reasons,
        "",  // last_invoked
        "",  // invocations_30_days
        r.dependency_row ? RowName(*r.dependency_row) : ""};
    for (size_t i = 0; i < std::size(fields); ++i) {
      if (i > 0) out += ',';
      switch (i) {
        case 10:
          out += std::to_string(r.versions_behind);
          break;
        case 11:
          out += std::to_string(r.days_behind);
          break;
        case 16:
          out += std::to_string(r.urgency);
          break;
        case 18:
          if (r.last_invoked_ms) out += FormatIsoTimestamp(*r.last_invoked_ms);
          break;
        case 19:
          out += std::to_string(r.invocations_30d);
          break;
        default:
          AppendCsvField(out, fields[i]);
      }
    }
    out += "\r\n";
  }
  return out;
}

}  // namespace lambkin::compliance
