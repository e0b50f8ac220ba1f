// LogsApi: the CloudWatch Logs API (AWS JSON 1.1, X-Amz-Target: Logs_20140328.<Operation>)
// over the LogStore: CreateLogGroup, CreateLogStream, DescribeLogGroups, DescribeLogStreams,
// PutLogEvents, GetLogEvents, FilterLogEvents. Errors carry CloudWatch Logs' exception names.
// Thread-safe.
#pragma once

#include <optional>
#include <string>

#include "catalog/regions.h"
#include "iam/authenticator.h"
#include "logs/log_store.h"
#include "logs/log_writer.h"
#include "server/request.h"

namespace lambkin::logsapi {

class LogsApi {
 public:
  // Reads first wait for `writer` to store what it has queued, so a caller sees the log lines
  // of an invocation that has already answered.
  LogsApi(logs::LogStore* store, logs::LogWriter* writer, const iam::Authenticator* auth)
      : store_(store), writer_(writer), auth_(auth) {}
  // nullopt when the request is not a CloudWatch Logs call.
  std::optional<server::HttpResponse> Handle(const server::HttpRequest& request) const;

 private:
  logs::LogStore* store_;
  logs::LogWriter* writer_;
  const iam::Authenticator* auth_;
};

}  // namespace lambkin::logsapi
