// A plain hiredis connection for tests that read and write a Redis behind the store's back.
#pragma once

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <string>
#include <vector>

#include "../../support/test_databases.h"

namespace lynx::testing_redis {

// A plain connection for reading and writing the store's keys behind its back.
class Raw {
 public:
  explicit Raw(int port) {
    ctx_ = redisConnect(testing_dbs::Host().c_str(), port);
    EXPECT_TRUE(ctx_ != nullptr && ctx_->err == 0);
  }
  ~Raw() {
    if (ctx_ != nullptr) redisFree(ctx_);
  }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  // The reply as text: strings and status as they are, integers in decimal, nil as "(nil)",
  // errors as "ERR:..."; arrays joined with '|'.
  std::string Cmd(const std::vector<std::string>& argv) {
    std::vector<const char*> p;
    std::vector<size_t> n;
    for (const auto& a : argv) {
      p.push_back(a.data());
      n.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), p.data(), n.data()));
    if (r == nullptr) return "ERR:connection";
    std::string out = Text(r);
    freeReplyObject(r);
    return out;
  }
  int64_t Int(const std::vector<std::string>& argv) { return std::stoll(Cmd(argv)); }

 private:
  static std::string Text(const redisReply* r) {
    switch (r->type) {
      case REDIS_REPLY_STRING:
      case REDIS_REPLY_STATUS:
        return std::string(r->str, r->len);
      case REDIS_REPLY_ERROR:
        return "ERR:" + std::string(r->str, r->len);
      case REDIS_REPLY_INTEGER:
        return std::to_string(r->integer);
      case REDIS_REPLY_ARRAY: {
        std::string out;
        for (size_t i = 0; i < r->elements; ++i) out += (i ? "|" : "") + Text(r->element[i]);
        return out;
      }
      default:
        return "(nil)";
    }
  }

  redisContext* ctx_ = nullptr;
};

}  // namespace lynx::testing_redis
