#include "runtimes/debian.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "common/crypto.h"
#include "common/files.h"

namespace lambkin::runtimes {

namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr int kMaxRedirects = 5;
constexpr uint64_t kMaxPackageBytes = uint64_t{1} << 30;

struct Url {
  std::string host, port, target;
};

Result<Url> ParseHttpUrl(std::string_view url) {
  if (!url.starts_with("http://")) {
    return InvalidParameter(
        fmt::format("{}: only http:// package addresses are supported (the "
                    "lock's SHA-256 is what makes a download trustworthy)",
                    url));
  }
  url.remove_prefix(7);
  size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  Url out;
  out.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  size_t colon = authority.rfind(':');
  out.host = std::string(authority.substr(0, colon));
  out.port = colon == std::string_view::npos ? "80" : std::string(authority.substr(colon + 1));
  return out;
}

// GETs `url` (following redirects) into `path`.
Status Download(std::string url, const std::string& path) {
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    LAMBKIN_ASSIGN_OR_RETURN(Url u, ParseHttpUrl(url));
    try {
      boost::asio::io_context ioc;
      tcp::resolver resolver(ioc);
      beast::tcp_stream stream(ioc);
      stream.expires_after(std::chrono::minutes(5));
      stream.connect(resolver.resolve(u.host, u.port));
      http::request<http::empty_body> req{http::verb::get, u.target, 11};
      req.set(http::field::host, u.port == "80" ? u.host : u.host + ":" + u.port);
      req.set(http::field::user_agent, "lambkin-runtime-build");
      http::write(stream, req);
      beast::flat_buffer buffer;
      http::response_parser<http::file_body> parser;
      parser.body_limit(kMaxPackageBytes);
      beast::error_code ec;
      parser.get().body().open(path.c_str(), beast::file_mode::write, ec);
      if (ec) return Internal(fmt::format("cannot write {}: {}", path, ec.message()));
      http::read(stream, buffer, parser);
      auto& res = parser.get();
      unsigned status = res.result_int();
      if (status >= 300 && status < 400 && res.count(http::field::location) != 0) {
        url = std::string(res[http::field::location]);
        continue;
      }
      if (status != 200) {
        return NotFound(fmt::format("GET {} answered HTTP {}", url, status));
      }
      return Status::Ok();
    } catch (const std::exception& e) {
      return Internal(fmt::format("GET {}: {}", url, e.what()));
    }
  }
  return Internal(fmt::format("GET {}: too many redirects", url));
}

using ArchivePtr = std::unique_ptr<archive, int (*)(archive*)>;

std::string ArchiveError(archive* a) {
  const char* e = archive_error_string(a);
  return e != nullptr ? e : "unknown archive error";
}

// The top-level directories merged /usr turns into links.
const std::set<std::string, std::less<>> kMergedTops = {"bin",   "sbin",  "lib",
                                                        "lib32", "lib64", "libx32"};

// A package path made relative and merged into /usr; empty for the root itself or for the
// top-level directories merged /usr replaces; nullopt for a path that would leave the root.
std::optional<std::string> MergedPath(std::string_view path) {
  while (path.starts_with("./")) path.remove_prefix(2);
  while (path.starts_with('/')) path.remove_prefix(1);
  while (path.ends_with('/')) path.remove_suffix(1);
  if (path.empty() || path == ".") return std::string();
  for (size_t start = 0; start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part == ".." || part == "." || part.empty()) return std::nullopt;
    start = end + 1;
  }
  std::string_view top = path.substr(0, path.find('/'));
  if (kMergedTops.contains(top)) {
    if (top.size() == path.size()) return std::string();
    return "usr/" + std::string(path);
  }
  return std::string(path);
}

Result<std::string> ReadMember(archive* a) {
  std::string out;
  char buf[1 << 16];
  for (;;) {
    la_ssize_t n = archive_read_data(a, buf, sizeof buf);
    if (n < 0) return InvalidParameter(ArchiveError(a));
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string ShellQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

Result<std::string> RunCapture(const std::string& command) {
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return Internal(fmt::format("cannot run {}", command));
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  if (rc != 0) {
    return InvalidParameter(fmt::format("{} failed (status {}):\n{}", command, rc, out));
  }
  return out;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() + 0 &&
        std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

Result<std::string> FetchPackage(const LockedPackage& package, const std::string& cache_dir) {
  std::string dir = cache_dir + "/debs";
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::string path = fmt::format("{}/{}.deb", dir, package.sha256);
  if (fs::exists(path, ec)) return path;
  std::string temp = fmt::format("{}.{}.part", path, ::getpid());
  Status got = Download(package.url, temp);
  int64_t size = 0;
  Result<std::string> sha = got.ok() ? Sha256FileHex(temp, &size) : Result<std::string>(got);
  if (!sha.ok()) {
    fs::remove(temp, ec);
    return sha.status();
  }
  if (*sha != package.sha256 || size != package.size) {
    fs::remove(temp, ec);
    return InvalidParameter(fmt::format(
        "{} {}: {} has {} bytes with SHA-256 {}, but the lock says {} bytes with {}", package.name,
        package.version, package.url, size, *sha, package.size, package.sha256));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    fs::remove(temp, ec);
    return Internal(fmt::format("cannot store {}", path));
  }
  return path;
}

Status PrepareRoot(const std::string& root) {
  std::error_code ec;
  fs::create_directories(root + "/usr", ec);
  if (ec) return Internal(fmt::format("cannot create {}/usr: {}", root, ec.message()));
  for (const auto& top : kMergedTops) {
    if (top == "lib32" || top == "libx32") continue;
    fs::create_directories(fmt::format("{}/usr/{}", root, top), ec);
    fs::create_symlink("usr/" + top, fmt::format("{}/{}", root, top), ec);
    if (ec) return Internal(fmt::format("cannot link {}/{}: {}", root, top, ec.message()));
  }
  return Status::Ok();
}

Result<std::string> UnpackPackage(const std::string& deb_path, const std::string& root_dir) {
  std::error_code ec;
  std::string root = fs::canonical(root_dir, ec).string();
  if (ec) return NotFound(fmt::format("{}: {}", root_dir, ec.message()));
  ArchivePtr outer(archive_read_new(), archive_read_free);
  archive_read_support_format_ar(outer.get());
  if (archive_read_open_filename(outer.get(), deb_path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return InvalidParameter(fmt::format("{}: {}", deb_path, ArchiveError(outer.get())));
  }
  std::string control, data;
  archive_entry* entry = nullptr;
  while (archive_read_next_header(outer.get(), &entry) == ARCHIVE_OK) {
    std::string_view name = archive_entry_pathname(entry);
    if (name.starts_with("control.tar")) {
      LAMBKIN_ASSIGN_OR_RETURN(control, ReadMember(outer.get()));
    } else if (name.starts_with("data.tar")) {
      LAMBKIN_ASSIGN_OR_RETURN(data, ReadMember(outer.get()));
    }
  }
  if (control.empty() || data.empty()) {
    return InvalidParameter(fmt::format("{} is not a Debian package", deb_path));
  }

  std::string control_text;
  {
    ArchivePtr in(archive_read_new(), archive_read_free);
    archive_read_support_filter_all(in.get());
    archive_read_support_format_tar(in.get());
    if (archive_read_open_memory(in.get(), control.data(), control.size()) != ARCHIVE_OK) {
      return InvalidParameter(fmt::format("{}: {}", deb_path, ArchiveError(in.get())));
    }
    while (archive_read_next_header(in.get(), &entry) == ARCHIVE_OK) {
      if (MergedPath(archive_entry_pathname(entry)) == std::string("control")) {
        LAMBKIN_ASSIGN_OR_RETURN(control_text, ReadMember(in.get()));
      }
    }
  }
  if (control_text.empty())
    return InvalidParameter(fmt::format("{} has no control file", deb_path));

  ArchivePtr in(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(in.get());
  archive_read_support_format_tar(in.get());
  if (archive_read_open_memory(in.get(), data.data(), data.size()) != ARCHIVE_OK) {
    return InvalidParameter(fmt::format("{}: {}", deb_path, ArchiveError(in.get())));
  }
  ArchivePtr out(archive_write_disk_new(), archive_write_free);
  archive_write_disk_set_options(
      out.get(), ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                     ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_UNLINK);
  for (;;) {
    int r = archive_read_next_header(in.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK)
      return InvalidParameter(fmt::format("{}: {}", deb_path, ArchiveError(in.get())));
    std::string original = archive_entry_pathname(entry);
    std::optional<std::string> path = MergedPath(original);
    if (!path) {
      return InvalidParameter(fmt::format("{}: entry {} leaves the root", deb_path, original));
    }
    if (path->empty()) continue;
    auto type = archive_entry_filetype(entry);
    if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) continue;  // no device nodes
    archive_entry_set_pathname(entry, (root + "/" + *path).c_str());
    if (const char* link = archive_entry_hardlink(entry); link != nullptr) {
      std::optional<std::string> target = MergedPath(link);
      if (!target || target->empty()) {
        return InvalidParameter(fmt::format("{}: hard link {} leaves the root", deb_path, link));
      }
      archive_entry_set_hardlink(entry, (root + "/" + *target).c_str());
    }
    if (archive_write_header(out.get(), entry) != ARCHIVE_OK) {
      return Internal(fmt::format("{}: {}: {}", deb_path, original, ArchiveError(out.get())));
    }
    if (type == AE_IFREG && archive_entry_size(entry) > 0) {
      const void* block;
      size_t size;
      la_int64_t offset;
      while ((r = archive_read_data_block(in.get(), &block, &size, &offset)) == ARCHIVE_OK) {
        if (archive_write_data_block(out.get(), block, size, offset) != ARCHIVE_OK) {
          return Internal(fmt::format("{}: {}: {}", deb_path, original, ArchiveError(out.get())));
        }
      }
      if (r != ARCHIVE_EOF)
        return InvalidParameter(fmt::format("{}: {}", deb_path, ArchiveError(in.get())));
    }
    if (archive_write_finish_entry(out.get()) != ARCHIVE_OK) {
      return Internal(fmt::format("{}: {}: {}", deb_path, original, ArchiveError(out.get())));
    }
  }
  if (archive_write_close(out.get()) != ARCHIVE_OK) {
    return Internal(fmt::format("{}: {}", deb_path, ArchiveError(out.get())));
  }
  while (!control_text.empty() && control_text.back() == '\n') control_text.pop_back();
  return control_text + "\n";
}

Result<std::vector<LockedPackage>> ResolvePackages(const RuntimeDefinition& definition,
                                                   std::string_view debian_arch,
                                                   const std::string& cache_dir) {
  std::string state = fmt::format("{}/apt/{}-{}", cache_dir, definition.runtime, debian_arch);
  std::error_code ec;
  for (const char* sub :
       {"/etc/apt/apt.conf.d", "/etc/apt/preferences.d", "/var/lib/apt/lists/partial",
        "/var/cache/apt/archives/partial", "/var/lib/dpkg"}) {
    fs::create_directories(state + sub, ec);
    if (ec) return Internal(fmt::format("cannot create {}{}: {}", state, sub, ec.message()));
  }
  { std::ofstream(state + "/var/lib/dpkg/status", std::ios::trunc); }
  {
    std::ofstream sources(state + "/etc/apt/sources.list", std::ios::trunc);
    for (const auto& s : definition.sources) {
      sources << "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] " << s << "\n";
    }
    if (!sources.flush()) return Internal(fmt::format("cannot write {} sources", state));
  }
  std::string apt = fmt::format(
      "apt-get -o Dir={0} -o Dir::State::status={0}/var/lib/dpkg/status"
      " -o Dir::Etc::SourceList={0}/etc/apt/sources.list -o Dir::Etc::SourceParts=/nonexistent"
      " -o Dir::Etc::Parts={0}/etc/apt/apt.conf.d -o Dir::Etc::Preferences={0}/etc/apt/preferences"
      " -o Dir::Etc::PreferencesParts={0}/etc/apt/preferences.d -o APT::Architecture={1}"
      " -o APT::Install-Recommends=false -o Debug::NoLocking=1 -o Acquire::ForceHash=SHA256",
      ShellQuote(state), ShellQuote(debian_arch));
  LAMBKIN_ASSIGN_OR_RETURN(std::string updated, RunCapture(apt + " -qq update 2>&1"));
  (void)updated;
  std::string install = apt + " -qq -y --print-uris install";
  for (const auto& p : definition.packages) install += " " + ShellQuote(p);
  LAMBKIN_ASSIGN_OR_RETURN(std::string listing, RunCapture(install + " 2>&1"));
  std::vector<LockedPackage> out;
  std::istringstream lines(listing);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with('\'')) continue;
    std::istringstream f(line);
    std::string url, file, hash;
    LockedPackage p;
    if (!(f >> url >> file >> p.size >> hash) || url.size() < 2 || !hash.starts_with("SHA256:")) {
      return Internal(fmt::format("unexpected apt-get output: {}", line));
    }
    p.url = url.substr(1, url.size() - 2);
    p.sha256 = hash.substr(7);
    if (!file.ends_with(".deb"))
      return Internal(fmt::format("unexpected apt-get output: {}", line));
    std::string stem = PercentDecode(file.substr(0, file.size() - 4));
    size_t a = stem.find('_'), b = stem.rfind('_');
    if (a == std::string::npos || a == b) return Internal(fmt::format("unexpected file {}", file));
    p.name = stem.substr(0, a);
    p.version = stem.substr(a + 1, b - a - 1);
    p.architecture = stem.substr(b + 1);
    out.push_back(std::move(p));
  }
  if (out.empty()) return Internal(fmt::format("apt-get resolved nothing:\n{}", listing));
  return out;
}

}  // namespace lambkin::runtimes
