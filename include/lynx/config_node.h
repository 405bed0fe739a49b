// lynx::ConfigNode: a read-only view of one subtree of the application's YAML configuration,
// with typed getters that report type errors as Status (naming the full key) instead of
// throwing. Copyable and cheap; safe to read from any thread once the App has loaded its file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <lynx/status.h>

namespace lynx {

class ConfigNode {
 public:
  ConfigNode();  // an absent node
  // Parses YAML text; InvalidArgument with the parser's message when malformed.
  static StatusOr<ConfigNode> FromYaml(const std::string& text);
  static StatusOr<ConfigNode> FromFile(const std::string& path);

  // True when this node exists in the file (a prefix such as "lynx.dtm" is present).
  bool Exists() const;
  // The child at a dotted path ("dtm.server_url"); an absent node when missing.
  ConfigNode Child(std::string_view dotted_path) const;
  // The full dotted path of this node from the root ("lynx.dtm"), for error messages.
  const std::string& path() const { return path_; }

  // Each getter leaves *out untouched and returns Ok when the key is absent or null; returns
  // InvalidArgument naming "<path>.<key>" when the value has the wrong type.
  Status Get(std::string_view key, std::string* out) const;
  Status Get(std::string_view key, int64_t* out) const;
  Status Get(std::string_view key, bool* out) const;
  Status Get(std::string_view key, std::vector<std::string>* out) const;
  // Keys of a mapping node, in file order (to detect unknown keys).
  std::vector<std::string> Keys() const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
  std::string path_;
};

}  // namespace lynx
