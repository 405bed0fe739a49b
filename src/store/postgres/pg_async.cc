#include "store/postgres/pg_async.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <deque>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lynx::store::pg {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

std::string LastError(PGconn* pg) {
  std::string message = pg != nullptr ? PQerrorMessage(pg) : "out of memory";
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

}  // namespace

struct AsyncPgPool::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, std::string info, size_t max, std::chrono::milliseconds timeout,
       std::chrono::seconds life)
      : strand(asio::make_strand(io)),
        conninfo(std::move(info)),
        max_conns(max < 1 ? 1 : max),
        connect_timeout(timeout),
        max_life(life) {}

  struct Request {
    const char* sql;
    PgParams params;
    Done done;
  };

  struct Conn {
    explicit Conn(asio::strand<asio::io_context::executor_type> ex) : socket(ex), timer(ex) {}
    PGconn* pg = nullptr;
    // Watches libpq's socket without owning it (released before PQfinish closes it).
    asio::posix::stream_descriptor socket;
    asio::steady_timer timer;  // the connect timeout
    bool ready = false;        // connected and idle or running `current`
    bool sent = false;         // `current` may have reached the server
    std::optional<Request> current;
    std::unordered_map<const char*, std::string> prepared;  // sql -> statement name
    Clock::time_point opened = Clock::now();
  };

  asio::strand<asio::io_context::executor_type> strand;
  const std::string conninfo;
  const size_t max_conns;
  const std::chrono::milliseconds connect_timeout;
  const std::chrono::seconds max_life;

  // On the strand only.
  std::deque<Request> queue;
  std::vector<std::shared_ptr<Conn>> conns;  // connecting, idle or busy
  bool closed = false;

  void Submit(Request r) {
    if (closed) {
      r.done(Status::Unavailable("postgres store: closing"), false);
      return;
    }
    queue.push_back(std::move(r));
    Dispatch();
  }

  void Dispatch() {
    while (!queue.empty()) {
      std::shared_ptr<Conn> idle;
      size_t connecting = 0;
      for (auto& c : conns) {
        if (!c->ready) {
          ++connecting;
        } else if (!c->current) {
          idle = c;
          break;
        }
      }
      if (idle == nullptr) {
        // One new connection per statement still waiting, up to the limit.
        if (connecting < queue.size() && conns.size() < max_conns) {
          Connect();
          continue;
        }
        return;
      }
      if (max_life.count() > 0 && Clock::now() - idle->opened >= max_life) {
        Drop(idle);
        continue;
      }
      idle->current = std::move(queue.front());
      queue.pop_front();
      Start(idle);
    }
  }

  void Connect() {
    auto c = std::make_shared<Conn>(strand);
    conns.push_back(c);
    c->pg = PQconnectStart(conninfo.c_str());
    if (c->pg == nullptr || PQstatus(c->pg) == CONNECTION_BAD || PQsetnonblocking(c->pg, 1) != 0) {
      return ConnectFailed(c, LastError(c->pg));
    }
    PQsetNoticeProcessor(
        c->pg, [](void*, const char*) {}, nullptr);
    auto self = shared_from_this();
    c->timer.expires_after(connect_timeout);
    c->timer.async_wait([self, c](const boost::system::error_code& ec) {
      if (!ec && !c->ready && c->pg != nullptr) self->ConnectFailed(c, "timed out");
    });
    Poll(c, PGRES_POLLING_WRITING);
  }

  // Drives PQconnectPoll: `want` is what it last asked to wait for.
  void Poll(const std::shared_ptr<Conn>& c, PostgresPollingStatusType want) {
    if (c->pg == nullptr) return;  // failed meanwhile
    if (!Watch(c)) return ConnectFailed(c, "no socket");
    auto self = shared_from_this();
    c->socket.async_wait(want == PGRES_POLLING_READING ? asio::posix::descriptor_base::wait_read
                                                       : asio::posix::descriptor_base::wait_write,
                         [self, c](const boost::system::error_code& ec) {
                           if (c->pg == nullptr) return;
                           if (ec) return self->ConnectFailed(c, ec.message());
                           switch (PQconnectPoll(c->pg)) {
                             case PGRES_POLLING_OK:
                               c->timer.cancel();
                               c->ready = true;
                               c->opened = Clock::now();
                               return self->Dispatch();
                             case PGRES_POLLING_READING:
                               return self->Poll(c, PGRES_POLLING_READING);
                             case PGRES_POLLING_WRITING:
                               return self->Poll(c, PGRES_POLLING_WRITING);
                             default:
                               return self->ConnectFailed(c, LastError(c->pg));
                           }
                         });
  }

  // Points the descriptor at libpq's current socket (it changes while libpq tries addresses).
  bool Watch(const std::shared_ptr<Conn>& c) {
    const int fd = PQsocket(c->pg);
    if (fd < 0) return false;
    if (c->socket.is_open() && c->socket.native_handle() == fd) return true;
    if (c->socket.is_open()) c->socket.release();
    boost::system::error_code ec;
    c->socket.assign(fd, ec);
    return !ec;
  }

  // A connection that could not be opened: every statement waiting fails (the server is
  // unreachable or refuses us; waiting for the next connection would only delay the error).
  void ConnectFailed(const std::shared_ptr<Conn>& c, const std::string& why) {
    Drop(c);
    std::deque<Request> failed;
    failed.swap(queue);
    const Status st = Status::Unavailable("postgres store: cannot connect: " + why);
    for (auto& r : failed) r.done(st, false);
  }

  void Start(const std::shared_ptr<Conn>& c) {
    c->sent = false;
    auto it = c->prepared.find(c->current->sql);
    if (it == c->prepared.end()) {
      const std::string name = "lynx_a" + std::to_string(c->prepared.size());
      if (PQsendPrepare(c->pg, name.c_str(), c->current->sql, 0, nullptr) == 0) {
        return Fail(c, LastError(c->pg));
      }
      return Flush(c, [this, c, name](PGresult* r) {
        Status st = CheckResult(c->pg, r, c->current->sql);
        PQclear(r);
        if (!st.ok()) return Finish(c, st);
        c->prepared.emplace(c->current->sql, name);
        Start(c);
      });
    }
    const PgParams& p = c->current->params;
    if (PQsendQueryPrepared(c->pg, it->second.c_str(), p.size(), p.values(), p.lengths(),
                            p.formats(), 0) == 0) {
      return Fail(c, LastError(c->pg));
    }
    c->sent = true;
    Flush(c, [this, c](PGresult* r) {
      Status st = CheckResult(c->pg, r, c->current->sql);
      if (!st.ok()) {
        PQclear(r);
        return Finish(c, st);
      }
      Finish(c, PgResult(r));
    });
  }

  // Sends what libpq buffered, then reads the command's result (the first one; the rest until
  // libpq's null are drained) and passes it to `then` (null when there was none).
  void Flush(const std::shared_ptr<Conn>& c, std::function<void(PGresult*)> then) {
    const int flushed = PQflush(c->pg);
    if (flushed < 0) return Fail(c, LastError(c->pg));
    auto self = shared_from_this();
    if (flushed == 1) {
      c->socket.async_wait(asio::posix::descriptor_base::wait_write,
                           [self, c, then = std::move(then)](const boost::system::error_code& ec) {
                             if (ec) return self->Fail(c, ec.message());
                             self->Flush(c, then);
                           });
      return;
    }
    Read(c, std::move(then), nullptr);
  }

  void Read(const std::shared_ptr<Conn>& c, std::function<void(PGresult*)> then, PGresult* first) {
    auto self = shared_from_this();
    c->socket.async_wait(
        asio::posix::descriptor_base::wait_read,
        [self, c, then = std::move(then), first](const boost::system::error_code& ec) mutable {
          if (ec) {
            PQclear(first);
            return self->Fail(c, ec.message());
          }
          if (PQconsumeInput(c->pg) == 0) {
            PQclear(first);
            return self->Fail(c, LastError(c->pg));
          }
          while (PQisBusy(c->pg) == 0) {
            PGresult* r = PQgetResult(c->pg);
            if (r == nullptr) return then(first);
            if (first == nullptr) {
              first = r;
            } else {
              PQclear(r);
            }
          }
          self->Read(c, std::move(then), first);
        });
  }

  // The statement's outcome; the connection takes the next one (or closes when it broke).
  void Finish(const std::shared_ptr<Conn>& c, StatusOr<PgResult> result) {
    Request r = std::move(*c->current);
    c->current.reset();
    const bool broken =
        PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE;
    if (broken) Drop(c);
    r.done(std::move(result), true);
    Dispatch();
  }

  // The connection failed under a statement: it is closed and the statement fails.
  void Fail(const std::shared_ptr<Conn>& c, const std::string& why) {
    std::optional<Request> r = std::move(c->current);
    const bool sent = c->sent;
    Drop(c);
    if (r) r->done(Status::Unavailable("postgres store: connection lost: " + why), sent);
    Dispatch();
  }

  // Forgets the connection and closes it (the descriptor lets go of libpq's socket first).
  void Drop(const std::shared_ptr<Conn>& c) {
    boost::system::error_code ignored;
    c->timer.cancel();
    if (c->socket.is_open()) {
      c->socket.cancel(ignored);
      c->socket.release();
    }
    if (c->pg != nullptr) PQfinish(c->pg);
    c->pg = nullptr;
    c->ready = false;
    std::erase(conns, c);
  }
};

AsyncPgPool::AsyncPgPool(asio::io_context& io, std::string conninfo, size_t max_conns,
                         std::chrono::milliseconds connect_timeout, std::chrono::seconds max_life)
    : impl_(std::make_shared<Impl>(io, std::move(conninfo), max_conns, connect_timeout, max_life)) {
}

AsyncPgPool::~AsyncPgPool() {
  // No thread runs the io_context any more (the store goes after dtmd's io threads): closed here.
  Impl& d = *impl_;
  d.closed = true;
  const Status st = Status::Unavailable("postgres store: closing");
  auto conns = d.conns;
  for (auto& c : conns) {
    std::optional<Impl::Request> r = std::move(c->current);
    const bool sent = c->sent;
    d.Drop(c);
    if (r) r->done(st, sent);
  }
  std::deque<Impl::Request> queued;
  queued.swap(d.queue);
  for (auto& r : queued) r.done(st, false);
}

void AsyncPgPool::Run(const char* sql, PgParams params, Done done) {
  asio::post(impl_->strand,
             [impl = impl_, sql, params = std::move(params), done = std::move(done)]() mutable {
               impl->Submit(Impl::Request{sql, std::move(params), std::move(done)});
             });
}

}  // namespace lynx::store::pg
