#include "exec/environment.h"

#include <gtest/gtest.h>

#include <set>
#include <utility>

#include "exec/sandbox.h"

namespace lambkin::exec {
namespace {

constexpr EnvState kAll[] = {EnvState::kInitializing, EnvState::kReady, EnvState::kInvoking,
                             EnvState::kAwaitingNext, EnvState::kStopped};

// Every edge of the execution environment's state machine, and only these, is allowed.
TEST(EnvStateTest, TransitionTableIsExactlyTheLifecycle) {
  const std::set<std::pair<EnvState, EnvState>> allowed = {
      {EnvState::kInitializing, EnvState::kReady},    {EnvState::kReady, EnvState::kInvoking},
      {EnvState::kInvoking, EnvState::kAwaitingNext}, {EnvState::kAwaitingNext, EnvState::kReady},
      {EnvState::kInitializing, EnvState::kStopped},  {EnvState::kReady, EnvState::kStopped},
      {EnvState::kInvoking, EnvState::kStopped},      {EnvState::kAwaitingNext, EnvState::kStopped},
  };
  for (EnvState from : kAll) {
    for (EnvState to : kAll) {
      EXPECT_EQ(EnvTransitionAllowed(from, to), allowed.contains({from, to}))
          << EnvStateName(from) << " -> " << EnvStateName(to);
    }
  }
}

TEST(SandboxTest, MountsCodeAndRuntimeReadOnlyAndIsolates) {
  SandboxSpec spec{"/usr/bin/bwrap", "/data/code/abc", "/data/runtime-versions/def", 512LL << 20};
  std::vector<std::string> a = SandboxArgv(spec);
  auto has_seq = [&](std::vector<std::string> seq) {
    return std::search(a.begin(), a.end(), seq.begin(), seq.end()) != a.end();
  };
  EXPECT_EQ(a.front(), "/usr/bin/bwrap");
  EXPECT_EQ(a.back(), "/var/runtime/bootstrap");
  EXPECT_TRUE(has_seq({"--ro-bind", "/data/code/abc", "/var/task"}));
  EXPECT_TRUE(has_seq({"--ro-bind", "/data/runtime-versions/def", "/var/runtime"}));
  EXPECT_TRUE(has_seq({"--size", std::to_string(512LL << 20), "--tmpfs", "/tmp"}));
  for (const char* flag :
       {"--unshare-user", "--unshare-pid", "--die-with-parent", "--new-session"}) {
    EXPECT_TRUE(has_seq({flag})) << flag;
  }
  EXPECT_TRUE(has_seq({"--cap-drop", "ALL"}));
  EXPECT_FALSE(has_seq({"--ro-bind", "/", "/"})) << "the host's root must not be visible";
}

}  // namespace
}  // namespace lambkin::exec
