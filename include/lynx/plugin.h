// lynx::Plugin: what the lynx host (lynx/app.h) orchestrates. A plugin is registered under a
// name and a config prefix, created only when the configuration has a node at that prefix,
// started in dependency/weight order (higher weight first) and stopped in reverse.
// Lifecycle: InitializeResources(runtime) -> StartupTasks() -> CheckHealth() ... CleanupTasks().
// The host calls these from the thread that calls App::Start/Stop; plugins document their own
// thread-safety for the methods users call.
#pragma once

#include <any>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <lynx/config_node.h>
#include <lynx/status.h>

namespace lynx {

// What a plugin sees of the host while it initializes and runs.
class Runtime {
 public:
  virtual ~Runtime() = default;
  // The whole configuration tree, and the plugin's own subtree (at its config prefix).
  virtual const ConfigNode& Config() const = 0;
  virtual ConfigNode PluginConfig() const = 0;
  // Shared resources: visible to every plugin by name. Set fails (InvalidArgument) when the name
  // is taken; Get returns nullptr when absent or of another type.
  virtual Status SetSharedResource(const std::string& name, std::any value) = 0;
  virtual const std::any* GetSharedResource(const std::string& name) const = 0;
  // Private resources: scoped to the calling plugin.
  virtual Status SetPrivateResource(const std::string& name, std::any value) = 0;
  virtual const std::any* GetPrivateResource(const std::string& name) const = 0;

  template <class T>
  const T* Shared(const std::string& name) const {
    const std::any* a = GetSharedResource(name);
    return a ? std::any_cast<T>(a) : nullptr;
  }
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual std::string Name() const = 0;          // e.g. "dtm.server"
  virtual std::string ConfigPrefix() const = 0;  // e.g. "lynx.dtm"
  virtual int Weight() const { return 0; }       // higher starts first (DTM: 90)
  virtual std::vector<std::string> Dependencies() const { return {}; }  // plugin names

  // Read configuration, fill defaults, validate (errors name the key).
  virtual Status InitializeResources(Runtime& runtime) = 0;
  // Connect, register shared resources.
  virtual Status StartupTasks() = 0;
  virtual Status CheckHealth() = 0;
  // Release everything; called in reverse start order, also when a later plugin failed to start.
  virtual Status CleanupTasks() = 0;
};

using PluginFactory = std::function<std::unique_ptr<Plugin>()>;

// The explicit registration table (no static initialisers).
class PluginRegistry {
 public:
  // InvalidArgument when the name is already registered.
  Status Register(std::string name, std::string config_prefix, PluginFactory factory);
  struct Entry {
    std::string name;
    std::string config_prefix;
    PluginFactory factory;
  };
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
};

}  // namespace lynx
