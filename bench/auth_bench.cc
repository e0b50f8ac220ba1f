// Signed and authorised request throughput as a ratio of unsigned development-mode throughput,
// measured in the same run (aim >= 0.8).
//
//   auth_bench --lambkin build/src/lambkin [--seconds 3] [--connections 4] [--rounds 4]
//
// Two real servers on fresh data directories: one with `--auth none` (nothing verified, no
// policy evaluated) driven with unsigned requests, one with SigV4 and IAM where the caller is a
// user with a conditional identity policy in an account two levels down an organisation whose
// root, OU and account each carry SCPs, one of them the high-compliance deny with a
// resource-tag condition. Both answer GetRuntimeManagementConfig on the same function, so every
// policy is evaluated but the deny's conditions are not reached (conditions are looked at only
// when a statement's action and resource match) and the function's tags are never read. The
// client signs each distinct request once, as a signature stays valid for 15 minutes; the
// server verifies every one. The rounds alternate between the servers.
//
// Then the same for the operator API: signed operator calls by the same user (allowed
// lambkin:Get* and lambkin:List* by its identity policy, under the same SCPs) against the same
// calls unsigned under --auth none: GetClock (the cheapest operation, so the ratio is mostly
// authentication and authorisation) and ListRuntimeVersions.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "bench_util.h"
#include "common/crypto.h"

namespace {

using lambkin::bench::Credentials;

constexpr char kBenchKey[] = "AKIABENCH0000000001";
constexpr char kBenchSecret[] = "bench-secret";

// The organisation and the bench user (account 123456789012 is the server's default account).
constexpr char kDeclaration[] = R"({
  "organization": {
    "management_account": "999999999999",
    "root": {"units": {"Workloads": {"accounts": ["123456789012"]}}},
    "policies": {
      "DenyRuntimePinning": {"targets": ["Workloads"], "document": {"Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "lambda:PutRuntimeManagementConfig",
          "Resource": "arn:aws:lambda:*:*:function:*",
          "Condition": {"StringNotEquals": {"aws:ResourceTag/runtime-pin-exception": "approved"},
                        "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/BreakGlass"}}}]}},
      "RegionGuard": {"targets": ["Root", "Workloads", "123456789012"], "document": {"Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "NotAction": ["lambda:*", "logs:*", "cloudwatch:*", "lambkin:*"],
          "Resource": "*"},
          {"Effect": "Deny", "Action": "*", "Resource": "*",
           "Condition": {"StringNotLike": {"aws:RequestedRegion": ["us-*", "eu-*"]}}}]}}
    }
  },
  "accounts": {"123456789012": {"users": {"bench": {
    "policies": {"Read": {"Version": "2012-10-17", "Statement": [
      {"Effect": "Allow", "Action": ["lambda:Get*", "lambda:List*"],
       "Resource": "arn:aws:lambda:*:123456789012:function:*",
       "Condition": {"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}},
      {"Effect": "Allow", "Action": ["lambkin:Get*", "lambkin:List*"], "Resource": "*",
       "Condition": {"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}}]}},
    "access_keys": [{"id": "AKIABENCH0000000001", "secret": "bench-secret"}]}}}}
})";

// Operator calls measured, each with its target.
constexpr std::pair<const char*, const char*> kOperatorCalls[] = {
    {"GetClock", "/lambkin/v1/clock"},
    {"ListRuntimeVersions", "/lambkin/v1/runtime-versions?region=us-east-1"},
};

constexpr char kLambdaTarget[] =
    "/2021-07-20/functions/bench/runtime-management-config?Qualifier=%24LATEST";

// One call's throughput on both servers, rounds alternating between them.
struct Comparison {
  int rounds = 0;
  double best_open = 0;
  double best_guarded = 0;
  // Server CPU per request: steadier than throughput on a busy machine.
  double cpu_open = 0;
  double cpu_guarded = 0;
  double requests_open = 0;
  double requests_guarded = 0;

  void Print(const char* guarded_name) const {
    std::printf("  unsigned (--auth none): %10.0f req/s (best of %d)\n", best_open, rounds);
    std::printf("  %s: %10.0f req/s\n", guarded_name, best_guarded);
    std::printf("  ratio signed+authorised / unsigned: %.2f (aim >= 0.8)\n",
                best_guarded / best_open);
    double us_open = cpu_open / requests_open * 1e6;
    double us_guarded = cpu_guarded / requests_guarded * 1e6;
    std::printf(
        "  server CPU per request: unsigned %.1f us, signed + authorised %.1f us (ratio %.2f)\n",
        us_open, us_guarded, us_open / us_guarded);
  }
};

Comparison Compare(const lambkin::bench::Server& open, const lambkin::bench::Server& guarded,
                   const std::string& target, int connections, double seconds, int rounds,
                   const Credentials& unsigned_requests, const Credentials& bench_user) {
  Comparison c;
  c.rounds = rounds;
  lambkin::bench::Throughput(open.port, target, connections, 0.5, unsigned_requests);
  lambkin::bench::Throughput(guarded.port, target, connections, 0.5, bench_user);
  for (int r = 0; r < rounds; ++r) {
    double before = lambkin::bench::CpuSeconds(open.pid);
    double o =
        lambkin::bench::Throughput(open.port, target, connections, seconds, unsigned_requests);
    c.cpu_open += lambkin::bench::CpuSeconds(open.pid) - before;
    c.requests_open += o * seconds;
    before = lambkin::bench::CpuSeconds(guarded.pid);
    double g = lambkin::bench::Throughput(guarded.port, target, connections, seconds, bench_user);
    c.cpu_guarded += lambkin::bench::CpuSeconds(guarded.pid) - before;
    c.requests_guarded += g * seconds;
    std::printf("  round %d %s: unsigned %8.0f req/s, signed + authorised %8.0f req/s\n", r + 1,
                target.c_str(), o, g);
    c.best_open = std::max(c.best_open, o);
    c.best_guarded = std::max(c.best_guarded, g);
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  std::string binary = "build/src/lambkin";
  double seconds = 3;
  int connections = 4;
  int rounds = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--lambkin")) binary = argv[i + 1];
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    if (!std::strcmp(argv[i], "--connections")) connections = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
  }
  std::string declaration =
      std::filesystem::temp_directory_path() / ("lambkin-auth-bench-" + lambkin::RandomUuid());
  std::ofstream(declaration) << kDeclaration;

  Credentials unsigned_requests;
  unsigned_requests.sign = false;
  Credentials bench_user{kBenchKey, kBenchSecret, true};
  lambkin::bench::Server open = lambkin::bench::StartServer(binary, "--auth none");
  lambkin::bench::Server guarded = lambkin::bench::StartServer(binary, "--iam " + declaration);
  lambkin::bench::CreateBenchFunction(open.port, unsigned_requests);
  lambkin::bench::CreateBenchFunction(guarded.port,
                                      Credentials{});  // the development user, now in the OU
  std::printf("connections: %d, %.1f s per round, best of %d rounds\n", connections, seconds,
              rounds);

  Comparison lambda_api = Compare(open, guarded, kLambdaTarget, connections, seconds, rounds,
                                  unsigned_requests, bench_user);
  std::printf("Lambda API: GetRuntimeManagementConfig\n");
  lambda_api.Print("SigV4 + IAM (3 SCP levels, tag condition)");
  for (const auto& [name, target] : kOperatorCalls) {
    Comparison operator_api =
        Compare(open, guarded, target, connections, seconds, rounds, unsigned_requests, bench_user);
    std::printf("\noperator API: %s (GET %s)\n", name, target);
    operator_api.Print("SigV4 + IAM (lambkin: action, 3 SCP levels)");
  }
  lambkin::bench::StopServer(open);
  lambkin::bench::StopServer(guarded);
  std::filesystem::remove(declaration);
  return 0;
}
