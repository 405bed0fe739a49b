#include "store/redis/redis_store.h"

#include "store/store_util.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "common/time_format.h"
#include "store/redis/redis_async.h"
#include "store/redis/redis_codec.h"
#include "store/redis/redis_conn.h"
#include "store/redis/redis_scripts.h"

namespace lynx::store {

using redis::RedisConn;
using redis::RedisPool;
using redis::Reply;
using redis::ScriptId;

// What a script returned: a string (a sentinel or JSON), an integer, or an array of integers.
struct RedisStore::Result {
  std::string str;
  int64_t integer = 0;
  std::vector<int64_t> integers;
  bool is_string = false;

  bool Is(const char* sentinel) const { return is_string && str == sentinel; }
};

namespace {

constexpr const char* kNotFound = "NOT_FOUND";
constexpr const char* kUniqueConflict = "UNIQUE_CONFLICT";
// Keys read per MGET / index page while scanning.
constexpr int64_t kBatch = 200;

// Error replies that mean "try again later" (replica promotion, loading, a long script).
bool TransientError(const std::string& e) {
  for (const char* prefix :
       {"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "READONLY", "CLUSTERDOWN", "OOM"}) {
    if (e.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

Status ReplyError(const std::string& what, const std::string& error) {
  std::string text = "redis store: " + what + ": " + error;
  return TransientError(error) ? Status::Unavailable(std::move(text))
                               : Status::Internal(std::move(text));
}

// Runs one command on `c`; an error reply becomes a Status.
StatusOr<Reply> Call(RedisConn& c, const std::vector<std::string>& argv) {
  bool sent = false;
  auto r = c.Command(argv, &sent);
  if (!r.ok()) return r.status();
  if ((*r)->type == REDIS_REPLY_ERROR) return ReplyError(argv[0], redis::ErrorText(**r));
  return r;
}

// Runs fn(conn) on a pooled connection. A read whose connection broke (server restart, CLIENT
// KILL) runs once more on a fresh one: reads are idempotent.
template <class F>
Status Read(RedisPool& pool, F&& fn) {
  for (int attempt = 0;; ++attempt) {
    auto conn = pool.Acquire();
    if (!conn.ok()) return conn.status();
    Status st = fn(**conn);
    if (st.ok() || attempt > 0 || !(*conn)->Broken()) return st;
  }
}

std::string Str(const redisReply* r) {
  return r->str == nullptr ? std::string() : std::string(r->str, r->len);
}

// An HGETALL reply as (field, value) pairs.
std::vector<std::pair<std::string, std::string>> Pairs(const redisReply& r) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i + 1 < r.elements; i += 2) {
    out.emplace_back(Str(r.element[i]), Str(r.element[i + 1]));
  }
  return out;
}

// Zset scores come back as text ("12" or "1.7e9"); ids are whole numbers.
int64_t ScoreInt(const redisReply* r) {
  return static_cast<int64_t>(std::strtod(Str(r).c_str(), nullptr));
}

bool HasDuplicateKey(const std::vector<TransBranch>& rows) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& r : rows) {
    if (!seen.emplace(r.branch_id, r.op).second) return true;
  }
  return false;
}

// SCAN MATCH treats * ? [ ] \ specially; a prefix is matched literally.
std::string GlobEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// SCANs keys matching `pattern`, calling fn(keys) per non-empty page.
template <class F>
Status ScanKeys(RedisPool& pool, const std::string& pattern, F&& fn) {
  std::string cursor = "0";
  do {
    std::vector<std::string> keys;
    Status st = Read(pool, [&](RedisConn& c) -> Status {
      auto r = Call(c, {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
      if (!r.ok()) return r.status();
      const redisReply* reply = r->get();
      if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        return Status::Internal("redis store: unexpected SCAN reply");
      }
      cursor = Str(reply->element[0]);
      keys.clear();
      for (size_t i = 0; i < reply->element[1]->elements; ++i) {
        keys.push_back(Str(reply->element[1]->element[i]));
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    if (!keys.empty()) {
      if (Status fst = fn(keys); !fst.ok()) return fst;
    }
  } while (cursor != "0");
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<RedisStore>> RedisStore::Open(const RedisOptions& o) {
  if (o.host.find(',') != std::string::npos) {
    return Status::InvalidArgument("config key Store.Host: '" + o.host +
                                   "': Redis Cluster host lists are not supported by dtmd");
  }
  if (o.data_expire_s < 0 || o.finished_data_expire_s < 0) {
    return Status::InvalidArgument("redis store: expiry times must not be negative");
  }
  redis::ConnOptions conn;
  conn.host = o.host;
  conn.port = static_cast<int>(o.port != 0 ? o.port : 6379);
  conn.user = o.user;
  conn.password = o.password;
  conn.client_name = o.client_name;
  conn.connect_timeout_ms = o.connect_timeout_ms;
  conn.io_timeout_ms = o.io_timeout_ms;
  std::unique_ptr<RedisStore> store(new RedisStore());
  store->options_ = o;
  store->compact_ = o.layout == RedisLayout::kCompact;
  store->pool_ = std::make_unique<RedisPool>(
      conn, static_cast<size_t>(std::clamp<int64_t>(o.max_conns, 1, o.kMaxConnections)));
  if (Status st = store->Ping(); !st.ok()) return st;
  if (Status st = store->LoadScripts(/*keep_shas=*/true); !st.ok()) return st;
  // The first dtmd to see this prefix indexes the KV entries (topics) DTM left in it and
  // records the layout.
  auto marker = store->LayoutMarker();
  if (!marker.ok()) return marker.status();
  // PopulateSchema records the layout and checks it.
  Status st = marker->has_value() ? store->CheckLayout(*marker) : store->PopulateSchema();
  if (!st.ok()) return st;
  return store;
}

const redis::ScriptSource& RedisStore::Script(ScriptId id) const {
  return redis::Script(id, compact_);
}

StatusOr<std::optional<std::string>> RedisStore::LayoutMarker() {
  std::optional<std::string> out;
  Status st = Read(*pool_, [&](RedisConn& c) -> Status {
    auto r = Call(c, {"GET", options_.prefix + "_layout"});
    if (!r.ok()) return r.status();
    out.reset();
    if ((*r)->type == REDIS_REPLY_STRING) out = Str(r->get());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Status RedisStore::CheckLayout(const std::optional<std::string>& marker) const {
  const std::string mine = compact_ ? "compact" : "dtm";
  std::string theirs = "no recorded";
  if (marker.has_value()) {
    theirs = *marker == "compact" ? "compact" : *marker == "1" ? "dtm" : "'" + *marker + "'";
  }
  if (theirs == mine) return Status::Ok();
  return Status::InvalidArgument("config key Store.RedisLayout: '" + mine + "', but prefix " +
                                 options_.prefix + " holds the " + theirs + " layout (key " +
                                 options_.prefix +
                                 "_layout); set that layout or use another Store.RedisPrefix");
}

RedisStore::~RedisStore() = default;

std::string RedisStore::Key(const std::string& kind, const std::string& name) const {
  return options_.prefix + "_" + kind + "_" + name;
}

Status RedisStore::Ping() {
  return Read(*pool_, [](RedisConn& c) { return Call(c, {"PING"}).status(); });
}

Status RedisStore::LoadScripts(bool keep_shas) {
  std::vector<std::string> shas;
  Status st = Read(*pool_, [&](RedisConn& c) -> Status {
    shas.clear();
    for (size_t i = 0; i < static_cast<size_t>(ScriptId::kCount); ++i) {
      auto r = Call(c, {"SCRIPT", "LOAD", Script(static_cast<ScriptId>(i)).text});
      if (!r.ok()) return r.status();
      shas.push_back(Str(r->get()));
    }
    return Status::Ok();
  });
  if (st.ok() && keep_shas) shas_ = std::move(shas);
  return st;
}

Status RedisStore::PopulateSchema() {
  if (Status st = LoadScripts(/*keep_shas=*/false); !st.ok()) return st;
  if (compact_) {
    auto marker = LayoutMarker();
    if (!marker.ok()) return marker.status();
    // Transactions DTM wrote in its layout would break the compact scripts (a string where a
    // hash is expected): the compact layout starts on a prefix without them.
    if (!marker->has_value()) {
      if (Status st = RefuseDtmTransactions(); !st.ok()) return st;
    }
  }
  if (Status st = AdoptDtmKV(); !st.ok()) return st;
  // NX: the first instance to record a layout decides; CheckLayout then compares.
  Status st = Read(*pool_, [&](RedisConn& c) {
    return Call(c, {"SET", options_.prefix + "_layout", compact_ ? "compact" : "1", "NX"}).status();
  });
  if (!st.ok()) return st;
  auto recorded = LayoutMarker();
  if (!recorded.ok()) return recorded.status();
  return CheckLayout(*recorded);
}

Status RedisStore::RefuseDtmTransactions() {
  const Status found = Status::InvalidArgument(
      "config key Store.RedisLayout: 'compact', but prefix " + options_.prefix +
      " holds transactions in DTM's layout; use another Store.RedisPrefix");
  int64_t index_keys = 0;
  Status st = Read(*pool_, [&](RedisConn& c) -> Status {
    auto r = Call(c, {"EXISTS", options_.prefix + "_u", options_.prefix + "_all"});
    if (!r.ok()) return r.status();
    index_keys = (*r)->integer;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (index_keys > 0) return found;
  return ScanKeys(*pool_, GlobEscape(options_.prefix) + "_g_*",
                  [&](const std::vector<std::string>&) { return found; });
}

Status RedisStore::AdoptDtmKV() {
  return ScanKeys(*pool_, GlobEscape(options_.prefix) + "_kv_*",
                  [&](const std::vector<std::string>& keys) {
                    return Run(ScriptId::kAdoptKV, keys[0], keys).status();
                  });
}

Status RedisStore::DropAll() {
  return ScanKeys(*pool_, GlobEscape(options_.prefix) + "_*",
                  [&](const std::vector<std::string>& keys) {
                    return Read(*pool_, [&](RedisConn& c) {
                      std::vector<std::string> argv{"DEL"};
                      argv.insert(argv.end(), keys.begin(), keys.end());
                      return Call(c, argv).status();
                    });
                  });
}

std::vector<std::string> RedisStore::ScriptArgv(ScriptId id, const std::string& key,
                                                std::vector<std::string> args) const {
  std::vector<std::string> argv{"EVALSHA",
                                shas_[static_cast<size_t>(id)],
                                "1",
                                key,
                                options_.prefix,
                                std::to_string(options_.data_expire_s),
                                std::to_string(options_.finished_data_expire_s)};
  argv.insert(argv.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  return argv;
}

namespace {

bool NoScript(const StatusOr<Reply>& r) {
  return r.ok() && redis::ErrorText(**r).rfind("NOSCRIPT", 0) == 0;
}

}  // namespace

StatusOr<RedisStore::Result> RedisStore::ToResult(ScriptId id, const redisReply& r) {
  const redisReply* reply = &r;
  Result out;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      out.is_string = true;
      out.str = Str(reply);
      break;
    case REDIS_REPLY_INTEGER:
      out.integer = reply->integer;
      break;
    case REDIS_REPLY_ARRAY:
      for (size_t i = 0; i < reply->elements; ++i)
        out.integers.push_back(reply->element[i]->integer);
      break;
    case REDIS_REPLY_ERROR:
      // Both layouts' scripts have the same names.
      return ReplyError(redis::Script(id, false).name, redis::ErrorText(*reply));
    default:
      break;
  }
  return out;
}

StatusOr<RedisStore::Result> RedisStore::Run(ScriptId id, const std::string& key,
                                             std::vector<std::string> args) {
  std::vector<std::string> argv = ScriptArgv(id, key, std::move(args));
  Reply reply;
  // A write is sent again only when the first attempt failed before the server had the whole
  // command; once sent, its outcome is unknown and the caller gets kUnavailable.
  for (int attempt = 0; reply == nullptr; ++attempt) {
    auto conn = pool_->Acquire();
    if (!conn.ok()) return conn.status();
    bool sent = false;
    auto r = (*conn)->Command(argv, &sent);
    if (NoScript(r)) {
      // The server restarted or flushed its script cache: EVAL loads the script again.
      argv[0] = "EVAL";
      argv[1] = Script(id).text;
      r = (*conn)->Command(argv, &sent);
    }
    if (!r.ok()) {
      if (sent || attempt > 0) return r.status();
      continue;
    }
    reply = std::move(*r);
  }
  return ToResult(id, *reply);
}

void RedisStore::AttachIo(boost::asio::io_context& io) {
  redis::ConnOptions conn;
  conn.host = options_.host;
  conn.port = static_cast<int>(options_.port);
  conn.user = options_.user;
  conn.password = options_.password;
  conn.client_name = options_.client_name;
  conn.connect_timeout_ms = options_.connect_timeout_ms;
  conn.io_timeout_ms = options_.io_timeout_ms;
  async_ = std::make_unique<redis::AsyncConn>(io, std::move(conn));
}

// The same rules as Run, over the pipelined connection: EVAL after NOSCRIPT, and one more try
// when the command had not been sent.
void RedisStore::RunAsync(ScriptId id, const std::string& key, std::vector<std::string> args,
                          Completion<StatusOr<Result>> done) {
  struct Call {
    ScriptId id;
    const redis::ScriptSource* script;
    std::vector<std::string> argv;
    Completion<StatusOr<Result>> done;
    redis::AsyncConn* conn;
    bool retried = false;

    static void Send(const std::shared_ptr<Call>& call) {
      call->conn->Command(call->argv, [call](StatusOr<Reply> r, bool sent) {
        if (NoScript(r) && call->argv[0] != "EVAL") {
          call->argv[0] = "EVAL";
          call->argv[1] = call->script->text;
          return Send(call);
        }
        if (!r.ok()) {
          if (sent || call->retried) return call->done(r.status());
          call->retried = true;
          return Send(call);
        }
        call->done(ToResult(call->id, **r));
      });
    }
  };
  auto call = std::make_shared<Call>(
      Call{id, &Script(id), ScriptArgv(id, key, std::move(args)), std::move(done), async_.get()});
  Call::Send(call);
}

void RedisStore::CleanGlobals(const std::vector<std::string>& gids) {
  if (gids.empty()) return;
  // Best effort: an entry left behind is skipped again by the next reader.
  (void)Run(ScriptId::kCleanGlobals, options_.prefix + "_all", gids);
}

void RedisStore::CleanKV(const std::string& cat, const std::vector<std::string>& keys) {
  if (keys.empty()) return;
  std::vector<std::string> args{cat};
  args.insert(args.end(), keys.begin(), keys.end());
  (void)Run(ScriptId::kCleanKV, Key("kvc", cat), std::move(args));
}

// The command that reads a global: GET (DTM's layout), or HMGET of the global's fields
// (compact: the hash holds the branch rows too, which a global's reader does not want).
std::vector<std::string> RedisStore::ReadGlobalCommand(const std::string& gid) const {
  if (!compact_) return {"GET", Key("g", gid)};
  std::vector<std::string> cmd{"HMGET", Key("g", gid)};
  const auto& fields = redis::CompactGlobalFields();
  cmd.insert(cmd.end(), fields.begin(), fields.end());
  return cmd;
}

// A global as ReadGlobalCommand's reply holds it; nullopt when absent.
StatusOr<std::optional<TransGlobal>> RedisStore::DecodeGlobalReply(const redisReply& r) const {
  StatusOr<TransGlobal> g = Status::Internal("unset");
  if (compact_) {
    const auto& names = redis::CompactGlobalFields();
    if (r.type != REDIS_REPLY_ARRAY || r.elements != names.size() ||
        r.element[0]->type != REDIS_REPLY_STRING) {
      return std::optional<TransGlobal>();  // no 'j': absent (or expired)
    }
    std::vector<std::pair<std::string, std::string>> fields;
    for (size_t i = 0; i < names.size(); ++i) {
      if (r.element[i]->type == REDIS_REPLY_STRING)
        fields.emplace_back(names[i], Str(r.element[i]));
    }
    g = redis::DecodeCompactGlobal(fields);
  } else {
    if (r.type != REDIS_REPLY_STRING) return std::optional<TransGlobal>();
    g = redis::DecodeGlobal(Str(&r));
  }
  if (!g.ok()) return g.status();
  return std::optional<TransGlobal>(std::move(*g));
}

StatusOr<std::optional<TransGlobal>> RedisStore::FindGlobal(const std::string& gid) {
  std::optional<TransGlobal> out;
  Status st = Read(*pool_, [&](RedisConn& c) -> Status {
    auto r = Call(c, ReadGlobalCommand(gid));
    if (!r.ok()) return r.status();
    auto g = DecodeGlobalReply(**r);
    if (!g.ok()) return g.status();
    out = std::move(*g);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Status RedisStore::ScanGlobals(std::string* position, int64_t limit, const ScanCondition& cond,
                               std::vector<TransGlobal>* out) {
  int64_t before = 0;
  if (Status st = StartPage(*position, limit, std::numeric_limits<int64_t>::max(), &before);
      !st.ok())
    return st;
  out->clear();
  std::vector<std::string> stale;
  // Walks P_all downwards from the cursor a page at a time, filtering here (the JSON holds the
  // filtered fields), until `limit` rows matched or the index ends.
  std::string upper = position->empty() ? "+inf" : "(" + std::to_string(before);
  bool more = true;
  while (more && static_cast<int64_t>(out->size()) < limit) {
    std::vector<std::pair<std::string, int64_t>> page;  // gid, id
    std::vector<std::optional<TransGlobal>> values;
    Status st = Read(*pool_, [&](RedisConn& c) -> Status {
      auto r = Call(c, {"ZREVRANGEBYSCORE", options_.prefix + "_all", upper, "-inf", "WITHSCORES",
                        "LIMIT", "0", std::to_string(kBatch)});
      if (!r.ok()) return r.status();
      page.clear();
      for (size_t i = 0; i + 1 < (*r)->elements; i += 2) {
        page.emplace_back(Str((*r)->element[i]), ScoreInt((*r)->element[i + 1]));
      }
      values.clear();
      if (page.empty()) return Status::Ok();
      return FetchGlobals(c, page, &values);
    });
    if (!st.ok()) return st;
    more = static_cast<int64_t>(page.size()) == kBatch;
    for (size_t i = 0; i < page.size() && static_cast<int64_t>(out->size()) < limit; ++i) {
      upper = "(" + std::to_string(page[i].second);
      if (i >= values.size() || !values[i]) {
        stale.push_back(page[i].first);
        continue;
      }
      if (MatchesScan(*values[i], cond)) out->push_back(std::move(*values[i]));
    }
  }
  CleanGlobals(stale);
  *position = NextCursor(out->size(), limit, out->empty() ? 0 : out->back().id);
  return Status::Ok();
}

// One MGET (DTM's layout) or one pipelined HMGET per gid (compact).
Status RedisStore::FetchGlobals(RedisConn& c,
                                const std::vector<std::pair<std::string, int64_t>>& page,
                                std::vector<std::optional<TransGlobal>>* out) const {
  std::vector<Reply> replies;
  if (compact_) {
    std::vector<std::vector<std::string>> commands;
    for (const auto& [gid, id] : page) commands.push_back(ReadGlobalCommand(gid));
    auto r = c.Pipeline(commands);
    if (!r.ok()) return r.status();
    replies = std::move(*r);
  } else {
    std::vector<std::string> mget{"MGET"};
    for (const auto& [gid, id] : page) mget.push_back(Key("g", gid));
    auto r = Call(c, mget);
    if (!r.ok()) return r.status();
    replies.push_back(std::move(*r));
  }
  out->clear();
  for (const Reply& reply : replies) {
    if (reply->type == REDIS_REPLY_ERROR) {
      return ReplyError("reading globals", redis::ErrorText(*reply));
    }
    if (compact_) {
      auto g = DecodeGlobalReply(*reply);
      if (!g.ok()) return g.status();
      out->push_back(std::move(*g));
      continue;
    }
    for (size_t i = 0; i < reply->elements; ++i) {  // MGET: one array of every value
      auto g = DecodeGlobalReply(*reply->element[i]);
      if (!g.ok()) return g.status();
      out->push_back(std::move(*g));
    }
  }
  return Status::Ok();
}

namespace {

// The rows of a compact transaction's hash and their later states, in id order (the order they
// were added); the global's own fields are skipped.
Status DecodeCompactBranches(const redisReply& r, std::vector<TransBranch>* out) {
  std::map<std::string, std::string> fields;
  for (auto& [k, v] : Pairs(r)) fields.emplace(std::move(k), std::move(v));
  for (const auto& [field, row] : fields) {
    if (!redis::IsBranchField(field)) continue;
    auto state = fields.find("s" + field.substr(1));
    auto b = redis::DecodeCompactBranch(row, state == fields.end() ? nullptr : &state->second);
    if (!b.ok()) return b.status();
    out->push_back(std::move(*b));
  }
  std::sort(out->begin(), out->end(),
            [](const TransBranch& a, const TransBranch& b) { return a.id < b.id; });
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<TransBranch>> RedisStore::FindBranches(const std::string& gid) {
  std::vector<TransBranch> out;
  Status st = Read(*pool_, [&](RedisConn& c) -> Status {
    auto r = compact_ ? Call(c, {"HGETALL", Key("g", gid)})
                      : Call(c, {"LRANGE", Key("b", gid), "0", "-1"});
    if (!r.ok()) return r.status();
    out.clear();
    if (compact_) return DecodeCompactBranches(**r, &out);
    for (size_t i = 0; i < (*r)->elements; ++i) {
      auto b = redis::DecodeBranch(Str((*r)->element[i]));
      if (!b.ok()) return b.status();
      out.push_back(std::move(*b));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

// The three calls on every transaction's path are split into their script's arguments and the
// reading of its reply, which the blocking and the completion forms share.

StatusOr<std::vector<std::string>> RedisStore::SaveNewArgs(
    const TransGlobal& global, const std::vector<TransBranch>& branches) const {
  if (HasDuplicateKey(branches)) {
    return Status::UniqueConflict("duplicate branch in new trans " + global.gid);
  }
  std::vector<std::string> args{global.gid, global.status, redis::EncodeGlobalBody(global),
                                redis::Score(global.next_cron_time),
                                std::to_string(global.update_time)};
  for (const auto& b : branches) {
    if (compact_) args.push_back(redis::BranchField(b.branch_id, b.op));
    args.push_back(redis::EncodeBranchBody(global.gid, b));
  }
  return args;
}

Status RedisStore::SaveNewDone(const StatusOr<Result>& r, TransGlobal& global,
                               std::vector<TransBranch>& branches) {
  if (!r.ok()) return r.status();
  if (r->Is(kUniqueConflict)) return Status::UniqueConflict("gid exists: " + global.gid);
  global.id = r->integer;
  for (size_t i = 0; i < branches.size(); ++i) {
    branches[i].id = r->integer + 1 + static_cast<int64_t>(i);
  }
  return Status::Ok();
}

Status RedisStore::MaySaveNewTrans(TransGlobal& global, std::vector<TransBranch>& branches) {
  auto args = SaveNewArgs(global, branches);
  if (!args.ok()) return args.status();
  return SaveNewDone(Run(ScriptId::kSaveNew, Key("g", global.gid), std::move(*args)), global,
                     branches);
}

bool RedisStore::MaySaveNewTransAsync(TransGlobal& global, std::vector<TransBranch>& branches,
                                      Completion<Status> done) {
  if (async_ == nullptr) return false;
  auto args = SaveNewArgs(global, branches);
  if (!args.ok()) {
    done(args.status());
    return true;
  }
  RunAsync(ScriptId::kSaveNew, Key("g", global.gid), std::move(*args),
           [&global, &branches, done = std::move(done)](StatusOr<Result> r) {
             done(SaveNewDone(r, global, branches));
           });
  return true;
}

StatusOr<std::vector<std::string>> RedisStore::SaveBranchesArgs(
    const std::string& gid, const std::string& expected_status,
    const std::vector<TransBranch>& rows, bool append) const {
  // Appending two rows with one key conflicts; upserting them is fine (the later one wins).
  if (append && HasDuplicateKey(rows)) {
    return Status::UniqueConflict("duplicate branch for " + gid);
  }
  std::vector<std::string> args{gid, expected_status, append ? "1" : "0"};
  AppendRowArgs(gid, rows, &args);
  return args;
}

// The rows of save_branches (redis_scripts.cc), in the layout's form.
void RedisStore::AppendRowArgs(const std::string& gid, const std::vector<TransBranch>& rows,
                               std::vector<std::string>* args) const {
  for (const auto& row : rows) {
    if (compact_) {
      args->push_back(redis::BranchField(row.branch_id, row.op));
      args->push_back(redis::BranchStateField(row.branch_id, row.op));
      args->push_back(redis::EncodeBranchBody(gid, row));
      args->push_back(redis::EncodeBranchState(row));
      continue;
    }
    args->push_back(row.branch_id);
    args->push_back(row.op);
    args->push_back(redis::EncodeBranchBody(gid, row));
    args->push_back(row.status);
    args->push_back(redis::TimeText(row.update_time));
    args->push_back(redis::TimeText(row.finish_time));
    args->push_back(redis::TimeText(row.rollback_time));
  }
}

Status RedisStore::SaveBranchesDone(const StatusOr<Result>& r, const std::string& gid,
                                    const std::string& expected_status) {
  if (!r.ok()) return r.status();
  if (r->Is(kNotFound)) return NoTrans(gid, expected_status);
  if (r->Is(kUniqueConflict)) return Status::UniqueConflict("branch exists for " + gid);
  return Status::Ok();
}

Status RedisStore::LockGlobalSaveBranches(const std::string& gid,
                                          const std::string& expected_status,
                                          const std::vector<TransBranch>& rows, bool append) {
  auto args = SaveBranchesArgs(gid, expected_status, rows, append);
  if (!args.ok()) return args.status();
  return SaveBranchesDone(Run(ScriptId::kSaveBranches, Key("b", gid), std::move(*args)), gid,
                          expected_status);
}

bool RedisStore::LockGlobalSaveBranchesAsync(const std::string& gid,
                                             const std::string& expected_status,
                                             const std::vector<TransBranch>& rows, bool append,
                                             Completion<Status> done) {
  if (async_ == nullptr) return false;
  auto args = SaveBranchesArgs(gid, expected_status, rows, append);
  if (!args.ok()) {
    done(args.status());
    return true;
  }
  RunAsync(ScriptId::kSaveBranches, Key("b", gid), std::move(*args),
           [&gid, &expected_status, done = std::move(done)](StatusOr<Result> r) {
             done(SaveBranchesDone(r, gid, expected_status));
           });
  return true;
}

std::vector<std::string> RedisStore::ChangeStatusArgs(const std::string& gid,
                                                      const std::string& old_status,
                                                      const StatusChange& change) {
  return {gid,
          old_status,
          change.new_status,
          redis::TimeText(change.now),
          std::to_string(change.now),
          change.rollback_reason ? "1" : "0",
          change.rollback_reason.value_or(""),
          change.result ? "1" : "0",
          change.result.value_or("")};
}

Status RedisStore::ChangeStatusDone(const StatusOr<Result>& r, const std::string& gid,
                                    const std::string& old_status) {
  if (!r.ok()) return r.status();
  return r->Is(kNotFound) ? NoTrans(gid, old_status) : Status::Ok();
}

Status RedisStore::ChangeGlobalStatus(const std::string& gid, const std::string& old_status,
                                      const StatusChange& change) {
  return ChangeStatusDone(
      Run(ScriptId::kChangeStatus, Key("g", gid), ChangeStatusArgs(gid, old_status, change)), gid,
      old_status);
}

bool RedisStore::ChangeGlobalStatusAsync(const std::string& gid, const std::string& old_status,
                                         const StatusChange& change, Completion<Status> done) {
  if (async_ == nullptr) return false;
  RunAsync(ScriptId::kChangeStatus, Key("g", gid), ChangeStatusArgs(gid, old_status, change),
           [&gid, &old_status, done = std::move(done)](StatusOr<Result> r) {
             done(ChangeStatusDone(r, gid, old_status));
           });
  return true;
}

// The status change's arguments, then the rows' (kSaveBranchesChangeStatus).
std::vector<std::string> RedisStore::CombinedArgs(const std::string& gid,
                                                  const std::string& old_status,
                                                  const std::vector<TransBranch>& rows,
                                                  const StatusChange& change) const {
  std::vector<std::string> args = ChangeStatusArgs(gid, old_status, change);
  AppendRowArgs(gid, rows, &args);
  return args;
}

// One script: save_branches then change_status (redis_scripts.cc), both or neither.
Status RedisStore::SaveBranchesChangeStatus(const std::string& gid, const std::string& old_status,
                                            const std::vector<TransBranch>& rows,
                                            const StatusChange& change) {
  return ChangeStatusDone(Run(ScriptId::kSaveBranchesChangeStatus, Key("g", gid),
                              CombinedArgs(gid, old_status, rows, change)),
                          gid, old_status);
}

bool RedisStore::SaveBranchesChangeStatusAsync(const std::string& gid,
                                               const std::string& old_status,
                                               const std::vector<TransBranch>& rows,
                                               const StatusChange& change,
                                               Completion<Status> done) {
  if (async_ == nullptr) return false;
  RunAsync(ScriptId::kSaveBranchesChangeStatus, Key("g", gid),
           CombinedArgs(gid, old_status, rows, change),
           [&gid, &old_status, done = std::move(done)](StatusOr<Result> r) {
             done(ChangeStatusDone(r, gid, old_status));
           });
  return true;
}

Status RedisStore::TouchCronTime(const std::string& gid, const std::string& expected_status,
                                 int64_t interval_s, UnixMs next_cron_time, UnixMs now) {
  auto r = Run(ScriptId::kTouchCron, Key("g", gid),
               {gid, expected_status, std::to_string(interval_s), FormatRfc3339(next_cron_time),
                redis::Score(next_cron_time), redis::TimeText(now), std::to_string(now)});
  if (!r.ok()) return r.status();
  return r->Is(kNotFound) ? NoTrans(gid, expected_status) : Status::Ok();
}

StatusOr<std::optional<TransGlobal>> RedisStore::LockOneGlobalTrans(UnixMs now,
                                                                    int64_t expire_in_ms,
                                                                    int64_t lease_s,
                                                                    const std::string& owner) {
  const UnixMs leased_until = now + lease_s * 1000;
  while (true) {
    auto r = Run(ScriptId::kLockOne, options_.prefix + "_u",
                 {redis::Score(now + expire_in_ms), redis::Score(leased_until), owner,
                  redis::TimeText(now), FormatRfc3339(leased_until)});
    if (!r.ok()) return r.status();
    if (r->Is(kNotFound)) return std::optional<TransGlobal>();
    if (r->Is("RETRY")) continue;  // the script dropped a run of expired entries
    auto g = redis::DecodeGlobal(r->str);
    if (!g.ok()) return g.status();
    return std::optional<TransGlobal>(std::move(*g));
  }
}

StatusOr<ResetCronResult> RedisStore::ResetCronTime(UnixMs now, int64_t after_ms, int64_t limit) {
  if (limit <= 0) return Status::InvalidArgument("limit must be positive");
  auto r = Run(
      ScriptId::kResetCron, options_.prefix + "_u",
      {redis::Score(now + after_ms), std::to_string(limit), FormatRfc3339(now), redis::Score(now)});
  if (!r.ok()) return r.status();
  if (r->integers.size() != 2)
    return Status::Internal("redis store: unexpected ResetCronTime reply");
  ResetCronResult out;
  out.succeed_count = r->integers[0];
  out.has_remaining = r->integers[1] != 0;
  return out;
}

Status RedisStore::ResetTransGlobalCronTime(const std::string& gid, UnixMs now) {
  auto r = Run(ScriptId::kResetOne, Key("g", gid),
               {gid, FormatRfc3339(now), redis::Score(now), std::to_string(now)});
  if (!r.ok()) return r.status();
  return r->Is(kNotFound) ? Status::NotFound("no trans with gid: " + gid) : Status::Ok();
}

Status RedisStore::ScanKV(const std::string& cat, std::string* position, int64_t limit,
                          std::vector<KV>* out) {
  int64_t after = 0;
  if (Status st = StartPage(*position, limit, 0, &after); !st.ok()) return st;
  out->clear();
  std::vector<std::string> stale;
  std::string lower = "(" + std::to_string(after);
  bool more = true;
  while (more && static_cast<int64_t>(out->size()) < limit) {
    std::vector<std::pair<std::string, int64_t>> page;  // key, id
    std::vector<std::optional<std::string>> values;
    Status st = Read(*pool_, [&](RedisConn& c) -> Status {
      auto r = Call(c, {"ZRANGEBYSCORE", Key("kvc", cat), lower, "+inf", "WITHSCORES", "LIMIT", "0",
                        std::to_string(kBatch)});
      if (!r.ok()) return r.status();
      page.clear();
      for (size_t i = 0; i + 1 < (*r)->elements; i += 2) {
        page.emplace_back(Str((*r)->element[i]), ScoreInt((*r)->element[i + 1]));
      }
      values.clear();
      if (page.empty()) return Status::Ok();
      std::vector<std::string> mget{"MGET"};
      for (const auto& [k, id] : page) mget.push_back(Key("kv", cat) + "_" + k);
      auto v = Call(c, mget);
      if (!v.ok()) return v.status();
      for (size_t i = 0; i < (*v)->elements; ++i) {
        const redisReply* e = (*v)->element[i];
        values.push_back(e->type == REDIS_REPLY_STRING ? std::optional(Str(e)) : std::nullopt);
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    more = static_cast<int64_t>(page.size()) == kBatch;
    for (size_t i = 0; i < page.size() && static_cast<int64_t>(out->size()) < limit; ++i) {
      lower = "(" + std::to_string(page[i].second);
      if (i >= values.size() || !values[i]) {
        stale.push_back(page[i].first);
        continue;
      }
      auto kv = redis::DecodeKV(*values[i]);
      if (!kv.ok()) return kv.status();
      if (kv->cat == cat && kv->k == page[i].first) out->push_back(std::move(*kv));
    }
  }
  CleanKV(cat, stale);
  *position = NextCursor(out->size(), limit, out->empty() ? 0 : out->back().id);
  return Status::Ok();
}

StatusOr<std::vector<KV>> RedisStore::FindKV(const std::string& cat, const std::string& key) {
  if (key.empty()) {
    // Every entry of the category, in id order: the scan without a page size.
    std::vector<KV> out;
    std::string position;
    do {
      std::vector<KV> page;
      if (Status st = ScanKV(cat, &position, kBatch, &page); !st.ok()) return st;
      out.insert(out.end(), std::make_move_iterator(page.begin()),
                 std::make_move_iterator(page.end()));
    } while (!position.empty());
    return out;
  }
  std::vector<KV> out;
  Status st = Read(*pool_, [&](RedisConn& c) -> Status {
    auto r = Call(c, {"GET", Key("kv", cat) + "_" + key});
    if (!r.ok()) return r.status();
    out.clear();
    if ((*r)->type != REDIS_REPLY_STRING) return Status::Ok();
    auto kv = redis::DecodeKV(Str(r->get()));
    if (!kv.ok()) return kv.status();
    // DTM's key does not delimit cat from k: the entry may belong to another (cat, k).
    if (kv->cat == cat && kv->k == key) out.push_back(std::move(*kv));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Status RedisStore::CreateKV(const std::string& cat, const std::string& k, const std::string& v,
                            UnixMs now) {
  KV kv{0, cat, k, v, 1, now, now};
  auto r = Run(ScriptId::kCreateKV, Key("kv", cat) + "_" + k, {cat, k, redis::EncodeKVBody(kv)});
  if (!r.ok()) return r.status();
  return r->Is(kUniqueConflict) ? Status::UniqueConflict("kv exists: " + cat + "/" + k)
                                : Status::Ok();
}

Status RedisStore::UpdateKV(KV& kv, UnixMs now) {
  auto r = Run(ScriptId::kUpdateKV, Key("kv", kv.cat) + "_" + kv.k,
               {kv.cat, kv.k, std::to_string(kv.version), kv.v, redis::TimeText(now)});
  if (!r.ok()) return r.status();
  if (r->Is(kNotFound)) {
    return Status::NotFound("kv " + kv.cat + "/" + kv.k + " absent or version mismatch");
  }
  ++kv.version;
  return Status::Ok();
}

Status RedisStore::DeleteKV(const std::string& cat, const std::string& k) {
  auto r = Run(ScriptId::kDeleteKV, Key("kv", cat) + "_" + k, {cat, k});
  if (!r.ok()) return r.status();
  return r->Is(kNotFound) ? Status::NotFound("kv " + cat + "/" + k) : Status::Ok();
}

Status RedisStore::AddAttempts(const std::vector<BranchAttempt>& rows, int64_t keep) {
  if (rows.empty()) return Status::Ok();
  std::vector<std::string> args{std::to_string(keep)};
  for (const auto& a : rows) {
    args.push_back(a.gid);
    args.push_back(a.branch_id);
    args.push_back(a.op);
    args.push_back(a.final ? "1" : "0");
    args.push_back(redis::EncodeAttemptBody(a));
  }
  return Run(ScriptId::kAddAttempts, Key("a", rows.front().gid), std::move(args)).status();
}

StatusOr<std::vector<BranchAttempt>> RedisStore::FindAttempts(const std::string& gid) {
  std::vector<BranchAttempt> out;
  Status st = Read(*pool_, [&](RedisConn& c) -> Status {
    auto r = Call(c, {"LRANGE", Key("a", gid), "0", "-1"});
    if (!r.ok()) return r.status();
    out.clear();
    for (size_t i = 0; i < (*r)->elements; ++i) {
      auto a = redis::DecodeAttempt(Str((*r)->element[i]));
      if (!a.ok()) return a.status();
      out.push_back(std::move(*a));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

StatusOr<int64_t> RedisStore::PurgeFinished(UnixMs before, int64_t limit) {
  if (limit <= 0) return int64_t{0};
  auto r = Run(ScriptId::kPurge, options_.prefix + "_f",
               {std::to_string(before), std::to_string(limit)});
  if (!r.ok()) return r.status();
  return r->integer;
}

}  // namespace lynx::store
