// transfer_example: the seed's snippets in C++ — SAGA, TCC (helper), XA (helper), the 2-phase
// message and the workflow — each run once succeeding and once failing (the workflow also once
// resumed by dtmd after its client process crashed), against dtmd, with the account service of
// account_service.h serving the branches from this process (balances in a real database). When
// lynx.dtm.grpc_server is set, the same modes run again over gRPC: transactions sent to dtmd's
// gRPC service, branches served by a GrpcBranchServer (busi.Busi methods, busi.ReqGrpc bodies).
// Prints each outcome and the balances, and exits non-zero when one is not what it must be.
//   transfer_example --config config.yaml --db-driver postgres --db-port 5432 --db-user postgres
#include <lynx/app.h>
#include <lynx/dtm/dtm.h>
#include <CLI/CLI.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "account_service.h"
#include "proto/busi.pb.h"
#include "workflow_transfer.h"

namespace {

namespace dtm = lynx::dtm;
using lynx::example::AccountService;
using lynx::example::kTransInUser;
using lynx::example::kTransOutUser;

constexpr int64_t kStart = 10000;    // each account's balance before every scenario
constexpr int64_t kAmount = 100;     // what the succeeding scenarios move
constexpr int64_t kTooMuch = 50000;  // more than account 1 holds: the failing scenarios

busi::ReqGrpc Req(int64_t amount) {
  busi::ReqGrpc r;
  r.set_amount(amount);
  return r;
}

struct Runner {
  dtm::DTMClient& client;
  AccountService& service;
  std::string busi;       // base URL of the branches, e.g. http://127.0.0.1:8081/api
  std::string grpc_busi;  // gRPC target of the branches, e.g. 127.0.0.1:58081
  bool grpc = false;      // run the scenarios over gRPC
  int failures = 0;
  dtm::WorkflowEngine* workflows = nullptr;
  std::string callback = {};                 // where dtmd resumes workflows (this process)
  std::vector<std::string> child_args = {};  // this program with --config: the crashing client

  // A branch URL: http://host:port/api/<route>, or over gRPC host:port/busi.Busi/<route>.
  std::string Url(const std::string& route) const {
    return grpc ? grpc_busi + "/busi.Busi/" + route : busi + "/" + route;
  }
  // A branch body: {"amount": N}, or over gRPC a busi.ReqGrpc message.
  dtm::Payload Data(int64_t amount) const {
    if (grpc) return Req(amount);
    return dtm::Payload{{"amount", amount}};
  }
  std::string Name(const std::string& name, bool fail) const {
    return (grpc ? "grpc " : "") + name + (fail ? " (rolls back)" : "");
  }

  // Runs one scenario from fresh balances and checks its outcome, status and balances.
  void Scenario(const std::string& name, bool expect_ok, const std::string& gid,
                const std::function<lynx::Status()>& run) {
    if (lynx::Status st = service.SetBalances({{kTransOutUser, kStart}, {kTransInUser, kStart}});
        !st.ok()) {
      std::printf("%-28s cannot reset balances: %s\n", name.c_str(), st.message().c_str());
      ++failures;
      return;
    }
    lynx::Status st = run();
    dtm::TransactionHelper helper(client);
    auto status = helper.CheckTransactionStatus(gid);
    auto out = service.Balance(kTransOutUser);
    auto in = service.Balance(kTransInUser);
    const int64_t moved = expect_ok ? kAmount : 0;
    const bool good = st.ok() == expect_ok && status.ok() &&
                      *status == (expect_ok ? "succeed" : "failed") && out.ok() && in.ok() &&
                      *out == kStart - moved && *in == kStart + moved;
    std::printf("%-28s %-4s gid %-24s status %-8s balances %lld / %lld%s%s\n", name.c_str(),
                good ? "ok" : "BAD", gid.c_str(), status.ok() ? status->c_str() : "?",
                static_cast<long long>(out.ok() ? *out : -1),
                static_cast<long long>(in.ok() ? *in : -1), st.ok() ? "" : "  <- ",
                st.ok() ? "" : st.message().c_str());
    if (!good) ++failures;
  }

  // Seed §3: a SAGA of TransOut and TransIn.
  void Saga(bool fail) {
    const int64_t amount = fail ? kTooMuch : kAmount;
    std::string gid = client.GenerateGid();
    Scenario(Name("saga", fail), !fail, gid, [&] {
      dtm::Saga saga = grpc ? client.NewSagaGrpc(gid) : client.NewSaga(gid);
      saga.Add(Url("TransOut"), Url("TransOutRevert"), Data(amount));
      saga.Add(Url("TransIn"), Url("TransInRevert"), Data(amount));
      saga.SetWaitResult(true);  // return once dtmd finished (or compensated) every step
      return saga.Submit();
    });
  }

  // Seed §4: TCC through the TransactionHelper.
  void Tcc(bool fail) {
    const int64_t amount = fail ? kTooMuch : kAmount;
    dtm::TransactionHelper helper(client);
    std::string gid = helper.MustGenGid();
    Scenario(Name("tcc helper", fail), !fail, gid, [&] {
      std::vector<dtm::TCCBranch> branches{
          {.try_url = Url("TransOutTry"),
           .confirm_url = Url("TransOutConfirm"),
           .cancel_url = Url("TransOutCancel"),
           .data = Data(amount)},
          {.try_url = Url("TransInTry"),
           .confirm_url = Url("TransInConfirm"),
           .cancel_url = Url("TransInCancel"),
           .data = Data(amount)},
      };
      dtm::TransactionOptions opts{
          .timeout_to_fail = 60, .branch_timeout = 10, .wait_result = true};
      return helper.ExecuteTCC(lynx::Context::Background(), gid, branches, opts);
    });
  }

  // Seed §5: XA through the TransactionHelper (the branches are XA local transactions).
  void Xa(bool fail) {
    const int64_t amount = fail ? kTooMuch : kAmount;
    dtm::TransactionHelper helper(client);
    std::string gid = helper.MustGenGid();
    Scenario(Name("xa helper", fail), !fail, gid, [&] {
      std::vector<dtm::XABranch> branches{
          {.action = Url("TransOut"), .data = Data(amount)},
          {.action = Url("TransIn"), .data = Data(amount)},
      };
      dtm::TransactionOptions opts{
          .timeout_to_fail = 60, .branch_timeout = 10, .wait_result = true};
      return helper.ExecuteXA(lynx::Context::Background(), gid, branches, opts);
    });
  }

  // Seed §6: the 2-phase message, Prepare then Submit.
  void Msg() {
    std::string gid = client.GenerateGid();
    Scenario(Name("msg", false), true, gid, [&] {
      dtm::Msg msg = grpc ? client.NewMsgGrpc(gid) : client.NewMsg(gid);
      msg.Add(Url("TransOut"), Data(kAmount));
      msg.Add(Url("TransIn"), Data(kAmount));
      if (lynx::Status st = msg.Prepare(Url("QueryPrepared")); !st.ok()) return st;
      msg.SetWaitResult(true);
      return msg.Submit();
    });
  }

  // The transfer as a workflow (workflow_transfer.h): the steps are recorded as they complete;
  // TransIn to an unknown account fails and TransOut is compensated.
  void Workflow(bool fail) {
    std::string gid = client.GenerateGid();
    Scenario(Name("workflow", fail), !fail, gid, [&] {
      return workflows
          ->Execute(lynx::example::kTransferWorkflow, gid,
                    lynx::example::TransferInput(kAmount, fail ? 99 : kTransInUser))
          .status();
    });
  }

  // The client dies after its first step: another process (this program again, with
  // --workflow-child) starts the workflow and exits in the middle; dtmd then resumes it through
  // this process's callback, which replays TransOut from its record and runs TransIn.
  void WorkflowCrash() {
    std::string gid = client.GenerateGid();
    Scenario("workflow resumed after crash", true, gid, [&]() -> lynx::Status {
      std::vector<std::string> args = child_args;
      for (const char* a : {"--workflow-child", gid.c_str(), "--workflow-busi", busi.c_str(),
                            "--workflow-callback", callback.c_str()}) {
        args.emplace_back(a);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      const pid_t pid = fork();
      if (pid == 0) {
        execv("/proc/self/exe", argv.data());
        _exit(127);
      }
      int wstatus = 0;
      if (pid < 0 || waitpid(pid, &wstatus, 0) != pid || !WIFEXITED(wstatus) ||
          WEXITSTATUS(wstatus) != lynx::example::kCrashExitCode) {
        return lynx::Status::Internal("the client process did not crash as planned");
      }
      std::printf("%-28s the client process died after TransOut; dtmd resumes the workflow\n", "");
      dtm::TransactionHelper helper(client);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (std::chrono::steady_clock::now() < deadline) {
        auto status = helper.CheckTransactionStatus(gid);
        if (status.ok() && *status == "succeed") return lynx::Status::Ok();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // awaiting dtmd's cron
      }
      return lynx::Status::Unavailable("dtmd did not finish the workflow within 60 s");
    });
  }

  // The reliable outbox: the local transaction (account 1 pays) commits together with the
  // message's barrier row, and DTM delivers TransIn; when it fails, the message is aborted.
  void MsgOutbox(bool fail) {
    const int64_t amount = fail ? kTooMuch : kAmount;
    std::string gid = client.GenerateGid();
    Scenario(Name("msg outbox", fail), !fail, gid, [&] {
      dtm::Msg msg = grpc ? client.NewMsgGrpc(gid) : client.NewMsg(gid);
      msg.Add(Url("TransIn"), Data(amount));
      msg.SetWaitResult(true);
      auto db = dtm::OpenSqlDb(service.conf());
      if (!db.ok()) return db.status();
      return msg.DoAndSubmitDB(Url("QueryPrepared"), **db, [&](dtm::SqlDb& tx) -> lynx::Status {
        auto changed = tx.Execute(
            "UPDATE user_account SET balance = balance - ? WHERE user_id = ? AND balance >= ?",
            {std::to_string(amount), std::to_string(kTransOutUser), std::to_string(amount)});
        if (!changed.ok()) return changed.status();
        if (*changed == 0) return lynx::Status::Failure("insufficient balance");
        return lynx::Status::Ok();
      });
    });
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"lynx-dtm example: every transaction mode, succeeding and rolling back"};
  std::string config = "config.yaml";
  dtm::DBConf db{.driver = "postgres", .user = "postgres", .db = "postgres"};
  std::string listen = "127.0.0.1";
  uint16_t port = 0;
  std::string modes = "saga,tcc,xa,msg,workflow,grpc";
  std::string workflow_child;
  std::string workflow_busi;
  std::string workflow_callback;
  cli.add_option("-c,--config", config, "YAML file with lynx.dtm");
  cli.add_option("--db-driver", db.driver, "postgres | mysql | sqlite (sqlite: no XA)");
  cli.add_option("--db-host", db.host);
  cli.add_option("--db-port", db.port);
  cli.add_option("--db-user", db.user);
  cli.add_option("--db-password", db.password);
  cli.add_option("--db-name", db.db, "database (sqlite: file path)");
  cli.add_option("--listen", listen, "address of the branch handlers");
  cli.add_option("--port", port, "port of the branch handlers (0: any)");
  uint16_t grpc_port = 0;
  cli.add_option("--grpc-port", grpc_port, "port of the gRPC branch handlers (0: any)");
  cli.add_option("--modes", modes,
                 "comma-separated subset of saga,tcc,xa,msg,workflow,grpc (grpc: every mode "
                 "over gRPC, when lynx.dtm.grpc_server is set)");
  cli.add_option("--workflow-child", workflow_child,
                 "internal: run the transfer workflow as gid and crash after its first step");
  cli.add_option("--workflow-busi", workflow_busi, "internal: the branches' base URL");
  cli.add_option("--workflow-callback", workflow_callback,
                 "internal: the workflow callback of the process that survives");
  CLI11_PARSE(cli, argc, argv);

  lynx::App app = lynx::App::FromFile(config);
  dtm::RegisterPlugin(app.registry());
  if (lynx::Status st = app.Start(); !st.ok()) {
    std::fprintf(stderr, "start-up failed: %s\n", st.message().c_str());
    return 1;
  }
  auto& client = app.GetPlugin<dtm::DTMClient>("dtm.server");
  if (!workflow_child.empty()) {
    // The crashing client of WorkflowCrash. Its callback is the surviving process's, as a
    // service's instances share one address behind their load balancer.
    dtm::WorkflowEngine engine = client.NewWorkflowEngine(workflow_callback);
    lynx::example::RegisterTransferWorkflow(engine, workflow_busi, /*crash_after_first_step=*/true);
    auto res = engine.Execute(lynx::example::kTransferWorkflow, workflow_child,
                              lynx::example::TransferInput(kAmount, kTransInUser));
    std::fprintf(stderr, "the workflow client did not crash: %s\n",
                 res.ok() ? "it finished" : res.status().message().c_str());
    return 3;
  }

  AccountService service(db, &client.Metrics());
  if (lynx::Status st = service.Init(); !st.ok()) {
    std::fprintf(stderr, "account database: %s\n", st.message().c_str());
    return 1;
  }
  dtm::HttpBranchServer server({.address = listen, .port = port, .threads = 4});
  service.Register(server, "/api");
  // dtmd resumes unfinished workflows at /workflow/resume (its URL is known once started).
  dtm::WorkflowEngine workflows = client.NewWorkflowEngine("");
  workflows.ServeHttp(server, "/workflow/resume");
  if (lynx::Status st = server.Start(); !st.ok()) {
    std::fprintf(stderr, "branch server: %s\n", st.message().c_str());
    return 1;
  }
  workflows.SetCallback(server.Url("/workflow/resume"));
  if (lynx::Status st = lynx::example::RegisterTransferWorkflow(workflows, server.Url("/api"),
                                                                /*crash_after_first_step=*/false);
      !st.ok()) {
    std::fprintf(stderr, "workflow: %s\n", st.message().c_str());
    return 1;
  }
  dtm::GrpcBranchServer grpc_server({.address = listen, .port = grpc_port, .threads = 4});
  const bool grpc = !client.GetGRPCServer().empty();
  if (grpc) {
    service.SetDtmGrpcTls(client.GrpcTls());  // XA branches register with DTM over gRPC
    service.RegisterGrpc(grpc_server);
    if (lynx::Status st = grpc_server.Start(); !st.ok()) {
      std::fprintf(stderr, "gRPC branch server: %s\n", st.message().c_str());
      return 1;
    }
    std::printf("dtm gRPC server %s, gRPC branches at %s\n", client.GetGRPCServer().c_str(),
                grpc_server.Target("/busi.Busi").c_str());
  }
  std::printf("dtm server %s, branches at %s, balances in %s\n", client.GetServerURL().c_str(),
              server.Url("/api").c_str(), db.driver.c_str());

  Runner r{client, service, server.Url("/api"),
           listen + ":" + std::to_string(grpc ? grpc_server.port() : 0)};
  r.workflows = &workflows;
  r.child_args = {argv[0], "--config", config};
  r.callback = server.Url("/workflow/resume");
  auto has = [&](const char* m) {
    return ("," + modes + ",").find(std::string(",") + m + ",") != std::string::npos;
  };
  if (has("saga")) {
    r.Saga(false);
    r.Saga(true);
  }
  if (has("tcc")) {
    r.Tcc(false);
    r.Tcc(true);
  }
  if (has("xa")) {
    r.Xa(false);
    r.Xa(true);
  }
  if (has("msg")) {
    r.Msg();
    r.MsgOutbox(false);
    r.MsgOutbox(true);
  }
  if (has("workflow")) {
    r.Workflow(false);
    r.Workflow(true);
    r.WorkflowCrash();
  }
  if (has("grpc") && grpc) {  // the same modes over gRPC
    r.grpc = true;
    for (bool fail : {false, true}) r.Saga(fail);
    for (bool fail : {false, true}) r.Tcc(fail);
    if (db.driver != "sqlite") {
      for (bool fail : {false, true}) r.Xa(fail);
    }
    r.Msg();
    for (bool fail : {false, true}) r.MsgOutbox(fail);
  }
  std::printf("%s\n", r.failures == 0 ? "every scenario ended as expected"
                                      : "SOME SCENARIOS DID NOT END AS EXPECTED");
  // The client metrics this run produced (the barrier counter counts the branch handlers' work).
  std::string metrics = client.Metrics().Serialize();
  for (size_t pos = 0; pos < metrics.size();) {
    size_t end = metrics.find('\n', pos);
    if (end == std::string::npos) end = metrics.size();
    std::string line = metrics.substr(pos, end - pos);
    if (line.rfind("lynx_dtm_barrier_operations_total", 0) == 0 ||
        line.rfind("lynx_dtm_transactions_total", 0) == 0) {
      std::printf("  %s\n", line.c_str());
    }
    pos = end + 1;
  }
  grpc_server.Stop();
  server.Stop();
  app.Stop();
  return r.failures == 0 ? 0 : 2;
}
