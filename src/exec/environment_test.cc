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

}  // namespace
}  // namespace lambkin::exec
