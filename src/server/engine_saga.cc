// Saga processing (dtm-protocol.md §5.2): forward actions in order (or by `orders` when
// concurrent), then, when aborting, compensations in reverse order, including the compensation of
// failed and possibly-executed (started, still prepared) actions.
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <deque>

#include "common/log.h"
#include "server/custom_data.h"
#include "server/engine.h"
#include "server/engine_run.h"

namespace lynx::server {

namespace asio = boost::asio;

namespace {

struct BranchResult {
  std::string status;
  std::string op;
  bool started = false;
};

struct Done {
  size_t index;
  std::string status;
};

// Results of branch coroutines, delivered on the pass's strand.
struct Mailbox {
  explicit Mailbox(asio::any_io_executor ex) : timer(ex) {}
  std::deque<Done> done;
  asio::steady_timer timer;
};

}  // namespace

asio::awaitable<Status> Engine::ProcessSaga(std::shared_ptr<Run> run) {
  Trans& t = run->t;
  if (t.g.status == store::kStatusSubmitted && IsTimeout(t)) {
    LYNX_CO_RETURN_IF_ERROR(co_await ChangeStatus(
        t, store::kStatusAborting,
        "Timeout after " + std::to_string(t.opts.timeout_to_fail) + " seconds"));
  }
  const size_t n = run->branches.size();
  // Checked at submit; a stored value that still cannot be read fails this pass (backed off).
  auto parsed_custom = ParseSagaCustom(t.g.custom_data, n / 2);
  if (!parsed_custom.ok()) {
    co_await TouchCronTime(*run, CronType::kBackoff, 0);
    co_return Status::Internal("stored custom_data unusable: " + parsed_custom.status().message());
  }
  const SagaCustom csc = std::move(*parsed_custom);
  // Sequential actions: the last one's success leads straight to "succeed".
  if (!csc.concurrent && n >= 2 && t.g.status == store::kStatusSubmitted &&
      run->branches[n - 1].op == kOpAction) {
    run->finishing_branch = n - 1;
  }
  int rs_a_to_start = 0, rs_a_started = 0, rs_a_done = 0, rs_a_failed = 0, rs_a_succeed = 0;
  int rs_c_to_start = 0, rs_c_done = 0, rs_c_succeed = 0;
  std::string failure_error;
  std::vector<BranchResult> results(n);
  for (size_t i = 0; i < n; ++i) {
    const auto& b = run->branches[i];
    if (b.op == kOpAction) {
      if (b.status == store::kStatusPrepared) {
        ++rs_a_to_start;
      } else if (b.status == store::kStatusFailed) {
        ++rs_a_failed;
      }
    }
    results[i] = {b.status, b.op, false};
  }

  auto should_run = [&](size_t current) {
    if (!csc.concurrent && current >= 2 && results[current - 2].status != store::kStatusSucceed) {
      return false;
    }
    auto it = csc.orders.find(static_cast<int>(current / 2));
    if (it != csc.orders.end()) {
      for (int pre : it->second) {
        size_t idx = static_cast<size_t>(pre) * 2 + 1;
        if (idx >= n || results[idx].status != store::kStatusSucceed) return false;
      }
    }
    return true;
  };
  auto rolled_back = [&](size_t i) {
    return results[i].status == store::kStatusSucceed ||
           results[i + 1].status == store::kStatusPrepared;
  };
  auto should_rollback = [&](size_t current) {
    if (rolled_back(current)) return false;
    if (!csc.concurrent && current + 2 < n && !rolled_back(current + 2)) return false;
    auto it = csc.corders.find(static_cast<int>(current / 2));
    if (it != csc.corders.end()) {
      for (int next : it->second) {
        size_t idx = static_cast<size_t>(next) * 2;
        if (idx + 1 < n && !rolled_back(idx)) return false;
      }
    }
    return true;
  };

  auto ex = co_await asio::this_coro::executor;
  auto mailbox = std::make_shared<Mailbox>(ex);
  auto exec_async = [this, run, mailbox, ex](size_t i) {
    asio::co_spawn(
        ex,
        [this, run, mailbox, i]() -> asio::awaitable<void> {
          Status st = co_await ExecBranch(run, i);
          (void)st;  // the outcome is the branch status; errors were logged and scheduled
          mailbox->done.push_back({i, run->branches[i].status});
          mailbox->timer.cancel();
        },
        asio::detached);
  };
  auto pick_actions = [&] {
    std::vector<size_t> to_run;
    for (size_t cur = 1; cur < n; cur += 2) {
      if (!results[cur].started && results[cur].status == store::kStatusPrepared &&
          should_run(cur)) {
        to_run.push_back(cur);
      }
    }
    return to_run;
  };
  auto pick_compensates = [&] {
    std::vector<size_t> to_run;
    for (size_t step = n / 2; step-- > 0;) {
      size_t cur = step * 2;
      if (!results[cur].started && results[cur].status == store::kStatusPrepared &&
          should_rollback(cur)) {
        to_run.push_back(cur);
      }
    }
    return to_run;
  };
  auto run_branches = [&](const std::vector<size_t>& to_run) {
    for (size_t b : to_run) {
      results[b].started = true;
      if (results[b].op == kOpAction) ++rs_a_started;
      exec_async(b);
    }
  };
  bool aborted_by_retry_limit = false;
  std::string abort_reason;
  auto wait_done_once = [&]() -> asio::awaitable<void> {
    if (mailbox->done.empty()) {
      mailbox->timer.expires_after(std::chrono::seconds(3));
      co_await mailbox->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (mailbox->done.empty()) co_return;
    Done r = mailbox->done.front();
    mailbox->done.pop_front();
    auto& br = results[r.index];
    br.status = r.status;
    if (br.op == kOpAction) {
      if (t.opts.retry_limit > 0 && r.status == store::kStatusPrepared) {
        if (t.opts.retry_count < t.opts.retry_limit) {
          ++t.opts.retry_count;
          log::Log(log::Component::kEngine, spdlog::level::info,
                   run->LogTx(run->branches[r.index].branch_id, run->branches[r.index].op),
                   "retrying ({}/{})", t.opts.retry_count, t.opts.retry_limit);
          exec_async(r.index);
          co_return;
        }
        aborted_by_retry_limit = true;
        abort_reason = "RetryCount is greater than RetryLimit, RetryLimit: " +
                       std::to_string(t.opts.retry_limit);
        co_return;
      }
      ++rs_a_done;
      if (r.status == store::kStatusFailed) {
        ++rs_a_failed;
        failure_error = run->branch_errors[r.index];
      } else if (r.status == store::kStatusSucceed) {
        ++rs_a_succeed;
      }
    } else {
      ++rs_c_done;
      if (r.status == store::kStatusSucceed) ++rs_c_succeed;
    }
  };
  auto prepare_to_compensate = [&] {
    for (size_t b : pick_actions()) results[b].started = true;
    for (size_t i = 1; i < n; i += 2) {
      // An action that was started but has no result may have taken effect: compensate it.
      if (results[i].started && results[i].status == store::kStatusPrepared) {
        results[i].status = store::kStatusSucceed;
      }
    }
    for (size_t i = 0; i + 1 < n; i += 2) {
      if (results[i].status != store::kStatusSucceed &&
          results[i + 1].status != store::kStatusPrepared) {
        ++rs_c_to_start;
      }
    }
  };

  const UnixMs time_limit = SteadyNowMs() + (config().request_timeout + 2) * 1000;
  while (SteadyNowMs() < time_limit && t.g.status == store::kStatusSubmitted && !IsTimeout(t) &&
         rs_a_failed == 0 && !aborted_by_retry_limit) {
    run_branches(pick_actions());
    if (rs_a_done == rs_a_started) break;  // nothing running
    co_await wait_done_once();
  }
  if (aborted_by_retry_limit && t.g.status == store::kStatusSubmitted) {
    LYNX_CO_RETURN_IF_ERROR(co_await ChangeStatus(t, store::kStatusAborting, abort_reason));
  }
  if (t.g.status == store::kStatusSubmitted && rs_a_failed == 0 && rs_a_to_start == rs_a_succeed) {
    co_return co_await ChangeStatus(t, store::kStatusSucceed);
  }
  if (t.g.status == store::kStatusSubmitted && rs_a_failed > 0) {
    // The reason is lost when the failure was recorded before a crash.
    std::string msg = failure_error.empty() ? "fail message lost" : failure_error;
    LYNX_CO_RETURN_IF_ERROR(co_await ChangeStatus(t, store::kStatusAborting, msg));
  }
  if (t.g.status == store::kStatusSubmitted && IsTimeout(t)) {
    LYNX_CO_RETURN_IF_ERROR(co_await ChangeStatus(
        t, store::kStatusAborting,
        "Timeout after " + std::to_string(t.opts.timeout_to_fail) + " seconds"));
  }
  if (t.g.status == store::kStatusAborting) prepare_to_compensate();
  while (SteadyNowMs() < time_limit && t.g.status == store::kStatusAborting) {
    run_branches(pick_compensates());
    if (rs_c_done == rs_c_to_start) break;
    co_await wait_done_once();
  }
  if (t.g.status == store::kStatusAborting && rs_c_to_start == rs_c_succeed) {
    co_return co_await ChangeStatus(t, store::kStatusFailed);
  }
  co_return Status::Ok();
}

}  // namespace lynx::server
