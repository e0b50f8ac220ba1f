#include "lambdaapi/config_members.h"

#include <vector>

#include <fmt/format.h>

#include "lambdaapi/errors.h"

namespace lambkin::lambdaapi {

using nlohmann::json;

namespace {

Status Unsupported(std::string_view member, std::string_view why) {
  return InvalidParameter(fmt::format("Lambkin does not support {}: {}", member, why));
}

// A string member of a nested object: nullopt when absent or null.
Result<std::optional<std::string>> NestedString(const json& object, const char* key,
                                                std::string_view path) {
  if (!object.contains(key) || object[key].is_null()) return std::optional<std::string>();
  if (!object[key].is_string()) return BadContent(fmt::format("member {} must be a string", path));
  return std::optional<std::string>(object[key].get<std::string>());
}

// SubnetIds / SecurityGroupIds: each ID against its shape, reported for the whole list as AWS
// reports a list member's constraints.
Result<std::vector<std::string>> IdList(const json& vpc, const char* key, std::string_view path,
                                        const StringShape& shape, size_t max_items, Validator& v) {
  std::vector<std::string> ids;
  if (!vpc.contains(key) || vpc[key].is_null()) return ids;
  if (!vpc[key].is_array())
    return BadContent(fmt::format("member VpcConfig.{} must be a list", key));
  bool bad = false;
  for (const auto& id : vpc[key]) {
    if (!id.is_string())
      return BadContent(fmt::format("member VpcConfig.{} must hold strings", key));
    ids.push_back(id.get<std::string>());
    const std::string& s = ids.back();
    bad = bad || s.size() > shape.max_length || !MatchesPattern(shape, s);
  }
  std::string text = fmt::format("'[{}]'", fmt::join(ids, ", "));
  if (ids.size() > max_items) {
    v.Fail(text, path, fmt::format("Member must have length less than or equal to {}", max_items));
  }
  if (bad) {
    v.Fail(text, path,
           fmt::format("Member must satisfy constraint: [Member must have length less than or "
                       "equal to {}, Member must have length greater than or equal to {}, Member "
                       "must satisfy regular expression pattern: {}]",
                       shape.max_length, shape.min_length, shape.pattern));
  }
  return ids;
}

void Refuse(FeatureMembers& out, Status status) {
  if (out.refused.ok()) out.refused = std::move(status);
}

Status ParseVpc(const Body& body, Validator& v, FeatureMembers& out) {
  LAMBKIN_ASSIGN_OR_RETURN(const json* vpc, body.Object("VpcConfig"));
  if (vpc == nullptr) return Status::Ok();
  LAMBKIN_ASSIGN_OR_RETURN(
      auto subnets, IdList(*vpc, "SubnetIds", "vpcConfig.subnetIds", shapes::kSubnetId, 16, v));
  LAMBKIN_ASSIGN_OR_RETURN(auto groups,
                           IdList(*vpc, "SecurityGroupIds", "vpcConfig.securityGroupIds",
                                  shapes::kSecurityGroupId, 5, v));
  const json* ipv6 =
      vpc->contains("Ipv6AllowedForDualStack") ? &(*vpc)["Ipv6AllowedForDualStack"] : nullptr;
  if (ipv6 != nullptr && !ipv6->is_null() && !ipv6->is_boolean()) {
    return BadContent("member VpcConfig.Ipv6AllowedForDualStack must be a boolean");
  }
  if (!subnets.empty() || !groups.empty()) {
    Refuse(out, Unsupported("VpcConfig",
                            "it has no VPCs; SubnetIds and SecurityGroupIds must be empty"));
  } else if (ipv6 != nullptr && ipv6->is_boolean() && ipv6->get<bool>()) {
    Refuse(out, Unsupported("VpcConfig.Ipv6AllowedForDualStack", "it has no VPCs"));
  }
  out.vpc_config = true;
  return Status::Ok();
}

Status ParseLogging(const Body& body, Validator& v, FeatureMembers& out) {
  LAMBKIN_ASSIGN_OR_RETURN(const json* logging, body.Object("LoggingConfig"));
  if (logging == nullptr) return Status::Ok();
  LAMBKIN_ASSIGN_OR_RETURN(auto format,
                           NestedString(*logging, "LogFormat", "LoggingConfig.LogFormat"));
  LAMBKIN_ASSIGN_OR_RETURN(auto app_level, NestedString(*logging, "ApplicationLogLevel",
                                                        "LoggingConfig.ApplicationLogLevel"));
  LAMBKIN_ASSIGN_OR_RETURN(
      auto system_level, NestedString(*logging, "SystemLogLevel", "LoggingConfig.SystemLogLevel"));
  LAMBKIN_ASSIGN_OR_RETURN(auto group,
                           NestedString(*logging, "LogGroup", "LoggingConfig.LogGroup"));
  if (format) v.Enum("loggingConfig.logFormat", *format, {"JSON", "Text"});
  if (app_level) {
    v.Enum("loggingConfig.applicationLogLevel", *app_level,
           {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"});
  }
  if (system_level) {
    v.Enum("loggingConfig.systemLogLevel", *system_level, {"DEBUG", "INFO", "WARN"});
  }
  if (group) v.String("loggingConfig.logGroup", *group, shapes::kLogGroup);
  // A LoggingConfig replaces the whole of it: what it leaves out takes its default (Text, the
  // function's own group; INFO for the levels of JSON), as AWS's does.
  functions::LoggingConfig config;
  config.format = format.value_or("Text");
  if (config.Json()) {
    config.application_level = app_level.value_or("INFO");
    config.system_level = system_level.value_or("INFO");
  } else if (app_level || system_level) {
    Refuse(out, InvalidParameter("LogLevel is not supported when LogFormat is set to \"Text\". "
                                 "Remove LogLevel from your request or change the LogFormat to "
                                 "\"JSON\" and try again."));
  }
  config.group = group.value_or("");
  out.logging = std::move(config);
  return Status::Ok();
}

}  // namespace

Result<FeatureMembers> ParseFeatureMembers(const Body& body, Validator& v) {
  FeatureMembers out;
  LAMBKIN_ASSIGN_OR_RETURN(const json* tracing, body.Object("TracingConfig"));
  if (tracing != nullptr) {
    LAMBKIN_ASSIGN_OR_RETURN(auto mode, NestedString(*tracing, "Mode", "TracingConfig.Mode"));
    if (mode) {
      v.Enum("tracingConfig.mode", *mode, {"Active", "PassThrough"});
      out.tracing_mode = mode;
    }
  }
  LAMBKIN_RETURN_IF_ERROR(ParseVpc(body, v, out));
  LAMBKIN_RETURN_IF_ERROR(ParseLogging(body, v, out));

  LAMBKIN_ASSIGN_OR_RETURN(const json* snap_start, body.Object("SnapStart"));
  if (snap_start != nullptr) {
    LAMBKIN_ASSIGN_OR_RETURN(auto apply_on,
                             NestedString(*snap_start, "ApplyOn", "SnapStart.ApplyOn"));
    if (apply_on) v.Enum("snapStart.applyOn", *apply_on, {"PublishedVersions", "None"});
    if (apply_on == "PublishedVersions") {
      Refuse(out, Unsupported("SnapStart.ApplyOn PublishedVersions",
                              "environments are started from the code, not from snapshots"));
    }
  }
  LAMBKIN_ASSIGN_OR_RETURN(const json* dlq, body.Object("DeadLetterConfig"));
  if (dlq != nullptr) {
    LAMBKIN_ASSIGN_OR_RETURN(auto target,
                             NestedString(*dlq, "TargetArn", "DeadLetterConfig.TargetArn"));
    if (target) v.String("deadLetterConfig.targetArn", *target, shapes::kKmsKeyArn);
    if (target && !target->empty()) {
      Refuse(out, Unsupported("DeadLetterConfig",
                              "it has no SQS queues or SNS topics; use an on-failure "
                              "destination of the function's event invoke config"));
    }
  }
  LAMBKIN_ASSIGN_OR_RETURN(auto kms, body.String("KMSKeyArn"));
  if (kms) v.String("kMSKeyArn", *kms, shapes::kKmsKeyArn);
  if (kms && !kms->empty()) {
    Refuse(out, Unsupported("KMSKeyArn", "it has no KMS keys to encrypt environment variables"));
  }
  LAMBKIN_ASSIGN_OR_RETURN(const json* file_systems, body.Array("FileSystemConfigs"));
  if (file_systems != nullptr && !file_systems->empty()) {
    Refuse(out, Unsupported("FileSystemConfigs", "it has no EFS file systems"));
  }
  LAMBKIN_ASSIGN_OR_RETURN(auto signing, body.String("CodeSigningConfigArn"));
  if (signing && !signing->empty()) {
    Refuse(out, Unsupported("CodeSigningConfigArn", "it has no code signing configs"));
  }
  for (const char* member :
       {"TenancyConfig", "CapacityProviderConfig", "DurableConfig", "PublishTo"}) {
    if (body.Has(member)) Refuse(out, Unsupported(member, "this feature is not implemented"));
  }
  return out;
}

Status RefuseCodeFeatureMembers(const Body& body) {
  LAMBKIN_ASSIGN_OR_RETURN(auto kms, body.String("SourceKMSKeyArn"));
  if (kms && !kms->empty()) {
    return Unsupported("SourceKMSKeyArn", "it has no KMS keys; code packages are not encrypted");
  }
  if (body.Has("PublishTo")) return Unsupported("PublishTo", "this feature is not implemented");
  return Status::Ok();
}

}  // namespace lambkin::lambdaapi
