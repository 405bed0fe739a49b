// The client's HTTP transport: a blocking call façade for the SDK's synchronous API.
// The process shares one transport (Transport::Default()): one private io_context thread runs the
// pooled keep-alive coroutine client of src/common, and callers block on a future until their
// request finished. Why this shape: the public API is synchronous (Go's SDK is), transactions may
// be created without a DTMClient (free functions taking a server URL), and one thread plus one
// connection pool for the whole process serves any number of concurrent callers without a thread
// per transaction; keep-alive connections to DTM and to the try/action branches are reused.
// Thread-safe. Never call Do() from a coroutine running on the transport's own thread (it would
// wait on itself; Do() refuses with an error instead).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <lynx/status.h>

namespace lynx::dtm::internal {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  HeaderList headers;
  std::string body;
  int64_t timeout_ms = 10000;  // the whole exchange
};

struct HttpReply {
  int status = 0;
  std::string body;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Unavailable for transport errors and timeouts, InvalidArgument for a bad URL.
  virtual StatusOr<HttpReply> Do(HttpRequest request) = 0;
  // https:// trust (CA besides the system store) and client certificate, for new connections.
  virtual Status SetTls(const std::string& ca_file, const std::string& cert_file,
                        const std::string& key_file) {
    return Status::InvalidArgument("this transport has no TLS settings");
  }

  // The process-wide transport, created on first use (or the one set for tests).
  static std::shared_ptr<Transport> Default();
  // Test hook (internal header only): transactions created afterwards use `transport`;
  // nullptr restores the real one.
  static void SetDefaultForTest(std::shared_ptr<Transport> transport);
};

// url with `params` appended to its query, escaped as Go's url.QueryEscape.
std::string AppendQuery(const std::string& url, const HeaderList& params);

// How the SDK judges DTM's replies (Go's TransCallDtmExt, dtm-protocol.md §9.1): 200 without
// "FAILURE" in the body is Ok; 425 is Ongoing; 409 or a body with "FAILURE" is a Failure; any
// other status is an error. Messages are the reply body, as Go's error text.
Status ClassifyDtmReply(int status, const std::string& body);
// How the SDK judges a branch's reply (DTM's HTTPResp2DtmError, §4.2; the rules of dtmd's
// server::ClassifyHttpReply): 425 or "ONGOING" -> Ongoing, 409 or "FAILURE" -> Failure, other
// non-200 -> error, else Ok.
Status ClassifyBranchReply(int status, const std::string& body);

}  // namespace lynx::dtm::internal
