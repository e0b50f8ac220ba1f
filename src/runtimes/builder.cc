#include "runtimes/builder.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "common/crypto.h"
#include "common/files.h"
#include "oci/image.h"
#include "runtimes/debian.h"

namespace lambkin::runtimes {

namespace fs = std::filesystem;

namespace {

// Bumped whenever what the builder writes changes, so earlier builds are not reused.
constexpr int kBuilderVersion = 2;

// Lambda's sandbox user (runtime-api.md): uid 993, the user every function runs as.
constexpr char kPasswd[] =
    "root:x:0:0:root:/root:/bin/bash\n"
    "sbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
constexpr char kGroup[] =
    "root:x:0:\n"
    "sbx_user1051:x:990:\n"
    "nogroup:x:65534:\n";
constexpr char kHosts[] = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

// AWS's base-image entrypoint (images.md §2.1).
constexpr char kEntrypoint[] = R"(#!/bin/sh
# The entrypoint of AWS Lambda's base images: the image's CMD is the handler.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"

RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie $RUNTIME_ENTRYPOINT
else
  exec $RUNTIME_ENTRYPOINT
fi
)";

std::string ReadTextOrEmpty(const std::string& path) {
  Result<std::string> r = ReadWholeFile(path);
  return r.ok() ? *r : std::string();
}

Status WriteText(const std::string& path, std::string_view text, mode_t mode = 0644) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  fs::remove(path, ec);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) return Internal(fmt::format("cannot write {}", path));
  }
  if (::chmod(path.c_str(), mode) != 0) return Internal(fmt::format("cannot chmod {}", path));
  return Status::Ok();
}

Status Symlink(const std::string& target, const std::string& link) {
  std::error_code ec;
  fs::create_directories(fs::path(link).parent_path(), ec);
  fs::remove(link, ec);
  fs::create_symlink(target, link, ec);
  if (ec) return Internal(fmt::format("cannot link {}: {}", link, ec.message()));
  return Status::Ok();
}

// What a build depends on: the definition, the lock, Lambkin's files, the builder's version.
Result<std::string> InputDigest(const RuntimeDefinition& d, const std::string& lock_text) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string definition, ReadWholeFile(d.dir + "/runtime.json"));
  Sha256Hasher h;
  h.Update(fmt::format("lambkin-runtime-build {}\n", kBuilderVersion));
  h.Update(definition);
  h.Update(lock_text);
  if (!d.var_runtime.empty()) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(VarRuntimeDir(d), ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file()) files.push_back(it->path());
    }
    if (ec) return NotFound(fmt::format("{}: {}", VarRuntimeDir(d), ec.message()));
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      LAMBKIN_ASSIGN_OR_RETURN(std::string content, ReadWholeFile(f.string()));
      auto perms = fs::status(f).permissions();
      h.Update(fmt::format("{} {} {}\n", fs::relative(f, VarRuntimeDir(d)).string(),
                           static_cast<int>(perms), content.size()));
      h.Update(content);
    }
  }
  return HexEncode(h.Finish());
}

// update-ca-certificates, for a root without a shell to run it: every certificate under
// /usr/share/ca-certificates linked from /etc/ssl/certs by name and by subject hash (OpenSSL's
// CApath lookup), and all of them in /etc/ssl/certs/ca-certificates.crt.
Status InstallCertificates(const std::string& root) {
  std::string share = root + "/usr/share/ca-certificates";
  std::error_code ec;
  if (!fs::exists(share, ec)) return Status::Ok();
  std::vector<fs::path> certs;
  for (auto it = fs::recursive_directory_iterator(share, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ".crt") certs.push_back(it->path());
  }
  std::sort(certs.begin(), certs.end());
  std::string bundle;
  std::map<std::string, int> hashes;
  for (const auto& cert : certs) {
    LAMBKIN_ASSIGN_OR_RETURN(std::string pem, ReadWholeFile(cert.string()));
    std::string rel = fs::relative(cert, root).string();
    std::string name = cert.stem().string() + ".pem";
    LAMBKIN_RETURN_IF_ERROR(Symlink("/" + rel, fmt::format("{}/etc/ssl/certs/{}", root, name)));
    std::unique_ptr<BIO, int (*)(BIO*)> bio(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    std::unique_ptr<X509, void (*)(X509*)> x509(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
    if (!x509) return InvalidParameter(fmt::format("{} is not a PEM certificate", rel));
    std::string hash = fmt::format(
        "{:08x}", X509_NAME_hash_ex(X509_get_subject_name(x509.get()), nullptr, nullptr, nullptr));
    int n = hashes[hash]++;
    LAMBKIN_RETURN_IF_ERROR(Symlink(name, fmt::format("{}/etc/ssl/certs/{}.{}", root, hash, n)));
    bundle += pem;
    if (!bundle.ends_with('\n')) bundle += '\n';
  }
  return WriteText(root + "/etc/ssl/certs/ca-certificates.crt", bundle);
}

Status CopyTree(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
  if (ec) return Internal(fmt::format("cannot copy {} to {}: {}", from, to, ec.message()));
  return Status::Ok();
}

// Runs `argv` inside `root` (writable), with no network and a clean environment.
Status RunInRoot(const BuildOptions& o, const std::string& root, int64_t epoch,
                 const std::vector<std::string>& argv) {
  std::vector<std::string> args = {o.bwrap,
                                   "--bind",
                                   root,
                                   "/",
                                   "--proc",
                                   "/proc",
                                   "--dev",
                                   "/dev",
                                   "--tmpfs",
                                   "/tmp",
                                   "--unshare-all",
                                   "--die-with-parent",
                                   "--clearenv",
                                   "--setenv",
                                   "PATH",
                                   "/usr/sbin:/usr/bin",
                                   "--setenv",
                                   "SOURCE_DATE_EPOCH",
                                   std::to_string(epoch),
                                   "--setenv",
                                   "LANG",
                                   "C.UTF-8",
                                   "--chdir",
                                   "/",
                                   "--"};
  args.insert(args.end(), argv.begin(), argv.end());
  std::vector<char*> cargs;
  cargs.reserve(args.size() + 1);
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return Internal("fork failed");
  if (pid == 0) {
    ::execvp(cargs[0], cargs.data());
    std::fprintf(stderr, "cannot run %s\n", cargs[0]);
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string shown;
    for (const auto& a : argv) shown += (shown.empty() ? "" : " ") + a;
    return InvalidParameter(fmt::format("configure command '{}' failed in the new root", shown));
  }
  return Status::Ok();
}

// Writes a tar stream: SHA-256 of the tar (the layer's diff_id), then gzip (no timestamp) to a
// file with the SHA-256 of the compressed bytes (the layer's digest).
class LayerWriter {
 public:
  explicit LayerWriter(std::string path) : path_(std::move(path)), out_(path_, std::ios::binary) {
    zs_.zalloc = nullptr;
    zs_.zfree = nullptr;
    zs_.opaque = nullptr;
    deflateInit2(&zs_, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  }
  ~LayerWriter() { deflateEnd(&zs_); }
  LayerWriter(const LayerWriter&) = delete;
  LayerWriter& operator=(const LayerWriter&) = delete;

  bool Write(const void* data, size_t size) {
    diff_.Update(std::string_view(static_cast<const char*>(data), size));
    zs_.next_in = static_cast<Bytef*>(const_cast<void*>(data));
    zs_.avail_in = static_cast<uInt>(size);
    return Pump(Z_NO_FLUSH);
  }
  bool Finish() {
    zs_.next_in = nullptr;
    zs_.avail_in = 0;
    if (!Pump(Z_FINISH)) return false;
    out_.flush();
    return static_cast<bool>(out_);
  }
  std::string diff_id() { return "sha256:" + HexEncode(diff_.Finish()); }
  std::string digest() { return "sha256:" + HexEncode(compressed_.Finish()); }
  int64_t size() const { return size_; }

 private:
  bool Pump(int flush) {
    char buf[1 << 16];
    for (;;) {
      zs_.next_out = reinterpret_cast<Bytef*>(buf);
      zs_.avail_out = sizeof buf;
      int r = deflate(&zs_, flush);
      if (r == Z_STREAM_ERROR) return false;
      size_t n = sizeof buf - zs_.avail_out;
      if (n > 0) {
        compressed_.Update(std::string_view(buf, n));
        out_.write(buf, static_cast<std::streamsize>(n));
        size_ += static_cast<int64_t>(n);
      }
      if (flush == Z_FINISH ? r == Z_STREAM_END : zs_.avail_in == 0) return true;
    }
  }
  std::string path_;
  std::ofstream out_;
  z_stream zs_{};
  Sha256Hasher diff_, compressed_;
  int64_t size_ = 0;
};

la_ssize_t LayerWrite(archive* /*a*/, void* client, const void* buffer, size_t length) {
  return static_cast<LayerWriter*>(client)->Write(buffer, length) ? static_cast<la_ssize_t>(length)
                                                                  : -1;
}

struct TarState {
  archive* a;
  std::string root;
  int64_t epoch;
  std::map<std::pair<dev_t, ino_t>, std::string> links;
  int64_t bytes = 0;
};

Status AddEntry(TarState& t, const std::string& rel, const struct stat& st) {
  std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                             archive_entry_free);
  std::string full = t.root + "/" + rel;
  archive_entry_set_pathname(e.get(), rel.c_str());
  archive_entry_set_mode(e.get(), st.st_mode);
  archive_entry_set_uid(e.get(), 0);
  archive_entry_set_gid(e.get(), 0);
  archive_entry_set_mtime(e.get(), t.epoch, 0);
  bool data = false;
  if (S_ISREG(st.st_mode)) {
    auto key = std::make_pair(st.st_dev, st.st_ino);
    if (st.st_nlink > 1) {
      auto [it, fresh] = t.links.emplace(key, rel);
      if (!fresh) {
        archive_entry_set_hardlink(e.get(), it->second.c_str());
        archive_entry_set_size(e.get(), 0);
      }
      data = fresh;
    } else {
      data = true;
    }
    if (data) archive_entry_set_size(e.get(), st.st_size);
  } else if (S_ISLNK(st.st_mode)) {
    std::error_code ec;
    std::string target = fs::read_symlink(full, ec).string();
    archive_entry_set_symlink(e.get(), target.c_str());
  } else if (!S_ISDIR(st.st_mode)) {
    return Status::Ok();  // sockets, fifos, devices: nothing a runtime ships
  }
  if (archive_write_header(t.a, e.get()) != ARCHIVE_OK) {
    return Internal(fmt::format("layer: {}: {}", rel, archive_error_string(t.a)));
  }
  if (data && st.st_size > 0) {
    std::ifstream in(full, std::ios::binary);
    char buf[1 << 16];
    while (in) {
      in.read(buf, sizeof buf);
      std::streamsize n = in.gcount();
      if (n <= 0) break;
      if (archive_write_data(t.a, buf, static_cast<size_t>(n)) < 0) {
        return Internal(fmt::format("layer: {}: {}", rel, archive_error_string(t.a)));
      }
    }
    t.bytes += st.st_size;
  }
  return Status::Ok();
}

Status AddTree(TarState& t, const std::string& rel) {
  std::string dir = rel.empty() ? t.root : t.root + "/" + rel;
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    names.push_back(entry.path().filename().string());
  }
  if (ec) return Internal(fmt::format("cannot list {}: {}", dir, ec.message()));
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    std::string child = rel.empty() ? name : fmt::format("{}/{}", rel, name);
    struct stat st {};
    if (::lstat((t.root + "/" + child).c_str(), &st) != 0) {
      return Internal(fmt::format("cannot stat {}", child));
    }
    LAMBKIN_RETURN_IF_ERROR(AddEntry(t, child, st));
    if (S_ISDIR(st.st_mode)) LAMBKIN_RETURN_IF_ERROR(AddTree(t, child));
  }
  return Status::Ok();
}

Result<std::string> PutBlob(const std::string& layout, std::string_view bytes) {
  std::string digest = Sha256Hex(bytes);
  LAMBKIN_RETURN_IF_ERROR(WriteText(layout + "/blobs/sha256/" + digest, bytes, 0444));
  return "sha256:" + digest;
}

std::string Rfc3339(int64_t epoch) {
  time_t t = epoch;
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string DefaultCacheDir() {
  if (const char* d = std::getenv("LAMBKIN_CACHE_DIR"); d != nullptr && *d != '\0') return d;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d != nullptr && *d != '\0') {
    return std::string(d) + "/lambkin";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "/tmp") + "/.cache/lambkin";
}

Result<BuildResult> BuildRuntime(const BuildOptions& o) {
  auto started = std::chrono::steady_clock::now();
  LAMBKIN_ASSIGN_OR_RETURN(RuntimeDefinition d, LoadDefinition(o.definition_dir));
  BuildResult result;
  result.runtime = d.runtime;
  result.reference = d.runtime;
  // Debian names the architectures as OCI does (amd64, arm64).
  std::string arch(oci::HostOciArchitecture());
  std::string lock_path = LockPath(d, arch);
  std::error_code ec;
  if (o.refresh || !fs::exists(lock_path, ec)) {
    LAMBKIN_ASSIGN_OR_RETURN(std::vector<LockedPackage> resolved,
                             ResolvePackages(d, arch, o.cache_dir));
    std::sort(resolved.begin(), resolved.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    std::string before = ReadTextOrEmpty(lock_path);
    LAMBKIN_RETURN_IF_ERROR(WriteLock(
        lock_path, resolved,
        fmt::format("# {} for {}: every package at an exact version (lambkin runtime build "
                    "--refresh rewrites this file)\n",
                    d.runtime, arch)));
    result.lock_changed = ReadTextOrEmpty(lock_path) != before;
  }
  LAMBKIN_ASSIGN_OR_RETURN(std::string lock_text, ReadWholeFile(lock_path));
  LAMBKIN_ASSIGN_OR_RETURN(std::vector<LockedPackage> lock, ReadLock(lock_path));
  result.packages = static_cast<int>(lock.size());
  LAMBKIN_ASSIGN_OR_RETURN(std::string inputs, InputDigest(d, lock_text));

  std::string stamp_path = o.output_dir + "/lambkin-build.json";
  if (auto stamp = ReadWholeFile(stamp_path); stamp.ok()) {
    nlohmann::json j = nlohmann::json::parse(*stamp, nullptr, false);
    if (j.is_object() && j.value("inputs", "") == inputs &&
        fs::exists(o.output_dir + "/index.json", ec)) {
      result.reused = true;
      result.manifest_digest = j.value("manifest", "");
      result.layer_bytes = j.value("layer_bytes", int64_t{0});
      result.rootfs_bytes = j.value("rootfs_bytes", int64_t{0});
      result.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      return result;
    }
  }

  std::string staging = fmt::format("{}.staging-{}", o.output_dir, ::getpid());
  fs::remove_all(staging, ec);
  std::string root = staging + "/rootfs";
  std::string layout = staging + "/layout";
  fs::create_directories(root, ec);
  fs::create_directories(layout + "/blobs/sha256", ec);
  if (ec) return Internal(fmt::format("cannot create {}: {}", staging, ec.message()));
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup{staging};

  LAMBKIN_RETURN_IF_ERROR(PrepareRoot(root));
  std::string status;
  for (const auto& p : lock) {
    LAMBKIN_ASSIGN_OR_RETURN(std::string deb, FetchPackage(p, o.cache_dir));
    LAMBKIN_ASSIGN_OR_RETURN(std::string control, UnpackPackage(deb, root));
    size_t first = control.find('\n');
    status += control.substr(0, first + 1) + "Status: install ok installed\n" +
              control.substr(first + 1) + "\n";
  }
  LAMBKIN_RETURN_IF_ERROR(WriteText(root + "/var/lib/dpkg/status", status));
  LAMBKIN_RETURN_IF_ERROR(WriteText(root + "/etc/passwd", kPasswd));
  LAMBKIN_RETURN_IF_ERROR(WriteText(root + "/etc/group", kGroup));
  LAMBKIN_RETURN_IF_ERROR(WriteText(root + "/etc/hosts", kHosts));
  LAMBKIN_RETURN_IF_ERROR(WriteText(root + "/etc/resolv.conf", ""));
  if (fs::exists(root + "/usr/bin/bash", ec)) {
    LAMBKIN_RETURN_IF_ERROR(Symlink("bash", root + "/usr/bin/sh"));
  }
  if (fs::exists(root + "/usr/share/zoneinfo/Etc/UTC", ec)) {
    LAMBKIN_RETURN_IF_ERROR(Symlink("/usr/share/zoneinfo/Etc/UTC", root + "/etc/localtime"));
    LAMBKIN_RETURN_IF_ERROR(WriteText(root + "/etc/timezone", "Etc/UTC\n"));
  }
  LAMBKIN_RETURN_IF_ERROR(InstallCertificates(root));
  for (const auto& [link, target] : d.links) {
    LAMBKIN_RETURN_IF_ERROR(Symlink(target, root + link));
  }
  for (const char* dir : {"/var/task", "/opt", "/tmp", "/proc", "/dev", "/var/runtime",
                          "/usr/local/bin", "/home", "/root"}) {
    fs::create_directories(root + dir, ec);
  }
  ::chmod((root + "/tmp").c_str(), 01777);
  if (!d.var_runtime.empty()) {
    LAMBKIN_RETURN_IF_ERROR(CopyTree(VarRuntimeDir(d), root + "/var/runtime"));
  }
  LAMBKIN_RETURN_IF_ERROR(WriteText(root + "/lambda-entrypoint.sh", kEntrypoint, 0755));
  for (const auto& command : d.configure) {
    LAMBKIN_RETURN_IF_ERROR(RunInRoot(o, root, d.source_date_epoch, command));
  }

  // ldconfig's aux cache records inode numbers and times: not part of a reproducible root.
  fs::remove(root + "/var/cache/ldconfig/aux-cache", ec);

  // One layer: the whole root, sorted, owned by root, at SOURCE_DATE_EPOCH.
  std::string layer_temp = layout + "/layer.tar.gz";
  LayerWriter writer(layer_temp);
  std::unique_ptr<archive, int (*)(archive*)> tar(archive_write_new(), archive_write_free);
  archive_write_set_format_pax_restricted(tar.get());
  archive_write_set_bytes_in_last_block(tar.get(), 1);
  if (archive_write_open(tar.get(), &writer, nullptr, LayerWrite, nullptr) != ARCHIVE_OK) {
    return Internal(fmt::format("layer: {}", archive_error_string(tar.get())));
  }
  TarState state{tar.get(), root, d.source_date_epoch, {}, 0};
  LAMBKIN_RETURN_IF_ERROR(AddTree(state, ""));
  if (archive_write_close(tar.get()) != ARCHIVE_OK || !writer.Finish()) {
    return Internal("cannot finish the layer");
  }
  std::string diff_id = writer.diff_id();
  std::string layer_digest = writer.digest();
  int64_t layer_size = writer.size();
  fs::rename(layer_temp, layout + "/blobs/sha256/" + layer_digest.substr(7), ec);
  if (ec) return Internal(fmt::format("cannot store the layer: {}", ec.message()));

  std::vector<std::string> env = d.env;
  nlohmann::json config = {
      {"created", Rfc3339(d.source_date_epoch)},
      {"architecture", arch},
      {"os", "linux"},
      {"config",
       {{"Env", env},
        {"Entrypoint", {"/lambda-entrypoint.sh"}},
        {"WorkingDir", "/var/task"},
        {"Labels",
         {{"org.opencontainers.image.title", d.runtime},
          {"org.opencontainers.image.description", d.description},
          {"com.lambkin.runtime", d.runtime}}}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {diff_id}}}},
      {"history",
       {{{"created", Rfc3339(d.source_date_epoch)},
         {"created_by",
          fmt::format("lambkin runtime build {} ({} Debian packages)", d.runtime, lock.size())}}}}};
  std::string config_bytes = config.dump();
  LAMBKIN_ASSIGN_OR_RETURN(std::string config_digest, PutBlob(layout, config_bytes));
  nlohmann::json manifest = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
      {"config",
       {{"mediaType", "application/vnd.oci.image.config.v1+json"},
        {"digest", config_digest},
        {"size", config_bytes.size()}}},
      {"layers",
       {{{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
         {"digest", layer_digest},
         {"size", layer_size}}}},
      {"annotations",
       {{"org.opencontainers.image.title", d.runtime},
        {"org.opencontainers.image.created", Rfc3339(d.source_date_epoch)}}}};
  std::string manifest_bytes = manifest.dump();
  LAMBKIN_ASSIGN_OR_RETURN(std::string manifest_digest, PutBlob(layout, manifest_bytes));
  nlohmann::json index = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.index.v1+json"},
      {"manifests",
       {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
         {"digest", manifest_digest},
         {"size", manifest_bytes.size()},
         {"platform", {{"architecture", arch}, {"os", "linux"}}},
         {"annotations", {{"org.opencontainers.image.ref.name", d.runtime}}}}}}};
  LAMBKIN_RETURN_IF_ERROR(WriteText(layout + "/index.json", index.dump()));
  LAMBKIN_RETURN_IF_ERROR(WriteText(layout + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  result.manifest_digest = manifest_digest;
  result.layer_bytes = layer_size;
  result.rootfs_bytes = state.bytes;
  nlohmann::json stamp = {{"inputs", inputs},
                          {"manifest", manifest_digest},
                          {"layer_bytes", layer_size},
                          {"rootfs_bytes", state.bytes}};
  LAMBKIN_RETURN_IF_ERROR(WriteText(layout + "/lambkin-build.json", stamp.dump(2) + "\n"));

  // The root filesystem itself, kept by image digest beside the layouts: servers on this
  // machine mount it in place instead of unpacking the layer again.
  std::string store = (fs::path(o.output_dir).parent_path() / "rootfs").string();
  std::string kept = store + "/" + manifest_digest.substr(7);
  LAMBKIN_RETURN_IF_ERROR(catalog::AddMountPoints(root));
  fs::create_directories(store, ec);
  if (!fs::exists(kept, ec)) {
    fs::rename(root, kept, ec);
    if (ec) return Internal(fmt::format("cannot keep the root filesystem: {}", ec.message()));
  }
  fs::remove_all(o.output_dir, ec);
  fs::create_directories(fs::path(o.output_dir).parent_path(), ec);
  fs::rename(layout, o.output_dir, ec);
  if (ec)
    return Internal(fmt::format("cannot move the layout to {}: {}", o.output_dir, ec.message()));
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace lambkin::runtimes
