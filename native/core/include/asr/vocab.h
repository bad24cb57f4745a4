#pragma once
// The character vocabulary of the CTC head: blank=0, ' '=1, '\''=2, 'a'..'z'=3..28.
// Text arrives already normalised (lower-case a-z, apostrophe, single spaces): src/data/text.ts does that
// once per dataset so the dropped characters can be counted and logged there.
#include <cstdint>
#include <string>
#include <vector>

namespace asr {

inline constexpr int64_t kBlank = 0;
inline constexpr int64_t kVocabSize = 29;

// Throws asr::Error(E_INVALID_ARGUMENT) naming the first character outside the vocabulary.
std::vector<int64_t> encode_text(const std::string& normalized);
// Ids outside 1..28 (blank included) are skipped.
std::string decode_tokens(const std::vector<int64_t>& ids);

}  // namespace asr
