#include "asr/errors.h"

#include <utility>

namespace asr {

Error::Error(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}

}  // namespace asr
