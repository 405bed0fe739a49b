// The multi-row form of the MySQL store's branch insert, built for a given number of rows
// (MyConn::Run caches prepared statements by the text's address, so the texts are built once per
// row count and live for the process). It saves a round trip per branch when a transaction is
// saved.
#pragma once

#include <cstddef>

namespace lynx::store::my {

// Row counts with a multi-row form; larger writes use one statement per row.
inline constexpr size_t kMaxBatchRows = 32;

// INSERT of n branch rows (10 parameters per row, gid included), VALUES form: with
// innodb_autoinc_lock_mode 0 or 1 the ids are consecutive from the reported insert id.
const char* InsertBranchesSql(size_t n);

}  // namespace lynx::store::my
