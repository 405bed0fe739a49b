// An in-process gRPC test double of DTM's server (dtmgimp.Dtm) and of a business service
// (busi.Busi) on one port of 127.0.0.1: records every request with its metadata and deadline and
// answers OK, or the status scripted for the method (each used once). It only checks the shape
// of what the SDK sends; the real dtmd is exercised by the integration tests.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "proto/busi.grpc.pb.h"
#include "proto/dtmgimp.grpc.pb.h"

namespace lynx::dtm::testing {

struct RecordedCall {
  std::string method;  // "Prepare", "RegisterBranch", ... or "/busi.Busi/TransOut"
  std::map<std::string, std::string> metadata;
  std::string body;  // the request message's bytes
  std::chrono::milliseconds deadline_left{0};
};

class FakeGrpcServer {
 public:
  FakeGrpcServer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    Register(builder);
    server_ = builder.BuildAndStart();
  }
  // A TLS server (client certificates required when `client_ca` is set).
  FakeGrpcServer(const std::string& cert, const std::string& key, const std::string& client_ca) {
    grpc::SslServerCredentialsOptions ssl(
        client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_root_certs = client_ca;
    ssl.pem_key_cert_pairs.push_back({key, cert});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &port_);
    Register(builder);
    server_ = builder.BuildAndStart();
  }
  ~FakeGrpcServer() { server_->Shutdown(std::chrono::system_clock::now()); }

  bool started() const { return server_ != nullptr && port_ > 0; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // A branch URL of busi.Busi on this server, e.g. Url("TransOut").
  std::string Url(const std::string& busi_method) const {
    return address() + "/busi.Busi/" + busi_method;
  }

  // The next call of `method` answers `status` (method as recorded: "Prepare", ...,
  // "/busi.Busi/TransOut").
  void Script(const std::string& method, grpc::Status status) {
    std::lock_guard lock(mu_);
    script_[method].push_back(std::move(status));
  }
  std::vector<RecordedCall> Calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<std::string> Methods() const {
    std::vector<std::string> out;
    for (const auto& c : Calls()) out.push_back(c.method);
    return out;
  }
  // The i-th recorded call of `method`, parsed as M.
  template <class M>
  M Request(const std::string& method, size_t i = 0) const {
    size_t seen = 0;
    for (const auto& c : Calls()) {
      if (c.method != method) continue;
      if (seen++ == i) {
        M m;
        EXPECT_TRUE(m.ParseFromString(c.body));
        return m;
      }
    }
    ADD_FAILURE() << "no call #" << i << " of " << method;
    return M();
  }
  RecordedCall Call(const std::string& method, size_t i = 0) const {
    size_t seen = 0;
    for (const auto& c : Calls()) {
      if (c.method == method && seen++ == i) return c;
    }
    ADD_FAILURE() << "no call #" << i << " of " << method;
    return RecordedCall();
  }
  int gids_issued() const {
    std::lock_guard lock(mu_);
    return gids_;
  }

 private:
  grpc::Status Record(const std::string& method, grpc::ServerContext* ctx,
                      const google::protobuf::Message& request) {
    RecordedCall call;
    call.method = method;
    for (const auto& [k, v] : ctx->client_metadata()) {
      call.metadata.emplace(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
    }
    call.body = request.SerializeAsString();
    call.deadline_left = std::chrono::duration_cast<std::chrono::milliseconds>(
        ctx->deadline() - std::chrono::system_clock::now());
    std::lock_guard lock(mu_);
    calls_.push_back(std::move(call));
    auto it = script_.find(method);
    if (it == script_.end() || it->second.empty()) return grpc::Status::OK;
    grpc::Status st = it->second.front();
    it->second.pop_front();
    return st;
  }

  class Dtm : public dtmgimp::Dtm::Service {
   public:
    explicit Dtm(FakeGrpcServer* s) : s_(s) {}
    grpc::Status NewGid(grpc::ServerContext* ctx, const google::protobuf::Empty* req,
                        dtmgimp::DtmGidReply* reply) override {
      grpc::Status st = s_->Record("NewGid", ctx, *req);
      std::lock_guard lock(s_->mu_);
      reply->set_gid("fake-gid-" + std::to_string(++s_->gids_));
      return st;
    }
    grpc::Status Submit(grpc::ServerContext* ctx, const dtmgimp::DtmRequest* req,
                        google::protobuf::Empty*) override {
      return s_->Record("Submit", ctx, *req);
    }
    grpc::Status Prepare(grpc::ServerContext* ctx, const dtmgimp::DtmRequest* req,
                         google::protobuf::Empty*) override {
      return s_->Record("Prepare", ctx, *req);
    }
    grpc::Status Abort(grpc::ServerContext* ctx, const dtmgimp::DtmRequest* req,
                       google::protobuf::Empty*) override {
      return s_->Record("Abort", ctx, *req);
    }
    grpc::Status RegisterBranch(grpc::ServerContext* ctx, const dtmgimp::DtmBranchRequest* req,
                                google::protobuf::Empty*) override {
      return s_->Record("RegisterBranch", ctx, *req);
    }

   private:
    FakeGrpcServer* s_;
  };

  class Busi : public busi::Busi::Service {
   public:
    explicit Busi(FakeGrpcServer* s) : s_(s) {}
#define LYNX_FAKE_BUSI_EMPTY(name)                                                                \
  grpc::Status name(grpc::ServerContext* ctx, const busi::ReqGrpc* req, google::protobuf::Empty*) \
      override {                                                                                  \
    return s_->Record("/busi.Busi/" #name, ctx, *req);                                            \
  }
    LYNX_FAKE_BUSI_EMPTY(TransIn)
    LYNX_FAKE_BUSI_EMPTY(TransOut)
    LYNX_FAKE_BUSI_EMPTY(TransInRevert)
    LYNX_FAKE_BUSI_EMPTY(TransOutRevert)
    LYNX_FAKE_BUSI_EMPTY(TransInConfirm)
    LYNX_FAKE_BUSI_EMPTY(TransOutConfirm)
    LYNX_FAKE_BUSI_EMPTY(TransInXa)
    LYNX_FAKE_BUSI_EMPTY(TransOutXa)
    LYNX_FAKE_BUSI_EMPTY(TransInTcc)
    LYNX_FAKE_BUSI_EMPTY(TransOutTcc)
#undef LYNX_FAKE_BUSI_EMPTY
    // Answers a BusiReply naming the gid, so that tests can see the reply bytes come back.
    grpc::Status QueryPrepared(grpc::ServerContext* ctx, const busi::ReqGrpc* req,
                               busi::BusiReply* reply) override {
      grpc::Status st = s_->Record("/busi.Busi/QueryPrepared", ctx, *req);
      auto it = ctx->client_metadata().find("dtm-gid");
      if (it != ctx->client_metadata().end()) {
        reply->set_message("prepared " + std::string(it->second.data(), it->second.size()));
      }
      return st;
    }

   private:
    FakeGrpcServer* s_;
  };

  void Register(grpc::ServerBuilder& builder) {
    builder.RegisterService(&dtm_);
    builder.RegisterService(&busi_);
  }

  mutable std::mutex mu_;
  std::map<std::string, std::deque<grpc::Status>> script_;
  std::vector<RecordedCall> calls_;
  int gids_ = 0;
  int port_ = 0;
  Dtm dtm_{this};
  Busi busi_{this};
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace lynx::dtm::testing
