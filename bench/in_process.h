// Helpers for the benchmarks that drive Lambkin's libraries in-process (no server): stop on an
// error, time a piece of work, and report the process's peak memory.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "common/status.h"

namespace lambkin::bench {

// Exits the benchmark, naming `what`, when `s` is an error.
inline void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.message().c_str());
    std::exit(1);
  }
}

inline double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Wall time of `fn()` in seconds.
template <typename Fn>
double Time(Fn fn) {
  auto t0 = std::chrono::steady_clock::now();
  fn();
  return Seconds(std::chrono::steady_clock::now() - t0);
}

inline long PeakRssMb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

}  // namespace lambkin::bench
