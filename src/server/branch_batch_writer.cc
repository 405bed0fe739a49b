#include "server/branch_batch_writer.h"

#include <algorithm>

#include "server/metrics.h"

namespace lynx::server {

BranchBatchWriter::BranchBatchWriter(StoreRunner& store, Metrics* metrics)
    : BatchQueue(
          store, "batched branch update",
          {.capacity = 1000, .batch_rows = 20, .collect_ms = 200, .poll_ms = 20, .attempts = 3},
          [](store::Store& s, const std::vector<store::TransBranch>& rows) {
            return s.UpdateBranches(rows);
          },
          // The newest status of a branch replaces an older one still in the batch.
          [](std::vector<store::TransBranch>& batch, store::TransBranch& row) {
            auto same = std::find_if(batch.begin(), batch.end(), [&](const auto& b) {
              return b.gid == row.gid && b.branch_id == row.branch_id && b.op == row.op;
            });
            if (same == batch.end()) return false;
            *same = std::move(row);
            return true;
          },
          [metrics](size_t rows, bool written) {
            if (metrics != nullptr) {
              metrics->ObserveBatchedBranches(static_cast<int64_t>(rows), written);
            }
          }) {}

}  // namespace lynx::server
