// The DTM client's public JSON type (nlohmann::json) and Payload, the body of a branch call.
// A Payload is either a JSON value, serialized when the transaction is sent (as Go's SDK marshals
// its interface{} payloads), or raw JSON text sent verbatim:
//   saga.Add(out_url, revert_url, {{"amount", 100}});      // a JSON object written inline
//   saga.Add(out_url, revert_url, R"({"amount":100})");    // raw JSON text
//   saga.Add(out_url, revert_url, Json::array({1, 2}));    // any Json value
// A std::string, std::string_view or C string is always raw JSON text; a JSON *string value* is
// Json("text").
// Over gRPC a payload is the request message's bytes: a protobuf message (anything with
// SerializeAsString(), so this header needs no protobuf include) converts implicitly, and
// Payload::Bytes takes bytes serialized elsewhere:
//   saga.Add(out_url, revert_url, req);                         // a busi::ReqGrpc
//   saga.Add(out_url, revert_url, Payload::Bytes(serialized));  // sent verbatim
// The default Payload is JSON null (Go's nil payload). Value type, thread-compatible.
#pragma once

#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

namespace lynx::dtm {

using Json = nlohmann::json;

// A protobuf message, or anything else that serializes itself to bytes the same way.
template <class M>
concept SerializableMessage = requires(const M& m) {
  { m.SerializeAsString() } -> std::convertible_to<std::string>;
};

class Payload {
 public:
  Payload() : value_(nullptr) {}
  Payload(Json value) : value_(std::move(value)) {}                            // NOLINT: implicit
  Payload(Json::initializer_list_t init) : value_(Json(init)) {}               // NOLINT: {{"k", v}}
  Payload(std::nullptr_t) : value_(nullptr) {}                                 // NOLINT: null
  Payload(const char* raw_json) : raw_(raw_json), is_raw_(true) {}             // NOLINT
  Payload(std::string raw_json) : raw_(std::move(raw_json)), is_raw_(true) {}  // NOLINT
  Payload(std::string_view raw_json) : raw_(raw_json), is_raw_(true) {}        // NOLINT
  template <SerializableMessage M>
  Payload(const M& message) : raw_(message.SerializeAsString()), is_raw_(true) {}  // NOLINT

  static Payload Raw(std::string raw_json) { return Payload(std::move(raw_json)); }
  // Bytes sent verbatim, e.g. a serialized protobuf message (any bytes, NUL included).
  static Payload Bytes(std::string bytes) { return Payload(std::move(bytes)); }
  // The serialized message (Go's dtmgimp.MustProtoMarshal).
  template <SerializableMessage M>
  static Payload Proto(const M& message) {
    return Payload(message);
  }

  bool is_raw() const { return is_raw_; }
  // The bytes sent: the raw text / bytes as given, or the value's compact JSON.
  // Invalid UTF-8 in a value is replaced by U+FFFD (as Go's encoder does), never thrown.
  std::string Serialize() const {
    return is_raw_ ? raw_ : value_.dump(-1, ' ', false, Json::error_handler_t::replace);
  }

 private:
  Json value_;
  std::string raw_;
  bool is_raw_ = false;
};

}  // namespace lynx::dtm
