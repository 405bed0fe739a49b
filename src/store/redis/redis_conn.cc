#include "store/redis/redis_conn.h"

#include <poll.h>
#include <sys/time.h>

#include <utility>

namespace lynx::store::redis {

namespace {

timeval ToTimeval(int64_t ms) {
  if (ms < 1) ms = 1;
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

}  // namespace

std::string ErrorText(const redisReply& r) {
  if (r.type != REDIS_REPLY_ERROR || r.str == nullptr) return "";
  return std::string(r.str, r.len);
}

StatusOr<std::unique_ptr<RedisConn>> RedisConn::Connect(const ConnOptions& o) {
  std::string where = o.host + ":" + std::to_string(o.port);
  redisContext* ctx =
      redisConnectWithTimeout(o.host.c_str(), o.port, ToTimeval(o.connect_timeout_ms));
  if (ctx == nullptr) {
    return Status::Unavailable("redis store: cannot connect to " + where + ": out of memory");
  }
  if (ctx->err != 0) {
    std::string message = ctx->errstr;
    redisFree(ctx);
    return Status::Unavailable("redis store: cannot connect to " + where + ": " + message);
  }
  // Without a timeout a stalled server would hang a store thread forever.
  redisSetTimeout(ctx, ToTimeval(o.io_timeout_ms));
  redisEnableKeepAlive(ctx);
  std::unique_ptr<RedisConn> conn(new RedisConn(ctx, where));
  if (!o.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!o.user.empty()) auth.push_back(o.user);
    auth.push_back(o.password);
    bool sent = false;
    auto r = conn->Command(auth, &sent);
    if (!r.ok()) return r.status();
    if ((*r)->type == REDIS_REPLY_ERROR) {
      std::string error = ErrorText(**r);
      std::string text = "redis store: AUTH at " + where + " failed: " + error;
      // Refused credentials are a configuration error (dtmd then stops at once instead of
      // waiting for the store); a server still loading its data is worth waiting for.
      if (error.rfind("LOADING", 0) == 0) return Status::Unavailable(std::move(text));
      return Status::InvalidArgument(text + " (check Store.User / Store.Password)");
    }
  }
  if (!o.client_name.empty()) {
    bool sent = false;
    auto r = conn->Command({"CLIENT", "SETNAME", o.client_name}, &sent);
    if (!r.ok()) return r.status();  // an error reply (a proxy without CLIENT) is no reason to fail
  }
  return conn;
}

RedisConn::~RedisConn() { redisFree(ctx_); }

Status RedisConn::Fail(const char* what) {
  broken_ = true;
  std::string message = ctx_->err != 0 ? ctx_->errstr : "connection lost";
  return Status::Unavailable("redis store: " + std::string(what) + " " + where_ + ": " + message);
}

StatusOr<Reply> RedisConn::Command(const std::vector<std::string>& argv, bool* sent) {
  *sent = false;
  if (broken_) return Status::Unavailable("redis store: connection to " + where_ + " is broken");
  ArgvView view(argv);
  if (redisAppendCommandArgv(ctx_, view.argc(), view.ptrs.data(), view.lengths.data()) !=
      REDIS_OK) {
    return Fail("cannot send to");
  }
  // Written here rather than inside redisGetReply, so a failure is known to precede the server
  // seeing the complete command.
  int done = 0;
  do {
    if (redisBufferWrite(ctx_, &done) != REDIS_OK) return Fail("cannot send to");
  } while (done == 0);
  *sent = true;
  void* raw = nullptr;
  if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) return Fail("no reply from");
  return Reply(static_cast<redisReply*>(raw));
}

StatusOr<std::vector<Reply>> RedisConn::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  if (broken_) return Status::Unavailable("redis store: connection to " + where_ + " is broken");
  for (const auto& argv : commands) {
    ArgvView view(argv);
    if (redisAppendCommandArgv(ctx_, view.argc(), view.ptrs.data(), view.lengths.data()) !=
        REDIS_OK) {
      return Fail("cannot send to");
    }
  }
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) return Fail("no reply from");
    replies.emplace_back(static_cast<redisReply*>(raw));
  }
  return replies;
}

bool RedisConn::PeerClosed() const {
  pollfd p{ctx_->fd, POLLIN, 0};
  // Readable with nothing pending means EOF (or stray data, equally unusable).
  return poll(&p, 1, 0) != 0;
}

RedisPool::RedisPool(ConnOptions options, size_t max_conns)
    : options_(std::move(options)), max_conns_(max_conns < 1 ? 1 : max_conns) {}

StatusOr<RedisPool::Lease> RedisPool::Acquire() {
  std::vector<std::unique_ptr<RedisConn>> closing;  // closed outside the lock
  {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return !idle_.empty() || open_ < max_conns_; });
      if (idle_.empty()) break;
      std::unique_ptr<RedisConn> conn = std::move(idle_.back());
      idle_.pop_back();
      if (!conn->PeerClosed()) return Lease(this, std::move(conn));
      closing.push_back(std::move(conn));
      --open_;
    }
    ++open_;  // reserved while connecting, outside the lock
  }
  closing.clear();
  auto conn = RedisConn::Connect(options_);
  if (!conn.ok()) {
    std::lock_guard lock(mu_);
    --open_;
    cv_.notify_one();
    return conn.status();
  }
  return Lease(this, std::move(*conn));
}

void RedisPool::Release(std::unique_ptr<RedisConn> conn) {
  std::unique_ptr<RedisConn> closing;
  std::lock_guard lock(mu_);
  if (conn->Broken()) {
    closing = std::move(conn);
    --open_;
  } else {
    idle_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

}  // namespace lynx::store::redis
