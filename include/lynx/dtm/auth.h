// Credentials of this process towards DTM servers that require them (dtmd with Auth.Enabled, or
// a DTM behind a proxy that checks bearer tokens; docs/security.md). DTMClient sets them from
// `lynx.dtm` (auth_token / auth_token_file, http_ca_file / http_cert_file / http_key_file);
// programs that build transactions with the free functions may set them here. Thread-safe.
#pragma once

#include <string>

#include <lynx/status.h>

namespace lynx::dtm {

// The bearer token sent on every call this process makes to the DTM server `server`: an HTTP
// API base URL as transactions are given it ("http://dtm:36789/api/dtmsvr", trailing '/'
// ignored) -> header "Authorization: Bearer <token>"; or a gRPC address host:port -> metadata
// "authorization: Bearer <token>". Branch services never receive it. An empty token removes it.
void SetDtmServerToken(const std::string& server, const std::string& token);

// A token kept in a file: its first line without surrounding blanks. InvalidArgument when the
// file cannot be read or the line is empty.
StatusOr<std::string> ReadTokenFile(const std::string& path);

// https:// DTM servers: trust `ca_file` (PEM) besides the system store, and present
// cert_file + key_file (PEM) when the server asks for a client certificate (mutual TLS). Applies
// to connections the process's HTTP transport opens from now on.
Status SetDtmHttpTls(const std::string& ca_file, const std::string& cert_file = "",
                     const std::string& key_file = "");

}  // namespace lynx::dtm
