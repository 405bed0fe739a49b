// The measured server's CPU time and memory, read from /proc (Linux): the benchmark reports what
// the server spent per transaction and how large it grew, not guesses.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace lynx::bench {

struct ProcSample {
  double cpu_seconds = 0;   // utime + stime of all its threads so far
  int64_t peak_rss_kb = 0;  // VmHWM: the high-water mark of its resident set
  int64_t rss_kb = 0;       // VmRSS: resident now
};

// nullopt when the process does not exist (or /proc is unreadable).
std::optional<ProcSample> ReadProc(pid_t pid);

}  // namespace lynx::bench
