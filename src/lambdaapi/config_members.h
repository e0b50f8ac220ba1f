// The members of CreateFunction, UpdateFunctionConfiguration, UpdateFunctionCode and
// PublishVersion that configure AWS features beyond the core configuration. Each is either
// honoured in Lambkin's terms (TracingConfig stored and echoed; an empty VpcConfig; LoggingConfig;
// the default SnapStart) or refused with InvalidParameterValueException naming it, so
// nothing a caller sets is silently dropped (docs/behaviour.md lists the decision per member).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "functions/model.h"
#include "lambdaapi/body.h"
#include "lambdaapi/validation.h"

namespace lambkin::lambdaapi {

struct FeatureMembers {
  std::optional<std::string> tracing_mode;  // TracingConfig.Mode
  bool vpc_config = false;                  // an empty VpcConfig was given
  // The whole LoggingConfig, when the request has one (it replaces the version's).
  std::optional<functions::LoggingConfig> logging;
  // The first member Lambkin cannot honour (or that AWS refuses once it is valid), refused once
  // the model constraints (recorded in the Validator) have passed, as AWS reports validation
  // errors first.
  Status refused = Status::Ok();
};

// CreateFunction / UpdateFunctionConfiguration.
Result<FeatureMembers> ParseFeatureMembers(const Body& body, Validator& v);

// UpdateFunctionCode / PublishVersion: SourceKMSKeyArn and PublishTo, refused when set.
Status RefuseCodeFeatureMembers(const Body& body);

}  // namespace lambkin::lambdaapi
