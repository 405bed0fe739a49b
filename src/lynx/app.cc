#include <lynx/app.h>

#include <cxxabi.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <utility>

#include "lynx/runtime_impl.h"
#include "lynx/start_order.h"

namespace lynx {
namespace {

std::string Quoted(const std::string& text) { return "\"" + text + "\""; }

std::string TypeName(const std::type_info& type) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  if (status != 0 || demangled == nullptr) return type.name();
  std::string name(demangled);
  std::free(demangled);
  return name;
}

// Runs one step of plugin code. Plugins must not throw across the host boundary, but one that
// does must not tear through Start/Stop and skip the cleanup of the others.
Status RunStep(const std::string& plugin, const char* step, const std::function<Status()>& fn) {
  Status st;
  try {
    st = fn();
  } catch (const std::exception& e) {
    st = Status::Internal(std::string("threw ") + TypeName(typeid(e)) + ": " + e.what());
  } catch (...) {
    st = Status::Internal("threw a non-standard exception");
  }
  if (st.ok()) return st;
  return Status(st.code(), "plugin " + Quoted(plugin) + " " + step + " failed: " + st.message());
}

}  // namespace

struct App::Impl {
  // One created plugin. The runtime is declared first so that it outlives the plugin, which may
  // keep a reference to it.
  struct Instance {
    std::string name;
    std::unique_ptr<RuntimeImpl> runtime;
    std::unique_ptr<Plugin> plugin;
  };

  enum class State { kNew, kStarting, kStarted, kFailed, kStopped };

  Impl(ConfigNode config_in, Status load_status_in)
      : config(std::move(config_in)), load_status(std::move(load_status_in)) {}

  ~Impl() {
    Stop();
    while (!instances.empty()) instances.pop_back();  // reverse start order
  }

  Status Start();
  void Stop();
  Status CreatePlugins();
  Status StartInOrder();
  void MarkStarted(Instance* instance);
  Status CleanUpAfterFailure(Status failure, std::vector<Instance*> to_clean);

  const ConfigNode config;
  const Status load_status;
  PluginRegistry registry;
  ResourceTable shared{"shared resource"};  // before `instances`: plugins may hold its values
  std::vector<std::unique_ptr<Instance>> instances;  // in start order once ordered
  // Registered but not created (prefix absent): name -> config prefix, to explain lookups.
  std::map<std::string, std::string> not_created;

  // Guards what lookups from other threads read while the control thread starts or stops.
  mutable std::mutex mu;
  State state = State::kNew;       // guarded by mu
  std::string start_error;         // guarded by mu; why Start failed, for lookups
  std::vector<Instance*> started;  // guarded by mu; in start order
};

Status App::Impl::Start() {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (state != State::kNew) {
      return Status::InvalidArgument("lynx::App::Start: an App starts only once");
    }
    state = State::kStarting;
  }
  Status st = load_status;
  if (st.ok()) st = CreatePlugins();
  if (st.ok()) st = StartInOrder();
  std::lock_guard<std::mutex> lock(mu);
  state = st.ok() ? State::kStarted : State::kFailed;
  start_error = st.message();
  return st;
}

Status App::Impl::CreatePlugins() {
  std::vector<StartCandidate> candidates;
  for (const PluginRegistry::Entry& entry : registry.entries()) {
    ConfigNode plugin_config = config.Child(entry.config_prefix);
    if (!plugin_config.Exists()) {
      not_created.emplace(entry.name, entry.config_prefix);
      continue;
    }
    auto instance = std::make_unique<Instance>();
    instance->name = entry.name;
    Status st = RunStep(entry.name, "factory", [&] {
      instance->plugin = entry.factory();
      return instance->plugin ? Status::Ok() : Status::Internal("returned no plugin");
    });
    if (st.ok()) {
      st = RunStep(entry.name, "registration check", [&] {
        // Dependencies and lookups use the registered name; a plugin that calls itself something
        // else would make both silently miss.
        const std::string name = instance->plugin->Name();
        const std::string prefix = instance->plugin->ConfigPrefix();
        if (name != entry.name) {
          return Status::InvalidArgument("Name() returns " + Quoted(name) +
                                         " but it is registered as " + Quoted(entry.name));
        }
        if (prefix != entry.config_prefix) {
          return Status::InvalidArgument("ConfigPrefix() returns " + Quoted(prefix) +
                                         " but it is registered with " +
                                         Quoted(entry.config_prefix));
        }
        return Status::Ok();
      });
    }
    StartCandidate candidate{entry.name, 0, {}};
    if (st.ok()) {
      st = RunStep(entry.name, "Weight/Dependencies", [&] {
        candidate.weight = instance->plugin->Weight();
        candidate.dependencies = instance->plugin->Dependencies();
        return Status::Ok();
      });
    }
    if (!st.ok()) return st;
    instance->runtime =
        std::make_unique<RuntimeImpl>(entry.name, config, std::move(plugin_config), shared);
    candidates.push_back(std::move(candidate));
    instances.push_back(std::move(instance));
  }

  StatusOr<std::vector<size_t>> order = ComputeStartOrder(candidates, not_created);
  if (!order.ok()) return order.status();
  std::vector<std::unique_ptr<Instance>> ordered;
  for (size_t i : *order) ordered.push_back(std::move(instances[i]));
  instances = std::move(ordered);
  return Status::Ok();
}

Status App::Impl::StartInOrder() {
  std::vector<Instance*> up;  // StartupTasks succeeded: these own live resources
  for (const std::unique_ptr<Instance>& instance : instances) {
    Plugin& plugin = *instance->plugin;
    Status st = RunStep(instance->name, "InitializeResources",
                        [&] { return plugin.InitializeResources(*instance->runtime); });
    if (st.ok()) {
      st = RunStep(instance->name, "StartupTasks", [&] { return plugin.StartupTasks(); });
      if (st.ok()) up.push_back(instance.get());
    }
    if (st.ok()) st = RunStep(instance->name, "CheckHealth", [&] { return plugin.CheckHealth(); });
    if (!st.ok()) return CleanUpAfterFailure(std::move(st), std::move(up));
    MarkStarted(instance.get());
  }
  return Status::Ok();
}

void App::Impl::MarkStarted(Instance* instance) {
  std::lock_guard<std::mutex> lock(mu);
  started.push_back(instance);
}

Status App::Impl::CleanUpAfterFailure(Status failure, std::vector<Instance*> to_clean) {
  {
    std::lock_guard<std::mutex> lock(mu);
    started.clear();
  }
  std::string message = failure.message();
  for (auto it = to_clean.rbegin(); it != to_clean.rend(); ++it) {
    Plugin& plugin = *(*it)->plugin;
    Status st = RunStep((*it)->name, "CleanupTasks", [&] { return plugin.CleanupTasks(); });
    if (!st.ok()) message += "; then " + st.message();
  }
  return Status(failure.code(), message);
}

void App::Impl::Stop() {
  for (;;) {
    Instance* instance = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (started.empty()) {
        if (state == State::kStarted) state = State::kStopped;
        return;
      }
      instance = started.back();
      started.pop_back();
    }
    // Outside the lock: cleanup may block, and lookups must not wait for it.
    Status st =
        RunStep(instance->name, "CleanupTasks", [&] { return instance->plugin->CleanupTasks(); });
    if (!st.ok()) spdlog::warn("lynx::App::Stop: {}", st.message());
  }
}

App::App(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
App::App(App&&) noexcept = default;
App& App::operator=(App&&) noexcept = default;
App::~App() = default;

App App::FromFile(const std::string& path) {
  StatusOr<ConfigNode> config = ConfigNode::FromFile(path);
  if (!config.ok()) return App(std::make_unique<Impl>(ConfigNode(), config.status()));
  return App(std::make_unique<Impl>(std::move(*config), Status::Ok()));
}

App App::FromString(const std::string& yaml) {
  StatusOr<ConfigNode> config = ConfigNode::FromYaml(yaml);
  if (!config.ok()) return App(std::make_unique<Impl>(ConfigNode(), config.status()));
  return App(std::make_unique<Impl>(std::move(*config), Status::Ok()));
}

App::Impl& App::impl() {
  if (impl_ == nullptr) {
    impl_ = std::make_unique<Impl>(ConfigNode(),
                                   Status::InvalidArgument("lynx::App: this App was moved from"));
  }
  return *impl_;
}

PluginRegistry& App::registry() { return impl().registry; }

Status App::Start() { return impl().Start(); }

void App::Stop() {
  if (impl_ != nullptr) impl_->Stop();
}

const ConfigNode& App::config() const {
  static const ConfigNode* const kAbsent = new ConfigNode();  // never destroyed: no exit order
  return impl_ != nullptr ? impl_->config : *kAbsent;
}

std::vector<std::string> App::StartedPlugins() const {
  std::vector<std::string> names;
  if (impl_ == nullptr) return names;
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (const Impl::Instance* instance : impl_->started) names.push_back(instance->name);
  return names;
}

StatusOr<Plugin*> App::FindStartedPlugin(const std::string& name,
                                         const std::type_info& requested) const {
  const std::string head =
      "plugin " + Quoted(name) + " (requested as " + TypeName(requested) + ") is not available: ";
  if (impl_ == nullptr) return Status::NotFound(head + "this App was moved from");
  const Impl& impl = *impl_;
  std::lock_guard<std::mutex> lock(impl.mu);
  std::string started_names;
  for (const Impl::Instance* instance : impl.started) {
    if (instance->name == name) return instance->plugin.get();
    started_names += (started_names.empty() ? "" : ", ") + instance->name;
  }
  std::string why;
  switch (impl.state) {
    case Impl::State::kNew:
      why = "App::Start() has not been called";
      break;
    case Impl::State::kStarting:
      why = "App::Start() has not finished starting it";
      break;
    case Impl::State::kFailed:
      why = "App::Start() failed: " + impl.start_error;
      break;
    case Impl::State::kStopped:
      why = "the App was stopped";
      break;
    case Impl::State::kStarted: {
      // Read by the control thread only before kStarted, so stable now.
      auto absent = impl.not_created.find(name);
      if (absent != impl.not_created.end()) {
        why = "it is registered but was not created, because the configuration has no node " +
              Quoted(absent->second);
      } else {
        why = "no plugin of that name is registered (started: " +
              (started_names.empty() ? std::string("none") : started_names) + ")";
      }
      break;
    }
  }
  return Status::NotFound(head + why);
}

Status App::WrongPluginType(const std::string& name, const Plugin& actual,
                            const std::type_info& requested) {
  return Status::InvalidArgument("plugin " + Quoted(name) + " is a " + TypeName(typeid(actual)) +
                                 ", not the requested " + TypeName(requested));
}

}  // namespace lynx
