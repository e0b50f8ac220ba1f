#include "compliance/packages.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "common/ascii.h"

namespace lambkin::compliance {

using catalog::BomEntry;

namespace {

// ---------------------------------------------------------------------------------------------
// Reading a zip.

std::string_view Parent(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

std::string_view Base(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string Rooted(std::string_view dir) { return "/" + std::string(dir); }

// What an entry of the zip is to the inspection.
enum class Metadata { kNone, kDistInfo, kPkgInfo, kRequiresTxt, kEggInfoFile, kPackageJson };

// `path` is relative, '/'-separated. `*dir` is the directory keying the metadata (the .dist-info
// or .egg-info directory, or the package's directory) and `*source` the directory holding it.
Metadata Classify(std::string_view path, std::string_view* dir, std::string_view* source) {
  std::string_view base = Base(path);
  std::string_view parent = Parent(path);
  *dir = parent;
  *source = Parent(parent);
  if (base == "METADATA" && Base(parent).ends_with(".dist-info")) return Metadata::kDistInfo;
  if (base == "PKG-INFO" && Base(parent).ends_with(".egg-info")) return Metadata::kPkgInfo;
  if (base == "requires.txt" && Base(parent).ends_with(".egg-info")) return Metadata::kRequiresTxt;
  if (base.ends_with(".egg-info") && base.size() > 9) {
    *dir = path;
    *source = parent;
    return Metadata::kEggInfoFile;
  }
  if (base == "package.json" && !parent.empty()) {
    std::string_view package = Base(parent);
    std::string_view holder = Parent(parent);
    if (package.empty() || package.starts_with('.') || holder.empty()) return Metadata::kNone;
    if (Base(holder) == "node_modules" && !package.starts_with('@')) return Metadata::kPackageJson;
    if (Base(holder).starts_with('@') && Base(Parent(holder)) == "node_modules") {
      return Metadata::kPackageJson;
    }
  }
  return Metadata::kNone;
}

// The entry's data, at most kMaxMetadataBytes; nullopt when it cannot be read (encrypted, or
// corrupt: the next header tells whether the archive is still readable).
std::optional<std::string> ReadEntry(archive* a) {
  std::string out;
  char buf[16384];
  while (out.size() < kMaxMetadataBytes) {
    la_ssize_t n = archive_read_data(a, buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) return std::nullopt;
    out.append(buf, std::min(static_cast<size_t>(n), kMaxMetadataBytes - out.size()));
  }
  return out;
}

// A zip without entries: only the end-of-central-directory record (and its comment), which
// libarchive's seekable reader does not recognise.
bool IsEmptyZip(std::string_view zip) {
  if (zip.size() < 22 || !zip.starts_with("PK\x05\x06")) return false;
  auto u16 = [&](size_t at) {
    return static_cast<unsigned>(static_cast<unsigned char>(zip[at])) |
           static_cast<unsigned>(static_cast<unsigned char>(zip[at + 1])) << 8;
  };
  return u16(10) == 0 && zip.size() == 22 + u16(20);
}

struct EggInfo {
  std::optional<std::string> pkg_info;
  std::string requires_txt;
  std::string source;
};

// ---------------------------------------------------------------------------------------------
// PEP 440.

constexpr int64_t kNumberLimit = int64_t{1} << 60;

class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool AtEnd() const { return i_ >= s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[i_]; }
  size_t pos() const { return i_; }
  void Reset(size_t pos) { i_ = pos; }
  void Skip() { ++i_; }
  bool Eat(std::string_view lit) {
    if (s_.substr(i_).starts_with(lit)) {
      i_ += lit.size();
      return true;
    }
    return false;
  }
  bool EatAny(std::string_view chars) {
    if (!AtEnd() && chars.find(s_[i_]) != std::string_view::npos) {
      ++i_;
      return true;
    }
    return false;
  }
  bool Number(int64_t* out) {
    size_t start = i_;
    int64_t n = 0;
    while (!AtEnd() && std::isdigit(static_cast<unsigned char>(s_[i_])) != 0) {
      int64_t digit = s_[i_] - '0';
      if (n > (kNumberLimit - digit) / 10) return false;  // checked before it can overflow
      n = n * 10 + digit;
      ++i_;
    }
    *out = n;
    return i_ > start;
  }
  std::string_view Rest() const { return s_.substr(std::min(i_, s_.size())); }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

struct Pep440 {
  int64_t epoch = 0;
  std::vector<int64_t> release;
  int pre_kind = -1;  // -1 none, 0 a, 1 b, 2 rc
  int64_t pre = 0;
  std::optional<int64_t> post;
  std::optional<int64_t> dev;

  bool IsPrerelease() const { return pre_kind >= 0 || dev.has_value(); }
  bool IsPostrelease() const { return post.has_value(); }
};

// Parses the version; with `wildcard`, also accepts a trailing ".*" (setting *wildcard).
std::optional<Pep440> ParsePep440(std::string_view text, bool* wildcard = nullptr) {
  std::string lower = AsciiLower(AsciiTrim(text));
  Cursor c(lower);
  Pep440 v;
  c.Eat("v");
  int64_t n = 0;
  if (!c.Number(&n)) return std::nullopt;
  if (c.Eat("!")) {
    v.epoch = n;
    if (!c.Number(&n)) return std::nullopt;
  }
  v.release.push_back(n);
  while (c.Peek() == '.') {
    size_t at = c.pos();
    c.Skip();
    if (!c.Number(&n)) {
      c.Reset(at);
      break;
    }
    v.release.push_back(n);
  }
  if (wildcard != nullptr && c.Rest() == ".*") {
    *wildcard = true;
    return v;
  }
  // Pre-release: [-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?N?
  {
    size_t at = c.pos();
    c.EatAny("-_.");
    static constexpr std::pair<std::string_view, int> kLabels[] = {
        {"alpha", 0}, {"beta", 1}, {"preview", 2}, {"pre", 2},
        {"rc", 2},    {"a", 0},    {"b", 1},       {"c", 2}};
    bool found = false;
    for (const auto& [label, kind] : kLabels) {
      if (c.Eat(label)) {
        v.pre_kind = kind;
        found = true;
        break;
      }
    }
    if (found) {
      size_t before = c.pos();
      c.EatAny("-_.");
      if (!c.Number(&v.pre)) {
        c.Reset(before);
        v.pre = 0;
      }
    } else {
      c.Reset(at);
    }
  }
  // Post-release: -N or [-_.]?(post|rev|r)[-_.]?N?
  {
    size_t at = c.pos();
    if (c.Eat("-") && c.Number(&n)) {
      v.post = n;
    } else {
      c.Reset(at);
      c.EatAny("-_.");
      if (c.Eat("post") || c.Eat("rev") || c.Eat("r")) {
        size_t before = c.pos();
        c.EatAny("-_.");
        if (!c.Number(&n)) {
          c.Reset(before);
          n = 0;
        }
        v.post = n;
      } else {
        c.Reset(at);
      }
    }
  }
  // Development release: [-_.]?dev[-_.]?N?
  {
    size_t at = c.pos();
    c.EatAny("-_.");
    if (c.Eat("dev")) {
      size_t before = c.pos();
      c.EatAny("-_.");
      if (!c.Number(&n)) {
        c.Reset(before);
        n = 0;
      }
      v.dev = n;
    } else {
      c.Reset(at);
    }
  }
  // A local label (+ubuntu1) is accepted and ignored.
  if (c.Eat("+")) {
    std::string_view local = c.Rest();
    if (local.empty() || local.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") !=
                             std::string_view::npos) {
      return std::nullopt;
    }
    return v;
  }
  if (!c.AtEnd()) return std::nullopt;
  return v;
}

int CompareRelease(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    int64_t x = i < a.size() ? a[i] : 0;
    int64_t y = i < b.size() ? b[i] : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

int ComparePep440(const Pep440& a, const Pep440& b) {
  if (a.epoch != b.epoch) return a.epoch < b.epoch ? -1 : 1;
  if (int r = CompareRelease(a.release, b.release); r != 0) return r;
  // PEP 440's order within a release: X.devN < X.aN < X.bN < X.rcN < X < X.postN, and a
  // development release of any of these sorts just before it.
  auto key = [](const Pep440& v) {
    std::pair<int, int64_t> pre = {v.pre_kind, v.pre};
    if (v.pre_kind < 0) pre = {(!v.post && v.dev) ? -1 : 3, 0};
    int64_t post = v.post ? *v.post : -1;
    int64_t dev = v.dev ? *v.dev : INT64_MAX;
    return std::make_tuple(pre, post, dev);
  };
  auto ka = key(a);
  auto kb = key(b);
  if (ka == kb) return 0;
  return ka < kb ? -1 : 1;
}

bool SameRelease(const Pep440& a, const Pep440& b) {
  return a.epoch == b.epoch && CompareRelease(a.release, b.release) == 0;
}

// Whether the release of `v` starts with `prefix` (v padded with zeros), in the same epoch.
bool HasPrefix(const Pep440& v, const Pep440& prefix, size_t length) {
  if (v.epoch != prefix.epoch) return false;
  for (size_t i = 0; i < length; ++i) {
    int64_t x = i < v.release.size() ? v.release[i] : 0;
    if (x != prefix.release[i]) return false;
  }
  return true;
}

// One clause of a PEP 440 specifier against a version; nullopt when the clause does not parse.
std::optional<bool> PythonClause(std::string_view clause, std::string_view raw_version,
                                 const std::optional<Pep440>& version) {
  static constexpr std::string_view kOperators[] = {"===", "~=", "==", "!=", "<=", ">=", "<", ">"};
  std::string_view op;
  for (std::string_view candidate : kOperators) {
    if (clause.starts_with(candidate)) {
      op = candidate;
      break;
    }
  }
  if (op.empty()) return std::nullopt;
  std::string_view operand = AsciiTrim(clause.substr(op.size()));
  if (op == "===") return AsciiLower(operand) == AsciiLower(AsciiTrim(raw_version));
  bool wildcard = false;
  auto spec = ParsePep440(operand, (op == "==" || op == "!=") ? &wildcard : nullptr);
  if (!spec) return std::nullopt;
  if (op == "~=" && spec->release.size() < 2) return std::nullopt;
  if (!version) return false;
  const Pep440& v = *version;
  int cmp = ComparePep440(v, *spec);
  if (op == "==" || op == "!=") {
    bool equal = wildcard ? HasPrefix(v, *spec, spec->release.size()) : cmp == 0;
    return (op == "==") == equal;
  }
  if (op == "~=") return cmp >= 0 && HasPrefix(v, *spec, spec->release.size() - 1);
  if (op == "<=") return cmp <= 0;
  if (op == ">=") return cmp >= 0;
  if (op == "<") {
    // <V does not admit a pre-release of V itself unless V is one.
    return cmp < 0 && !(!spec->IsPrerelease() && v.IsPrerelease() && SameRelease(v, *spec));
  }
  // >V does not admit a post-release of V itself unless V is one.
  return cmp > 0 && !(!spec->IsPostrelease() && v.IsPostrelease() && SameRelease(v, *spec));
}

bool PythonSatisfies(std::string_view version, std::string_view spec) {
  std::optional<Pep440> v = ParsePep440(version);
  std::vector<bool> results;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    if (comma == std::string_view::npos) comma = spec.size();
    std::string_view clause = AsciiTrim(spec.substr(start, comma - start));
    start = comma + 1;
    if (clause.empty()) continue;
    std::optional<bool> ok = PythonClause(clause, version, v);
    if (!ok) return true;  // an unreadable specifier is not a conflict
    results.push_back(*ok);
  }
  return std::all_of(results.begin(), results.end(), [](bool b) { return b; });
}

// ---------------------------------------------------------------------------------------------
// node-semver.

struct SemVer {
  int64_t major = 0, minor = 0, patch = 0;
  std::vector<std::string> pre;
};

bool IsNumeric(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) {
    return std::isdigit(static_cast<unsigned char>(ch)) != 0;
  });
}

bool ValidIdentifier(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '-';
  });
}

int CompareIdentifiers(const std::string& a, const std::string& b) {
  bool an = IsNumeric(a);
  bool bn = IsNumeric(b);
  if (an && bn) {
    // Numeric identifiers compare by value; compare lengths first (no leading zeros matter).
    std::string_view x = a, y = b;
    x.remove_prefix(std::min(x.find_first_not_of('0'), x.size()));
    y.remove_prefix(std::min(y.find_first_not_of('0'), y.size()));
    if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
    return x.compare(y) < 0 ? -1 : (x == y ? 0 : 1);
  }
  if (an != bn) return an ? -1 : 1;
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

int CompareSemVer(const SemVer& a, const SemVer& b) {
  auto ta = std::tie(a.major, a.minor, a.patch);
  auto tb = std::tie(b.major, b.minor, b.patch);
  if (ta != tb) return ta < tb ? -1 : 1;
  if (a.pre.empty() != b.pre.empty()) return a.pre.empty() ? 1 : -1;
  for (size_t i = 0; i < std::min(a.pre.size(), b.pre.size()); ++i) {
    if (int r = CompareIdentifiers(a.pre[i], b.pre[i]); r != 0) return r;
  }
  if (a.pre.size() != b.pre.size()) return a.pre.size() < b.pre.size() ? -1 : 1;
  return 0;
}

// "-alpha.1" and "+build" after major.minor.patch; false when malformed.
bool ParseSuffix(Cursor* c, std::vector<std::string>* pre) {
  if (c->Eat("-")) {
    std::string_view rest = c->Rest();
    size_t end = rest.find('+');
    std::string_view tags = rest.substr(0, end);
    size_t start = 0;
    while (true) {
      size_t dot = tags.find('.', start);
      std::string_view id = tags.substr(start, dot == std::string_view::npos ? dot : dot - start);
      if (!ValidIdentifier(id)) return false;
      pre->emplace_back(id);
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
    c->Reset(c->pos() + tags.size());
  }
  if (c->Eat("+")) {
    std::string_view build = c->Rest();
    if (build.empty() || build.find_first_not_of(
                             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") !=
                             std::string_view::npos) {
      return false;
    }
    c->Reset(c->pos() + build.size());
  }
  return c->AtEnd();
}

std::optional<SemVer> ParseSemVer(std::string_view text) {
  text = AsciiTrim(text);
  while (text.starts_with('=') || text.starts_with('v') || text.starts_with(' ')) {
    text.remove_prefix(1);
  }
  Cursor c(text);
  SemVer v;
  if (!c.Number(&v.major) || !c.Eat(".") || !c.Number(&v.minor) || !c.Eat(".") ||
      !c.Number(&v.patch)) {
    return std::nullopt;
  }
  if (!ParseSuffix(&c, &v.pre)) return std::nullopt;
  return v;
}

// A version in a range, where any of major, minor and patch may be a wildcard (x, X, * or
// missing).
struct Partial {
  std::optional<int64_t> major, minor, patch;
  std::vector<std::string> pre;
};

std::optional<Partial> ParsePartial(std::string_view text) {
  while (text.starts_with('=') || text.starts_with('v')) text.remove_prefix(1);
  Cursor c(text);
  Partial p;
  std::optional<int64_t>* parts[] = {&p.major, &p.minor, &p.patch};
  for (int i = 0; i < 3; ++i) {
    if (i > 0 && !c.Eat(".")) break;
    int64_t n = 0;
    if (c.EatAny("xX*")) {
      // A wildcard; the parts after it do not matter.
    } else if (c.Number(&n)) {
      *parts[i] = n;
    } else {
      return std::nullopt;
    }
  }
  if (!ParseSuffix(&c, &p.pre)) return std::nullopt;
  // After a wildcard, nothing is fixed.
  if (!p.major) p.minor.reset();
  if (!p.minor) p.patch.reset();
  if (!p.patch) p.pre.clear();
  return p;
}

enum class Op { kEq, kLt, kLe, kGt, kGe };

struct Comparator {
  Op op;
  SemVer v;
};

using ComparatorSet = std::vector<Comparator>;

SemVer Make(int64_t major, int64_t minor, int64_t patch, std::vector<std::string> pre = {}) {
  return {major, minor, patch, std::move(pre)};
}
// The lowest version of a release line ("-0"), so that <X.Y.Z-0 excludes X.Y.Z's pre-releases.
SemVer Floor(int64_t major, int64_t minor, int64_t patch) {
  return Make(major, minor, patch, {"0"});
}

const Comparator kNothing = {Op::kLt, Floor(0, 0, 0)};

// Appends the comparators one token of a range ("^1.2.3", ">=1.2", "1.x") stands for;
// false when it does not parse.
bool Desugar(std::string_view token, ComparatorSet* out) {
  std::string_view op;
  for (std::string_view candidate : {"<=", ">=", "~>", "<", ">", "=", "~", "^"}) {
    if (token.starts_with(candidate)) {
      op = candidate;
      break;
    }
  }
  auto p = ParsePartial(token.substr(op.size()));
  if (!p) return false;
  if (!p->major) {  // *: anything, except with < or >
    if (op == "<" || op == ">") out->push_back(kNothing);
    return true;
  }
  int64_t major = *p->major;
  if (op == "~" || op == "~>") {
    if (!p->minor) {
      out->push_back({Op::kGe, Make(major, 0, 0)});
      out->push_back({Op::kLt, Floor(major + 1, 0, 0)});
    } else {
      out->push_back({Op::kGe, Make(major, *p->minor, p->patch.value_or(0), p->pre)});
      out->push_back({Op::kLt, Floor(major, *p->minor + 1, 0)});
    }
    return true;
  }
  if (op == "^") {
    if (!p->minor) {
      out->push_back({Op::kGe, Make(major, 0, 0)});
      out->push_back({Op::kLt, Floor(major + 1, 0, 0)});
      return true;
    }
    int64_t minor = *p->minor;
    out->push_back({Op::kGe, Make(major, minor, p->patch.value_or(0), p->pre)});
    if (major != 0) {
      out->push_back({Op::kLt, Floor(major + 1, 0, 0)});
    } else if (minor != 0 || !p->patch) {
      out->push_back({Op::kLt, Floor(0, minor + 1, 0)});
    } else {
      out->push_back({Op::kLt, Floor(0, 0, *p->patch + 1)});
    }
    return true;
  }
  if (p->patch) {  // a full version with a primitive operator
    Op o = op == "<"    ? Op::kLt
           : op == "<=" ? Op::kLe
           : op == ">"  ? Op::kGt
           : op == ">=" ? Op::kGe
                        : Op::kEq;
    out->push_back({o, Make(major, *p->minor, *p->patch, p->pre)});
    return true;
  }
  // X-ranges with a primitive operator, as node-semver rewrites them.
  bool minor_wild = !p->minor;
  int64_t minor = p->minor.value_or(0);
  if (op == ">") {
    out->push_back({Op::kGe, minor_wild ? Make(major + 1, 0, 0) : Make(major, minor + 1, 0)});
  } else if (op == ">=") {
    out->push_back({Op::kGe, Make(major, minor, 0)});
  } else if (op == "<") {
    out->push_back({Op::kLt, Floor(major, minor, 0)});
  } else if (op == "<=") {
    out->push_back({Op::kLt, minor_wild ? Floor(major + 1, 0, 0) : Floor(major, minor + 1, 0)});
  } else {  // = or none: the whole line
    out->push_back({Op::kGe, Make(major, minor, 0)});
    out->push_back({Op::kLt, minor_wild ? Floor(major + 1, 0, 0) : Floor(major, minor + 1, 0)});
  }
  return true;
}

// "A - B": inclusive, with a partial B covering its whole line.
bool DesugarHyphen(std::string_view from, std::string_view to, ComparatorSet* out) {
  auto a = ParsePartial(from);
  auto b = ParsePartial(to);
  if (!a || !b) return false;
  if (a->major) {
    out->push_back({Op::kGe, Make(*a->major, a->minor.value_or(0), a->patch.value_or(0),
                                  a->patch ? a->pre : std::vector<std::string>{})});
  }
  if (!b->major) return true;
  if (!b->minor) {
    out->push_back({Op::kLt, Floor(*b->major + 1, 0, 0)});
  } else if (!b->patch) {
    out->push_back({Op::kLt, Floor(*b->major, *b->minor + 1, 0)});
  } else {
    out->push_back({Op::kLe, Make(*b->major, *b->minor, *b->patch, b->pre)});
  }
  return true;
}

std::vector<std::string_view> SplitSpaces(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// The comparator sets of a range (any one must hold); nullopt when it is not a semver range.
std::optional<std::vector<ComparatorSet>> ParseRange(std::string_view range) {
  std::vector<ComparatorSet> sets;
  size_t start = 0;
  while (start <= range.size()) {
    size_t bar = range.find("||", start);
    if (bar == std::string_view::npos) bar = range.size();
    std::vector<std::string_view> tokens = SplitSpaces(range.substr(start, bar - start));
    start = bar + 2;
    ComparatorSet set;
    if (tokens.size() == 3 && tokens[1] == "-") {
      if (!DesugarHyphen(tokens[0], tokens[2], &set)) return std::nullopt;
      sets.push_back(std::move(set));
      continue;
    }
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string token(tokens[i]);
      // An operator standing apart from its version: ">= 1.2.3".
      if (token.find_first_not_of("<>=~^") == std::string::npos && i + 1 < tokens.size()) {
        token += tokens[++i];
      }
      if (!Desugar(token, &set)) return std::nullopt;
    }
    sets.push_back(std::move(set));
  }
  return sets;
}

bool Test(const Comparator& c, const SemVer& v) {
  int r = CompareSemVer(v, c.v);
  switch (c.op) {
    case Op::kEq:
      return r == 0;
    case Op::kLt:
      return r < 0;
    case Op::kLe:
      return r <= 0;
    case Op::kGt:
      return r > 0;
    case Op::kGe:
      return r >= 0;
  }
  return false;
}

bool TestSet(const ComparatorSet& set, const SemVer& v) {
  for (const auto& c : set) {
    if (!Test(c, v)) return false;
  }
  if (v.pre.empty()) return true;
  // A pre-release only satisfies a set that names a pre-release of the same version.
  return std::any_of(set.begin(), set.end(), [&](const Comparator& c) {
    return !c.v.pre.empty() && c.v.major == v.major && c.v.minor == v.minor && c.v.patch == v.patch;
  });
}

bool NpmSatisfies(std::string_view version, std::string_view spec) {
  spec = AsciiTrim(spec);
  // Not a range: a path, URL, git or GitHub reference, workspace: or npm: alias.
  if (spec.find(':') != std::string_view::npos || spec.find('/') != std::string_view::npos) {
    return true;
  }
  auto sets = ParseRange(spec);
  if (!sets) return true;
  auto v = ParseSemVer(version);
  if (!v) return false;
  return std::any_of(sets->begin(), sets->end(),
                     [&](const ComparatorSet& set) { return TestSet(set, *v); });
}

// ---------------------------------------------------------------------------------------------
// dpkg.

int DpkgOrder(char c) {
  if (std::isdigit(static_cast<unsigned char>(c)) != 0) return 0;
  if (std::isalpha(static_cast<unsigned char>(c)) != 0) return c;
  if (c == '~') return -1;
  if (c != '\0') return c + 256;
  return 0;
}

// dpkg's verrevcmp: alternating non-digit and digit runs, '~' sorting before everything.
int DpkgCompareParts(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    int first_diff = 0;
    while ((i < a.size() && std::isdigit(static_cast<unsigned char>(a[i])) == 0) ||
           (j < b.size() && std::isdigit(static_cast<unsigned char>(b[j])) == 0)) {
      int ac = DpkgOrder(i < a.size() ? a[i] : '\0');
      int bc = DpkgOrder(j < b.size() ? b[j] : '\0');
      if (ac != bc) return ac - bc;
      ++i;
      ++j;
    }
    while (i < a.size() && a[i] == '0') ++i;
    while (j < b.size() && b[j] == '0') ++j;
    while (i < a.size() && std::isdigit(static_cast<unsigned char>(a[i])) != 0 && j < b.size() &&
           std::isdigit(static_cast<unsigned char>(b[j])) != 0) {
      if (first_diff == 0) first_diff = a[i] - b[j];
      ++i;
      ++j;
    }
    if (i < a.size() && std::isdigit(static_cast<unsigned char>(a[i])) != 0) return 1;
    if (j < b.size() && std::isdigit(static_cast<unsigned char>(b[j])) != 0) return -1;
    if (first_diff != 0) return first_diff;
  }
  return 0;
}

int DpkgCompare(std::string_view a, std::string_view b) {
  auto split = [](std::string_view v) {
    int64_t epoch = 0;
    if (size_t colon = v.find(':'); colon != std::string_view::npos) {
      Cursor c(v.substr(0, colon));
      if (c.Number(&epoch) && c.AtEnd()) v.remove_prefix(colon + 1);
    }
    std::string_view revision;
    if (size_t dash = v.rfind('-'); dash != std::string_view::npos) {
      revision = v.substr(dash + 1);
      v = v.substr(0, dash);
    }
    return std::make_tuple(epoch, v, revision);
  };
  auto [ea, ua, ra] = split(a);
  auto [eb, ub, rb] = split(b);
  if (ea != eb) return ea < eb ? -1 : 1;
  if (int r = DpkgCompareParts(ua, ub); r != 0) return r;
  return DpkgCompareParts(ra, rb);
}

int Sign(int v) { return (v > 0) - (v < 0); }

// ---------------------------------------------------------------------------------------------
// Analysis.

// The node_modules directory an npm entry's source names ("/x/node_modules/@scope" gives
// "/x/node_modules").
std::string_view NodeModulesDir(std::string_view source) {
  return Base(source).starts_with('@') ? Parent(source) : source;
}

// Whether a bundled package is one the code reaches (a top-level copy), not a copy private to
// another package (node_modules nested inside a package).
bool IsTopLevel(const BomEntry& e) {
  if (e.ecosystem != "npm") return true;
  int count = 0;
  for (std::string_view dir = NodeModulesDir(e.source); !dir.empty(); dir = Parent(dir)) {
    if (Base(dir) == "node_modules") ++count;
  }
  return count <= 1;
}

size_t Depth(std::string_view source) { return std::count(source.begin(), source.end(), '/'); }

struct Provided {
  const BomEntry* runtime = nullptr;
  std::vector<const BomEntry*> bundled;  // nearest the root first
  // The bundled copy the code reaches first: the top-level copy nearest the root.
  const BomEntry* Primary() const {
    for (const BomEntry* e : bundled) {
      if (IsTopLevel(*e)) return e;
    }
    return nullptr;
  }
};

using Key = std::pair<std::string, std::string>;  // ecosystem, normalised name

struct Copy {
  const BomEntry* entry;
  bool bundled;
};

bool IsCoupled(std::string_view ecosystem, std::string_view a, std::string_view b) {
  if (ecosystem == "python") {
    return (a == "boto3" && (b == "botocore" || b == "s3transfer")) ||
           (a == "s3transfer" && b == "botocore");
  }
  return ecosystem == "npm" && a.starts_with("@aws-sdk/") && b.starts_with("@smithy/");
}

// B's copy that A's copy uses.
Copy Resolve(const Provided& b, const Copy& a) {
  if (a.entry->ecosystem == "npm" && a.bundled) {
    // Node.js: A's own node_modules, then each enclosing node_modules.
    std::string dir = std::string(NodeModulesDir(a.entry->source)) + "/" + a.entry->name;
    while (!dir.empty()) {
      if (Base(dir) != "node_modules") {
        std::string candidate = (dir == "/" ? "" : dir) + "/node_modules";
        for (const BomEntry* e : b.bundled) {
          if (NodeModulesDir(e->source) == candidate) return {e, true};
        }
      }
      if (dir == "/") break;
      size_t slash = dir.rfind('/');
      dir = slash == 0 ? "/" : dir.substr(0, slash);
    }
  }
  if (const BomEntry* e = b.Primary()) return {e, true};
  return {b.runtime, false};
}

Row RowOf(bool a_bundled, bool b_bundled) {
  if (a_bundled) return b_bundled ? Row::kBothBundled : Row::kBundledWithRuntime;
  return b_bundled ? Row::kRuntimeWithBundled : Row::kBothRuntime;
}

}  // namespace

Result<std::vector<BomEntry>> InspectPackages(std::string_view zip) {
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  // The seekable reader walks the central directory, so entries left unread cost nothing.
  archive_read_support_format_zip_seekable(a.get());
  if (archive_read_open_memory(a.get(), zip.data(), zip.size()) != ARCHIVE_OK) {
    if (IsEmptyZip(zip)) return std::vector<BomEntry>();
    const char* why = archive_error_string(a.get());
    return InvalidParameter(fmt::format("not a zip archive: {}", why ? why : "unreadable"));
  }
  std::vector<BomEntry> out;
  std::map<std::string, EggInfo> eggs;  // by .egg-info path
  while (true) {
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      const char* why = archive_error_string(a.get());
      return InvalidParameter(fmt::format("not a readable zip archive: {}", why ? why : "corrupt"));
    }
    const char* name = archive_entry_pathname(entry);
    if (name == nullptr) name = archive_entry_pathname_utf8(entry);
    if (name == nullptr || archive_entry_filetype(entry) != AE_IFREG) continue;
    std::string path = name;
    std::replace(path.begin(), path.end(), '\\', '/');
    size_t skip = 0;
    while (path.compare(skip, 2, "./") == 0 || path.compare(skip, 1, "/") == 0) {
      skip += path.compare(skip, 1, "/") == 0 ? 1 : 2;
    }
    path.erase(0, skip);
    std::string_view dir, source;
    Metadata kind = Classify(path, &dir, &source);
    if (kind == Metadata::kNone) {
      archive_read_data_skip(a.get());
      continue;
    }
    std::optional<std::string> data = ReadEntry(a.get());
    if (!data) continue;
    switch (kind) {
      case Metadata::kDistInfo:
        if (auto e = catalog::ParsePythonMetadata(*data, "", Rooted(source))) {
          out.push_back(std::move(*e));
        }
        break;
      case Metadata::kPkgInfo:
      case Metadata::kEggInfoFile: {
        EggInfo& egg = eggs[std::string(dir)];
        egg.pkg_info = std::move(*data);
        egg.source = Rooted(source);
        break;
      }
      case Metadata::kRequiresTxt:
        eggs[std::string(dir)].requires_txt = std::move(*data);
        break;
      case Metadata::kPackageJson:
        if (auto e = catalog::ParsePackageJson(*data, Rooted(source))) {
          out.push_back(std::move(*e));
        }
        break;
      case Metadata::kNone:
        break;
    }
  }
  for (auto& [dir, egg] : eggs) {
    if (!egg.pkg_info) continue;
    if (auto e = catalog::ParsePythonMetadata(*egg.pkg_info, egg.requires_txt, egg.source)) {
      out.push_back(std::move(*e));
    }
  }
  catalog::SortBom(&out);
  return out;
}

bool Satisfies(std::string_view ecosystem, std::string_view version, std::string_view spec) {
  if (AsciiTrim(spec).empty()) return true;
  if (ecosystem == "python") return PythonSatisfies(version, spec);
  if (ecosystem == "npm") return NpmSatisfies(version, spec);
  return true;
}

int CompareVersions(std::string_view ecosystem, std::string_view a, std::string_view b) {
  if (ecosystem == "deb") return Sign(DpkgCompare(a, b));
  if (ecosystem == "python") {
    auto x = ParsePep440(a);
    auto y = ParsePep440(b);
    if (x && y) return ComparePep440(*x, *y);
    if (x || y) return x ? 1 : -1;
  } else if (ecosystem == "npm") {
    auto x = ParseSemVer(a);
    auto y = ParseSemVer(b);
    if (x && y) return CompareSemVer(*x, *y);
    if (x || y) return x ? 1 : -1;
  }
  return Sign(a.compare(b));
}

std::string_view RowName(Row row) {
  switch (row) {
    case Row::kBothRuntime:
      return "runtime+runtime";
    case Row::kBothBundled:
      return "bundled+bundled";
    case Row::kBundledWithRuntime:
      return "bundled+runtime";
    case Row::kRuntimeWithBundled:
      return "runtime+bundled";
  }
  return "unknown";
}

Analysis Analyze(const std::vector<BomEntry>& runtime, const std::vector<BomEntry>& bundled) {
  std::map<Key, Provided> index;
  for (const auto& e : runtime) {
    if (e.ecosystem != "python" && e.ecosystem != "npm") continue;
    Provided& p = index[{e.ecosystem, catalog::NormalizePackageName(e.ecosystem, e.name)}];
    if (p.runtime == nullptr) p.runtime = &e;
  }
  for (const auto& e : bundled) {
    auto it = index.find({e.ecosystem, catalog::NormalizePackageName(e.ecosystem, e.name)});
    if (it != index.end()) it->second.bundled.push_back(&e);
  }
  for (auto& [key, p] : index) {
    std::stable_sort(p.bundled.begin(), p.bundled.end(), [](const BomEntry* x, const BomEntry* y) {
      return std::make_pair(Depth(x->source), x->source) <
             std::make_pair(Depth(y->source), y->source);
    });
  }
  // The runtime's @smithy/* packages, which an @aws-sdk/* package declaring none is coupled to.
  std::vector<std::string> smithy;
  for (auto it = index.lower_bound({"npm", "@smithy/"});
       it != index.end() && it->first.first == "npm" && it->first.second.starts_with("@smithy/");
       ++it) {
    smithy.push_back(it->first.second);
  }

  Analysis analysis;
  for (const auto& [key, provided] : index) {
    const std::string& ecosystem = key.first;
    const std::string& a_name = key.second;
    // The copies of A in effect: the one the code reaches, and (npm) each private nested copy.
    std::vector<Copy> copies;
    if (const BomEntry* primary = provided.Primary()) {
      copies.push_back({primary, true});
    } else {
      copies.push_back({provided.runtime, false});
    }
    for (const BomEntry* e : provided.bundled) {
      if (!IsTopLevel(*e)) copies.push_back({e, true});
    }
    for (const Copy& a : copies) {
      // B (normalised) -> A's specifiers on it; an empty list for an implied edge.
      std::map<std::string, std::vector<std::string>> edges;
      for (const auto& r : a.entry->depends) {
        edges[catalog::NormalizePackageName(ecosystem, r.name)].push_back(r.spec);
      }
      if (ecosystem == "python" && (a_name == "boto3" || a_name == "s3transfer")) {
        edges.try_emplace("botocore");
        if (a_name == "boto3") edges.try_emplace("s3transfer");
      }
      if (ecosystem == "npm" && a_name.starts_with("@aws-sdk/") &&
          std::none_of(edges.begin(), edges.end(),
                       [](const auto& edge) { return edge.first.starts_with("@smithy/"); })) {
        for (const auto& s : smithy) edges.try_emplace(s);
      }
      for (const auto& [b_name, specs] : edges) {
        if (b_name == a_name) continue;
        auto b_it = index.find({ecosystem, b_name});
        if (b_it == index.end()) continue;
        Copy b = Resolve(b_it->second, a);
        if (!a.bundled && !b.bundled) continue;
        Finding f;
        f.row = RowOf(a.bundled, b.bundled);
        f.ecosystem = ecosystem;
        f.a = a.entry->name;
        f.a_version = a.entry->version;
        f.b = b.entry->name;
        f.b_version = b.entry->version;
        f.coupled = IsCoupled(ecosystem, a_name, b_name);
        // Several requirements on one B differ by markers we do not evaluate: any will do.
        if (!specs.empty()) {
          auto ok = std::find_if(specs.begin(), specs.end(), [&](const std::string& spec) {
            return Satisfies(ecosystem, f.b_version, spec);
          });
          f.satisfied = ok != specs.end();
          f.spec = f.satisfied ? *ok : specs.front();
        }
        analysis.findings.push_back(std::move(f));
      }
    }
  }
  auto order = [](const Finding& f) {
    return std::tie(f.ecosystem, f.a, f.b, f.a_version, f.b_version, f.row, f.spec);
  };
  std::sort(analysis.findings.begin(), analysis.findings.end(),
            [&](const Finding& x, const Finding& y) { return order(x) < order(y); });
  analysis.findings.erase(std::unique(analysis.findings.begin(), analysis.findings.end()),
                          analysis.findings.end());
  for (const auto& f : analysis.findings) analysis.row = std::max(analysis.row, f.row);
  return analysis;
}

std::vector<Finding> Predict(const std::vector<BomEntry>& new_runtime,
                             const std::vector<BomEntry>& bundled) {
  std::vector<Finding> out;
  for (auto& f : Analyze(new_runtime, bundled).findings) {
    if (f.row == Row::kRuntimeWithBundled && !f.satisfied) out.push_back(std::move(f));
  }
  return out;
}

}  // namespace lambkin::compliance
