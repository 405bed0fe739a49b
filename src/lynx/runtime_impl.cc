#include "lynx/runtime_impl.h"

#include <utility>

namespace lynx {

Status ResourceTable::Set(const std::string& name, std::any value) {
  if (name.empty()) return Status::InvalidArgument(scope_ + ": empty resource name");
  if (!value.has_value()) {
    return Status::InvalidArgument(scope_ + " \"" + name + "\": empty value");
  }
  std::lock_guard<std::mutex> lock(mu_);
  // Replacing would leave dangling the pointers other plugins got from Get.
  if (!values_.try_emplace(name, std::move(value)).second) {
    return Status::InvalidArgument(scope_ + " \"" + name + "\" is already set");
  }
  return Status::Ok();
}

const std::any* ResourceTable::Get(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

RuntimeImpl::RuntimeImpl(const std::string& plugin_name, const ConfigNode& config,
                         ConfigNode plugin_config, ResourceTable& shared)
    : config_(config),
      plugin_config_(std::move(plugin_config)),
      shared_(shared),
      private_("private resource of plugin \"" + plugin_name + "\"") {}

Status RuntimeImpl::SetSharedResource(const std::string& name, std::any value) {
  return shared_.Set(name, std::move(value));
}

const std::any* RuntimeImpl::GetSharedResource(const std::string& name) const {
  return shared_.Get(name);
}

Status RuntimeImpl::SetPrivateResource(const std::string& name, std::any value) {
  return private_.Set(name, std::move(value));
}

const std::any* RuntimeImpl::GetPrivateResource(const std::string& name) const {
  return private_.Get(name);
}

}  // namespace lynx
