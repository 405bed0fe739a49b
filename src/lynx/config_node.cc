#include <lynx/config_node.h>

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_set>
#include <utility>

namespace lynx {

namespace {

constexpr char kIntTag[] = "tag:yaml.org,2002:int";
constexpr char kBoolTag[] = "tag:yaml.org,2002:bool";
// Aliases are expanded while copying, so a self-referencing alias (`a: &x [*x]`) would recurse
// forever and nested aliases can grow exponentially; both limits are far above any real config.
constexpr int kMaxDepth = 64;
constexpr size_t kMaxNodes = 1'000'000;

std::string JoinPath(const std::string& base, std::string_view tail) {
  if (base.empty()) return std::string(tail);
  if (tail.empty()) return base;
  return base + "." + std::string(tail);
}

std::string DisplayPath(const std::string& path) { return path.empty() ? "<root>" : path; }

std::string LineOf(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return "";
  return " (line " + std::to_string(mark.line + 1) + ")";
}

// YAML 1.2 core schema integers: decimal with optional sign, 0x hex, 0o octal.
bool ParseInteger(const std::string& text, int64_t* out) {
  std::string_view digits = text;
  int base = 10;
  bool negative = false;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'o')) {
    base = digits[1] == 'x' ? 16 : 8;
    digits.remove_prefix(2);
  } else if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  if (digits.empty()) return false;
  // from_chars would accept a second sign; only digits may follow.
  if (digits[0] == '-' || digits[0] == '+') return false;
  uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (ec != std::errc() || end != digits.data() + digits.size()) return false;
  constexpr uint64_t kMaxPositive = static_cast<uint64_t>(INT64_MAX);
  if (negative) {
    if (magnitude > kMaxPositive + 1) return false;
    *out = magnitude == kMaxPositive + 1 ? INT64_MIN : -static_cast<int64_t>(magnitude);
  } else {
    if (magnitude > kMaxPositive) return false;
    *out = static_cast<int64_t>(magnitude);
  }
  return true;
}

bool ParseBoolean(const std::string& text, bool* out) {
  if (text == "true" || text == "True" || text == "TRUE") {
    *out = true;
    return true;
  }
  if (text == "false" || text == "False" || text == "FALSE") {
    *out = false;
    return true;
  }
  return false;
}

}  // namespace

// The parsed YAML is copied into this immutable tree once, at load time. yaml-cpp nodes share
// mutable state behind their handles, so keeping them would make the "read from any thread"
// promise of config_node.h depend on yaml-cpp internals; this tree is plain const data.
struct ConfigNode::Impl {
  enum class Kind { kNull, kScalar, kSequence, kMapping };
  Kind kind = Kind::kNull;
  std::string scalar;
  // yaml-cpp's tag: "?" for a plain scalar, "!" for a quoted one, else the resolved explicit tag.
  // Needed so that `timeout: "10"` is a string and not an integer.
  std::string tag;
  std::vector<std::pair<std::string, std::shared_ptr<const Impl>>> mapping;  // in file order
  std::vector<std::shared_ptr<const Impl>> sequence;

  // Quoted scalars and explicit other tags are strings by the author's choice, never numbers.
  bool IsPlainOr(const char* explicit_tag) const { return tag == "?" || tag == explicit_tag; }

  static Status Parse(const std::string& text, std::shared_ptr<const Impl>* root);
  static Status CopyTree(const YAML::Node& node, const std::string& path, int depth, size_t* budget,
                         std::shared_ptr<const Impl>* out);
};

Status ConfigNode::Impl::CopyTree(const YAML::Node& node, const std::string& path, int depth,
                                  size_t* budget, std::shared_ptr<const Impl>* out) {
  if (depth > kMaxDepth) {
    return Status::InvalidArgument(DisplayPath(path) + ": nested deeper than " +
                                   std::to_string(kMaxDepth) + " levels (recursive alias?)");
  }
  if (*budget == 0) {
    return Status::InvalidArgument(DisplayPath(path) + ": more than " + std::to_string(kMaxNodes) +
                                   " nodes after expanding aliases");
  }
  --*budget;
  auto impl = std::make_shared<Impl>();
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      impl->kind = Impl::Kind::kNull;
      break;
    case YAML::NodeType::Scalar:
      impl->kind = Impl::Kind::kScalar;
      impl->scalar = node.Scalar();
      impl->tag = node.Tag();
      break;
    case YAML::NodeType::Sequence: {
      impl->kind = Impl::Kind::kSequence;
      size_t index = 0;
      for (const YAML::Node& item : node) {
        std::shared_ptr<const Impl> child;
        Status st =
            CopyTree(item, path + "[" + std::to_string(index++) + "]", depth + 1, budget, &child);
        if (!st.ok()) return st;
        impl->sequence.push_back(std::move(child));
      }
      break;
    }
    case YAML::NodeType::Map: {
      impl->kind = Impl::Kind::kMapping;
      std::unordered_set<std::string> keys;
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (!it->first.IsScalar()) {
          return Status::InvalidArgument(DisplayPath(path) + ": mapping keys must be scalars" +
                                         LineOf(it->first));
        }
        const std::string key = it->first.Scalar();
        const std::string child_path = JoinPath(path, key);
        // yaml-cpp keeps both entries of a repeated key and lookups would silently pick one.
        if (!keys.insert(key).second) {
          return Status::InvalidArgument(child_path + ": duplicate key" + LineOf(it->first));
        }
        std::shared_ptr<const Impl> child;
        Status st = CopyTree(it->second, child_path, depth + 1, budget, &child);
        if (!st.ok()) return st;
        impl->mapping.emplace_back(key, std::move(child));
      }
      break;
    }
  }
  *out = std::move(impl);
  return Status::Ok();
}

Status ConfigNode::Impl::Parse(const std::string& text, std::shared_ptr<const Impl>* root) {
  // yaml-cpp reports everything by exception; none of them may leave this file.
  try {
    std::vector<YAML::Node> documents = YAML::LoadAll(text);
    if (documents.size() > 1) {
      return Status::InvalidArgument("invalid YAML: expected one document, found " +
                                     std::to_string(documents.size()));
    }
    if (documents.empty()) {  // empty text or only comments: an empty configuration
      *root = std::make_shared<Impl>();
      return Status::Ok();
    }
    size_t budget = kMaxNodes;
    return CopyTree(documents.front(), "", 0, &budget, root);
  } catch (const YAML::Exception& e) {
    std::string where;
    if (!e.mark.is_null()) {
      where = "line " + std::to_string(e.mark.line + 1) + ", column " +
              std::to_string(e.mark.column + 1) + ": ";
    }
    return Status::InvalidArgument("invalid YAML: " + where + e.msg);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("invalid YAML: ") + e.what());
  }
}

ConfigNode::ConfigNode() = default;

StatusOr<ConfigNode> ConfigNode::FromYaml(const std::string& text) {
  std::shared_ptr<const Impl> root;
  Status st = Impl::Parse(text, &root);
  if (!st.ok()) return st;
  ConfigNode node;
  node.impl_ = std::move(root);
  return node;
}

StatusOr<ConfigNode> ConfigNode::FromFile(const std::string& path) {
  const std::string prefix = "config file " + path + ": ";
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument(prefix + "is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(prefix + "cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument(prefix + "read error: " + std::strerror(errno));
  StatusOr<ConfigNode> node = FromYaml(text.str());
  if (!node.ok()) return Status(node.status().code(), prefix + node.status().message());
  return node;
}

bool ConfigNode::Exists() const { return impl_ != nullptr; }

ConfigNode ConfigNode::Child(std::string_view dotted_path) const {
  ConfigNode child;
  child.path_ = JoinPath(path_, dotted_path);
  std::shared_ptr<const Impl> found = impl_;
  std::string_view rest = dotted_path;
  while (found != nullptr && !rest.empty()) {
    const size_t dot = rest.find('.');
    const std::string_view segment = rest.substr(0, dot);
    rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
    // "a..b" or a trailing dot name no key; treat them as absent rather than as "this node".
    if (segment.empty() || (dot != std::string_view::npos && rest.empty())) return child;
    std::shared_ptr<const Impl> next;
    if (found->kind == Impl::Kind::kMapping) {
      for (const auto& [key, value] : found->mapping) {
        if (key == segment) {
          next = value;
          break;
        }
      }
    }
    found = std::move(next);
  }
  child.impl_ = std::move(found);
  return child;
}

Status ConfigNode::Get(std::string_view key, std::string* out) const {
  const ConfigNode node = Child(key);
  if (!node.Exists() || node.impl_->kind == Impl::Kind::kNull) return Status::Ok();
  if (node.impl_->kind != Impl::Kind::kScalar) {
    return Status::InvalidArgument(node.path_ + ": expected a string");
  }
  *out = node.impl_->scalar;
  return Status::Ok();
}

Status ConfigNode::Get(std::string_view key, int64_t* out) const {
  const ConfigNode node = Child(key);
  if (!node.Exists() || node.impl_->kind == Impl::Kind::kNull) return Status::Ok();
  const Impl& value = *node.impl_;
  int64_t parsed = 0;
  if (value.kind != Impl::Kind::kScalar || !value.IsPlainOr(kIntTag) ||
      !ParseInteger(value.scalar, &parsed)) {
    return Status::InvalidArgument(node.path_ + ": expected an integer");
  }
  *out = parsed;
  return Status::Ok();
}

Status ConfigNode::Get(std::string_view key, bool* out) const {
  const ConfigNode node = Child(key);
  if (!node.Exists() || node.impl_->kind == Impl::Kind::kNull) return Status::Ok();
  const Impl& value = *node.impl_;
  bool parsed = false;
  if (value.kind != Impl::Kind::kScalar || !value.IsPlainOr(kBoolTag) ||
      !ParseBoolean(value.scalar, &parsed)) {
    return Status::InvalidArgument(node.path_ + ": expected a boolean (true or false)");
  }
  *out = parsed;
  return Status::Ok();
}

Status ConfigNode::Get(std::string_view key, std::vector<std::string>* out) const {
  const ConfigNode node = Child(key);
  if (!node.Exists() || node.impl_->kind == Impl::Kind::kNull) return Status::Ok();
  if (node.impl_->kind != Impl::Kind::kSequence) {
    return Status::InvalidArgument(node.path_ + ": expected a list of strings");
  }
  std::vector<std::string> items;
  for (size_t i = 0; i < node.impl_->sequence.size(); ++i) {
    const Impl& item = *node.impl_->sequence[i];
    if (item.kind != Impl::Kind::kScalar) {
      return Status::InvalidArgument(node.path_ + ": expected a list of strings (item " +
                                     std::to_string(i) + " is not a string)");
    }
    items.push_back(item.scalar);
  }
  *out = std::move(items);
  return Status::Ok();
}

std::vector<std::string> ConfigNode::Keys() const {
  std::vector<std::string> keys;
  if (impl_ == nullptr || impl_->kind != Impl::Kind::kMapping) return keys;
  for (const auto& [key, unused] : impl_->mapping) keys.push_back(key);
  return keys;
}

}  // namespace lynx
