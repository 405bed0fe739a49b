#include "server/security/url_policy.h"

#include <arpa/inet.h>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <functional>
#include <mutex>
#include <unordered_map>

#include "common/ascii.h"

namespace lynx::server {

namespace {

bool IsHostNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

bool ParsePort(std::string_view text, uint16_t* out) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v == 0 || v > 65535) {
    return false;
  }
  *out = static_cast<uint16_t>(v);
  return true;
}

bool InCidr(const IpBytes& ip, const IpBytes& net, int bits) {
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((ip.b[i] & mask) != (net.b[i] & mask)) return false;
  }
  return true;
}

Status Refused(std::string_view what, std::string_view url, const std::string& rule) {
  return Status::InvalidArgument(std::string(what) + " '" + std::string(url) +
                                 "' refused by BranchUrlPolicy: " + rule);
}

}  // namespace

bool ParseIp(std::string_view text, IpBytes* out) {
  if (text.size() > 64) return false;
  const std::string s(text);
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    *out = IpBytes{};
    out->b[10] = out->b[11] = 0xff;
    std::memcpy(&out->b[12], &v4, 4);
    return true;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out->b.data(), &v6, 16);
    return true;
  }
  return false;
}

bool IsLoopbackAddress(std::string_view address) {
  IpBytes ip;
  if (!ParseIp(address, &ip)) return address == "localhost";
  IpBytes v6_loopback;
  v6_loopback.b[15] = 1;
  const bool v4 = ip.b[10] == 0xff && ip.b[11] == 0xff &&
                  std::all_of(ip.b.begin(), ip.b.begin() + 10, [](uint8_t x) { return x == 0; });
  return (v4 && ip.b[12] == 127) || ip.b == v6_loopback.b;
}

Status UrlPolicy::ParseHosts(const char* key, const std::vector<std::string>& in, HostRules* out) {
  for (const auto& raw : in) {
    const std::string e = AsciiLower(raw);
    const size_t slash = e.find('/');
    IpBytes ip;
    if (ParseIp(e.substr(0, slash), &ip)) {
      const bool v4 = e.find(':') == std::string::npos;
      int bits = 128;
      if (slash != std::string::npos) {
        std::string_view n = std::string_view(e).substr(slash + 1);
        int v = -1;
        auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
        if (n.empty() || ec != std::errc() || p != n.data() + n.size() || v < 0 ||
            v > (v4 ? 32 : 128)) {
          return Status::InvalidArgument(std::string("config key ") + key + ": bad prefix in '" +
                                         raw + "'");
        }
        bits = v4 ? 96 + v : v;
      }
      out->cidrs.push_back({ip, bits, raw});
      continue;
    }
    std::string_view name = e;
    if (name.rfind("*.", 0) == 0) name.remove_prefix(2);
    if (name.empty() || slash != std::string::npos ||
        !std::all_of(name.begin(), name.end(), IsHostNameChar)) {
      return Status::InvalidArgument(std::string("config key ") + key + ": '" + raw +
                                     "' is not a host name, *.suffix, address or CIDR");
    }
    out->names.push_back(e);
  }
  return Status::Ok();
}

Status UrlPolicy::ParsePorts(const char* key, const std::vector<std::string>& in,
                             std::vector<PortRange>* out) {
  for (const auto& e : in) {
    const size_t dash = e.find('-');
    PortRange r;
    bool ok = ParsePort(std::string_view(e).substr(0, dash), &r.lo);
    r.hi = r.lo;
    if (ok && dash != std::string::npos)
      ok = ParsePort(std::string_view(e).substr(dash + 1), &r.hi);
    if (!ok || r.hi < r.lo) {
      return Status::InvalidArgument(std::string("config key ") + key + ": '" + e +
                                     "' is not a port or a range such as 8000-8999");
    }
    out->push_back(r);
  }
  return Status::Ok();
}

// The verdicts of admitted URLs. A service's few URLs come back in every request and every
// call, and parsing and checking each one again (boost::url, the rules) was 3% of dtmd's CPU
// under load. Refusals are not kept (their message names the field). Bounded: the map is
// emptied when it holds kMaxEntries, so a stream of distinct URLs costs what it did uncached.
struct UrlPolicy::Admitted {
  static constexpr size_t kMaxEntries = 4096;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::mutex mu;
  std::unordered_map<std::string, UrlTarget, Hash, std::equal_to<>> by_url[2];  // [grpc_allowed]
};

StatusOr<UrlPolicy> UrlPolicy::Make(const UrlPolicyConfig& c) {
  UrlPolicy p;
  p.admitted_ = std::make_shared<Admitted>();
  p.allow_unix_ = c.allow_unix;
  if (Status st = ParseHosts("BranchUrlPolicy.AllowHosts", c.allow_hosts, &p.allow_); !st.ok()) {
    return st;
  }
  if (Status st = ParseHosts("BranchUrlPolicy.DenyHosts", c.deny_hosts, &p.deny_); !st.ok()) {
    return st;
  }
  if (Status st = ParsePorts("BranchUrlPolicy.AllowPorts", c.allow_ports, &p.allow_ports_);
      !st.ok()) {
    return st;
  }
  if (Status st = ParsePorts("BranchUrlPolicy.DenyPorts", c.deny_ports, &p.deny_ports_); !st.ok()) {
    return st;
  }
  return p;
}

const std::string* UrlPolicy::MatchName(const HostRules& r, std::string_view host) {
  for (const auto& n : r.names) {
    if (n.rfind("*.", 0) == 0) {
      std::string_view suffix = std::string_view(n).substr(1);  // ".example.com"
      if (host.size() > suffix.size() &&
          host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0) {
        return &n;
      }
    } else if (host == n) {
      return &n;
    }
  }
  return nullptr;
}

const UrlPolicy::Cidr* UrlPolicy::MatchAddress(const HostRules& r, const IpBytes& ip) {
  for (const auto& c : r.cidrs) {
    if (InCidr(ip, c.net, c.bits)) return &c;
  }
  return nullptr;
}

Status UrlPolicy::CheckPort(uint16_t port) const {
  auto in = [port](const std::vector<PortRange>& v) {
    return std::any_of(v.begin(), v.end(),
                       [port](const PortRange& r) { return port >= r.lo && port <= r.hi; });
  };
  if (in(deny_ports_)) {
    return Status::InvalidArgument("port " + std::to_string(port) +
                                   " is in BranchUrlPolicy.DenyPorts");
  }
  if (!allow_ports_.empty() && !in(allow_ports_)) {
    return Status::InvalidArgument("port " + std::to_string(port) +
                                   " is not in BranchUrlPolicy.AllowPorts");
  }
  return Status::Ok();
}

StatusOr<UrlTarget> UrlPolicy::CheckUrl(std::string_view what, std::string_view url,
                                        bool grpc_allowed) const {
  if (admitted_ == nullptr || url.empty()) return CheckUrlUncached(what, url, grpc_allowed);
  auto& known = admitted_->by_url[grpc_allowed ? 1 : 0];
  {
    std::lock_guard lock(admitted_->mu);
    if (auto it = known.find(url); it != known.end()) return it->second;
  }
  auto checked = CheckUrlUncached(what, url, grpc_allowed);
  if (checked.ok()) {
    std::lock_guard lock(admitted_->mu);
    if (known.size() >= Admitted::kMaxEntries) known.clear();
    known.emplace(std::string(url), *checked);
  }
  return checked;
}

StatusOr<UrlTarget> UrlPolicy::CheckUrlUncached(std::string_view what, std::string_view url,
                                                bool grpc_allowed) const {
  UrlTarget t;
  if (url.empty()) return t;
  const size_t sep = url.find("://");
  if (sep != std::string_view::npos) {
    const std::string scheme = AsciiLower(url.substr(0, sep));
    if (scheme != "http" && scheme != "https") {
      return Refused(what, url, "scheme '" + scheme + "' (only http, https and gRPC targets)");
    }
    auto parsed = boost::urls::parse_uri(url);
    if (!parsed) return Refused(what, url, "not a valid URL");
    const auto& u = *parsed;
    using boost::urls::host_type;
    if (u.host_type() == host_type::ipv6) {
      t.host = AsciiLower(std::string(u.encoded_host_address()));
    } else if (u.host_type() == host_type::ipv4 || u.host_type() == host_type::name) {
      t.host = AsciiLower(std::string(u.encoded_host()));
    } else {
      return Refused(what, url, "unsupported host form");
    }
    if (t.host.empty()) return Refused(what, url, "no host");
    if (u.host_type() == host_type::name &&
        !std::all_of(t.host.begin(), t.host.end(), IsHostNameChar)) {
      return Refused(what, url, "host name with characters outside [A-Za-z0-9.-_]");
    }
    t.port = scheme == "https" ? 443 : 80;
    if (u.has_port() && !u.port().empty() && !ParsePort(u.port(), &t.port)) {
      return Refused(what, url, "bad port");
    }
    t.kind = UrlTarget::Kind::kHttp;
  } else {
    if (!grpc_allowed) {
      return Refused(what, url, "an http transaction's URLs must be http:// or https://");
    }
    if (url.rfind("unix:", 0) == 0 || url.rfind("unix-abstract:", 0) == 0) {
      if (!allow_unix_) return Refused(what, url, "unix: targets need BranchUrlPolicy.AllowUnix");
      t.kind = UrlTarget::Kind::kUnix;
      return t;
    }
    const size_t slash = url.find('/');
    if (slash == std::string_view::npos || slash + 1 >= url.size()) {
      return Refused(what, url, "a gRPC URL is host:port/package.Service/Method");
    }
    std::string_view target = url.substr(0, slash);
    std::string_view host, port;
    if (!target.empty() && target.front() == '[') {
      const size_t close = target.find(']');
      if (close == std::string_view::npos || close + 1 >= target.size() ||
          target[close + 1] != ':') {
        return Refused(what, url, "a gRPC target is host:port or [v6]:port");
      }
      host = target.substr(1, close - 1);
      port = target.substr(close + 2);
      IpBytes ignored;
      if (!ParseIp(host, &ignored)) return Refused(what, url, "bad IPv6 address");
    } else {
      const size_t colon = target.rfind(':');
      if (colon == std::string_view::npos) {
        return Refused(what, url, "a gRPC target is host:port (no port)");
      }
      host = target.substr(0, colon);
      port = target.substr(colon + 1);
      if (host.empty() || !std::all_of(host.begin(), host.end(), IsHostNameChar)) {
        return Refused(what, url,
                       "a gRPC target is host:port (name resolvers such as dns:, ipv4:, xds: "
                       "are not accepted)");
      }
    }
    if (!ParsePort(port, &t.port)) return Refused(what, url, "bad port");
    t.host = AsciiLower(host);
    t.kind = UrlTarget::Kind::kGrpc;
  }
  if (Status st = CheckPort(t.port); !st.ok()) return Refused(what, url, st.message());
  IpBytes ip;
  if (ParseIp(t.host, &ip)) {
    if (Status st = CheckAddress(t, ip, t.host); !st.ok()) {
      return Refused(what, url, st.message());
    }
    return t;
  }
  if (const std::string* n = MatchName(deny_, t.host)) {
    return Refused(what, url, "host matches denied '" + *n + "' (BranchUrlPolicy.DenyHosts)");
  }
  // A name not on a non-empty allow list passes here only when address rules may admit it: they
  // are checked on the resolved addresses at call time.
  if (!allow_.empty() && MatchName(allow_, t.host) == nullptr && allow_.cidrs.empty()) {
    return Refused(what, url, "host is not in BranchUrlPolicy.AllowHosts");
  }
  return t;
}

Status UrlPolicy::CheckAddress(const UrlTarget& target, const IpBytes& address,
                               std::string_view address_text) const {
  if (const Cidr* c = MatchAddress(deny_, address)) {
    return Status::InvalidArgument("address " + std::string(address_text) + " is in denied '" +
                                   c->text + "' (BranchUrlPolicy.DenyHosts)");
  }
  if (!allow_.empty() && MatchName(allow_, target.host) == nullptr &&
      MatchAddress(allow_, address) == nullptr) {
    return Status::InvalidArgument("address " + std::string(address_text) +
                                   " is not in BranchUrlPolicy.AllowHosts");
  }
  return Status::Ok();
}

}  // namespace lynx::server
