// HTTP/1.1 framing shared by the inbound server and the outbound client, kept free of sockets and
// coroutines: parser limits, the Transfer-Encoding rule, the conversion of a parsed request, and
// whole-buffer parsers (ParseRequestBytes / ParseReplyBytes, declared in http_server.h and
// http_client.h) that the fuzz targets drive with the same settings as the live paths.
// Internal header (Beast types): include it only from the HTTP .cc files.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>

#include <cstddef>
#include <cstdint>

#include "common/http_body.h"
#include "common/http_limits.h"
#include "common/http_server.h"

namespace lynx::http {

using RequestParser = boost::beast::http::request_parser<GrowingStringBody>;
using ReplyParser = boost::beast::http::response_parser<GrowingStringBody>;

// The server's header limit, clamped to [1024, kMaxHeaderSectionBytes].
uint32_t EffectiveHeaderLimit(const ServerOptions& options);
void ConfigureRequestParser(RequestParser& parser, const ServerOptions& options);

// RFC 9112 §6.1: a request whose Transfer-Encoding is not exactly "chunked" cannot be framed by
// us (e.g. "chunked, gzip" was read as no body, and the body bytes as a second request).
bool UnsupportedTransferEncoding(const RequestParser& parser);

// The handler's view of a parsed request (query decoded, header names lower-cased);
// InvalidArgument for a target that is not in origin-form.
StatusOr<ServerRequest> ToServerRequest(boost::beast::http::request<GrowingStringBody>& req);

// Outbound replies: header section limit, read buffer, interim (1xx) replies skipped at most this
// many times before the call fails.
inline constexpr uint32_t kReplyHeaderLimit = 32 * 1024;
inline constexpr size_t kReplyReadBufferBytes = kReplyHeaderLimit + kReadSlackBytes;
inline constexpr int kMaxInterimReplies = 8;
void ConfigureReplyParser(ReplyParser& parser, size_t max_body);
inline bool IsInterim(int status) { return status >= 100 && status < 200; }

}  // namespace lynx::http
