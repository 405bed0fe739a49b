#include "common/time_format.h"

#include <cstdio>
#include <ctime>

namespace lynx {

std::string FormatRfc3339(UnixMs t) {
  time_t secs = static_cast<time_t>(t >= 0 ? t / 1000 : (t - 999) / 1000);
  int ms = static_cast<int>(t - static_cast<int64_t>(secs) * 1000);
  struct tm local;
  localtime_r(&secs, &local);
  long off = local.tm_gmtoff;
  char buf[64];
  int n = static_cast<int>(strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &local));
  if (ms != 0) {
    // Go trims trailing zeros of the fraction.
    char frac[8];
    snprintf(frac, sizeof frac, ".%03d", ms);
    int len = 4;
    while (len > 1 && frac[len - 1] == '0') --len;
    frac[len] = '\0';
    n += snprintf(buf + n, sizeof buf - n, "%s", frac);
  }
  if (off == 0) {
    snprintf(buf + n, sizeof buf - n, "Z");
  } else {
    char sign = off < 0 ? '-' : '+';
    long a = off < 0 ? -off : off;
    snprintf(buf + n, sizeof buf - n, "%c%02ld:%02ld", sign, a / 3600, (a % 3600) / 60);
  }
  return buf;
}

std::optional<UnixMs> ParseRfc3339(std::string_view text) {
  std::string s(text);
  int y, mo, d, h, mi, sec;
  int consumed = 0;
  if (sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &consumed) != 6) {
    return std::nullopt;
  }
  size_t pos = static_cast<size_t>(consumed);
  int64_t ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    int64_t frac = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) frac = frac * 10 + (s[pos] - '0'), ++digits;
      ++pos;
    }
    while (digits < 3) frac *= 10, ++digits;
    ms = frac;
  }
  long offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (sscanf(s.c_str() + pos + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset = (oh * 3600L + om * 60L) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  struct tm tm = {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  time_t utc = timegm(&tm);
  return (static_cast<int64_t>(utc) - offset) * 1000 + ms;
}

}  // namespace lynx
