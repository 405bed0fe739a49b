#include <lynx/plugin.h>

#include <utility>

namespace lynx {

Status PluginRegistry::Register(std::string name, std::string config_prefix,
                                PluginFactory factory) {
  // Rejected here rather than at Start so that the mistake points at the registering line.
  if (name.empty()) return Status::InvalidArgument("plugin registration: empty plugin name");
  if (config_prefix.empty()) {
    return Status::InvalidArgument("plugin \"" + name + "\": empty config prefix");
  }
  if (!factory) return Status::InvalidArgument("plugin \"" + name + "\": empty factory");
  for (const Entry& entry : entries_) {
    if (entry.name == name) {
      return Status::InvalidArgument("plugin \"" + name +
                                     "\" is already registered (config prefix " +
                                     entry.config_prefix + ")");
    }
  }
  entries_.push_back(Entry{std::move(name), std::move(config_prefix), std::move(factory)});
  return Status::Ok();
}

}  // namespace lynx
