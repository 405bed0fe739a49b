// The Grafana dashboard (dashboards/lynx-dtm.grafana.json) reads only what the binaries export:
// after traffic through the real dtmd and the C++ SDK, every metric named in a panel's query is
// in dtmd's /api/metrics or the SDK's exposition, and every label a query groups by is on that
// metric's series.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "sdk_fixture.h"

namespace lynx::it {
namespace {

namespace bj = boost::json;

// Metric name -> the label names seen on its series (histograms under their family name).
std::map<std::string, std::set<std::string>> Exposed(const std::string& text) {
  std::map<std::string, std::set<std::string>> out;
  std::istringstream in(text);
  std::string line;
  static const std::regex kSample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? )");
  static const std::regex kLabel(R"(([a-zA-Z_][a-zA-Z0-9_]*)=")");
  while (std::getline(in, line)) {
    std::smatch m;
    if (line.empty() || line[0] == '#' || !std::regex_search(line, m, kSample)) continue;
    std::string name = m[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
        out[name.substr(0, name.size() - s.size())];  // the family too
      }
    }
    auto& labels = out[name];
    const std::string label_text = m[3];
    for (auto it = std::sregex_iterator(label_text.begin(), label_text.end(), kLabel);
         it != std::sregex_iterator(); ++it) {
      labels.insert((*it)[1]);
    }
  }
  return out;
}

TEST_F(SdkTest, DashboardQueriesUseExportedMetricsAndLabels) {
  LYNX_DTMD_ONLY("checks dtmd's metric names");
  // Traffic: a saga through the helper (SDK metrics, gid requests) that succeeds after a retry
  // (dtmd's API, transaction, branch and attempt metrics), and one that fails.
  dtm::TransactionHelper helper(*client_);
  const dtm::TransactionOptions wait{.wait_result = true};
  for (const char* in_result : {"SUCCESS", "FAILURE"}) {
    busi_.Script("TransIn", {in_result});
    std::string gid = helper.MustGenGid();
    Status st = helper.ExecuteSAGA(
        Context::Background(), gid,
        {{.action = B("TransOut"), .compensate = B("TransOutRevert"), .data = R"({"amount":1})"},
         {.action = B("TransIn"), .compensate = B("TransInRevert"), .data = R"({"amount":1})"}},
        wait);
    EXPECT_EQ(st.ok(), std::string(in_result) == "SUCCESS") << st.message();
  }
  ASSERT_TRUE(client_->CheckHealth().ok());
  auto server_metrics = Http(dtm_.port(), "GET", "/api/metrics", "", dtm_.AuthHeaders());
  ASSERT_EQ(server_metrics.status, 200);
  auto exposed = Exposed(server_metrics.body + "\n" + client_->Metrics().Serialize());

  std::ifstream file(std::string(LYNX_SOURCE_DIR) + "/dashboards/lynx-dtm.grafana.json");
  ASSERT_TRUE(file.good());
  std::stringstream text;
  text << file.rdbuf();
  bj::value dash = bj::parse(text.str());
  static const std::regex kMetric(R"(\b((dtm|dtmd|lynx_dtm)_[a-z_]+)\b)");
  static const std::regex kBy(R"(by \(([^)]*)\) \(\s*(rate\()?([a-z_]+))");
  int queries = 0;
  for (const auto& panel : dash.at("panels").as_array()) {
    for (const auto& target : panel.at("targets").as_array()) {
      // Grafana's variables ($dtmd_job, $__rate_interval) are not metrics.
      static const std::regex kVariable(R"(\$[A-Za-z_]+)");
      const std::string expr =
          std::regex_replace(std::string(target.at("expr").as_string()), kVariable, "VAR");
      ++queries;
      bool named = false;
      for (auto it = std::sregex_iterator(expr.begin(), expr.end(), kMetric);
           it != std::sregex_iterator(); ++it) {
        named = true;
        EXPECT_TRUE(exposed.count((*it)[1])) << "not exported: " << (*it)[1] << " in " << expr;
      }
      EXPECT_TRUE(named) << "no lynx-dtm metric in " << expr;
      for (auto it = std::sregex_iterator(expr.begin(), expr.end(), kBy);
           it != std::sregex_iterator(); ++it) {
        const std::string metric = (*it)[3];
        std::stringstream labels((*it)[1].str());
        for (std::string label; std::getline(labels, label, ',');) {
          label.erase(0, label.find_first_not_of(' '));
          if (label == "le" || !exposed.count(metric)) continue;
          const auto& seen = exposed[metric];
          const std::string family = metric.substr(0, metric.rfind("_bucket"));
          EXPECT_TRUE(seen.count(label) || exposed[family].count(label))
              << "label " << label << " not on " << metric << " in " << expr;
        }
      }
    }
  }
  EXPECT_GE(queries, 10);
}

}  // namespace
}  // namespace lynx::it
