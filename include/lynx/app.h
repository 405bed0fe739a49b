// lynx::App: the minimal lynx plugin host. It loads one YAML configuration, creates every
// registered plugin whose config prefix exists in it, starts them in dependency/weight order,
// hands them a Runtime (configuration, shared and private resources), lets user code fetch them
// by name, and stops them in reverse order.
//
// Thread-safety: registry(), Start() and Stop() are the control path; call them from one thread
// at a time (not concurrently with each other). GetPlugin, FindPlugin, StartedPlugins and config
// may be called from any thread at any time, also while Start or Stop runs. A plugin reference
// stays valid until the App is destroyed, even after Stop (which only runs CleanupTasks).
//
//   lynx::App app = lynx::App::FromFile("config.yaml");
//   lynx::dtm::RegisterPlugin(app.registry());
//   if (lynx::Status st = app.Start(); !st.ok()) { ... st.message() ... }
//   auto& dtm = app.GetPlugin<lynx::dtm::DTMClient>("dtm.server");
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include <lynx/config_node.h>
#include <lynx/plugin.h>
#include <lynx/status.h>

namespace lynx {

// Thrown only by App::GetPlugin, for a name that is not a started plugin or a plugin of another
// type: asking for a plugin the program did not configure is a programming error, not a runtime
// condition. Use App::FindPlugin where absence is expected.
class PluginError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

class App {
 public:
  // Both read and parse the configuration immediately and never throw; a missing or malformed
  // file is kept and returned by Start(), with the parser's message.
  static App FromFile(const std::string& path);
  static App FromString(const std::string& yaml);

  App(App&&) noexcept;
  // Stops the plugins this App had started before taking over the other's.
  App& operator=(App&&) noexcept;
  App(const App&) = delete;
  App& operator=(const App&) = delete;
  // Stop(), then destroys the plugins in reverse start order.
  ~App();

  // Register plugins here before Start(); later registrations are not seen.
  PluginRegistry& registry();

  // Runs once per App (a second call returns InvalidArgument). Creates every registered plugin
  // whose config prefix names a node of the configuration (`lynx: dtm:` for "lynx.dtm", even when
  // empty), orders them (dependencies first, then higher weight, then registration order) and
  // starts each in turn: InitializeResources(runtime), StartupTasks(), CheckHealth().
  // A plugin's Name() and ConfigPrefix() must match its registration.
  // On the first failure, CleanupTasks() runs in reverse order on every plugin whose StartupTasks
  // succeeded (so including the failing one when only its CheckHealth failed; a plugin failing in
  // InitializeResources or StartupTasks releases what it acquired itself), and the returned
  // status keeps the plugin's code with a message naming the plugin and the step.
  // Exceptions thrown by plugin code are caught and reported the same way (kInternal).
  Status Start();

  // CleanupTasks() on the started plugins in reverse start order. Idempotent; a no-op before
  // Start. Cleanup failures are logged, not returned: nothing is left for the caller to undo.
  void Stop();

  // The started plugin `name` as a T. Throws PluginError, whose message names the plugin, the
  // requested type and the actual type or why the plugin is not available.
  template <class T>
  T& GetPlugin(const std::string& name) {
    StatusOr<T*> plugin = FindPlugin<T>(name);
    if (!plugin.ok()) throw PluginError(plugin.status().message());
    return **plugin;
  }

  // As GetPlugin, but never throws: NotFound when `name` is not a started plugin,
  // InvalidArgument when it is not a T.
  template <class T>
  StatusOr<T*> FindPlugin(const std::string& name) {
    static_assert(std::is_base_of_v<Plugin, T>, "FindPlugin<T>: T must derive from lynx::Plugin");
    StatusOr<Plugin*> plugin = FindStartedPlugin(name, typeid(T));
    if (!plugin.ok()) return plugin.status();
    if (T* typed = dynamic_cast<T*>(*plugin)) return typed;
    return WrongPluginType(name, **plugin, typeid(T));
  }

  // The loaded configuration; an absent node when loading failed.
  const ConfigNode& config() const;
  // Names of the started plugins, in start order (empty after Stop or a failed Start).
  std::vector<std::string> StartedPlugins() const;

 private:
  struct Impl;
  explicit App(std::unique_ptr<Impl> impl);
  Impl& impl();  // a moved-from App gets a fresh Impl whose Start() reports the move

  StatusOr<Plugin*> FindStartedPlugin(const std::string& name,
                                      const std::type_info& requested) const;
  static Status WrongPluginType(const std::string& name, const Plugin& actual,
                                const std::type_info& requested);

  std::unique_ptr<Impl> impl_;
};

}  // namespace lynx
