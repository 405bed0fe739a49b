// Authentication and roles of dtmd's API callers (Auth.*, docs/security.md), one place for the
// HTTP and the gRPC front-end: which role each operation needs, and who a bearer token is.
//
// Roles: client (newGid, prepare, submit, abort, registerBranch, query of a gid, prepareWorkflow),
// reader (all, query, scanKV, queryKV, metrics), admin (everything, including forceStop, the cron
// resets, topics and the test control). /api/ping and gRPC health stay open.
// Tokens come from Auth.TokensFile and/or the environment variable named by Auth.TokensEnv, one
// "<name> <role> <token>" per line; only their SHA-256 is kept, and a presented token is compared
// with every known one in constant time. Load() may run again at any time (SIGHUP, file change):
// a failed reload keeps the previous tokens. Thread-safe. No Boost in this header.
#pragma once

#include <sys/types.h>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"
#include "server/config.h"

namespace lynx::server {

enum class Role { kNone, kClient, kReader, kAdmin };
std::string_view RoleName(Role r);

// What an operation requires. Names are the HTTP route names (`newGid`, `prepare`, `topic`...),
// the gRPC method names in lower camel case, "metrics", "test" (test control) and "" (an unknown
// route: any valid token, then 404).
enum class Access { kOpen, kAnyRole, kClient, kReader, kClientOrReader, kAdmin };
Access AccessOf(std::string_view api);
bool RoleMay(Role role, Access access);
// Admin operations are written to the audit log.
inline bool IsAudited(std::string_view api) { return AccessOf(api) == Access::kAdmin; }

struct AuthDecision {
  enum class Outcome { kAllowed, kUnauthenticated, kForbidden };
  Outcome outcome = Outcome::kAllowed;
  std::string name = "-";  // the token's name ("-" when authentication is off or none was sent)
  Role role = Role::kNone;
  std::string message;  // why not, for the 401/403 body
  bool allowed() const { return outcome == Outcome::kAllowed; }
};

class Authenticator {
 public:
  explicit Authenticator(AuthConfig config);
  ~Authenticator();
  bool enabled() const { return config_.enabled; }
  // (Re)reads the token sources. InvalidArgument naming the source and line on a bad entry, in
  // which case the tokens in use stay as they were.
  Status Load();
  // The tokens file was replaced or changed since the last Load (size, mtime or inode).
  bool SourceChanged() const;
  size_t token_count() const;
  // `authorization`: the Authorization header / metadata value ("Bearer <token>"), empty when
  // absent. Allowed for everything when authentication is off.
  AuthDecision Check(std::string_view authorization, std::string_view api) const;

 private:
  struct Tokens;
  struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileId&) const = default;
  };
  static FileId Identify(const std::string& path);

  AuthConfig config_;
  mutable std::mutex mu_;
  std::shared_ptr<const Tokens> tokens_;  // replaced whole on reload
  FileId seen_id_;  // of the last file read, loaded or refused (a refused one is not retried)
};

}  // namespace lynx::server
