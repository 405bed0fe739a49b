#include <lynx/dtm/saga.h>

namespace lynx::dtm {

Saga::Saga(std::string server_url, std::string gid)
    : TransBase(std::move(server_url), std::move(gid), "saga") {}

Saga& Saga::Add(const std::string& action, const std::string& compensate, Payload data) {
  steps_.push_back({{"action", action}, {"compensate", compensate}});
  payloads_.push_back(data.Serialize());
  return *this;
}

Saga& Saga::AddBranchOrder(int branch, std::vector<int> prerequisites) {
  orders_[branch] = std::move(prerequisites);
  return *this;
}

Saga& Saga::EnableConcurrent() {
  options_.concurrent = true;
  return *this;
}

std::string Saga::BuildCustomData() const {
  if (!options_.concurrent) return "";
  // Go: MustMarshalString(map[string]interface{}{"orders": orders, "concurrent": true}); Go sorts
  // map keys, as Json's object does ("concurrent" < "orders"; order keys as strings).
  Json orders = Json::object();
  for (const auto& [branch, pre] : orders_) orders[std::to_string(branch)] = pre;
  Json custom = {{"concurrent", true}, {"orders", std::move(orders)}};
  return custom.dump();
}

Status Saga::Submit() {
  custom_data_ = BuildCustomData();  // Go's BuildCustomOptions sets it on the transaction
  return CallDtm("submit");
}

Saga NewSagaGrpc(const std::string& grpc_server, const std::string& gid,
                 const GrpcTlsOptions& tls) {
  Saga saga(grpc_server, gid);
  saga.UseGrpc(tls);
  return saga;
}

}  // namespace lynx::dtm
