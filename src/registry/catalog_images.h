// What the registry serves: every runtime version published from an image, under the
// repository and tag of its name (python:3.11.v2 → repository python, tag 3.11.v2), and per
// runtime a moving tag (3.11, 20, al2023) for its newest version that is not blocked.
#pragma once

#include "catalog/catalog.h"
#include "registry/registry_api.h"

namespace lambkin::registry {

class CatalogImages : public ImageSource {
 public:
  explicit CatalogImages(const catalog::Catalog* catalog) : catalog_(catalog) {}
  std::vector<std::string> Repositories() const override;
  std::vector<std::string> Tags(std::string_view repository) const override;
  std::optional<oci::Descriptor> Resolve(std::string_view repository,
                                         std::string_view reference) const override;

 private:
  const catalog::Catalog* catalog_;
};

}  // namespace lambkin::registry
