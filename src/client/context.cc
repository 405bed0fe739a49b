#include <lynx/context.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>

namespace lynx {

namespace {
// One per context tree, so that cancelling an ancestor wakes waiters on any descendant.
struct Signal {
  std::mutex mu;
  std::condition_variable cv;
};
}  // namespace

struct Context::State {
  std::shared_ptr<State> parent;
  std::shared_ptr<Signal> signal;
  std::atomic<bool> cancelled{false};
  std::optional<TimePoint> deadline;  // already the earliest along the chain
  std::shared_ptr<const HeaderMap> headers;
};

namespace {
const Context::HeaderMap& EmptyHeaders() {
  static const Context::HeaderMap kEmpty;
  return kEmpty;
}
}  // namespace

Context::Context() : state_(std::make_shared<State>()) {
  state_->signal = std::make_shared<Signal>();
}

Context::Context(std::shared_ptr<State> state) : state_(std::move(state)) {}

Context Context::WithDeadline(TimePoint deadline) const {
  auto child = std::make_shared<State>();
  child->parent = state_;
  child->signal = state_->signal;
  child->headers = state_->headers;
  child->deadline = state_->deadline ? std::min(*state_->deadline, deadline) : deadline;
  return Context(std::move(child));
}

Context Context::WithHeaders(HeaderMap headers) const {
  auto child = std::make_shared<State>();
  child->parent = state_;
  child->signal = state_->signal;
  child->deadline = state_->deadline;
  if (state_->headers) {
    for (const auto& [k, v] : *state_->headers) headers.emplace(k, v);  // keeps the new values
  }
  child->headers = std::make_shared<const HeaderMap>(std::move(headers));
  return Context(std::move(child));
}

Context Context::WithCancel() const {
  auto child = std::make_shared<State>();
  child->parent = state_;
  child->signal = state_->signal;
  child->deadline = state_->deadline;
  child->headers = state_->headers;
  return Context(std::move(child));
}

void Context::Cancel() const {
  {
    std::lock_guard lock(state_->signal->mu);
    state_->cancelled.store(true);
  }
  state_->signal->cv.notify_all();
}

bool Context::Cancelled() const {
  for (const State* s = state_.get(); s != nullptr; s = s->parent.get()) {
    if (s->cancelled.load()) return true;
  }
  return false;
}

bool Context::Done() const {
  if (Cancelled()) return true;
  return state_->deadline && Clock::now() >= *state_->deadline;
}

std::optional<Context::TimePoint> Context::Deadline() const { return state_->deadline; }

std::optional<std::chrono::milliseconds> Context::Remaining() const {
  if (!state_->deadline) return std::nullopt;
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(*state_->deadline - Clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

const Context::HeaderMap& Context::Headers() const {
  return state_->headers ? *state_->headers : EmptyHeaders();
}

Status Context::Err() const {
  if (Cancelled()) return Status::Unavailable("context canceled");
  if (state_->deadline && Clock::now() >= *state_->deadline) {
    return Status::Unavailable("context deadline exceeded");
  }
  return Status::Ok();
}

bool Context::WaitFor(std::chrono::milliseconds duration) const {
  TimePoint until = Clock::now() + duration;
  if (state_->deadline) until = std::min(until, *state_->deadline);
  std::unique_lock lock(state_->signal->mu);
  state_->signal->cv.wait_until(lock, until, [this] { return Cancelled(); });
  lock.unlock();
  return Done();
}

}  // namespace lynx
