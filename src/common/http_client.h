// Outbound HTTP/1.1 client with pooled keep-alive connections, used by dtmd to call branch
// services (DTM opens a connection per call; reuse is a large part of our speed) and by tests.
// Thread-safe: one pool may be used from any number of coroutines on any executor. Internal
// header (Asio types); include it only from the few .cc files that make calls.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace lynx::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Judges one resolved address of a request's host before any connection is made to it (dtmd's
// branch-URL policy): a non-ok status refuses the request with that message.
using AddressCheck =
    std::function<Status(const std::string& host, const std::string& address, uint16_t port)>;

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // http://host[:port]/path?query
  Headers headers;
  std::string body;
  int64_t timeout_ms = 3000;                    // connect + write + read, per attempt
  const AddressCheck* address_check = nullptr;  // every resolved address must pass it
};

struct ClientResponse {
  int status = 0;
  std::string body;
};

struct ClientOptions {
  // Requests in flight to one host:port at once (so also its connections: a connection is only
  // opened when no idle one is left). Further requests wait for one within their own timeout.
  size_t max_conns_per_host = 256;
  // Requests in flight over all hosts at once, and idle connections kept over all hosts (so at
  // most twice this many outbound connections in all).
  size_t max_conns_total = 4096;
  size_t max_response_body = 8 << 20;  // larger replies are an error
  // https:// servers are verified against the system trust store and, when set, this CA file
  // (PEM), with their host name checked against the certificate.
  std::string ca_file;
  // A client certificate and key (PEM) for https:// servers that require one (mutual TLS).
  std::string cert_file;
  std::string key_file;
};

class ClientPool {
 public:
  explicit ClientPool(boost::asio::any_io_executor executor, ClientOptions options = {});
  ~ClientPool();
  ClientPool(const ClientPool&) = delete;
  ClientPool& operator=(const ClientPool&) = delete;

  // kUnavailable for transport errors, timeouts, failed TLS verification and malformed replies,
  // kInvalidArgument for a bad URL, an address refused by the request's check, or a header that
  // cannot be sent (CR, LF or NUL in it, a name that is not a token). http:// and https://.
  // Never throws. 1xx interim replies are skipped; a connection is reused only when nothing but
  // the reply was received on it.
  boost::asio::awaitable<StatusOr<ClientResponse>> Send(ClientRequest request);

  // Closes idle connections (e.g. at shutdown).
  void CloseIdle();

  // Trusts the system store plus `ca_file` (PEM; empty: the system store only) for https://
  // connections opened from now on, presenting cert_file + key_file when set. InvalidArgument
  // when a file cannot be loaded (the previous settings stay).
  Status SetTls(const std::string& ca_file, const std::string& cert_file = "",
                const std::string& key_file = "");

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// What Send does with the bytes of a reply, without a socket: the same parser limits, 1xx replies
// skipped. For the fuzz target (fuzz/) and tests.
StatusOr<ClientResponse> ParseReplyBytes(std::string_view bytes, size_t max_body);

// Returns url with params appended to its query (after any existing ones), percent-encoded.
std::string AppendQuery(std::string_view url, const Headers& params);

}  // namespace lynx::http
