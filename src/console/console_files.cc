#include "console/console_files.h"

#include <filesystem>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "common/ascii.h"
#include "common/crypto.h"
#include "common/files.h"

namespace lambkin::console {
namespace {

namespace fs = std::filesystem;

// Scripts, styles, images and connections from this origin only; never framed (clickjacking),
// no plugins, no <base> rewriting, forms post nowhere else.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

std::string ContentType(std::string_view name) {
  static const std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"}};
  for (const auto& [ext, type] : kTypes) {
    if (name.ends_with(ext)) return std::string(type);
  }
  return "application/octet-stream";
}

// The q-value Accept-Encoding gives `coding` (0 when absent or refused).
double Quality(std::string_view accept, std::string_view coding) {
  double star = 0;
  bool star_given = false;
  while (!accept.empty()) {
    size_t comma = accept.find(',');
    std::string_view item = AsciiTrim(accept.substr(0, comma));
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    size_t semi = item.find(';');
    std::string name = AsciiLower(AsciiTrim(item.substr(0, semi)));
    double q = 1;
    if (semi != std::string_view::npos) {
      std::string_view param = AsciiTrim(item.substr(semi + 1));
      if (param.starts_with("q=") || param.starts_with("Q=")) {
        param.remove_prefix(2);
        // RFC 9110 qvalue: 0, 0.xxx, 1, 1.000.
        q = param.starts_with('1') ? 1 : 0;
        if (param.starts_with("0.") && param.size() > 2) {
          double scale = 0.1;
          for (char c : param.substr(2)) {
            if (c < '0' || c > '9') break;
            q += (c - '0') * scale;
            scale /= 10;
          }
        }
      }
    }
    if (name == coding) return q;
    if (name == "*") {
      star = q;
      star_given = true;
    }
  }
  return star_given ? star : 0;
}

server::HttpResponse Plain(int status, std::string text) {
  server::HttpResponse r;
  r.status = status;
  r.SetHeader("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(text);
  return r;
}

void Harden(server::HttpResponse& r) {
  r.SetHeader("Content-Security-Policy", std::string(kContentSecurityPolicy));
  r.SetHeader("X-Content-Type-Options", "nosniff");
  r.SetHeader("X-Frame-Options", "DENY");
  r.SetHeader("Referrer-Policy", "no-referrer");
  r.SetHeader("Cross-Origin-Opener-Policy", "same-origin");
}

}  // namespace

Result<ConsoleFiles> ConsoleFiles::Load(const std::string& dir) {
  ConsoleFiles console;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return console;
  std::map<std::string, std::string> contents;  // every regular file, by relative path
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    std::string relative = fs::relative(it->path(), dir, ec).generic_string();
    if (ec) break;
    // Hidden files (the build's own stamps) are not part of the console.
    if (relative.starts_with('.') || relative.find("/.") != std::string::npos) continue;
    LAMBKIN_ASSIGN_OR_RETURN(std::string data, ReadWholeFile(it->path().string()));
    contents.emplace(std::move(relative), std::move(data));
  }
  if (ec) return Status(StatusCode::kInternal, "console: cannot list " + dir + ": " + ec.message());
  for (auto& [name, data] : contents) {
    if (name.ends_with(".gz") || name.ends_with(".br")) continue;
    File f;
    f.content_type = ContentType(name);
    f.etag = "\"" + Sha256Hex(data).substr(0, 32) + "\"";
    // Vite names what it emits under assets/ by content hash: such a name never changes meaning.
    f.immutable = name.starts_with("assets/");
    if (auto gz = contents.find(name + ".gz"); gz != contents.end()) f.gzip = std::move(gz->second);
    if (auto br = contents.find(name + ".br"); br != contents.end()) {
      f.brotli = std::move(br->second);
    }
    f.identity = std::move(data);
    console.files_.emplace(name, std::move(f));
  }
  return console;
}

std::optional<server::HttpResponse> ConsoleFiles::Handle(const server::HttpRequest& request) const {
  if (request.path.empty() || request.path[0] != "console") return std::nullopt;
  server::HttpResponse r;
  Harden(r);
  if (request.method != "GET" && request.method != "HEAD") {
    r = Plain(405, "Method Not Allowed\n");
    Harden(r);
    r.SetHeader("Allow", "GET, HEAD");
    return r;
  }
  // /console → /console/ (relative URLs in the page resolve below it).
  if (request.path.size() == 1 && !request.raw_path.ends_with('/')) {
    r.status = 308;
    r.SetHeader("Location", "/console/");
    return r;
  }
  std::string name;
  for (size_t i = 1; i < request.path.size(); ++i) {
    if (!name.empty()) name += '/';
    name += request.path[i];
  }
  if (name.empty()) name = "index.html";
  auto it = files_.find(name);
  if (it == files_.end()) {
    r = Plain(404, files_.empty() ? "The console is not built: run `make build` (it needs npm), "
                                    "or start `lambkin serve --console DIR`.\n"
                                  : "Not Found\n");
    Harden(r);
    return r;
  }
  const File& f = it->second;
  r.SetHeader("Content-Type", f.content_type);
  r.SetHeader("Cache-Control", f.immutable ? "public, max-age=31536000, immutable" : "no-cache");
  r.SetHeader("ETag", f.etag);
  r.SetHeader("Vary", "Accept-Encoding");
  if (std::optional<std::string> match = request.Header("if-none-match");
      match && match->find(f.etag) != std::string::npos) {
    r.status = 304;
    return r;
  }
  std::string accept = request.Header("accept-encoding").value_or("");
  const std::string* body = &f.identity;
  if (!f.brotli.empty() && Quality(accept, "br") > 0) {
    body = &f.brotli;
    r.SetHeader("Content-Encoding", "br");
  } else if (!f.gzip.empty() && Quality(accept, "gzip") > 0) {
    body = &f.gzip;
    r.SetHeader("Content-Encoding", "gzip");
  }
  if (request.method == "HEAD") {
    r.head_length = body->size();
  } else {
    r.body = *body;
  }
  return r;
}

}  // namespace lambkin::console
