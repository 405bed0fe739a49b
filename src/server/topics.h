// Topic -> subscriber URLs, cached from the kv store (cat "topics") for msg `topic://` steps.
// Reloaded every ConfigUpdateInterval (other instances' changes) and right after this instance
// changes a topic. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace lynx::server {

struct Subscriber {
  std::string url;
  std::string remark;
};

// The kv value of a topic: JSON text of [{"url":..,"remark":..}].
StatusOr<std::vector<Subscriber>> DecodeSubscribers(const std::string& v);
std::string EncodeSubscribers(const std::vector<Subscriber>& subs);

class Topics {
 public:
  std::vector<std::string> Urls(const std::string& topic) const;
  // Re-reads every topic from the store (blocking; call from the store runner).
  Status Reload(store::Store& store);

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::string>> urls_;
  std::map<std::string, int64_t> versions_;  // unchanged topics are not re-parsed
};

}  // namespace lynx::server
