#include "common/tls.h"

#include <boost/asio/ssl/context.hpp>

#include <fstream>

namespace lynx::http {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

namespace {

Status Readable(const char* what, const std::string& path) {
  std::ifstream f(path);
  if (!f) return Status::InvalidArgument(std::string(what) + ": cannot read '" + path + "'");
  return Status::Ok();
}

}  // namespace

StatusOr<std::shared_ptr<ssl::context>> MakeServerTlsContext(const ServerTlsFiles& files) {
  for (auto [what, path] :
       {std::pair{"TLS certificate", &files.cert_file}, {"TLS key", &files.key_file}}) {
    if (Status st = Readable(what, *path); !st.ok()) return st;
  }
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  ctx->use_certificate_chain_file(files.cert_file, ec);
  if (ec) {
    return Status::InvalidArgument("TLS certificate '" + files.cert_file + "': " + ec.message());
  }
  ctx->use_private_key_file(files.key_file, ssl::context::pem, ec);
  if (ec) return Status::InvalidArgument("TLS key '" + files.key_file + "': " + ec.message());
  if (!files.ca_file.empty()) {
    if (Status st = Readable("TLS client CA", files.ca_file); !st.ok()) return st;
    ctx->load_verify_file(files.ca_file, ec);
    if (ec)
      return Status::InvalidArgument("TLS client CA '" + files.ca_file + "': " + ec.message());
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  }
  return ctx;
}

StatusOr<std::shared_ptr<ssl::context>> MakeClientTlsContext(const std::string& ca_file,
                                                             const std::string& cert_file,
                                                             const std::string& key_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  ctx->set_default_verify_paths(ec);  // the system store; a missing one is not an error here
  if (!ca_file.empty()) {
    if (Status st = Readable("TLS CA", ca_file); !st.ok()) return st;
    ec.clear();
    ctx->load_verify_file(ca_file, ec);
    if (ec) return Status::InvalidArgument("TLS CA '" + ca_file + "': " + ec.message());
  }
  if (!cert_file.empty()) {
    ec.clear();
    ctx->use_certificate_chain_file(cert_file, ec);
    if (ec) return Status::InvalidArgument("TLS certificate '" + cert_file + "': " + ec.message());
    ctx->use_private_key_file(key_file, ssl::context::pem, ec);
    if (ec) return Status::InvalidArgument("TLS key '" + key_file + "': " + ec.message());
  }
  ctx->set_verify_mode(ssl::verify_peer, ec);
  return ctx;
}

Status ServerTlsHolder::Reload() {
  auto ctx = MakeServerTlsContext(files_);
  if (!ctx.ok()) return ctx.status();
  std::lock_guard lock(mu_);
  ctx_ = std::move(*ctx);
  return Status::Ok();
}

std::shared_ptr<ssl::context> ServerTlsHolder::Get() const {
  std::lock_guard lock(mu_);
  return ctx_;
}

}  // namespace lynx::http
