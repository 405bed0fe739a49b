#include "proc_stats.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace lynx::bench {

namespace {

// "VmHWM:     12345 kB" -> 12345; -1 when the key is missing.
int64_t StatusKb(const std::string& status, const std::string& key) {
  auto pos = status.find("\n" + key + ":");
  if (pos == std::string::npos) return -1;
  std::istringstream in(status.substr(pos + key.size() + 2));
  int64_t kb = -1;
  in >> kb;
  return kb;
}

}  // namespace

std::optional<ProcSample> ReadProc(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream stat_file(dir + "/stat");
  std::string stat;
  if (!std::getline(stat_file, stat)) return std::nullopt;
  // The command name (field 2) is in parentheses and may contain spaces and ')': the fields
  // after the last ')' start with field 3 (state); utime and stime are fields 14 and 15.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 1));
  std::string skip;
  for (int field = 3; field < 14; ++field) fields >> skip;
  uint64_t utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return std::nullopt;

  std::ifstream status_file(dir + "/status");
  std::stringstream status;
  status << "\n" << status_file.rdbuf();

  ProcSample s;
  s.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  s.peak_rss_kb = StatusKb(status.str(), "VmHWM");
  s.rss_kb = StatusKb(status.str(), "VmRSS");
  return s;
}

}  // namespace lynx::bench
