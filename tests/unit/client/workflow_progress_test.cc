// What a workflow client reads back from DTM is network input: the progress of prepareWorkflow
// (HTTP JSON) is parsed defensively, and step records round-trip their description and bytes.
#include "client/transactions/workflow_progress.h"

#include <gtest/gtest.h>

namespace lynx::dtm::internal {
namespace {

TEST(WorkflowProgressTest, ParsesDtmsReply) {
  auto p = ParseProgressJson(
      R"({"transaction":{"gid":"g","status":"prepared","rollback_reason":"","result":"cmVz"},)"
      R"("progresses":[{"status":"succeed","bin_data":"AP8=","branch_id":"01","op":"action"}]})");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->status, "prepared");
  EXPECT_EQ(p->result, "res");
  ASSERT_EQ(p->steps.size(), 1u);
  EXPECT_EQ(p->steps[0].data, std::string("\0\xff", 2));
  EXPECT_EQ(p->steps[0].branch_id, "01");
  // No progresses (null, as Go marshals an empty slice) is a new workflow.
  auto fresh = ParseProgressJson(R"({"transaction":{"status":"prepared"},"progresses":null})");
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(fresh->steps.empty());
}

TEST(WorkflowProgressTest, HostileRepliesAreErrorsNotCrashes) {
  for (const char* body :
       {"", "null", "[]", "{", R"({"transaction":1})", R"({"transaction":{"status":7}})",
        R"({"transaction":{"status":"prepared","result":"not base64!"}})",
        R"({"transaction":{},"progresses":{}})", R"({"transaction":{},"progresses":[1]})",
        R"({"transaction":{},"progresses":[{"bin_data":"***"}]})",
        R"({"transaction":{},"progresses":[{"op":["action"]}]})"}) {
    auto p = ParseProgressJson(body);
    EXPECT_EQ(p.status().code(), StatusCode::kInternal) << body;
  }
}

TEST(WorkflowProgressTest, StepRecordsRoundTrip) {
  const std::string bytes("line1\nline2\0", 12);
  StepRecord r = DecodeStepRecord(EncodeStepRecord("http POST http://a/b", bytes));
  EXPECT_EQ(r.kind, "http POST http://a/b");
  EXPECT_EQ(r.data, bytes);
  // A newline in the description cannot cut the record short.
  r = DecodeStepRecord(EncodeStepRecord("grpc a\nb", "x"));
  EXPECT_EQ(r.kind, "grpc a b");
  EXPECT_EQ(r.data, "x");
  // Data recorded by another SDK: no description, the bytes as they are.
  r = DecodeStepRecord("plain result");
  EXPECT_EQ(r.kind, "");
  EXPECT_EQ(r.data, "plain result");
  r = DecodeStepRecord("lynx-wf without newline");
  EXPECT_EQ(r.kind, "");
}

}  // namespace
}  // namespace lynx::dtm::internal
