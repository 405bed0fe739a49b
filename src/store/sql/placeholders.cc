#include "store/sql/placeholders.h"

#include <algorithm>

namespace lynx::store::sql {

PositionalSql ToPositional(std::string_view sql) {
  PositionalSql out;
  out.text.reserve(sql.size());
  bool question_marks = false;
  char quote = 0;  // inside '...', "..." or `...`
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
      out.text += c;
      continue;
    }
    if (c == '\'' || c == '"' || c == '`') {
      quote = c;
    } else if (c == '?') {
      question_marks = true;
    } else if (c == '$' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
      int n = 0;
      while (i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9' && n < 10000) {
        n = n * 10 + (sql[++i] - '0');
      }
      if (n == 0) return {};
      out.order.push_back(n - 1);
      out.params = std::max(out.params, n);
      out.text += '?';
      continue;
    }
    out.text += c;
  }
  if (out.order.empty()) return out;
  if (question_marks) return {};
  // Every parameter 1..params used at least once: a gap would leave a value unbound.
  std::vector<bool> used(static_cast<size_t>(out.params), false);
  for (int n : out.order) used[static_cast<size_t>(n)] = true;
  if (std::find(used.begin(), used.end(), false) != used.end()) return {};
  return out;
}

}  // namespace lynx::store::sql
