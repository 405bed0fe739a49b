#include "store/redis/redis_async.h"

#include <hiredis/hiredis.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <charconv>
#include <chrono>
#include <deque>
#include <utility>

namespace lynx::store::redis {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct ReaderFree {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};

void AppendLength(char kind, size_t n, std::string* out) {
  char buf[24];
  buf[0] = kind;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof buf - 2, n);
  *end++ = '\r';
  *end++ = '\n';
  out->append(buf, static_cast<size_t>(end - buf));
}

}  // namespace

void AppendCommand(const std::vector<std::string>& argv, std::string* out) {
  size_t bytes = 16;
  for (const auto& a : argv) bytes += a.size() + 24;
  out->reserve(out->size() + bytes);
  AppendLength('*', argv.size(), out);
  for (const auto& a : argv) {
    AppendLength('$', a.size(), out);
    out->append(a);
    out->append("\r\n", 2);
  }
}

struct AsyncConn::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, ConnOptions o)
      : strand(asio::make_strand(io)),
        socket(strand),
        resolver(strand),
        timer(strand),
        options(std::move(o)),
        where(options.host + ":" + std::to_string(options.port)) {}

  struct Pending {
    Done done;  // empty for the connection's own AUTH / CLIENT SETNAME
    Clock::time_point queued;
  };

  asio::strand<asio::io_context::executor_type> strand;
  tcp::socket socket;
  tcp::resolver resolver;
  asio::steady_timer timer;
  const ConnOptions options;
  const std::string where;  // "host:port", for messages

  // Everything below is touched on the strand only.
  enum class State { kClosed, kConnecting, kReady } state = State::kClosed;
  uint64_t generation = 0;      // bumped by Fail: completions of an older socket are ignored
  std::deque<Pending> pending;  // in reply order: written, being written, then queued
  size_t written = 0;           // how many of `pending` are wholly written
  size_t writing = 0;           // how many follow them in the write under way (its completion
                                // may come after their replies: the server answers once it has
                                // the bytes, and both completions are queued on the strand)
  bool write_under_way = false;
  std::string queued;  // the bytes of the rest, not handed to the socket yet
  std::string out;     // the bytes of the write under way
  std::unique_ptr<redisReader, ReaderFree> reader;
  std::array<char, 16384> in{};
  bool timer_armed = false;
  bool closed_for_good = false;  // the owner is gone

  void Queue(std::vector<std::string> argv, Done done) {
    if (closed_for_good) {
      done(Status::Unavailable("redis store: connection to " + where + " closed"), false);
      return;
    }
    if (argv.empty()) {
      // "*0" gets no reply from Redis: every later reply would go to the wrong command.
      done(Status::Internal("redis store: an empty command"), false);
      return;
    }
    AppendCommand(argv, &queued);
    pending.push_back(Pending{std::move(done), Clock::now()});
    ArmTimer();
    if (state == State::kClosed) {
      Connect();
    } else if (state == State::kReady) {
      Flush();
    }
  }

  void Connect() {
    state = State::kConnecting;
    reader.reset(redisReaderCreate());
    // The connection's own commands go first.
    std::string hello;
    std::deque<Pending> own;
    if (!options.password.empty()) {
      std::vector<std::string> auth{"AUTH"};
      if (!options.user.empty()) auth.push_back(options.user);
      auth.push_back(options.password);
      AppendCommand(auth, &hello);
      own.push_back(Pending{{}, Clock::now()});
    }
    if (!options.client_name.empty()) {
      AppendCommand({"CLIENT", "SETNAME", options.client_name}, &hello);
      own.push_back(Pending{{}, Clock::now()});
    }
    queued.insert(0, hello);
    pending.insert(pending.begin(), own.begin(), own.end());
    const uint64_t gen = generation;
    auto self = shared_from_this();
    // The connect is bounded by connect_timeout_ms through the same timer: the oldest command
    // cannot be older than that plus io_timeout_ms.
    resolver.async_resolve(
        options.host, std::to_string(options.port),
        asio::bind_executor(strand, [self, gen](const boost::system::error_code& ec,
                                                tcp::resolver::results_type results) {
          if (gen != self->generation) return;
          if (ec) return self->Fail("cannot resolve", ec.message());
          asio::async_connect(
              self->socket, results,
              asio::bind_executor(self->strand, [self, gen](const boost::system::error_code& ec,
                                                            const tcp::endpoint&) {
                if (gen != self->generation) return;
                if (ec) return self->Fail("cannot connect to", ec.message());
                boost::system::error_code ignored;
                self->socket.set_option(tcp::no_delay(true), ignored);
                self->socket.set_option(asio::socket_base::keep_alive(true), ignored);
                self->state = State::kReady;
                self->Read();
                self->Flush();
              }));
        }));
  }

  void Flush() {
    if (write_under_way || queued.empty()) return;
    write_under_way = true;
    out.swap(queued);
    queued.clear();
    writing = pending.size() - written;
    const uint64_t gen = generation;
    auto self = shared_from_this();
    asio::async_write(
        socket, asio::buffer(out),
        asio::bind_executor(strand, [self, gen](const boost::system::error_code& ec, size_t) {
          if (gen != self->generation) return;
          if (ec) return self->Fail("cannot send to", ec.message());
          self->written += self->writing;
          self->writing = 0;
          self->write_under_way = false;
          self->out.clear();
          self->Flush();
        }));
  }

  void Read() {
    const uint64_t gen = generation;
    auto self = shared_from_this();
    socket.async_read_some(
        asio::buffer(in),
        asio::bind_executor(strand, [self, gen](const boost::system::error_code& ec, size_t n) {
          if (gen != self->generation) return;
          if (ec) return self->Fail("no reply from", ec.message());
          if (redisReaderFeed(self->reader.get(), self->in.data(), n) != REDIS_OK) {
            return self->Fail("bad reply from", self->reader->errstr);
          }
          for (;;) {
            void* raw = nullptr;
            if (redisReaderGetReply(self->reader.get(), &raw) != REDIS_OK) {
              return self->Fail("bad reply from", self->reader->errstr);
            }
            if (raw == nullptr) break;
            Reply reply(static_cast<redisReply*>(raw));
            if (self->written > 0) {
              --self->written;
            } else if (self->writing > 0) {
              --self->writing;
            } else {
              return self->Fail("unexpected reply from", "nothing was asked");
            }
            Pending p = std::move(self->pending.front());
            self->pending.pop_front();
            if (!p.done) {
              // AUTH / CLIENT SETNAME. Refused credentials fail everything queued behind them;
              // an error reply to CLIENT (a proxy without it) is no reason to.
              const std::string error = ErrorText(*reply);
              if (!error.empty() && error.rfind("ERR unknown command", 0) != 0 &&
                  error.rfind("ERR unknown subcommand", 0) != 0) {
                return self->Fail("refused by", error);
              }
              continue;
            }
            // Completions never touch the connection inline (Command posts to the strand).
            p.done(std::move(reply), true);
          }
          self->ArmTimer();
          self->Read();
        }));
  }

  // Keeps a timer on the oldest command: when it has waited past its limit, the connection is
  // presumed stalled and fails.
  void ArmTimer() {
    if (timer_armed || pending.empty()) return;
    timer_armed = true;
    const auto limit = std::chrono::milliseconds(std::max<int64_t>(1, options.io_timeout_ms) +
                                                 std::max<int64_t>(0, options.connect_timeout_ms));
    timer.expires_at(pending.front().queued + limit);
    auto self = shared_from_this();
    timer.async_wait(asio::bind_executor(strand, [self, limit](const boost::system::error_code&) {
      self->timer_armed = false;
      if (self->pending.empty()) return;
      if (Clock::now() - self->pending.front().queued >= limit) {
        return self->Fail("timed out waiting for", "no reply within the store's io timeout");
      }
      self->ArmTimer();
    }));
  }

  // Closes the socket and fails every command in flight. Those not yet handed to the socket
  // were not sent.
  void Fail(const char* what, const std::string& why) {
    ++generation;
    boost::system::error_code ignored;
    socket.close(ignored);
    resolver.cancel();
    state = State::kClosed;
    std::deque<Pending> failed;
    failed.swap(pending);
    const size_t sent = written + writing;
    written = writing = 0;
    write_under_way = false;
    queued.clear();
    out.clear();
    const Status st =
        Status::Unavailable("redis store: " + std::string(what) + " " + where + ": " + why);
    for (size_t i = 0; i < failed.size(); ++i) {
      if (failed[i].done) failed[i].done(st, i < sent);
    }
  }
};

AsyncConn::AsyncConn(asio::io_context& io, ConnOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

AsyncConn::~AsyncConn() {
  // The io threads may be gone already (dtmd stops them before it closes the store), so this
  // runs here, not on the strand: nothing else touches the connection any more.
  impl_->closed_for_good = true;
  impl_->Fail("closing connection to", "the store is closing");
}

void AsyncConn::Command(std::vector<std::string> argv, Done done) {
  asio::post(impl_->strand,
             [impl = impl_, argv = std::move(argv), done = std::move(done)]() mutable {
               impl->Queue(std::move(argv), std::move(done));
             });
}

}  // namespace lynx::store::redis
