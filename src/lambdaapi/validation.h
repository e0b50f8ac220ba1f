// Model constraints of the Lambda API and the ValidationException they produce.
//
// A Validator collects every constraint failure of one request, in the order checked, and
// turns them into AWS's message: "1 validation error detected: Value 'x' at 'path' failed to
// satisfy constraint: <constraint>" (several joined by "; " under "<n> validation errors
// detected"). Patterns are the service model's, matched against the whole value.
// Not thread-safe (one per request); the shape table is immutable and shared.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lambkin::lambdaapi {

struct StringShape {
  std::string_view pattern;  // model pattern, empty for none
  size_t min_length;
  size_t max_length;
};

namespace shapes {
extern const StringShape kFunctionName;
extern const StringShape kNamespacedFunctionName;
extern const StringShape kQualifier;  // NumericLatestPublishedOrAliasQualifier
extern const StringShape kAlias;
extern const StringShape kAliasFunctionVersion;  // VersionWithLatestPublished
extern const StringShape kAdditionalVersion;
extern const StringShape kRuntimeVersionArn;
extern const StringShape kRoleArn;
extern const StringShape kDestinationArn;  // DestinationConfig's OnSuccess / OnFailure
extern const StringShape kHandler;
extern const StringShape kDescription;
extern const StringShape kEnvironmentVariableName;
extern const StringShape kSubnetId;
extern const StringShape kSecurityGroupId;
extern const StringShape kKmsKeyArn;  // also ResourceArn (DeadLetterConfig.TargetArn)
extern const StringShape kLogGroup;
extern const StringShape kTaggableResource;
extern const StringShape kLayerName;
extern const StringShape kLayerVersionArn;
extern const StringShape kStatementId;
extern const StringShape kLayerPrincipal;  // LayerPermissionAllowedPrincipal
extern const StringShape kOrganizationId;
extern const StringShape kLayerAction;  // LayerPermissionAllowedAction
extern const StringShape kLicenseInfo;
extern const StringShape kMasterRegion;  // ListFunctions' MasterRegion
// AddPermission / RemovePermission.
extern const StringShape kNamespacedStatementId;
extern const StringShape kAction;
extern const StringShape kPrincipal;
extern const StringShape kSourceArn;  // Arn
extern const StringShape kSourceOwner;
extern const StringShape kEventSourceToken;
extern const StringShape kPrincipalOrgId;
// Function URL operations.
extern const StringShape kFunctionUrlFunctionName;
extern const StringShape kFunctionUrlQualifier;
}  // namespace shapes

// Whole-string match of `value` against the shape's pattern.
bool MatchesPattern(const StringShape& shape, std::string_view value);

class Validator {
 public:
  // Length then pattern, each failure recorded separately.
  void String(std::string_view path, std::string_view value, const StringShape& shape);
  void Range(std::string_view path, int64_t value, int64_t min, int64_t max);
  void Enum(std::string_view path, std::string_view value,
            const std::vector<std::string_view>& allowed);
  void NotNull(std::string_view path);
  // Records a failure with a ready-made value text and constraint.
  void Fail(std::string_view value_text, std::string_view path, std::string_view constraint);

  bool ok() const { return errors_.empty(); }
  // OK, or a kValidation status with AWS's message.
  Status ToStatus() const;

 private:
  std::vector<std::string> errors_;
};

// "1 validation error detected: <one>" as a kValidation status.
Status ValidationError(std::string_view value_text, std::string_view path,
                       std::string_view constraint);

}  // namespace lambkin::lambdaapi
