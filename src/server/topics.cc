#include "server/topics.h"

#include <boost/json.hpp>

#include "common/json_util.h"

namespace lynx::server {

StatusOr<std::vector<Subscriber>> DecodeSubscribers(const std::string& v) {
  auto parsed = json::Parse(v);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_array()) return Status::Internal("topic value is not an array");
  std::vector<Subscriber> out;
  for (const auto& e : parsed->get_array()) {
    if (!e.is_object()) return Status::Internal("topic subscriber is not an object");
    Subscriber s;
    Status st = json::GetString(e.get_object(), "url", &s.url);
    if (st.ok()) st = json::GetString(e.get_object(), "remark", &s.remark);
    if (!st.ok()) return st;
    out.push_back(std::move(s));
  }
  return out;
}

std::string EncodeSubscribers(const std::vector<Subscriber>& subs) {
  boost::json::array a;
  for (const auto& s : subs) a.push_back(boost::json::object{{"url", s.url}, {"remark", s.remark}});
  return boost::json::serialize(a);
}

std::vector<std::string> Topics::Urls(const std::string& topic) const {
  std::lock_guard lock(mu_);
  auto it = urls_.find(topic);
  return it == urls_.end() ? std::vector<std::string>{} : it->second;
}

Status Topics::Reload(store::Store& store) {
  auto kvs = store.FindKV("topics", "");
  if (!kvs.ok()) return kvs.status();
  std::map<std::string, std::vector<std::string>> urls;
  std::map<std::string, int64_t> versions;
  {
    std::lock_guard lock(mu_);
    for (const auto& kv : *kvs) {
      auto v = versions_.find(kv.k);
      if (v != versions_.end() && v->second == kv.version) {
        urls[kv.k] = urls_[kv.k];
        versions[kv.k] = kv.version;
      }
    }
  }
  for (const auto& kv : *kvs) {
    if (versions.count(kv.k)) continue;
    auto subs = DecodeSubscribers(kv.v);
    if (!subs.ok()) continue;  // a corrupt topic is skipped, not fatal
    auto& list = urls[kv.k];
    for (const auto& s : *subs) list.push_back(s.url);
    versions[kv.k] = kv.version;
  }
  std::lock_guard lock(mu_);
  urls_ = std::move(urls);
  versions_ = std::move(versions);
  return Status::Ok();
}

}  // namespace lynx::server
