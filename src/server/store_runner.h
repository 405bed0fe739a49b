// StoreRunner: lets coroutines call the synchronous Store without blocking the network threads.
// A blocking backend's calls run on a bounded thread pool (for the embedded store that is also
// what lets concurrent writes share one fsync); a non-blocking backend (memory) is called inline.
// The coroutine resumes on its own executor. Thread-safe.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>
#include <utility>

#include "store/store.h"

namespace lynx::server {

class StoreRunner {
 public:
  StoreRunner(store::Store& store, size_t threads) : store_(store), pool_(threads) {}
  ~StoreRunner() { pool_.join(); }

  store::Store& store() { return store_; }

  // Runs f(store) and returns its result to the calling coroutine.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F&, store::Store&>> Run(F f) {
    using R = std::invoke_result_t<F&, store::Store&>;
    if (!store_.IsBlocking()) co_return f(store_);
    co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(R)>(
        [this, f = std::move(f)](auto handler) mutable {
          boost::asio::post(
              pool_, [this, f = std::move(f), handler = std::move(handler)]() mutable {
                R result = f(store_);
                auto ex = boost::asio::get_associated_executor(handler);
                boost::asio::post(
                    ex, [handler = std::move(handler), result = std::move(result)]() mutable {
                      std::move(handler)(std::move(result));
                    });
              });
        },
        boost::asio::use_awaitable);
  }

  void Stop() { pool_.join(); }

 private:
  store::Store& store_;
  boost::asio::thread_pool pool_;
};

}  // namespace lynx::server
