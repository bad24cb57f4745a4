#include "asr/vocab.h"

#include "asr/errors.h"

namespace asr {

std::vector<int64_t> encode_text(const std::string& normalized) {
  std::vector<int64_t> ids;
  ids.reserve(normalized.size());
  for (size_t i = 0; i < normalized.size(); ++i) {
    const char c = normalized[i];
    if (c == ' ') {
      ids.push_back(1);
    } else if (c == '\'') {
      ids.push_back(2);
    } else if (c >= 'a' && c <= 'z') {
      ids.push_back(3 + (c - 'a'));
    } else {
      throw Error(codes::kInvalidArgument,
                  "character " + std::to_string(static_cast<unsigned char>(c)) + " at position " + std::to_string(i) +
                      " of '" + normalized +
                      "' is outside the vocabulary (a-z, apostrophe, space); normalise the text first");
    }
  }
  return ids;
}

std::string decode_tokens(const std::vector<int64_t>& ids) {
  std::string text;
  text.reserve(ids.size());
  for (int64_t id : ids) {
    if (id == 1) {
      text.push_back(' ');
    } else if (id == 2) {
      text.push_back('\'');
    } else if (id >= 3 && id < kVocabSize) {
      text.push_back(static_cast<char>('a' + (id - 3)));
    }
  }
  return text;
}

}  // namespace asr
