#include "common/time_format.h"

#include <cstdio>
#include <ctime>
#include <limits>

namespace lynx {

namespace {

// The text of one second: "YYYY-MM-DDTHH:MM:SS" and the zone suffix ("Z" or "+hh:mm").
struct SecondText {
  time_t secs = std::numeric_limits<time_t>::min();  // no second formatted yet
  char prefix[48] = {};
  size_t prefix_len = 0;
  char zone[16] = {};
  size_t zone_len = 0;
};

void FormatSecond(time_t secs, SecondText* out) {
  struct tm local;
  localtime_r(&secs, &local);
  out->prefix_len = strftime(out->prefix, sizeof out->prefix, "%Y-%m-%dT%H:%M:%S", &local);
  const long off = local.tm_gmtoff;
  if (off == 0) {
    out->zone_len = static_cast<size_t>(snprintf(out->zone, sizeof out->zone, "Z"));
  } else {
    const char sign = off < 0 ? '-' : '+';
    const long a = off < 0 ? -off : off;
    out->zone_len = static_cast<size_t>(
        snprintf(out->zone, sizeof out->zone, "%c%02ld:%02ld", sign, a / 3600, (a % 3600) / 60));
  }
  out->secs = secs;
}

}  // namespace

std::string FormatRfc3339(UnixMs t) {
  const time_t secs = static_cast<time_t>(t >= 0 ? t / 1000 : (t - 999) / 1000);
  const int ms = static_cast<int>(t - static_cast<int64_t>(secs) * 1000);
  // Every stored row carries several times of the same second: localtime_r (which takes glibc's
  // time-zone lock) and strftime ran for each and were 4% of dtmd's CPU under load. A second's
  // text cannot change within that second, so each thread keeps the last one it formatted.
  thread_local SecondText last;
  if (last.secs != secs) FormatSecond(secs, &last);
  std::string out;
  out.reserve(last.prefix_len + 4 + last.zone_len);
  out.append(last.prefix, last.prefix_len);
  if (ms != 0) {
    // Go trims trailing zeros of the fraction.
    char frac[4] = {'.', static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
                    static_cast<char>('0' + ms % 10)};
    size_t len = 4;
    while (frac[len - 1] == '0') --len;
    out.append(frac, len);
  }
  out.append(last.zone, last.zone_len);
  return out;
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
