// UrlPolicy: which branch URLs dtmd accepts and calls (BranchUrlPolicy.*, docs/security.md).
// dtmd calls any URL a caller names, so without a policy anyone who may submit can make dtmd
// reach internal services (the cloud metadata endpoint, admin ports, unix sockets).
//
// Checked twice: at the edge (prepare / submit / registerBranch / subscribe, a 400 that names
// the rule) on the URL's text, and at call time on every address the host resolves to, so a name
// that resolves into a denied range is refused too (and a stored row that predates the policy).
// Schemes: http and https; gRPC targets host:port/Service/Method; unix: / unix-abstract: gRPC
// targets only with AllowUnix. Hosts: exact names, "*.suffix" names, addresses and CIDRs; ports:
// numbers and ranges. Deny rules win; a non-empty allow list admits only what it names.
// Immutable after Make; thread-safe. No Boost in this header.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "server/config.h"

namespace lynx::server {

// An IP address as 16 bytes (IPv4 mapped into ::ffff:0:0/96), for rules and checks.
struct IpBytes {
  std::array<uint8_t, 16> b{};
};
// Parses a textual IPv4/IPv6 address (IPv4-mapped IPv6 counts as IPv4). False when not one.
bool ParseIp(std::string_view text, IpBytes* out);

// 127.0.0.0/8, ::1 or "localhost": an address only this machine reaches.
bool IsLoopbackAddress(std::string_view address);

// Where a branch URL points.
struct UrlTarget {
  enum class Kind { kNone, kHttp, kGrpc, kUnix };
  Kind kind = Kind::kNone;  // kNone: empty URL, nothing is called
  std::string host;         // lower-cased; without brackets for IPv6
  uint16_t port = 0;
};

class UrlPolicy {
 public:
  // InvalidArgument naming the key when an entry is malformed.
  static StatusOr<UrlPolicy> Make(const UrlPolicyConfig& config);

  // The edge check of a branch URL. `grpc_allowed`: a URL without scheme is a gRPC target (the
  // transaction's protocol is grpc, or a topic subscriber whose protocol is not known yet).
  // InvalidArgument "<what> ... refused by BranchUrlPolicy: <rule>".
  StatusOr<UrlTarget> CheckUrl(std::string_view what, std::string_view url,
                               bool grpc_allowed) const;
  // The call-time check of one resolved address of `target`.
  Status CheckAddress(const UrlTarget& target, const IpBytes& address,
                      std::string_view address_text) const;

 private:
  struct Cidr {
    IpBytes net;
    int bits = 0;  // of the 128
    std::string text;
  };
  struct HostRules {
    std::vector<std::string> names;  // exact, or "*.suffix"
    std::vector<Cidr> cidrs;
    bool empty() const { return names.empty() && cidrs.empty(); }
  };
  struct PortRange {
    uint16_t lo = 0, hi = 0;
  };

  static Status ParseHosts(const char* key, const std::vector<std::string>& in, HostRules* out);
  static Status ParsePorts(const char* key, const std::vector<std::string>& in,
                           std::vector<PortRange>* out);
  static const std::string* MatchName(const HostRules& r, std::string_view host);
  static const Cidr* MatchAddress(const HostRules& r, const IpBytes& ip);
  Status CheckPort(uint16_t port) const;
  StatusOr<UrlTarget> CheckUrlUncached(std::string_view what, std::string_view url,
                                       bool grpc_allowed) const;

  // URLs already admitted, with their targets (url_policy.cc); shared by copies of one policy
  // (the same rules give the same verdicts).
  struct Admitted;
  std::shared_ptr<Admitted> admitted_;

  bool allow_unix_ = false;
  HostRules allow_, deny_;
  std::vector<PortRange> allow_ports_, deny_ports_;
};

}  // namespace lynx::server
