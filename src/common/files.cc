#include "common/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string_view>

#include <fmt/format.h>

#include "common/crypto.h"

namespace lambkin {

namespace {

// Calls `chunk` with each piece of the file at `path`.
Status ReadPieces(const std::string& path, const std::function<void(std::string_view)>& chunk) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFound(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  std::string buf(1 << 16, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string error = std::strerror(errno);
      ::close(fd);
      return Internal(fmt::format("cannot read {}: {}", path, error));
    }
    if (n == 0) break;
    chunk(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
  return Status::Ok();
}

}  // namespace

Result<std::string> ReadWholeFile(const std::string& path) {
  std::string out;
  LAMBKIN_RETURN_IF_ERROR(ReadPieces(path, [&](std::string_view piece) { out.append(piece); }));
  return out;
}

Result<std::string> Sha256FileHex(const std::string& path, int64_t* size) {
  Sha256Hasher hasher;
  *size = 0;
  LAMBKIN_RETURN_IF_ERROR(ReadPieces(path, [&](std::string_view piece) {
    hasher.Update(piece);
    *size += static_cast<int64_t>(piece.size());
  }));
  return HexEncode(hasher.Finish());
}

}  // namespace lambkin
