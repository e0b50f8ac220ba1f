// Container images in the Lambda API: Code.ImageUri / ImageUri checked as AWS checks an ECR
// URI, pulled (every blob verified) before the function changes, and ImageConfig.
#include <cstdio>

#include <fmt/format.h>

#include "catalog/catalog.h"
#include "common/log.h"
#include "images/image_store.h"
#include "lambdaapi/api.h"
#include "lambdaapi/errors.h"
#include "oci/registry_client.h"

namespace lambkin::lambdaapi {

namespace {

constexpr size_t kMaxImageConfigItems = 1500;
constexpr size_t kMaxWorkingDirectory = 1000;

std::string NotValid(std::string_view uri) {
  return fmt::format("Source image {} is not valid. Provide a valid source image.", uri);
}

std::string NotSupported(std::string_view uri) {
  return fmt::format(
      "The image manifest, config or layer media type for the source image {} is not supported.",
      uri);
}

// AWS takes only <registry>/<repository>(:<tag>|@<digest>): the registry host must be written
// (no Docker Hub default), and so must a tag or a digest (no implied "latest").
Result<oci::ImageReference> ParseImageUri(std::string_view uri) {
  size_t slash = uri.find('/');
  if (slash == std::string_view::npos) return InvalidParameter(NotValid(uri));
  std::string_view host = uri.substr(0, slash);
  if (host.find('.') == std::string_view::npos && host.find(':') == std::string_view::npos &&
      host != "localhost") {
    return InvalidParameter(NotValid(uri));
  }
  std::string_view path = uri.substr(slash + 1);
  if (path.find('@') == std::string_view::npos && path.find(':') == std::string_view::npos) {
    return InvalidParameter(NotValid(uri));
  }
  Result<oci::ImageReference> ref = oci::ParseImageReference(uri);
  if (!ref.ok()) return InvalidParameter(NotValid(uri));
  return ref;
}

// A pull's failure as the Lambda API answers it (images.md §1.3).
Status PullFailure(std::string_view uri, const Status& s) {
  const std::string& detail = s.message();
  // AWS's texts hide the cause; the operator's log keeps it.
  log::Warning("", fmt::format("cannot deploy image {}: {}", uri, detail));
  switch (s.code()) {
    case StatusCode::kResourceNotFound:
      // An index without the function's platform is an unsupported image, not a missing one.
      if (detail.find("index") != std::string::npos) return InvalidParameter(NotSupported(uri));
      return InvalidParameter(
          fmt::format("Source image {} does not exist. Provide a valid source image.", uri));
    case StatusCode::kAccessDenied:
      return {StatusCode::kAccessDenied,
              "Lambda does not have permission to access the ECR image. Check the ECR "
              "permissions."};
    case StatusCode::kInvalidParameterValue:
      // What the registry sent is not what it said it was: never run it.
      if (detail.find("hashes to") != std::string::npos ||
          detail.find("does not match") != std::string::npos ||
          detail.find("larger than") != std::string::npos ||
          detail.find("not the diff_id") != std::string::npos ||
          detail.find("bytes; its index says") != std::string::npos) {
        return InvalidParameter(fmt::format(
            "Source image {} failed verification: {}. Lambkin does not deploy an image whose "
            "content does not match its digests.",
            uri, detail));
      }
      return InvalidParameter(NotSupported(uri));
    default:
      return {StatusCode::kUnavailable,
              fmt::format("Lambkin could not pull the source image {}: {}. Try again later.", uri,
                          detail)};
  }
}

}  // namespace

Result<functions::ImageCode> PullImageCode(const ApiContext& ctx, std::string_view uri,
                                           catalog::Architecture arch) {
  if (ctx.images == nullptr) {
    return InvalidParameter("This Lambkin server runs no container images (no image store).");
  }
  LAMBKIN_ASSIGN_OR_RETURN(oci::ImageReference ref, ParseImageUri(uri));
  oci::Platform platform{"linux",
                         std::string(oci::OciArchitecture(catalog::ArchitectureName(arch))), ""};
  Result<images::PulledImage> pulled = ctx.images->Pull(ref, platform);
  if (!pulled.ok()) return PullFailure(uri, pulled.status());
  if (pulled->from_index && ctx.strict_image_index) return InvalidParameter(NotSupported(uri));
  // Unpacked now, as AWS "optimizes" an image before the function goes Active: the first
  // invocation on this node then starts as fast as a .zip function's.
  std::string repository = fmt::format("{}/{}", ref.registry, ref.repository);
  Result<images::LocalImage> local =
      ctx.images->Local(repository, pulled->image.descriptor.digest, platform);
  if (!local.ok()) return PullFailure(uri, local.status());
  functions::ImageCode code;
  code.uri = std::string(uri);
  code.digest = pulled->image.descriptor.digest;
  code.base = ctx.catalog->RecognizeBase(pulled->image).value_or(0);
  return code;
}

Result<std::optional<functions::ImageConfigOverrides>> ParseImageConfigMember(const Body& body,
                                                                              Validator& v) {
  using Overrides = functions::ImageConfigOverrides;
  LAMBKIN_ASSIGN_OR_RETURN(const nlohmann::json* config, body.Object("ImageConfig"));
  if (config == nullptr) return std::optional<Overrides>();
  Overrides o;
  auto list = [&](const char* key, const char* path,
                  std::optional<std::vector<std::string>>* out) -> Status {
    if (!config->contains(key) || (*config)[key].is_null()) return Status::Ok();
    const nlohmann::json& items = (*config)[key];
    if (!items.is_array())
      return BadContent(fmt::format("member ImageConfig.{} must be a list", key));
    std::vector<std::string> values;
    for (const auto& item : items) {
      if (!item.is_string()) {
        return BadContent(fmt::format("member ImageConfig.{} must be a list of strings", key));
      }
      values.push_back(item.get<std::string>());
    }
    if (values.size() > kMaxImageConfigItems) {
      v.Fail(fmt::format("'[{}]'", fmt::join(values, ", ")), path,
             fmt::format("Member must have length less than or equal to {}", kMaxImageConfigItems));
    }
    *out = std::move(values);
    return Status::Ok();
  };
  LAMBKIN_RETURN_IF_ERROR(list("EntryPoint", "imageConfig.entryPoint", &o.entry_point));
  LAMBKIN_RETURN_IF_ERROR(list("Command", "imageConfig.command", &o.command));
  if (config->contains("WorkingDirectory") && !(*config)["WorkingDirectory"].is_null()) {
    const nlohmann::json& dir = (*config)["WorkingDirectory"];
    if (!dir.is_string()) return BadContent("member ImageConfig.WorkingDirectory must be a string");
    o.working_directory = dir.get<std::string>();
    v.String("imageConfig.workingDirectory", *o.working_directory,
             StringShape{"", 0, kMaxWorkingDirectory});
  }
  return std::optional<Overrides>(std::move(o));
}

}  // namespace lambkin::lambdaapi
