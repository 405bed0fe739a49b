#include "common/http_parse.h"

#include <boost/asio/buffer.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <string>

#include "common/ascii.h"
#include "common/http_client.h"

namespace lynx::http {

namespace bhttp = boost::beast::http;

namespace {

// Feeds `rest` to the parser through a window of the live read buffer's size until the message
// is complete, calling `after_put` after every step. Running out of bytes is the end of the
// stream. More unparsed bytes than the window at once is a section larger than the read buffer
// (431 / a call error on the live paths).
template <class Parser, class AfterPut>
Status PutAll(Parser& parser, std::string_view& rest, size_t window, AfterPut after_put) {
  boost::beast::error_code ec;
  while (!parser.is_done()) {
    const size_t avail = std::min(rest.size(), window);
    const bool all_offered = avail == rest.size();
    size_t n = 0;
    bool need_more = true;
    if (avail > 0) {
      n = parser.put(boost::asio::buffer(rest.data(), avail), ec);
      rest.remove_prefix(n);
      need_more = ec == bhttp::error::need_more;
      if (ec && !need_more) return Status::InvalidArgument(ec.message());
      ec = {};
      if (Status st = after_put(); !st.ok()) return st;
      if (parser.is_done()) break;
      if (!need_more && n > 0) continue;
    }
    // As Beast's own read loop: after "need more", a put must offer bytes beyond the ones left
    // unconsumed. Past the window there are more; otherwise the stream has ended.
    if (!all_offered) {
      if (n == 0) return Status::InvalidArgument("section larger than the read buffer");
      continue;
    }
    // The end of the stream: a reply framed by closing ends here, anything else is incomplete
    // (Beast's put_eof wants some bytes first).
    if (!parser.got_some()) return Status::InvalidArgument("end of stream before a message");
    parser.put_eof(ec);
    if (ec) return Status::InvalidArgument("incomplete message: " + ec.message());
    break;
  }
  return Status::Ok();
}

}  // namespace

uint32_t EffectiveHeaderLimit(const ServerOptions& options) {
  return std::min<uint32_t>(std::max<uint32_t>(options.max_header_bytes, 1024),
                            kMaxHeaderSectionBytes);
}

void ConfigureRequestParser(RequestParser& parser, const ServerOptions& options) {
  parser.body_limit(options.max_body_bytes);
  parser.header_limit(EffectiveHeaderLimit(options));
}

bool UnsupportedTransferEncoding(const RequestParser& parser) {
  const auto& h = parser.get();
  auto it = h.find(bhttp::field::transfer_encoding);
  if (it == h.end()) return false;
  std::string te = AsciiLower(it->value());
  te.erase(std::remove_if(te.begin(), te.end(), [](char c) { return c == ' ' || c == '\t'; }),
           te.end());
  return te != "chunked" || h.count(bhttp::field::transfer_encoding) > 1;
}

StatusOr<ServerRequest> ToServerRequest(bhttp::request<GrowingStringBody>& req) {
  auto target = boost::urls::parse_origin_form(req.target());
  if (!target) return Status::InvalidArgument("malformed request target");
  ServerRequest r;
  r.method = std::string(req.method_string());
  r.path = std::string(target->path());
  for (auto p : target->params()) r.query[std::string(p.key)] = std::string(p.value);
  for (const auto& field : req)
    r.headers[AsciiLower(field.name_string())] = std::string(field.value());
  r.body = std::move(req.body());
  return r;
}

void ConfigureReplyParser(ReplyParser& parser, size_t max_body) {
  parser.body_limit(max_body);
  parser.header_limit(kReplyHeaderLimit);
}

StatusOr<ServerRequest> ParseRequestBytes(std::string_view bytes, const ServerOptions& options) {
  // The live path reads through a buffer of this size: more unparsed bytes than that at once (a
  // header or trailer section) is a 431 there.
  const size_t window = EffectiveHeaderLimit(options) + kReadSlackBytes;
  RequestParser parser;
  ConfigureRequestParser(parser, options);
  parser.eager(true);
  std::string_view rest = bytes;
  bool checked = false;
  Status st = PutAll(parser, rest, window, [&]() -> Status {
    if (!checked && parser.is_header_done()) {
      checked = true;
      if (UnsupportedTransferEncoding(parser)) {
        return Status::InvalidArgument("unsupported Transfer-Encoding");
      }
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  auto req = parser.release();
  return ToServerRequest(req);
}

StatusOr<ClientResponse> ParseReplyBytes(std::string_view bytes, size_t max_body) {
  std::string_view rest = bytes;
  for (int interim = 0; interim <= kMaxInterimReplies; ++interim) {
    ReplyParser parser;
    ConfigureReplyParser(parser, max_body);
    parser.eager(true);
    Status st = PutAll(parser, rest, kReplyReadBufferBytes, [] { return Status::Ok(); });
    if (!st.ok()) return Status::Unavailable("read: " + st.message());
    auto res = parser.release();
    const int status = static_cast<int>(res.result_int());
    if (IsInterim(status)) continue;
    return ClientResponse{status, std::move(res.body())};
  }
  return Status::Unavailable("read: too many 1xx replies");
}

}  // namespace lynx::http
