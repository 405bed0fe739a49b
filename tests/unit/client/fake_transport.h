// A scripted stand-in for the client's HTTP transport: records every request and answers the
// first scripted reply whose URL fragment matches (each used once), else 200 SUCCESS. Installed as
// the process default for the lifetime of a test fixture.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/transports/transport.h"

namespace lynx::dtm::testing {

class FakeTransport : public internal::Transport {
 public:
  struct Scripted {
    std::string url_contains;
    int status = 200;
    std::string body;
    bool transport_error = false;
  };

  StatusOr<internal::HttpReply> Do(internal::HttpRequest request) override {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    for (auto it = script_.begin(); it != script_.end(); ++it) {
      if (request.url.find(it->url_contains) == std::string::npos) continue;
      Scripted s = *it;
      script_.erase(it);
      if (s.transport_error) return Status::Unavailable("connect: Connection refused");
      return internal::HttpReply{s.status, s.body};
    }
    return internal::HttpReply{200, R"({"dtm_result":"SUCCESS"})"};
  }

  void Script(std::string url_contains, int status, std::string body) {
    std::lock_guard lock(mu_);
    script_.push_back({std::move(url_contains), status, std::move(body), false});
  }
  void ScriptTransportError(std::string url_contains) {
    std::lock_guard lock(mu_);
    script_.push_back({std::move(url_contains), 0, "", true});
  }
  std::vector<internal::HttpRequest> Requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // "METHOD path-after-host-without-query" of every request, e.g. "POST /api/dtmsvr/prepare".
  std::vector<std::string> Calls() const {
    std::vector<std::string> out;
    for (const auto& r : Requests()) {
      std::string url = r.url;
      size_t scheme = url.find("://");
      size_t path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
      std::string p = path == std::string::npos ? "/" : url.substr(path);
      out.push_back(r.method + " " + p.substr(0, p.find('?')));
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::deque<Scripted> script_;
  std::vector<internal::HttpRequest> requests_;
};

// Installs a FakeTransport as the default transport for the test.
class FakeTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::make_shared<FakeTransport>();
    internal::Transport::SetDefaultForTest(fake_);
  }
  void TearDown() override { internal::Transport::SetDefaultForTest(nullptr); }

  // The value of query parameter `key` in url ("" when absent); values are not decoded.
  static std::string QueryParam(const std::string& url, const std::string& key) {
    size_t q = url.find('?');
    if (q == std::string::npos) return "";
    std::string query = url.substr(q + 1);
    size_t pos = 0;
    while (pos <= query.size()) {
      size_t amp = query.find('&', pos);
      std::string kv = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
      size_t eq = kv.find('=');
      if (kv.substr(0, eq) == key) return eq == std::string::npos ? "" : kv.substr(eq + 1);
      if (amp == std::string::npos) break;
      pos = amp + 1;
    }
    return "";
  }
  static std::string Header(const internal::HttpRequest& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  std::shared_ptr<FakeTransport> fake_;
};

inline constexpr char kDtm[] = "http://dtm.test:36789/api/dtmsvr";
inline constexpr char kBusi[] = "http://busi.test:8081/api/busi";

}  // namespace lynx::dtm::testing
