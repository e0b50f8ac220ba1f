// ConsoleFiles: the web console's built files (console/, made by Vite into index.html and
// content-hashed assets, each with precompressed .br and .gz siblings), served at /console/ on
// the server's listener.
//
// The files are read once, at start, from a listing of the directory: a request only ever picks
// one of those names, so no request reaches the filesystem (no traversal, no symlink escape, no
// file written later). Everything here is public: the console holds no secret, and every call
// it makes is signed in the browser and authorised like any other (docs/console.md).
//
// Answers: GET/HEAD of /console/ (index.html) and of each file; /console redirects to
// /console/; an unknown name 404; another method 405. The encoding follows Accept-Encoding
// (br, then gzip, then identity; Vary: Accept-Encoding), hashed assets are cached for a year,
// index.html revalidated (ETag, If-None-Match → 304), and every answer carries a strict Content
// Security Policy (scripts and connections to this origin only, no framing) with nosniff.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "common/status.h"
#include "server/request.h"

namespace lambkin::console {

class ConsoleFiles {
 public:
  // A console without files: every /console request is answered 404 saying how to build it.
  ConsoleFiles() = default;
  // Reads every regular file under `dir` (not following symlinks). An absent directory gives an
  // empty console; an unreadable file is an error.
  static Result<ConsoleFiles> Load(const std::string& dir);

  bool empty() const { return files_.empty(); }
  // The answer for a request under /console, or nullopt for any other path.
  std::optional<server::HttpResponse> Handle(const server::HttpRequest& request) const;

 private:
  struct File {
    std::string identity, gzip, brotli;  // the encodings present ("" when absent)
    std::string content_type;
    std::string etag;
    bool immutable = false;
  };
  std::map<std::string, File, std::less<>> files_;  // by path below the directory ("assets/x.js")
};

}  // namespace lambkin::console
