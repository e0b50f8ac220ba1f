// Package inspection (compliance/packages.h): how long InspectPackages takes to list the Python
// and Node.js packages of a large function package, against `unzip -l` listing the same zip.
//
// The zip is what a 50 MB deployment package looks like: 5,000 files, of which 60 Python
// distributions (dist-info with METADATA, RECORD, WHEEL, INSTALLER, top_level.txt and a module),
// 300 node_modules packages (a third scoped, each with package.json, index.js and README.md) and
// 40 nested copies, the rest incompressible data files that bring it to 50 MB. Measured in the
// same run, best of 5 each:
//   inspect:   the zip read from disk into memory, then InspectPackages on it;
//   mapped:    the zip mapped into memory (mmap), then InspectPackages: it touches only the
//              central directory and the metadata entries, as unzip -l reads the file;
//   unzip -l:  `unzip -l FILE > /dev/null` (reads the central directory only).
// Prints both in ms (and InspectPackages alone, on bytes already in memory, as the server holds an
// upload) and the ratio inspect / unzip -l; exits non-zero when the inspection does not find every
// package. libarchive converts each entry's DOS time with mktime(), which re-reads /etc/localtime
// when TZ is unset; `lambkin serve` sets TZ=:/etc/localtime (unless set), and so does this bench.
// Usage: package_inspect_bench
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/crypto.h"
#include "compliance/packages.h"
#include "in_process.h"

extern char** environ;

namespace fs = std::filesystem;
using namespace lambkin;
using bench::Check;
using bench::Time;

namespace {

constexpr int kFiles = 5000;
constexpr size_t kZipBytes = size_t{50} << 20;
constexpr int kPythonPackages = 60;
constexpr int kNodePackages = 300;
constexpr int kNestedCopies = 40;
constexpr int kRuns = 5;

class ZipWriter {
 public:
  explicit ZipWriter(const std::string& path) : a_(archive_write_new()) {
    archive_write_set_format_zip(a_);
    if (archive_write_open_filename(a_, path.c_str()) != ARCHIVE_OK) Fail();
  }
  ~ZipWriter() { archive_write_free(a_); }
  ZipWriter(const ZipWriter&) = delete;
  ZipWriter& operator=(const ZipWriter&) = delete;

  // Text is deflated; incompressible data is stored, as zip tools do.
  void Add(const std::string& name, const std::string& content, bool deflate = true) {
    int rc = deflate ? archive_write_zip_set_compression_deflate(a_)
                     : archive_write_zip_set_compression_store(a_);
    if (rc != ARCHIVE_OK) Fail();
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    if (archive_write_header(a_, e) != ARCHIVE_OK ||
        archive_write_data(a_, content.data(), content.size()) !=
            static_cast<la_ssize_t>(content.size())) {
      Fail();
    }
    archive_entry_free(e);
    ++files_;
  }
  int files() const { return files_; }
  void Close() {
    if (archive_write_close(a_) != ARCHIVE_OK) Fail();
  }

 private:
  [[noreturn]] void Fail() {
    fmt::print(stderr, "writing the zip: {}\n", archive_error_string(a_));
    std::exit(1);
  }
  archive* a_;
  int files_ = 0;
};

std::string Metadata(const std::string& name, int i) {
  std::string out = fmt::format(
      "Metadata-Version: 2.1\nName: {}\nVersion: 1.{}.{}\nSummary: Package number {}\n"
      "Home-page: https://example.com/{}\nAuthor: Example\nLicense: Apache-2.0\n"
      "Classifier: Programming Language :: Python :: 3\nRequires-Python: >=3.8\n",
      name, i, i * 7 % 13, i, name);
  for (int d = 1; d <= 4; ++d) {
    out += fmt::format("Requires-Dist: pkg-{}<{}.0,>={}.{}\n", (i + d) % kPythonPackages, d + 2, d,
                       i % 10);
  }
  out += "Provides-Extra: test\nRequires-Dist: pytest>=7; extra == \"test\"\n\n";
  for (int l = 0; l < 40; ++l) out += fmt::format("Description line {} of {}.\n", l, name);
  return out;
}

std::string PackageJson(const std::string& name, int i) {
  return fmt::format(
      R"({{"name":"{}","version":"{}.{}.{}","description":"package {}","main":"index.js",)"
      R"("license":"MIT","dependencies":{{"tslib":"^2.6.2","dep-{}":"^1.0.0"}},)"
      R"("devDependencies":{{"typescript":"~5.4.0"}}}})",
      name, i % 5, i % 17, i % 3, i, (i + 1) % kNodePackages);
}

// Writes the zip; returns how many packages it holds.
int MakeZip(const std::string& path) {
  ZipWriter zip(path);
  std::mt19937_64 rng(42);
  int packages = 0;
  zip.Add("lambda_function.py", "import json\n\ndef handler(event, context):\n  return {}\n");
  for (int i = 0; i < kPythonPackages; ++i) {
    std::string name = fmt::format("pkg_{}", i);
    std::string info = fmt::format("{}-1.{}.{}.dist-info/", name, i, i * 7 % 13);
    zip.Add(info + "METADATA", Metadata(name, i));
    zip.Add(info + "RECORD",
            fmt::format("{}/__init__.py,sha256=abc,120\n{}METADATA,,\n", name, info));
    zip.Add(info + "WHEEL", "Wheel-Version: 1.0\nGenerator: bdist_wheel\nRoot-Is-Purelib: true\n");
    zip.Add(info + "INSTALLER", "pip\n");
    zip.Add(info + "top_level.txt", name + "\n");
    zip.Add(name + "/__init__.py", fmt::format("VERSION = '1.{}'\n", i));
    ++packages;
  }
  auto node_package = [&](const std::string& dir, const std::string& name, int i) {
    zip.Add(dir + "/package.json", PackageJson(name, i));
    zip.Add(dir + "/index.js", fmt::format("module.exports = () => {{}};\n// {}\n", name));
    zip.Add(dir + "/README.md", fmt::format("# {}\n\nPackage number {}.\n", name, i));
    ++packages;
  };
  for (int i = 0; i < kNodePackages; ++i) {
    std::string name =
        i % 3 == 0 ? fmt::format("@scope{}/pkg-{}", i % 7, i) : fmt::format("pkg-{}", i);
    node_package("node_modules/" + name, name, i);
  }
  for (int i = 0; i < kNestedCopies; ++i) {
    std::string name = fmt::format("pkg-{}", i * 3 + 1);
    node_package(fmt::format("node_modules/pkg-{}/node_modules/{}", i * 3 + 2, name), name, i + 1);
  }
  // Incompressible data files bring the zip to its size.
  int remaining = kFiles - zip.files();
  size_t each = kZipBytes / static_cast<size_t>(remaining);
  std::string data(each, '\0');
  for (int i = 0; i < remaining; ++i) {
    for (size_t b = 0; b + 8 <= data.size(); b += 8) {
      uint64_t r = rng();
      std::copy_n(reinterpret_cast<const char*>(&r), 8, data.begin() + static_cast<ptrdiff_t>(b));
    }
    zip.Add(fmt::format("data/blob-{:04}.bin", i), data, false);
  }
  zip.Close();
  return packages;
}

// The whole file in a fresh buffer (not zero-filled first), as an upload arrives in one.
std::unique_ptr<char[]> ReadFile(const std::string& path, size_t* size) {
  *size = fs::file_size(path);
  std::unique_ptr<char[]> out(new char[*size]);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  size_t done = 0;
  while (fd >= 0 && done < *size) {
    ssize_t n = ::read(fd, out.get() + done, *size - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  if (fd >= 0) ::close(fd);
  if (done != *size) {
    fmt::print(stderr, "cannot read {}\n", path);
    std::exit(1);
  }
  return out;
}

// InspectPackages on the file mapped into memory, as `unzip -l` reads it: only the pages it
// touches (the central directory and the metadata entries) are read.
size_t InspectMapped(const std::string& path) {
  size_t size = fs::file_size(path);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  void* map = fd >= 0 ? ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
  if (fd >= 0) ::close(fd);
  if (map == MAP_FAILED) {
    fmt::print(stderr, "cannot map {}\n", path);
    std::exit(1);
  }
  auto packages = compliance::InspectPackages(std::string_view(static_cast<char*>(map), size));
  ::munmap(map, size);
  Check(packages.status(), "InspectPackages");
  return packages->size();
}

// `unzip -l path > /dev/null`.
void UnzipList(const std::string& path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  std::string unzip = "unzip", list = "-l", file = path;
  char* argv[] = {unzip.data(), list.data(), file.data(), nullptr};
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, "unzip", &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  if (rc != 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    fmt::print(stderr, "unzip -l {} failed\n", path);
    std::exit(1);
  }
}

}  // namespace

int main() {
  ::setenv("TZ", ":/etc/localtime", 0);  // as lambkin serve does
  std::string dir =
      (fs::temp_directory_path() / ("package-inspect-bench-" + RandomUuid())).string();
  fs::create_directories(dir);
  std::string path = dir + "/function.zip";
  int expected = 0;
  double make = Time([&] { expected = MakeZip(path); });
  fmt::print("zip: {} files, {:.1f} MB, {} packages (made in {:.2f} s)\n", kFiles,
             static_cast<double>(fs::file_size(path)) / (1 << 20), expected, make);

  size_t found = 0;
  double inspect = 1e9;  // read + InspectPackages
  double alone = 1e9;    // InspectPackages on bytes already in memory
  double mapped = 1e9;   // the file mapped + InspectPackages
  double unzip = 1e9;
  size_t found_mapped = 0;
  for (int run = 0; run < kRuns; ++run) {
    mapped = std::min(mapped, Time([&] { found_mapped = InspectMapped(path); }));
    inspect = std::min(inspect, Time([&] {
                         size_t size = 0;
                         std::unique_ptr<char[]> data = ReadFile(path, &size);
                         std::string_view zip(data.get(), size);
                         alone = std::min(alone, Time([&] {
                                            auto packages = compliance::InspectPackages(zip);
                                            Check(packages.status(), "InspectPackages");
                                            found = packages->size();
                                          }));
                       }));
    unzip = std::min(unzip, Time([&] { UnzipList(path); }));
  }
  fs::remove_all(dir);
  fmt::print("inspect (read + InspectPackages): {:.2f} ms (InspectPackages alone {:.2f} ms)\n",
             inspect * 1e3, alone * 1e3);
  fmt::print("inspect (file mapped):             {:.2f} ms\n", mapped * 1e3);
  fmt::print("unzip -l:                         {:.2f} ms\n", unzip * 1e3);
  fmt::print(
      "ratio inspect (mapped) / unzip -l: {:.2f}; (read into memory first) / unzip -l: {:.2f}\n",
      mapped / unzip, inspect / unzip);
  if (found != static_cast<size_t>(expected) || found_mapped != found) {
    fmt::print(stderr, "found {} packages, expected {}\n", found, expected);
    return 1;
  }
  return 0;
}
