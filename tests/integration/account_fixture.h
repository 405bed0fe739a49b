// The fixture of the business-side integration tests: the SDK fixture (real dtmd, busi_server, a
// started DTMClient) plus the example's account service with its balances in the database named
// by the test parameter (sqlite, postgres, mysql), both accounts starting at kStartBalance.
// Subclasses serve the service over HTTP or gRPC. Used from the test thread.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "../support/test_databases.h"
#include "account_service.h"
#include "sdk_fixture.h"

namespace lynx::it {

using lynx::example::AccountService;
using lynx::example::kTransInUser;
using lynx::example::kTransOutUser;

inline constexpr int64_t kStartBalance = 1000;

class AccountTest : public SdkTest, public testing::WithParamInterface<std::string> {
 protected:
  // Opens the service on GetParam()'s database (`mysql_db`: the database to use on MariaDB).
  void StartService(const std::string& mysql_db) {
    dtm::DBConf conf;
    if (GetParam() == "sqlite") {
      conf = {.driver = "sqlite", .db = dir_->path() + "/busi.sqlite"};
    } else {
      auto server = testing_dbs::ServerConf(GetParam());
      LYNX_REQUIRE_SERVER(server.has_value(), GetParam());
      conf = *server;
      if (GetParam() == "mysql") conf.db = mysql_db;
    }
    service_ = std::make_unique<AccountService>(conf, &client_->Metrics());
    Status st = service_->Init();
    ASSERT_TRUE(st.ok()) << st.message();
    st = service_->SetBalances({{kTransOutUser, kStartBalance}, {kTransInUser, kStartBalance}});
    ASSERT_TRUE(st.ok()) << st.message();
  }

  void ExpectBalances(int64_t out, int64_t in) {
    auto o = service_->Balance(kTransOutUser);
    auto i = service_->Balance(kTransInUser);
    ASSERT_TRUE(o.ok() && i.ok());
    EXPECT_EQ(*o, out);
    EXPECT_EQ(*i, in);
  }

  bool IsXaDriver() const { return GetParam() != "sqlite"; }

  std::unique_ptr<AccountService> service_;
};

}  // namespace lynx::it
