// A Beast body holding a std::string that grows with the bytes actually received. Beast's
// string_body reserves the whole Content-Length as soon as the header arrives, so a header alone
// ("Content-Length: 4194304" and no body) pinned megabytes per connection. Internal header (Beast
// types): include it only from the HTTP server and client .cc files.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/optional.hpp>

#include <algorithm>
#include <cstdint>
#include <string>

namespace lynx::http {

struct GrowingStringBody {
  using value_type = std::string;
  static std::uint64_t size(const value_type& v) { return v.size(); }

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(boost::beast::http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>& length, boost::beast::error_code& ec) {
      // A small head start only; the rest is allocated as bytes come in.
      if (length) body_.reserve(static_cast<size_t>(std::min<std::uint64_t>(*length, 16 * 1024)));
      ec = {};
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
      const std::size_t n = boost::asio::buffer_size(buffers);
      const std::size_t len = body_.size();
      body_.resize(len + n);
      ec = {};
      return boost::asio::buffer_copy(boost::asio::buffer(body_.data() + len, n), buffers);
    }

    void finish(boost::beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };

  using writer = boost::beast::http::string_body::writer;
};

}  // namespace lynx::http
