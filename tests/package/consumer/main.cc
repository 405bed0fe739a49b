// Uses the installed SDK without a network: a validated DtmConfig, an HTTP and a gRPC Saga and
// the metrics.
#include <lynx/dtm/dtm.h>

#include <cstdio>
#include <string>

int main() {
  lynx::dtm::DtmConfig config;
  config.enabled = true;
  config.server_url = "http://localhost:36789/api/dtmsvr";
  lynx::dtm::ApplyDtmConfigDefaults(&config);
  lynx::Status st = lynx::dtm::ValidateDtmConfig(config);
  if (!st.ok()) {
    std::fprintf(stderr, "config: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  lynx::dtm::Saga saga(config.server_url, "consumer-gid");
  saga.Add("http://localhost:8081/api/out", "http://localhost:8081/api/out_revert",
           {{"amount", 100}});
  if (saga.gid() != "consumer-gid") return 1;
  // The gRPC transports link from the installed package too (no connection is made here).
  lynx::dtm::Saga grpc_saga = lynx::dtm::NewSagaGrpc("localhost:36790", "consumer-grpc");
  if (!grpc_saga.uses_grpc() || !lynx::dtm::IsGrpcTarget("localhost:58081/busi.Busi/TransOut")) {
    return 1;
  }

  lynx::dtm::DTMClient client(config);
  if (client.Metrics().Serialize().find("lynx_dtm_transactions_total") == std::string::npos) {
    return 1;
  }
  std::printf("lynx-dtm consumer ok\n");
  return 0;
}
