// Msg, TCC and XA processing (dtm-protocol.md §5.3-5.5).
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <cctype>

#include "common/log.h"
#include "server/custom_data.h"
#include "server/engine.h"
#include "server/engine_run.h"

namespace lynx::server {

namespace asio = boost::asio;

asio::awaitable<Status> Engine::MayQueryPrepared(Run& run) {
  Trans& t = run.t;
  if (!NeedProcess(t) || t.g.status == store::kStatusSubmitted) co_return Status::Ok();
  Status st = co_await CallUrl(run, t.g.query_prepared, "00", kOpMsg, "");
  if (st.ok()) {
    co_return co_await ChangeStatus(t, store::kStatusSubmitted);
  }
  if (st.IsFailure()) {
    co_return co_await ChangeStatus(t, store::kStatusFailed);
  }
  if (st.IsOngoing()) {
    co_await TouchCronTime(run, CronType::kReset, 0);
  } else {
    log::Log(log::Component::kEngine, spdlog::level::info, run.LogTx("00", kOpMsg), "{} failed: {}",
             t.g.query_prepared, st.message());
    co_await TouchCronTime(run, CronType::kBackoff, 0);
  }
  co_return Status::Ok();
}

asio::awaitable<Status> Engine::ProcessMsg(std::shared_ptr<Run> run) {
  Trans& t = run->t;
  LYNX_CO_RETURN_IF_ERROR(co_await MayQueryPrepared(*run));
  if (!NeedProcess(t) || t.g.status == store::kStatusPrepared) co_return Status::Ok();
  auto parsed_delay = ParseMsgDelay(t.g.custom_data);
  if (!parsed_delay.ok()) {
    // Checked at submit; a stored value that still cannot be read fails this pass (backed off).
    co_await TouchCronTime(*run, CronType::kBackoff, 0);
    co_return Status::Internal("stored custom_data unusable: " + parsed_delay.status().message());
  }
  const int64_t delay = *parsed_delay;
  if (delay > 0 && clock().Now() - t.g.create_time < delay * 1000) {
    co_await TouchCronTime(*run, CronType::kKeep, delay);
    co_return Status::Ok();
  }
  Status err;
  if (t.opts.concurrent) {
    // Every pending action at once; the first error (in branch order) decides.
    auto ex = co_await asio::this_coro::executor;
    std::vector<size_t> pending;
    for (size_t i = 0; i < run->branches.size(); ++i) {
      const auto& b = run->branches[i];
      if (b.op == kOpAction && b.status == store::kStatusPrepared) pending.push_back(i);
    }
    auto results = std::make_shared<std::vector<Status>>(pending.size());
    auto remaining = std::make_shared<size_t>(pending.size());
    auto timer = std::make_shared<asio::steady_timer>(ex);
    for (size_t k = 0; k < pending.size(); ++k) {
      asio::co_spawn(
          ex,
          [this, run, results, remaining, timer, k, i = pending[k]]() -> asio::awaitable<void> {
            (*results)[k] = co_await ExecBranch(run, i);
            if (--*remaining == 0) timer->cancel();
          },
          asio::detached);
    }
    while (*remaining > 0) {
      timer->expires_after(std::chrono::hours(1));
      co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    }
    for (const auto& r : *results) {
      if (!r.ok()) {
        err = r;
        break;
      }
    }
  } else {
    for (size_t i = 0; i < run->branches.size(); ++i) {
      const auto& b = run->branches[i];
      if (b.op == kOpAction && b.status == store::kStatusPrepared) run->finishing_branch = i;
    }
    for (size_t i = 0; i < run->branches.size(); ++i) {
      const auto& b = run->branches[i];
      if (b.op != kOpAction || b.status != store::kStatusPrepared) continue;
      err = co_await ExecBranch(run, i);
      if (!err.ok()) break;
    }
  }
  if (err.IsOngoing()) co_return Status::Ok();
  if (!err.ok()) co_return err;
  co_return co_await ChangeStatus(t, store::kStatusSucceed);
}

// A tcc/xa still prepared after its timeout rolls back; the reason prints the transaction's own
// timeout_to_fail, so "Timeout after 0 seconds" when the default applied (DTM does the same).
asio::awaitable<Status> Engine::AbortIfPrepareTimedOut(Trans& t) {
  if (t.g.status != store::kStatusPrepared || !IsTimeout(t)) co_return Status::Ok();
  co_return co_await ChangeStatus(
      t, store::kStatusAborting,
      "Timeout after " + std::to_string(t.opts.timeout_to_fail) + " seconds");
}

asio::awaitable<Status> Engine::ProcessTcc(std::shared_ptr<Run> run) {
  Trans& t = run->t;
  if (!NeedProcess(t)) co_return Status::Ok();
  LYNX_CO_RETURN_IF_ERROR(co_await AbortIfPrepareTimedOut(t));
  const bool forward = t.g.status == store::kStatusSubmitted;
  const char* op = forward ? kOpConfirm : kOpCancel;
  // Last registered first, as DTM does.
  for (size_t k = run->branches.size(); k-- > 0;) {
    const auto& b = run->branches[k];
    if (b.op == op && b.status == store::kStatusPrepared) run->finishing_branch = k;
  }
  for (size_t k = run->branches.size(); k-- > 0;) {
    const auto& b = run->branches[k];
    if (b.op == op && b.status == store::kStatusPrepared) {
      LYNX_CO_RETURN_IF_ERROR(co_await ExecBranch(run, k));
    }
  }
  co_return co_await ChangeStatus(t, forward ? store::kStatusSucceed : store::kStatusFailed);
}

asio::awaitable<Status> Engine::ProcessXa(std::shared_ptr<Run> run) {
  Trans& t = run->t;
  if (!NeedProcess(t)) co_return Status::Ok();
  LYNX_CO_RETURN_IF_ERROR(co_await AbortIfPrepareTimedOut(t));
  const bool forward = t.g.status == store::kStatusSubmitted;
  const char* op = forward ? kOpCommit : kOpRollback;
  for (size_t i = 0; i < run->branches.size(); ++i) {
    const auto& b = run->branches[i];
    if (b.op == op && b.status != store::kStatusSucceed) run->finishing_branch = i;
  }
  for (size_t i = 0; i < run->branches.size(); ++i) {
    const auto& b = run->branches[i];
    if (b.op == op && b.status != store::kStatusSucceed) {
      LYNX_CO_RETURN_IF_ERROR(co_await ExecBranch(run, i));
    }
  }
  co_return co_await ChangeStatus(t, forward ? store::kStatusSucceed : store::kStatusFailed);
}

}  // namespace lynx::server
