// SpanExporter: sends dtmd's spans (span.h) to an OTLP/HTTP receiver (Tracing.OtlpEndpoint,
// POST <endpoint>/v1/traces, JSON) — an OpenTelemetry Collector, Jaeger, Tempo... Spans are
// queued and sent in batches (Tracing.BatchSize, at least every Tracing.FlushInterval ms) by one
// background loop, so a transaction never waits for its spans: a full queue
// (Tracing.QueueCapacity) drops the span, and a batch the receiver refuses or that times out is
// dropped, never retried (a down receiver must not grow dtmd's memory); both are counted in
// dtmd_spans_total{result=exported|failed|overflow} and logged once a minute at most.
// Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

#include "server/tracing/span.h"

namespace lynx::http {
class ClientPool;
}

namespace lynx::server {

class Metrics;

struct SpanExporterOptions {
  std::string endpoint;  // "http://collector:4318" (or the full ".../v1/traces")
  std::string service_name = "dtmd";
  std::string instance;  // service.instance.id
  std::string version;
  size_t capacity = 4096;
  size_t batch_spans = 512;
  int flush_ms = 1000;
  int64_t timeout_ms = 5000;
};

class SpanExporter {
 public:
  SpanExporter(http::ClientPool& client, Metrics* metrics, SpanExporterOptions options);

  // Queues a finished span; never blocks.
  void Export(Span span);

  // Sends batches until Stop(), then what is still queued (one last batch per BatchSize).
  boost::asio::awaitable<void> Loop(boost::asio::io_context& io);
  void Stop();
  // After Stop(), waits (up to `timeout`) for the loop's last send; the io threads must run.
  bool AwaitLoopDone(std::chrono::milliseconds timeout);

  const std::string& url() const { return url_; }

 private:
  boost::asio::awaitable<void> Send(std::deque<Span> batch);
  void Count(size_t spans, const char* result);

  http::ClientPool& client_;
  Metrics* metrics_;
  SpanExporterOptions options_;
  std::string url_;
  std::mutex mu_;
  std::deque<Span> queue_;
  bool stopping_ = false;
  bool loop_running_ = false;
  std::condition_variable loop_done_;
  std::chrono::steady_clock::time_point last_error_log_{};
};

}  // namespace lynx::server
