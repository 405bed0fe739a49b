#include <lynx/dtm/redis.h>

#include <hiredis/hiredis.h>

#include <utility>

namespace lynx::dtm {
namespace {

struct ReplyCloser {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyCloser>;

RedisReply Convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

}  // namespace

struct RedisDb::Impl {
  std::string host;
  int port = 0;
  int64_t timeout_ms = 0;
  redisContext* ctx = nullptr;

  ~Impl() { Close(); }
  void Close() {
    if (ctx != nullptr) redisFree(ctx);
    ctx = nullptr;
  }

  Status Open() {
    timeval tv{static_cast<time_t>(timeout_ms / 1000),
               static_cast<suseconds_t>((timeout_ms % 1000) * 1000)};
    ctx = redisConnectWithTimeout(host.c_str(), port, tv);
    if (ctx == nullptr || ctx->err != 0) {
      std::string message = ctx != nullptr ? ctx->errstr : "out of memory";
      Close();
      return Status::Unavailable("redis: cannot connect to " + host + ":" + std::to_string(port) +
                                 ": " + message);
    }
    redisSetTimeout(ctx, tv);
    return Status::Ok();
  }
};

RedisDb::RedisDb(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RedisDb::RedisDb(RedisDb&&) noexcept = default;
RedisDb& RedisDb::operator=(RedisDb&&) noexcept = default;
RedisDb::~RedisDb() = default;

StatusOr<RedisDb> RedisDb::Connect(const std::string& host, int port, int64_t timeout_ms) {
  auto impl = std::make_unique<Impl>();
  impl->host = host;
  impl->port = port;
  impl->timeout_ms = timeout_ms;
  if (Status st = impl->Open(); !st.ok()) return st;
  return RedisDb(std::move(impl));
}

StatusOr<RedisReply> RedisDb::Command(const std::vector<std::string>& args) {
  if (args.empty()) return Status::InvalidArgument("redis: empty command");
  if (impl_->ctx == nullptr) {
    if (Status st = impl_->Open(); !st.ok()) return st;
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  ReplyPtr reply(static_cast<redisReply*>(
      redisCommandArgv(impl_->ctx, static_cast<int>(args.size()), argv.data(), lens.data())));
  if (!reply) {
    std::string message = impl_->ctx->errstr;
    impl_->Close();  // hiredis contexts are unusable after an I/O error
    return Status::Unavailable("redis: " + args[0] + ": " + message);
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    return Status::Internal("redis: " + args[0] + ": " + std::string(reply->str, reply->len));
  }
  return Convert(reply.get());
}

StatusOr<RedisReply> RedisDb::Eval(const std::string& script, const std::vector<std::string>& keys,
                                   const std::vector<std::string>& args) {
  std::vector<std::string> cmd{"EVAL", script, std::to_string(keys.size())};
  cmd.insert(cmd.end(), keys.begin(), keys.end());
  cmd.insert(cmd.end(), args.begin(), args.end());
  return Command(cmd);
}

}  // namespace lynx::dtm
