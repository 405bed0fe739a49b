#include "server/security/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <array>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

namespace lynx::server {

namespace {

using Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

Digest Sha256(std::string_view s) {
  Digest d{};
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return d;
}

// Shorter tokens are guessable; 16 printable characters of a random source are far beyond reach.
constexpr size_t kMinTokenLength = 16;

}  // namespace

struct Authenticator::Tokens {
  struct Entry {
    std::string name;
    Role role;
    Digest digest;
  };
  std::vector<Entry> entries;
};

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kClient:
      return "client";
    case Role::kReader:
      return "reader";
    case Role::kAdmin:
      return "admin";
    default:
      return "none";
  }
}

Access AccessOf(std::string_view api) {
  // The console's page and scripts hold no data (its API calls are authorised one by one).
  if (api == "ping" || api == "console") return Access::kOpen;
  if (api == "newGid" || api == "prepare" || api == "submit" || api == "abort" ||
      api == "registerBranch" || api == "registerXaBranch" || api == "registerTccBranch" ||
      api == "prepareWorkflow" || api == "json-rpc") {
    return Access::kClient;
  }
  if (api == "query" || api == "attempts" || api == "version") return Access::kClientOrReader;
  if (api == "all" || api == "scanKV" || api == "queryKV" || api == "metrics" ||
      api == "admin/summary" || api == "admin/server") {
    return Access::kReader;
  }
  if (api == "forceStop" || api == "resetCronTime" || api == "resetNextCronTime" ||
      api == "subscribe" || api == "unsubscribe" || api == "topic" || api == "deleteTopic" ||
      api == "test") {
    return Access::kAdmin;
  }
  return Access::kAnyRole;
}

bool RoleMay(Role role, Access access) {
  switch (access) {
    case Access::kOpen:
      return true;
    case Access::kAnyRole:
      return role != Role::kNone;
    case Access::kClient:
      return role == Role::kClient || role == Role::kAdmin;
    case Access::kReader:
      return role == Role::kReader || role == Role::kAdmin;
    case Access::kClientOrReader:
      return role != Role::kNone;
    case Access::kAdmin:
      return role == Role::kAdmin;
  }
  return false;
}

Authenticator::Authenticator(AuthConfig config)
    : config_(std::move(config)), tokens_(std::make_shared<Tokens>()) {}

Authenticator::~Authenticator() = default;

Authenticator::FileId Authenticator::Identify(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return {};
  return {st.st_dev, st.st_ino, st.st_size,
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

namespace {

// Parses "<name> <role> <token>" lines into *out; `origin` names the source in errors.
Status ParseTokenLines(const std::string& text, const std::string& origin,
                       std::vector<std::tuple<std::string, Role, std::string>>* out) {
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream words(line);
    std::string name, role, token, extra;
    if (!(words >> name) || name[0] == '#') continue;
    const std::string where = origin + " line " + std::to_string(n);
    if (!(words >> role >> token) || (words >> extra)) {
      return Status::InvalidArgument(where + ": expected '<name> <role> <token>'");
    }
    for (char c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
        return Status::InvalidArgument(where + ": token name may use [A-Za-z0-9._-] only");
      }
    }
    Role r = role == "client"   ? Role::kClient
             : role == "reader" ? Role::kReader
             : role == "admin"  ? Role::kAdmin
                                : Role::kNone;
    if (r == Role::kNone) {
      return Status::InvalidArgument(where + ": role must be client, reader or admin");
    }
    if (token.size() < kMinTokenLength) {
      return Status::InvalidArgument(where + ": token of '" + name + "' is shorter than " +
                                     std::to_string(kMinTokenLength) + " characters");
    }
    for (unsigned char c : token) {
      if (c < 0x21 || c > 0x7e) {
        return Status::InvalidArgument(where + ": token must be printable ASCII");
      }
    }
    out->emplace_back(name, r, token);
  }
  return Status::Ok();
}

}  // namespace

Status Authenticator::Load() {
  std::vector<std::tuple<std::string, Role, std::string>> lines;
  if (!config_.tokens_file.empty()) {
    const FileId id = Identify(config_.tokens_file);
    std::lock_guard lock(mu_);
    seen_id_ = id;
  }
  if (!config_.tokens_file.empty()) {
    std::ifstream f(config_.tokens_file, std::ios::binary);
    std::stringstream ss;
    if (f) ss << f.rdbuf();
    if (!f) {
      return Status::InvalidArgument("config key Auth.TokensFile: cannot read '" +
                                     config_.tokens_file + "'");
    }
    if (Status st =
            ParseTokenLines(ss.str(), "Auth.TokensFile '" + config_.tokens_file + "'", &lines);
        !st.ok()) {
      return st;
    }
  }
  if (!config_.tokens_env.empty()) {
    const char* v = std::getenv(config_.tokens_env.c_str());
    if (v == nullptr) {
      return Status::InvalidArgument("config key Auth.TokensEnv: environment variable " +
                                     config_.tokens_env + " is not set");
    }
    std::string text(v);
    for (char& c : text) {
      if (c == ';') c = '\n';  // one line per token, or ';' between them in one variable
    }
    if (Status st = ParseTokenLines(text, "environment variable " + config_.tokens_env, &lines);
        !st.ok()) {
      return st;
    }
  }
  if (config_.enabled && lines.empty()) {
    return Status::InvalidArgument("Auth.Enabled: no token in Auth.TokensFile / Auth.TokensEnv");
  }
  auto tokens = std::make_shared<Tokens>();
  std::set<std::string> names;
  std::set<Digest> digests;
  for (auto& [name, role, token] : lines) {
    Digest d = Sha256(token);
    if (!names.insert(name).second || !digests.insert(d).second) {
      return Status::InvalidArgument("Auth: token name '" + name + "' or its token appears twice");
    }
    tokens->entries.push_back({name, role, d});
    std::fill(token.begin(), token.end(), '\0');
  }
  std::lock_guard lock(mu_);
  tokens_ = std::move(tokens);
  return Status::Ok();
}

bool Authenticator::SourceChanged() const {
  if (config_.tokens_file.empty()) return false;
  const FileId now = Identify(config_.tokens_file);
  std::lock_guard lock(mu_);
  return !(now == seen_id_);
}

size_t Authenticator::token_count() const {
  std::lock_guard lock(mu_);
  return tokens_->entries.size();
}

AuthDecision Authenticator::Check(std::string_view authorization, std::string_view api) const {
  AuthDecision d;
  const Access access = AccessOf(api);
  if (!config_.enabled || access == Access::kOpen) return d;
  std::string_view token;
  if (authorization.size() > 7 &&
      (authorization.substr(0, 7) == "Bearer " || authorization.substr(0, 7) == "bearer ")) {
    token = authorization.substr(7);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  }
  if (token.empty()) {
    d.outcome = AuthDecision::Outcome::kUnauthenticated;
    d.message = "authentication required: send 'Authorization: Bearer <token>'";
    return d;
  }
  std::shared_ptr<const Tokens> tokens;
  {
    std::lock_guard lock(mu_);
    tokens = tokens_;
  }
  // Every entry is compared, whatever matched, so the time taken says nothing about the tokens.
  const Digest presented = Sha256(token);
  const Tokens::Entry* match = nullptr;
  for (const auto& e : tokens->entries) {
    if (CRYPTO_memcmp(e.digest.data(), presented.data(), presented.size()) == 0) match = &e;
  }
  if (match == nullptr) {
    d.outcome = AuthDecision::Outcome::kUnauthenticated;
    d.message = "authentication failed: unknown token";
    return d;
  }
  d.name = match->name;
  d.role = match->role;
  if (!RoleMay(d.role, access)) {
    d.outcome = AuthDecision::Outcome::kForbidden;
    d.message = "token '" + d.name + "' (role " + std::string(RoleName(d.role)) +
                ") may not call " + (api.empty() ? std::string("this route") : std::string(api));
  }
  return d;
}

}  // namespace lynx::server
