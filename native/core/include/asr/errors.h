#pragma once
// Every failure the core reports carries a stable code; the addon turns it into AsrTrainerError.
#include <stdexcept>
#include <string>

namespace asr {

namespace codes {
inline constexpr const char* kInvalidArgument = "E_INVALID_ARGUMENT";
inline constexpr const char* kCheckpointNotFound = "E_CHECKPOINT_NOT_FOUND";
inline constexpr const char* kCheckpointCorrupt = "E_CHECKPOINT_CORRUPT";
inline constexpr const char* kShapeMismatch = "E_SHAPE_MISMATCH";
inline constexpr const char* kDatasetNotFound = "E_DATASET_NOT_FOUND";
inline constexpr const char* kAudioRead = "E_AUDIO_READ";
inline constexpr const char* kCudaUnavailable = "E_CUDA_UNAVAILABLE";
inline constexpr const char* kIo = "E_IO";
inline constexpr const char* kCancelled = "E_CANCELLED";
// A data-parallel run cannot go on: bad torchrun variables, a rendezvous or collective that failed or timed out.
inline constexpr const char* kDistributed = "E_DISTRIBUTED";
inline constexpr const char* kInternal = "E_INTERNAL";
}  // namespace codes

class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message);
  const std::string& code() const noexcept { return code_; }

 private:
  std::string code_;
};

}  // namespace asr
