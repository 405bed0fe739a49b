// Limits that keep one client, branch service or stored row from exhausting dtmd (memory, file
// descriptors, store rows, CPU) or from disturbing other transactions. Every value here has a
// config key (Limits.*) and is documented with its default and its error in docs/limits.md.
// Boost-free header: the config, the API core and both network layers read it.
#pragma once

#include <cstdint>

namespace lynx::server {

// Upper bound of every duration option of a transaction (timeout_to_fail, request_timeout,
// retry_interval, msg delay), in seconds: about 68 years. Durations are multiplied by 1000 and
// doubled by back-off; with this bound nothing overflows (the back-off saturates here too).
inline constexpr int64_t kMaxOptionSeconds = (int64_t{1} << 31) - 1;

// gids and branch ids: DTM allows any text; dtmd keeps them printable ASCII (they travel as gRPC
// metadata and URL query values) and at most this long.
inline constexpr size_t kMaxIdLength = 128;

struct Limits {
  // Branch rows one transaction may create: saga steps x 2, msg steps x topic subscribers,
  // tcc/xa registrations x 2.
  int64_t max_branches = 2000;
  // Subscribers of one topic (each is a branch of every msg sent to it).
  int64_t max_topic_subscribers = 256;
  // Largest `limit` of /all, scanKV and resetCronTime.
  int64_t max_page_size = 1000;
  // branch_headers of one transaction: bytes of all names and values together; each name is an
  // RFC 9110 token, each value printable ASCII without CR/LF/NUL.
  int64_t max_branch_header_bytes = 16 * 1024;
  // Inbound HTTP: bytes of one request's header section (and of its chunked trailer section).
  int64_t max_http_header_bytes = 32 * 1024;
  // Inbound HTTP: request bodies being received over all connections at once; above it new
  // bodies are refused with 503 until memory is freed.
  int64_t max_buffered_bytes = 256 << 20;
  // Inbound HTTP connections open at once; at the cap accepting pauses and new connections wait
  // in the kernel's backlog. (The gRPC port is gRPC's own.)
  int64_t max_connections = 10000;
  // Outbound: a branch reply body is read up to this size (larger is a call error).
  int64_t max_reply_bytes = 1 << 20;
  // Outbound HTTP connections open at once to one host:port (further calls wait for one, within
  // their own request timeout).
  int64_t max_conns_per_target = 128;
  // Outbound HTTP requests in flight over all targets, and idle keep-alive connections kept over
  // all targets (so at most twice this many outbound connections).
  int64_t max_outbound_conns = 4096;
  // gRPC channels kept to branch targets (least recently used closed first); a channel unused
  // for GrpcChannelIdle seconds is closed too.
  int64_t max_grpc_channels = 256;
  int64_t grpc_channel_idle = 300;
};

}  // namespace lynx::server
