// Test certificates made at test time with the openssl CLI (never checked in): a CA, a server
// certificate for 127.0.0.1/localhost and a client certificate, both signed by the CA, plus a
// second, unrelated CA for "wrong CA" cases. Header-only; used by unit and integration tests.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace lynx::test_support {

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
  // EC keys: fast to generate. The CAs get explicit CA extensions, each leaf its usage.
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
  const std::string script =
      "set -e\n"
      "ca() {\n"
      "  openssl req -x509" +
      ec +
      "-keyout $1.key -out $1.pem -days 2 -subj /CN=$1"
      " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign\n"
      "}\n"
      "leaf() {\n"
      "  openssl req" +
      ec +
      "-keyout $1.key -out $1.csr -subj /CN=$1\n"
      "  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=%s\\n' $2 > $1.ext\n"
      "  openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
      " -extfile $1.ext -out $1.pem\n"
      "}\n"
      "ca ca\n"
      "ca other-ca\n"
      "leaf server serverAuth\n"
      "leaf client clientAuth\n";
  std::ofstream(dir + "/make_certs.sh") << script;
  const std::string cmd = "cd '" + dir + "' && sh make_certs.sh > openssl.log 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    *err = "openssl failed in " + dir + ": " + TestCerts::Read(dir + "/openssl.log");
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

}  // namespace lynx::test_support
