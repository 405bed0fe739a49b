// The process-wide credentials towards DTM servers (include/lynx/dtm/auth.h): a token per server
// address, looked up by the HTTP and gRPC calls to DTM (client/call_util.cc, grpc_transport.cc).
#include "client/transports/server_auth.h"

#include <lynx/dtm/auth.h>

#include <fstream>
#include <map>
#include <mutex>

#include "client/transports/transport.h"

namespace lynx::dtm {

namespace {

std::mutex g_mu;
std::map<std::string, std::string>& Tokens() {
  static std::map<std::string, std::string> tokens;
  return tokens;
}

std::string Normalized(std::string server) {
  while (!server.empty() && server.back() == '/') server.pop_back();
  return server;
}

}  // namespace

void SetDtmServerToken(const std::string& server, const std::string& token) {
  std::lock_guard lock(g_mu);
  if (token.empty()) {
    Tokens().erase(Normalized(server));
  } else {
    Tokens()[Normalized(server)] = token;
  }
}

StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  if (!f || !std::getline(f, line)) {
    return Status::InvalidArgument("cannot read a token from '" + path + "'");
  }
  const size_t b = line.find_first_not_of(" \t\r");
  const size_t e = line.find_last_not_of(" \t\r");
  if (b == std::string::npos) return Status::InvalidArgument("token file '" + path + "' is empty");
  return line.substr(b, e - b + 1);
}

Status SetDtmHttpTls(const std::string& ca_file, const std::string& cert_file,
                     const std::string& key_file) {
  return internal::Transport::Default()->SetTls(ca_file, cert_file, key_file);
}

namespace internal {

std::string DtmServerToken(const std::string& server) {
  std::lock_guard lock(g_mu);
  auto it = Tokens().find(Normalized(server));
  return it == Tokens().end() ? std::string() : it->second;
}

}  // namespace internal

}  // namespace lynx::dtm
