// The web console's built files (console/, Vite), compiled into dtmd so that serving /admin/
// needs nothing but the binary. The table is generated at build time by cmake/embed_console.cmake
// from the console's build output; a dtmd configured with LYNX_CONSOLE=OFF has an empty table.
#pragma once

#include <string_view>

namespace lynx::server::console {

struct Asset {
  std::string_view path;          // relative to /admin/: "index.html", "assets/index-3f2a.js"
  std::string_view content_type;  // from the file's extension
  std::string_view body;
};

// The asset at `path` (relative to /admin/), or null.
const Asset* FindAsset(std::string_view path);
// Whether a console was built into this binary.
bool Embedded();

}  // namespace lynx::server::console
