// The host's side of lynx::Runtime: one RuntimeImpl per created plugin, all sharing one
// ResourceTable for shared resources and each owning its own table for private ones.
// Thread-safe: plugins may read and add resources from their own threads at any time.
#pragma once

#include <any>
#include <map>
#include <mutex>
#include <string>

#include <lynx/config_node.h>
#include <lynx/plugin.h>
#include <lynx/status.h>

namespace lynx {

// Named values that are only ever added. Entries live as long as the table, so the pointers
// Get returns stay valid for the life of the App (plugins may cache them).
class ResourceTable {
 public:
  // `scope` names the table in error messages ("shared resource", "private resource of ...").
  explicit ResourceTable(std::string scope) : scope_(std::move(scope)) {}

  Status Set(const std::string& name, std::any value);
  const std::any* Get(const std::string& name) const;

 private:
  const std::string scope_;
  mutable std::mutex mu_;
  std::map<std::string, std::any> values_;  // node-based: element addresses never move
};

class RuntimeImpl : public Runtime {
 public:
  // `config` and `shared` must outlive this object (both belong to the App).
  RuntimeImpl(const std::string& plugin_name, const ConfigNode& config, ConfigNode plugin_config,
              ResourceTable& shared);

  const ConfigNode& Config() const override { return config_; }
  ConfigNode PluginConfig() const override { return plugin_config_; }
  Status SetSharedResource(const std::string& name, std::any value) override;
  const std::any* GetSharedResource(const std::string& name) const override;
  Status SetPrivateResource(const std::string& name, std::any value) override;
  const std::any* GetPrivateResource(const std::string& name) const override;

 private:
  const ConfigNode& config_;
  const ConfigNode plugin_config_;
  ResourceTable& shared_;
  ResourceTable private_;
};

}  // namespace lynx
