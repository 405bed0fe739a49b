// Serving the web console: GET /admin/ (index.html), /admin/assets/... (the embedded build,
// console_assets.h), and redirects from / and /admin. The console calls the API with URLs
// relative to its page, so it works behind a reverse proxy that adds a path prefix; the prefix
// (AdminBasePath, as DTM's) is needed only to write the redirects.
#pragma once

#include <optional>
#include <string>

#include "common/http_server.h"

namespace lynx::server {

// The reply for a console path, or nullopt when `r` is not one (the API routes it).
std::optional<http::ServerReply> ServeConsole(const http::ServerRequest& r,
                                              const std::string& admin_base_path);

}  // namespace lynx::server
