// Rows of a collated batch (batch.h): a rank's share of a global batch.
#include "asr/batch.h"

#include <algorithm>

#include "asr/errors.h"

namespace asr {

Batch slice_rows(const Batch& batch, int64_t begin, int64_t end) {
  if (begin < 0 || end < begin || end > batch_rows(batch)) {
    throw Error(codes::kInvalidArgument, "rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                                             ") are outside a batch of " + std::to_string(batch_rows(batch)));
  }
  if (begin == end) return Batch{};
  Batch out;
  out.feature_lengths = batch.feature_lengths.narrow(0, begin, end - begin);
  const int64_t frames = out.feature_lengths.max().item<int64_t>();
  out.features = batch.features.narrow(0, begin, end - begin).narrow(1, 0, frames);
  if (batch.targets.defined()) {
    out.target_lengths = batch.target_lengths.narrow(0, begin, end - begin);
    const int64_t longest = std::max<int64_t>(out.target_lengths.max().item<int64_t>(), 1);
    out.targets = batch.targets.narrow(0, begin, end - begin).narrow(1, 0, std::min(longest, batch.targets.size(1)));
  }
  const auto pick = [&](const std::vector<std::string>& all) {
    return all.size() == static_cast<size_t>(batch_rows(batch))
               ? std::vector<std::string>(all.begin() + begin, all.begin() + end)
               : std::vector<std::string>{};
  };
  out.ids = pick(batch.ids);
  out.texts = pick(batch.texts);
  return out;
}

}  // namespace asr
