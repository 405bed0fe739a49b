// Test certificates made at test time with the openssl CLI (never checked in): a CA, a server
// certificate for 127.0.0.1/localhost and a client certificate, both signed by the CA, plus a
// second, unrelated CA for "wrong CA" cases. Header-only; used by unit and integration tests.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace lynx::testing {

struct TestCerts {
  std::string dir;
  std::string ca_file, server_cert, server_key, client_cert, client_key, other_ca_file;
  // File contents (PEM).
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
};

// Writes the files into `dir` (which must exist). False with *err set when openssl fails.
inline bool MakeTestCerts(const std::string& dir, TestCerts* out, std::string* err) {
  const std::string d = "'" + dir + "'";
  const std::string script =
      "set -e; cd " + d +
      "; exec >openssl.log 2>&1"
      "; openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=lynx-test-ca"
      " -keyout ca.key -out ca.pem"
      "; openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca"
      " -keyout other-ca.key -out other-ca.pem"
      "; printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext"
      "; openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr"
      "; openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
      " -extfile server.ext -out server.pem"
      "; openssl req -newkey rsa:2048 -nodes -subj /CN=lynx-test-client -keyout client.key"
      " -out client.csr"
      "; openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
      " -out client.pem";
  const std::string cmd = "/bin/sh -c \"" + script + "\"";
  if (std::system(cmd.c_str()) != 0) {
    *err = "openssl failed; see " + dir + "/openssl.log: " + TestCerts::Read(dir + "/openssl.log");
    return false;
  }
  out->dir = dir;
  out->ca_file = dir + "/ca.pem";
  out->server_cert = dir + "/server.pem";
  out->server_key = dir + "/server.key";
  out->client_cert = dir + "/client.pem";
  out->client_key = dir + "/client.key";
  out->other_ca_file = dir + "/other-ca.pem";
  return true;
}

}  // namespace lynx::testing
