// StoreRunner: lets coroutines call the synchronous Store without blocking the network threads.
// A blocking backend's calls run on a bounded thread pool (for the embedded store that is also
// what lets concurrent writes share one fsync); a non-blocking backend (memory) is called inline;
// the completion forms of the hot writes (Store::...Async: embedded, Redis, PostgreSQL) are
// started on the calling thread and resume it from their completion, without a store thread.
// The coroutine resumes on its own executor. Thread-safe.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "store/store.h"

namespace lynx::server {

class StoreRunner {
 public:
  StoreRunner(store::Store& store, size_t threads) : store_(store), pool_(threads) {}
  ~StoreRunner() { pool_.join(); }

  store::Store& store() { return store_; }

  // Runs f(store) and returns its result to the calling coroutine. An exception from the store
  // (a driver bug, bad_alloc, unreadable data) becomes an Internal status: it must never leave a
  // pool thread (that would end the process) nor leave the caller waiting.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F&, store::Store&>> Run(F f) {
    using R = std::invoke_result_t<F&, store::Store&>;
    if (!store_.IsBlocking()) co_return Guarded<R>(f);
    co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(R)>(
        [this, f = std::move(f)](auto handler) mutable {
          boost::asio::post(
              pool_, [this, f = std::move(f), handler = std::move(handler)]() mutable {
                R result = Guarded<R>(f);
                auto ex = boost::asio::get_associated_executor(handler);
                boost::asio::post(
                    ex, [handler = std::move(handler), result = std::move(result)]() mutable {
                      std::move(handler)(std::move(result));
                    });
              });
        },
        boost::asio::use_awaitable);
  }

  // Runs start(store, done), one of the Store's completion forms (...Async), and resumes the
  // coroutine from its completion: no store thread waits. When the store has no completion form
  // for the call (start returns false), runs blocking(store) as Run does. The result is scrubbed
  // like Run's; an exception thrown by start becomes an Internal status.
  template <class R, class Start, class Blocking>
  boost::asio::awaitable<R> Complete(Start start, Blocking blocking) {
    if (!store_.IsBlocking()) co_return Guarded<R>(blocking);
    co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(R)>(
        [this, start = std::move(start), blocking = std::move(blocking)](auto handler) mutable {
          // std::function needs a copyable callable; the handler is move-only.
          using Handler = decltype(handler);
          auto shared = std::make_shared<std::optional<Handler>>(std::move(handler));
          auto resume = [shared](R result) {
            if (!shared->has_value()) return;  // completed already (a broken store)
            Handler h = std::move(**shared);
            shared->reset();
            auto ex = boost::asio::get_associated_executor(h);
            boost::asio::post(ex, [h = std::move(h), result = std::move(result)]() mutable {
              std::move(h)(std::move(result));
            });
          };
          bool started = false;
          try {
            started = start(store_, [resume](R result) { resume(Scrub(std::move(result))); });
          } catch (const std::exception& e) {
            resume(Scrub(R(Status::Internal(std::string("store call failed: ") + e.what()))));
            return;
          }
          if (started) return;
          boost::asio::post(pool_, [this, blocking = std::move(blocking), resume]() mutable {
            resume(Guarded<R>(blocking));
          });
        },
        boost::asio::use_awaitable);
  }

  void Stop() { pool_.join(); }

 private:
  template <class R, class F>
  R Guarded(F& f) {
    try {
      return Scrub(f(store_));
    } catch (const std::exception& e) {
      return Scrub(R(Status::Internal(std::string("store call failed: ") + e.what())));
    }
  }

  // Store errors carry SQL text, table names and driver details: they go to the log, and the
  // caller (and so a client) gets a short reason only.
  static const Status& StatusOf(const Status& s) { return s; }
  template <class T>
  static const Status& StatusOf(const StatusOr<T>& s) {
    return s.status();
  }
  template <class R>
  static R Scrub(R result) {
    const Status& st = StatusOf(result);
    if (st.code() != StatusCode::kInternal && st.code() != StatusCode::kUnavailable) {
      return result;
    }
    LogStoreError(st);
    return R(Status(st.code(), st.code() == StatusCode::kUnavailable
                                   ? "storage unavailable (details in the dtmd log)"
                                   : "storage error (details in the dtmd log)"));
  }
  static void LogStoreError(const Status& st);

  store::Store& store_;
  boost::asio::thread_pool pool_;
};

}  // namespace lynx::server
