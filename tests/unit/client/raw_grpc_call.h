// A minimal gRPC-over-HTTP/2 (h2c, prior knowledge) client for tests that need what gRPC's C++
// client cannot do: choose the request's content-type. DTM's Go server sends
// "content-type: application/grpc+dtm_raw" (a forced codec); grpc++ always sends
// "application/grpc" and offers no way to set a content-subtype, so this speaks the frames itself.
// One unary call per connection, blocking, bounded by a receive timeout. HPACK: requests are sent
// as literals without indexing; replies are decoded with the static and dynamic tables (grpc-core
// does not Huffman-encode plain header values; a Huffman string is reported as an error).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>

namespace lynx::dtm::testing {

struct RawGrpcReply {
  std::string error;                           // empty when the call completed at the HTTP/2 level
  std::map<std::string, std::string> headers;  // response headers and trailers
  std::string message;                         // the reply message (gRPC framing removed)
};

namespace raw_h2 {

inline const char* const kStaticTable[][2] = {{":authority", ""},
                                              {":method", "GET"},
                                              {":method", "POST"},
                                              {":path", "/"},
                                              {":path", "/index.html"},
                                              {":scheme", "http"},
                                              {":scheme", "https"},
                                              {":status", "200"},
                                              {":status", "204"},
                                              {":status", "206"},
                                              {":status", "304"},
                                              {":status", "400"},
                                              {":status", "404"},
                                              {":status", "500"},
                                              {"accept-charset", ""},
                                              {"accept-encoding", "gzip, deflate"},
                                              {"accept-language", ""},
                                              {"accept-ranges", ""},
                                              {"accept", ""},
                                              {"access-control-allow-origin", ""},
                                              {"age", ""},
                                              {"allow", ""},
                                              {"authorization", ""},
                                              {"cache-control", ""},
                                              {"content-disposition", ""},
                                              {"content-encoding", ""},
                                              {"content-language", ""},
                                              {"content-length", ""},
                                              {"content-location", ""},
                                              {"content-range", ""},
                                              {"content-type", ""},
                                              {"cookie", ""},
                                              {"date", ""},
                                              {"etag", ""},
                                              {"expect", ""},
                                              {"expires", ""},
                                              {"from", ""},
                                              {"host", ""},
                                              {"if-match", ""},
                                              {"if-modified-since", ""},
                                              {"if-none-match", ""},
                                              {"if-range", ""},
                                              {"if-unmodified-since", ""},
                                              {"last-modified", ""},
                                              {"link", ""},
                                              {"location", ""},
                                              {"max-forwards", ""},
                                              {"proxy-authenticate", ""},
                                              {"proxy-authorization", ""},
                                              {"range", ""},
                                              {"referer", ""},
                                              {"refresh", ""},
                                              {"retry-after", ""},
                                              {"server", ""},
                                              {"set-cookie", ""},
                                              {"strict-transport-security", ""},
                                              {"transfer-encoding", ""},
                                              {"user-agent", ""},
                                              {"vary", ""},
                                              {"via", ""},
                                              {"www-authenticate", ""}};

inline void PutInt(std::string& out, uint8_t flags, int prefix_bits, uint64_t value) {
  uint64_t max = (1u << prefix_bits) - 1;
  if (value < max) {
    out += static_cast<char>(flags | value);
    return;
  }
  out += static_cast<char>(flags | max);
  for (value -= max; value >= 128; value >>= 7) out += static_cast<char>(0x80 | (value & 0x7f));
  out += static_cast<char>(value);
}

inline void PutString(std::string& out, const std::string& s) {
  PutInt(out, 0, 7, s.size());
  out += s;
}

inline std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  std::string f;
  uint32_t len = payload.size();
  f += static_cast<char>(len >> 16);
  f += static_cast<char>(len >> 8);
  f += static_cast<char>(len);
  f += static_cast<char>(type);
  f += static_cast<char>(flags);
  for (int shift = 24; shift >= 0; shift -= 8) f += static_cast<char>(stream >> shift);
  return f + payload;
}

class HpackDecoder {
 public:
  // Adds the block's fields to `out`; false on anything this decoder does not support.
  bool Decode(const std::string& block, std::map<std::string, std::string>& out) {
    pos_ = 0;
    block_ = &block;
    while (pos_ < block.size()) {
      uint8_t b = block[pos_];
      uint64_t index = 0;
      std::string name, value;
      if (b & 0x80) {  // indexed field
        if (!GetInt(7, index) || !Lookup(index, name, value)) return false;
      } else if ((b & 0xe0) == 0x20) {  // dynamic table size update: our tables stay small
        if (!GetInt(5, index)) return false;
        continue;
      } else {
        bool incremental = (b & 0xc0) == 0x40;
        if (!GetInt(incremental ? 6 : 4, index)) return false;
        if (index == 0) {
          if (!GetString(name)) return false;
        } else {
          std::string ignored;
          if (!Lookup(index, name, ignored)) return false;
        }
        if (!GetString(value)) return false;
        if (incremental) dynamic_.emplace_front(name, value);
      }
      out[name] = value;
    }
    return true;
  }

 private:
  bool GetInt(int prefix_bits, uint64_t& value) {
    if (pos_ >= block_->size()) return false;
    uint64_t max = (1u << prefix_bits) - 1;
    value = static_cast<uint8_t>((*block_)[pos_++]) & max;
    if (value < max) return true;
    for (int shift = 0; pos_ < block_->size(); shift += 7) {
      uint8_t b = (*block_)[pos_++];
      value += static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool GetString(std::string& s) {
    if (pos_ >= block_->size() || ((*block_)[pos_] & 0x80)) return false;  // Huffman
    uint64_t len = 0;
    if (!GetInt(7, len) || pos_ + len > block_->size()) return false;
    s = block_->substr(pos_, len);
    pos_ += len;
    return true;
  }
  bool Lookup(uint64_t index, std::string& name, std::string& value) {
    constexpr uint64_t kStatic = sizeof(kStaticTable) / sizeof(kStaticTable[0]);
    if (index >= 1 && index <= kStatic) {
      name = kStaticTable[index - 1][0];
      value = kStaticTable[index - 1][1];
      return true;
    }
    if (index > kStatic && index - kStatic <= dynamic_.size()) {
      std::tie(name, value) = dynamic_[index - kStatic - 1];
      return true;
    }
    return false;
  }

  const std::string* block_ = nullptr;
  size_t pos_ = 0;
  std::deque<std::pair<std::string, std::string>> dynamic_;
};

inline bool ReadExact(int fd, char* buf, size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, buf, n);
    if (r <= 0) return false;
    buf += r;
    n -= r;
  }
  return true;
}

inline bool WriteAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t w = ::write(fd, s.data() + done, s.size() - done);
    if (w <= 0) return false;
    done += w;
  }
  return true;
}

}  // namespace raw_h2

// Calls `path` on 127.0.0.1:`port` with the given content-type and metadata, sending `message`.
inline RawGrpcReply RawGrpcCall(uint16_t port, const std::string& path,
                                const std::string& content_type,
                                const std::map<std::string, std::string>& metadata,
                                const std::string& message) {
  using namespace raw_h2;
  RawGrpcReply reply;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{10, 0};  // a server that never answers fails the test instead of hanging it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    reply.error = "connect failed";
    return reply;
  }

  std::string block;
  auto field = [&block](const std::string& name, const std::string& value) {
    block += '\0';  // literal without indexing, new name
    PutString(block, name);
    PutString(block, value);
  };
  field(":method", "POST");
  field(":scheme", "http");
  field(":path", path);
  field(":authority", "127.0.0.1:" + std::to_string(port));
  field("content-type", content_type);
  field("te", "trailers");
  for (const auto& [k, v] : metadata) field(k, v);
  std::string framed(5, '\0');  // uncompressed flag + 4-byte big-endian length
  for (int i = 0; i < 4; ++i) framed[1 + i] = static_cast<char>(message.size() >> (24 - 8 * i));
  framed += message;
  std::string out = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + Frame(4, 0, 0, "") +
                    Frame(1, 0x4, 1, block) + Frame(0, 0x1, 1, framed);
  if (!WriteAll(fd, out)) reply.error = "write failed";

  HpackDecoder hpack;
  std::string data, pending_block;
  bool stream_ended = false;
  bool block_ends_stream = false;  // the HEADERS frame of the block in progress had END_STREAM
  while (reply.error.empty() && !stream_ended) {
    char head[9];
    if (!ReadExact(fd, head, 9)) {
      reply.error = "connection closed or timed out before the call ended";
      break;
    }
    uint32_t len = (uint8_t(head[0]) << 16) | (uint8_t(head[1]) << 8) | uint8_t(head[2]);
    uint8_t type = head[3], flags = head[4];
    uint32_t stream = ((uint8_t(head[5]) & 0x7f) << 24) | (uint8_t(head[6]) << 16) |
                      (uint8_t(head[7]) << 8) | uint8_t(head[8]);
    std::string payload(len, '\0');
    if (len > 0 && !ReadExact(fd, payload.data(), len)) {
      reply.error = "truncated frame";
      break;
    }
    switch (type) {
      case 0:  // DATA
        if (stream == 1) data += payload;
        stream_ended = stream == 1 && (flags & 0x1);
        break;
      case 1:    // HEADERS
      case 9: {  // CONTINUATION
        std::string frag = payload;
        if (type == 1 && (flags & 0x8)) {  // PADDED
          size_t pad = uint8_t(frag[0]);
          frag = frag.substr(1, frag.size() - 1 - pad);
        }
        if (type == 1 && (flags & 0x20)) frag = frag.substr(5);  // PRIORITY
        pending_block += frag;
        if (type == 1) block_ends_stream = stream == 1 && (flags & 0x1);
        if (flags & 0x4) {  // END_HEADERS
          if (!hpack.Decode(pending_block, reply.headers)) reply.error = "undecodable headers";
          pending_block.clear();
          stream_ended = block_ends_stream;
        }
        break;
      }
      case 3:  // RST_STREAM
        reply.error = "stream reset";
        break;
      case 4:  // SETTINGS: acknowledge the server's
        if (!(flags & 0x1)) WriteAll(fd, Frame(4, 0x1, 0, ""));
        break;
      case 6:  // PING (grpc-core's BDP probes)
        if (!(flags & 0x1)) WriteAll(fd, Frame(6, 0x1, 0, payload));
        break;
      case 7:  // GOAWAY
        reply.error = "connection closed by GOAWAY";
        break;
      default:  // WINDOW_UPDATE, PRIORITY: nothing to do for one small call
        break;
    }
  }
  ::close(fd);
  if (data.size() >= 5) reply.message = data.substr(5);
  return reply;
}

}  // namespace lynx::dtm::testing
