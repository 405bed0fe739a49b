// GrpcBranchServer with TLS and required client certificates. The test makes its own CA, server
// certificate (SAN IP:127.0.0.1) and client certificate with the openssl CLI in a temp dir.
#include <lynx/dtm/grpc_branch_server.h>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "../../support/test_certs.h"

namespace lynx::dtm {
namespace {

namespace fs = std::filesystem;

constexpr char kTransOut[] = "/busi.Busi/TransOut";

std::string Slurp(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

grpc::Status CallOnce(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice slice(std::string("hello"));
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, kTransOut, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status st) { done.set_value(std::move(st)); });
  return done.get_future().get();
}

class GrpcBranchServerTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string tmpl = (fs::temp_directory_path() / "lynx-grpc-tls-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    lynx::test_support::TestCerts certs;
    std::string err;
    ASSERT_TRUE(lynx::test_support::MakeTestCerts(dir_.string(), &certs, &err)) << err;
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  void SetUp() override {
    server_ = std::make_unique<GrpcBranchServer>(GrpcBranchServer::Options{
        .cert_file = (dir_ / "server.pem").string(),
        .key_file = (dir_ / "server.key").string(),
        .ca_file = (dir_ / "ca.pem").string(),
    });
    server_->Handle(kTransOut, [this](const GrpcBranchRequest& req) -> StatusOr<std::string> {
      ++calls_;
      return req.body;
    });
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.message();
  }

  std::shared_ptr<grpc::Channel> TlsChannel(bool with_client_cert) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Slurp(dir_ / "ca.pem");
    if (with_client_cert) {
      ssl.pem_private_key = Slurp(dir_ / "client.key");
      ssl.pem_cert_chain = Slurp(dir_ / "client.pem");
    }
    return grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                               grpc::SslCredentials(ssl));
  }

  static inline fs::path dir_;
  std::unique_ptr<GrpcBranchServer> server_;
  std::atomic<int> calls_{0};
};

TEST_F(GrpcBranchServerTlsTest, ClientWithCertificateIsServed) {
  grpc::Status st = CallOnce(TlsChannel(true));
  EXPECT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(GrpcBranchServerTlsTest, ClientWithoutCertificateIsRefused) {
  grpc::Status st = CallOnce(TlsChannel(false));
  EXPECT_EQ(st.error_code(), grpc::UNAVAILABLE) << st.error_message();
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(GrpcBranchServerTlsTest, PlaintextClientIsRefused) {
  grpc::Status st = CallOnce(grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                                 grpc::InsecureChannelCredentials()));
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(GrpcBranchServerTlsTest, UnreadableCaFileIsInvalidArgumentNamingIt) {
  GrpcBranchServer bad({.cert_file = (dir_ / "server.pem").string(),
                        .key_file = (dir_ / "server.key").string(),
                        .ca_file = (dir_ / "missing-ca.pem").string()});
  Status st = bad.Start();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("missing-ca.pem"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace lynx::dtm
