#include "server/http/console_route.h"

#include "server/http/console_assets.h"

namespace lynx::server {
namespace {

// The page loads only its own scripts and styles and talks only to its own origin; it is never
// framed (clickjacking of the force-stop button).
constexpr const char* kPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'";

http::ServerReply Redirect(const std::string& to) {
  http::ServerReply r{302, "", "text/plain; charset=utf-8"};
  r.headers.emplace_back("Location", to);
  return r;
}

// "/dtm/" or "dtm" -> "/dtm"; "" stays "" (a relative redirect then).
std::string NormalizedBase(const std::string& base) {
  std::string out = base;
  while (!out.empty() && out.back() == '/') out.pop_back();
  if (!out.empty() && out.front() != '/') out.insert(out.begin(), '/');
  return out;
}

}  // namespace

std::optional<http::ServerReply> ServeConsole(const http::ServerRequest& r,
                                              const std::string& admin_base_path) {
  static constexpr std::string_view kPrefix = "/admin/";
  const bool root = r.path == "/" || r.path == "/admin";
  if (!root && r.path.rfind(kPrefix, 0) != 0) return std::nullopt;
  if (r.method != "GET") {
    return http::JsonMessage(405, "the console is read with GET");
  }
  if (root) {
    const std::string base = NormalizedBase(admin_base_path);
    // Relative when no prefix is configured: right behind any proxy that keeps the path shape.
    // ("admin/" from "/" and from "/admin" both resolve to "/admin/".)
    return Redirect(base.empty() ? "admin/" : base + "/admin/");
  }
  if (!console::Embedded()) {
    return http::JsonMessage(404, "this dtmd was built without the web console (LYNX_CONSOLE=OFF)");
  }
  std::string_view rel = std::string_view(r.path).substr(kPrefix.size());
  if (rel.empty()) rel = "index.html";
  const console::Asset* asset = console::FindAsset(rel);
  if (asset == nullptr) return http::JsonMessage(404, "no console file " + std::string(rel));
  http::ServerReply reply{200, std::string(asset->body), std::string(asset->content_type)};
  // Vite names every asset by its content hash: cached for good. index.html names the current
  // ones, so it is revalidated on every load.
  const bool hashed = rel.rfind("assets/", 0) == 0;
  reply.headers.emplace_back("Cache-Control",
                             hashed ? "public, max-age=31536000, immutable" : "no-cache");
  reply.headers.emplace_back("Content-Security-Policy", kPolicy);
  reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
  reply.headers.emplace_back("Referrer-Policy", "no-referrer");
  return reply;
}

}  // namespace lynx::server
