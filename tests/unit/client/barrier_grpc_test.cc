// BranchBarrier::FromGrpc: the barrier named by a gRPC call's dtm-* metadata (Go's
// BarrierFromGrpc).
#include <lynx/dtm/barrier.h>

#include <gtest/gtest.h>

namespace lynx::dtm {
namespace {

std::map<std::string, std::string> FullMetadata() {
  return {{"dtm-trans_type", "tcc"},
          {"dtm-gid", "gid-9"},
          {"dtm-branch_id", "0101"},
          {"dtm-op", "try"},
          {"dtm-dtm", "127.0.0.1:36790"}};
}

TEST(BarrierFromGrpcTest, ReadsTheFourKeys) {
  auto bb = BranchBarrier::FromGrpc(FullMetadata());
  ASSERT_TRUE(bb.ok()) << bb.status().message();
  EXPECT_EQ(bb->trans_type(), "tcc");
  EXPECT_EQ(bb->gid(), "gid-9");
  EXPECT_EQ(bb->branch_id(), "0101");
  EXPECT_EQ(bb->op(), "try");
  EXPECT_EQ(bb->barrier_id(), 0);
}

TEST(BarrierFromGrpcTest, EscapesValuesAsFromQuery) {
  auto md = FullMetadata();
  md["dtm-gid"] = "gid;\r\n-9";
  auto bb = BranchBarrier::FromGrpc(md);
  ASSERT_TRUE(bb.ok()) << bb.status().message();
  EXPECT_EQ(bb->gid(), "gid-9");
}

TEST(BarrierFromGrpcTest, EachMissingOrEmptyKeyIsNamed) {
  for (const char* key : {"dtm-trans_type", "dtm-gid", "dtm-branch_id", "dtm-op"}) {
    auto missing = FullMetadata();
    missing.erase(key);
    auto bb = BranchBarrier::FromGrpc(missing);
    ASSERT_FALSE(bb.ok()) << key;
    EXPECT_EQ(bb.status().code(), StatusCode::kInvalidArgument) << key;
    EXPECT_NE(bb.status().message().find(key), std::string::npos) << bb.status().message();

    auto empty = FullMetadata();
    empty[key] = ";";  // empty once escaped
    bb = BranchBarrier::FromGrpc(empty);
    ASSERT_FALSE(bb.ok()) << key;
    EXPECT_NE(bb.status().message().find(key), std::string::npos) << bb.status().message();
  }
}

TEST(BarrierFromGrpcTest, KeysAreLowerCase) {
  // gRPC delivers metadata keys lower-case; other spellings are not DTM's keys.
  std::map<std::string, std::string> md;
  for (auto& [k, v] : FullMetadata()) md[k == "dtm-gid" ? "DTM-GID" : k] = v;
  EXPECT_FALSE(BranchBarrier::FromGrpc(md).ok());
}

}  // namespace
}  // namespace lynx::dtm
