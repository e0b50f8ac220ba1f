// Test helper: builds real zip files in memory with libarchive.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <string>
#include <utility>
#include <vector>

namespace lambkin::functions::testing {

inline std::string MakeZip(const std::vector<std::pair<std::string, std::string>>& files) {
  size_t capacity = 4096;
  // Deflate may grow incompressible data a little (a few bytes per 16 KiB block).
  for (const auto& f : files) capacity += f.first.size() + f.second.size() * 101 / 100 + 256;
  std::vector<char> buf(capacity);
  size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  archive_write_open_memory(a, buf.data(), buf.size(), &used);
  for (const auto& [name, content] : files) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0755);
    archive_write_header(a, e);
    archive_write_data(a, content.data(), content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buf.data(), used);
}

}  // namespace lambkin::functions::testing
