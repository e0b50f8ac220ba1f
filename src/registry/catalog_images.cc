#include "registry/catalog_images.h"

#include <algorithm>
#include <set>

namespace lambkin::registry {

namespace {

oci::Descriptor DescriptorOf(const catalog::RuntimeVersion& v) {
  oci::Descriptor d;
  d.media_type = v.image_media_type;
  d.digest = v.image_digest;
  d.size = v.image_size;
  return d;
}

}  // namespace

std::vector<std::string> CatalogImages::Repositories() const {
  std::set<std::string> out;
  for (const auto& v : catalog_->List()) {
    if (!v.image_digest.empty()) out.insert(catalog::ImageRepositoryAndTag(v.name).first);
  }
  return {out.begin(), out.end()};
}

std::vector<std::string> CatalogImages::Tags(std::string_view repository) const {
  std::set<std::string> out;
  for (const auto& v : catalog_->List()) {
    if (v.image_digest.empty()) continue;
    auto [repo, tag] = catalog::ImageRepositoryAndTag(v.name);
    if (repo != repository) continue;
    out.insert(tag);
    if (std::optional<catalog::RuntimeVersion> newest = catalog_->Newest(v.runtime);
        newest && !newest->image_digest.empty()) {
      out.insert(catalog::MovingTag(v.runtime));
    }
  }
  return {out.begin(), out.end()};
}

std::optional<oci::Descriptor> CatalogImages::Resolve(std::string_view repository,
                                                      std::string_view reference) const {
  bool by_digest = oci::IsDigest(reference);
  for (const auto& v : catalog_->List()) {
    if (v.image_digest.empty()) continue;
    auto [repo, tag] = catalog::ImageRepositoryAndTag(v.name);
    if (repo != repository) continue;
    if (by_digest ? v.image_digest == reference : tag == reference) return DescriptorOf(v);
    if (!by_digest && catalog::MovingTag(v.runtime) == reference) {
      std::optional<catalog::RuntimeVersion> newest = catalog_->Newest(v.runtime);
      if (newest && !newest->image_digest.empty()) return DescriptorOf(*newest);
    }
  }
  return std::nullopt;
}

}  // namespace lambkin::registry
