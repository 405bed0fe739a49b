#include <functional>

#include "client/sql/sql_drivers.h"

namespace lynx::dtm::internal {

std::string RewritePlaceholders(const std::string& sql,
                                const std::function<std::string(size_t)>& on_placeholder,
                                size_t* count, bool backslash_escapes) {
  std::string out;
  out.reserve(sql.size() + 16);
  size_t n = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'' || c == '"' || c == '`') {
      // Copy the quoted text verbatim; a doubled quote is an escaped quote and stays inside.
      size_t end = i + 1;
      for (; end < sql.size(); ++end) {
        if (backslash_escapes && sql[end] == '\\' && end + 1 < sql.size()) {
          ++end;  // MySQL's backslash escape inside a literal
        } else if (sql[end] == c) {
          if (end + 1 < sql.size() && sql[end + 1] == c) {
            ++end;
          } else {
            break;
          }
        }
      }
      out.append(sql, i, end - i + 1);
      i = end;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      size_t end = sql.find('\n', i);
      if (end == std::string::npos) end = sql.size() - 1;
      out.append(sql, i, end - i + 1);
      i = end;
    } else if (c == '?') {
      out += on_placeholder(n++);
    } else {
      out += c;
    }
  }
  if (count != nullptr) *count = n;
  return out;
}

Status CheckParamCount(const std::string& sql, size_t placeholders, size_t params) {
  if (placeholders == params) return Status::Ok();
  return Status::InvalidArgument("statement has " + std::to_string(placeholders) +
                                 " placeholders but " + std::to_string(params) +
                                 " parameters were given: " + sql);
}

}  // namespace lynx::dtm::internal
