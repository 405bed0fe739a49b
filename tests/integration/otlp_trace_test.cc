// Span export (tracing/span_exporter.h) against a real OTLP receiver: Jaeger (v2, the
// OpenTelemetry-Collector-based binary, built from its Go module by scripts/test.sh into
// ~/.cache/lynx-dtm/bin; LYNX_JAEGER_PATH) with in-memory storage. A saga submitted with a
// traceparent, whose second branch fails once and succeeds on the cron's retry, must show at the
// receiver as: dtmd's submit span (SERVER) under the caller's span, and under it one CLIENT span
// per branch call — the failed attempt marked as an error with HTTP 500, then the retry — whose
// ids are the ones the branches received in their traceparent.
#include <boost/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>

#include "harness.h"

namespace lynx::it {
namespace {

namespace bj = boost::json;

constexpr char kCallerSpan[] = "00f067aa0ba902b7";

// One Jaeger for the suite.
class Jaeger {
 public:
  bool Start(const std::string& dir, std::string* err) {
    const char* path = std::getenv("LYNX_JAEGER_PATH");
    if (path == nullptr || *path == '\0') {
      *err = "LYNX_JAEGER_PATH is not set (scripts/test.sh builds Jaeger and sets it)";
      return false;
    }
    otlp_port = UnusedPort();
    query_port = UnusedPort();
    const uint16_t query_grpc = UnusedPort();
    const uint16_t health = UnusedPort();
    const std::string config = dir + "/jaeger.yaml";
    std::ofstream(config) << R"(service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:)"
                          << health << R"(
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:)"
                          << query_port << R"(
    grpc:
      endpoint: 127.0.0.1:)"
                          << query_grpc << R"(
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:)"
                          << otlp_port << R"(
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
)";
    if (!proc_.Start({path, "--config", config}, dir + "/jaeger.log", err)) return false;
    const bool up = WaitUntil(
        [&] {
          return Http(query_port, "GET", "/api/services", "", {}, std::chrono::seconds(2)).status ==
                 200;
        },
        std::chrono::seconds(60));
    if (!up) *err = "Jaeger did not answer on its query port; see " + dir + "/jaeger.log";
    return up;
  }

  // The trace's spans as Jaeger's query API returns them; empty until it has them.
  bj::array Spans(const std::string& trace_id) const {
    auto res = Http(query_port, "GET", "/api/traces/" + trace_id);
    if (res.status != 200) return {};
    auto j = res.Json();
    if (!j.is_object()) return {};
    const auto* data = j.as_object().if_contains("data");
    if (data == nullptr || !data->is_array() || data->as_array().empty()) return {};
    return data->as_array()[0].as_object().at("spans").as_array();
  }

  std::string ServiceOf(const std::string& trace_id) const {
    auto j = Http(query_port, "GET", "/api/traces/" + trace_id).Json();
    const auto& trace = j.as_object().at("data").as_array()[0].as_object();
    const auto& processes = trace.at("processes").as_object();
    return std::string(processes.begin()->value().as_object().at("serviceName").as_string());
  }

  uint16_t otlp_port = 0;
  uint16_t query_port = 0;

 private:
  ChildProcess proc_;
};

std::string Str(const bj::value& v) { return std::string(v.as_string()); }

// The value of a span's tag, as text ("" when absent).
std::string Tag(const bj::object& span, const std::string& key) {
  for (const auto& t : span.at("tags").as_array()) {
    const auto& o = t.as_object();
    if (o.at("key").as_string() != key) continue;
    const auto& v = o.at("value");
    if (v.is_string()) return Str(v);
    if (v.is_bool()) return v.as_bool() ? "true" : "false";
    if (v.is_int64()) return std::to_string(v.as_int64());
    if (v.is_double()) return std::to_string(static_cast<int64_t>(v.as_double()));
  }
  return "";
}

std::string ParentOf(const bj::object& span) {
  for (const auto& r : span.at("references").as_array()) {
    if (r.as_object().at("refType").as_string() == "CHILD_OF")
      return Str(r.as_object().at("spanID"));
  }
  return "";
}

std::string RandomHex(size_t n) {
  static std::mt19937_64 rng(std::random_device{}());
  std::string out;
  while (out.size() < n) out += "0123456789abcdef"[rng() % 16];
  return out;
}

class OtlpTraceTest : public IntegrationTest {
 protected:
  static void SetUpTestSuite() {
    jaeger_dir_ = new TempDir("jaeger");
    jaeger_ = new Jaeger();
    std::string err;
    if (!jaeger_->Start(jaeger_dir_->path(), &err)) start_error_ = new std::string(err);
  }
  static void TearDownTestSuite() {
    delete jaeger_;
    delete jaeger_dir_;
    delete start_error_;
  }
  void SetUp() override {
    ASSERT_EQ(start_error_, nullptr) << *start_error_;
    IntegrationTest::SetUp();
  }
  DtmdOptions Options() const override {
    DtmdOptions o;
    o.extra_yaml =
        "Tracing:\n  OtlpEndpoint: http://127.0.0.1:" + std::to_string(jaeger_->otlp_port) +
        "\n  FlushIntervalMs: 50\n  ServiceName: dtmd-under-test\n";
    return o;
  }

  static inline TempDir* jaeger_dir_ = nullptr;
  static inline Jaeger* jaeger_ = nullptr;
  static inline std::string* start_error_ = nullptr;
};

TEST_F(OtlpTraceTest, SagaWithARetriedBranchIsASpanTreeAtTheReceiver) {
  const std::string trace_id = RandomHex(32);
  const std::string gid = TestName();
  busi_.Script("TransIn", {"ERROR"});  // the first call fails (HTTP 500), the cron's retry passes
  auto res = dtm_.Post("submit", Saga(gid).Json(), {},
                       {{"traceparent", "00-" + trace_id + "-" + kCallerSpan + "-01"}});
  ASSERT_EQ(res.status, 200) << res.body;
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.CronOnce(60), gid);
  ASSERT_TRUE(dtm_.WaitStatus(gid, kSucceed));

  // submit + TransOut + TransIn (failed) + TransIn (retry)
  bj::array spans;
  ASSERT_TRUE(WaitUntil([&] {
    spans = jaeger_->Spans(trace_id);
    return spans.size() >= 4;
  })) << "spans at Jaeger: "
      << bj::serialize(spans);
  EXPECT_EQ(spans.size(), 4u) << bj::serialize(spans);
  EXPECT_EQ(jaeger_->ServiceOf(trace_id), "dtmd-under-test");

  const bj::object* submit = nullptr;
  std::vector<const bj::object*> calls;
  for (const auto& s : spans) {
    const auto& o = s.as_object();
    if (o.at("operationName").as_string() == "dtmd submit") {
      submit = &o;
    } else {
      calls.push_back(&o);
    }
  }
  ASSERT_NE(submit, nullptr) << bj::serialize(spans);
  EXPECT_EQ(ParentOf(*submit), kCallerSpan);
  EXPECT_EQ(Tag(*submit, "span.kind"), "server");
  EXPECT_EQ(Tag(*submit, "dtm.gid"), gid);
  const std::string transaction_span = Str(submit->at("spanID"));

  std::sort(calls.begin(), calls.end(), [](const bj::object* a, const bj::object* b) {
    return a->at("startTime").as_int64() < b->at("startTime").as_int64();
  });
  ASSERT_EQ(calls.size(), 3u);
  std::vector<std::string> names;
  for (const auto* c : calls) {
    names.push_back(Str(c->at("operationName")));
    EXPECT_EQ(ParentOf(*c), transaction_span) << "every call is a child of the transaction";
    EXPECT_EQ(Tag(*c, "span.kind"), "client");
    EXPECT_EQ(Tag(*c, "dtm.gid"), gid);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"action 01", "action 02", "action 02"}));
  EXPECT_EQ(Tag(*calls[1], "error"), "true");
  EXPECT_EQ(Tag(*calls[1], "http.response.status_code"), "500");
  EXPECT_EQ(Tag(*calls[1], "dtm.outcome"), "ERROR");
  EXPECT_EQ(Tag(*calls[2], "error"), "");
  EXPECT_EQ(Tag(*calls[2], "http.response.status_code"), "200");
  EXPECT_EQ(Tag(*calls[2], "dtm.outcome"), "SUCCESS");

  // The span ids are the ones each branch received.
  std::vector<std::string> received;
  for (const auto& c : busi_.Calls("", gid))
    received.push_back(c.Header("traceparent").substr(36, 16));
  std::vector<std::string> exported;
  for (const auto* c : calls) exported.push_back(Str(c->at("spanID")));
  EXPECT_EQ(received, exported);
}

TEST_F(OtlpTraceTest, ADownReceiverCostsSpansNotTransactions) {
  // A second dtmd exporting to a port nobody listens on: transactions go on, the failed batches
  // are counted.
  Dtmd lost;
  DtmdOptions o;
  o.extra_yaml = "Tracing:\n  OtlpEndpoint: http://127.0.0.1:" + std::to_string(UnusedPort()) +
                 "\n  FlushIntervalMs: 50\n  ExportTimeoutMs: 500\n";
  std::string err;
  TempDir lost_dir("lost");
  ASSERT_TRUE(lost.Start(lost_dir.path(), o, &err)) << err;
  const std::string gid = TestName();
  auto res = lost.Post("submit", Saga(gid).Json(), {},
                       {{"traceparent", "00-" + RandomHex(32) + "-" + kCallerSpan + "-01"}});
  ASSERT_EQ(res.status, 200) << res.body;
  ASSERT_TRUE(lost.WaitStatus(gid, kSucceed));
  EXPECT_TRUE(WaitUntil([&] {
    return Http(lost.port(), "GET", "/api/metrics")
               .body.find("dtmd_spans_total{result=\"failed\"} 3") != std::string::npos;
  })) << Http(lost.port(), "GET", "/api/metrics").body;
}

}  // namespace
}  // namespace lynx::it
