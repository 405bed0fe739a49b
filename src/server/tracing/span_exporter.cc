#include "server/tracing/span_exporter.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <vector>

#include "common/http_client.h"
#include "common/log.h"
#include "server/metrics.h"
#include "server/tracing/otlp_json.h"

namespace lynx::server {
namespace asio = boost::asio;

namespace {

// ".../v1/traces" is OTLP/HTTP's path; an endpoint given without it gets it appended.
std::string TracesUrl(std::string endpoint) {
  static constexpr std::string_view kPath = "/v1/traces";
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  if (endpoint.size() >= kPath.size() &&
      endpoint.compare(endpoint.size() - kPath.size(), kPath.size(), kPath) == 0) {
    return endpoint;
  }
  return endpoint + std::string(kPath);
}

}  // namespace

SpanExporter::SpanExporter(http::ClientPool& client, Metrics* metrics, SpanExporterOptions options)
    : client_(client),
      metrics_(metrics),
      options_(std::move(options)),
      url_(TracesUrl(options_.endpoint)) {}

void SpanExporter::Export(Span span) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && queue_.size() < options_.capacity) {
      queue_.push_back(std::move(span));
      return;
    }
  }
  Count(1, "overflow");
}

void SpanExporter::Count(size_t spans, const char* result) {
  if (metrics_ != nullptr) metrics_->ObserveSpans(static_cast<int64_t>(spans), result);
}

asio::awaitable<void> SpanExporter::Loop(asio::io_context& io) {
  {
    std::lock_guard lock(mu_);
    loop_running_ = true;
  }
  asio::steady_timer timer(io);
  auto last_send = std::chrono::steady_clock::now();
  const auto flush = std::chrono::milliseconds(options_.flush_ms);
  for (;;) {
    std::deque<Span> batch;
    bool stopping = false;
    {
      std::lock_guard lock(mu_);
      stopping = stopping_;
      const bool due = std::chrono::steady_clock::now() - last_send >= flush;
      if (!queue_.empty() && (stopping || due || queue_.size() >= options_.batch_spans)) {
        const size_t n = std::min(queue_.size(), options_.batch_spans);
        batch.insert(batch.end(), std::make_move_iterator(queue_.begin()),
                     std::make_move_iterator(queue_.begin() + static_cast<ptrdiff_t>(n)));
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
      }
      if (batch.empty() && stopping) break;
    }
    if (!batch.empty()) {
      last_send = std::chrono::steady_clock::now();
      co_await Send(std::move(batch));
      continue;
    }
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  std::lock_guard lock(mu_);
  loop_running_ = false;
  loop_done_.notify_all();
}

asio::awaitable<void> SpanExporter::Send(std::deque<Span> batch) {
  const size_t n = batch.size();
  http::ClientRequest req;
  req.method = "POST";
  req.url = url_;
  req.headers = {{"Content-Type", "application/json"}};
  req.body = EncodeOtlpJson(std::vector<Span>(std::make_move_iterator(batch.begin()),
                                              std::make_move_iterator(batch.end())),
                            options_.service_name, options_.instance, options_.version);
  req.timeout_ms = options_.timeout_ms;
  auto res = co_await client_.Send(std::move(req));
  std::string error;
  if (!res.ok()) {
    error = res.status().message();
  } else if (res->status < 200 || res->status >= 300) {
    error = "HTTP " + std::to_string(res->status) + " " + res->body.substr(0, 200);
  }
  Count(n, error.empty() ? "exported" : "failed");
  if (error.empty()) co_return;
  // A receiver that is down fails every batch: say so once a minute, not once a batch.
  const auto now = std::chrono::steady_clock::now();
  if (now - last_error_log_ >= std::chrono::minutes(1)) {
    last_error_log_ = now;
    log::Log(log::Component::kServer, spdlog::level::warn,
             "span export to {} failed ({} spans dropped): {}", url_, n, error);
  }
}

void SpanExporter::Stop() {
  std::lock_guard lock(mu_);
  stopping_ = true;
}

bool SpanExporter::AwaitLoopDone(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return loop_done_.wait_for(lock, timeout, [this] { return !loop_running_; });
}

}  // namespace lynx::server
