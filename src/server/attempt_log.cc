#include "server/attempt_log.h"

#include "server/metrics.h"
#include "server/security/redact.h"

namespace lynx::server {

namespace {

constexpr size_t kMaxKeyBytes = 128;

// Invalid UTF-8 and NUL bytes become '?': the text goes into text columns (PostgreSQL, MySQL)
// and JSON (Redis, the API), which take neither.
std::string ValidUtf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    bool ok = len > 0 && c != 0 && i + len <= s.size() && !(len == 2 && c < 0xC2);
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    }
    if (ok && len == 3) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);  // overlong, surrogates
    }
    if (ok && len == 4) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      ok = c <= 0xF4 && !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
    }
    if (!ok) {
      out.push_back('?');
      ++i;
      continue;
    }
    out.append(s, i, len);
    i += len;
  }
  return out;
}

}  // namespace

const char* AttemptOutcome(const Status& status) {
  if (status.ok()) return "SUCCESS";
  if (status.IsFailure()) return "FAILURE";
  if (status.IsOngoing()) return "ONGOING";
  return "ERROR";
}

AttemptLog::AttemptLog(StoreRunner& store, Metrics* metrics, int64_t keep_per_branch,
                       size_t capacity, size_t max_detail_bytes)
    : BatchQueue(
          store, "attempt history",
          {.capacity = capacity,
           .batch_rows = 1000,
           .collect_ms = 200,
           .poll_ms = 20,
           .attempts = 3},
          [keep_per_branch](store::Store& s, const std::vector<store::BranchAttempt>& rows) {
            return s.AddAttempts(rows, keep_per_branch);
          },
          {},
          [metrics](size_t rows, bool written) {
            if (metrics != nullptr) {
              metrics->ObserveAttempts(static_cast<int64_t>(rows), written ? "written" : "dropped");
            }
          }),
      metrics_(metrics),
      max_detail_bytes_(max_detail_bytes) {}

void AttemptLog::Record(store::BranchAttempt attempt, const Status& status) {
  attempt.outcome = AttemptOutcome(status);
  attempt.detail = ValidUtf8(QuoteLimited(status.message(), max_detail_bytes_));
  attempt.target = ValidUtf8(attempt.target);
  // The key columns are 128 bytes wide on the SQL stores; a workflow's name (the op of its
  // resume) is the one that may be longer. One row the store refuses would cost its whole batch.
  for (std::string* key : {&attempt.gid, &attempt.branch_id, &attempt.op}) {
    if (key->size() > kMaxKeyBytes) *key = ValidUtf8(key->substr(0, kMaxKeyBytes));
  }
  if (!Enqueue(std::move(attempt)) && metrics_ != nullptr) metrics_->ObserveAttempts(1, "overflow");
}

}  // namespace lynx::server
