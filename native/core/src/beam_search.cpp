#include "asr/beam_search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "asr/errors.h"
#include "asr/precision.h"
#include "asr/trainer.h"
#include "asr/vocab.h"

namespace asr {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

double log_add(double a, double b) {
  if (a == kNegInf) return b;
  if (b == kNegInf) return a;
  const double hi = std::max(a, b);
  return hi + std::log1p(std::exp(std::min(a, b) - hi));
}

// Prefixes live in a trie so that extending one is O(1) and equal prefixes reached along different
// beams are the same node (that is where their probabilities merge).
class PrefixTrie {
 public:
  explicit PrefixTrie(int64_t vocab) : vocab_(vocab) { nodes_.push_back({-1, -1}); }
  static constexpr int64_t kRoot = 0;

  int64_t child(int64_t node, int64_t token) {
    const auto [it, inserted] = children_.try_emplace(node * vocab_ + token, static_cast<int64_t>(nodes_.size()));
    if (inserted) nodes_.push_back({node, token});
    return it->second;
  }
  int64_t last_token(int64_t node) const { return nodes_[node].token; }
  std::vector<int64_t> tokens(int64_t node) const {
    std::vector<int64_t> out;
    for (; node != kRoot; node = nodes_[node].parent) out.push_back(nodes_[node].token);
    std::reverse(out.begin(), out.end());
    return out;
  }

 private:
  struct Node {
    int64_t parent, token;
  };
  int64_t vocab_;
  std::vector<Node> nodes_;
  std::unordered_map<int64_t, int64_t> children_;
};

// Log-probability of the prefix over the frames so far, split by whether its paths end in blank.
struct Scores {
  double blank = kNegInf, non_blank = kNegInf;
  double total() const { return log_add(blank, non_blank); }
};

struct Beam {
  int64_t node;
  Scores scores;
};

void check_width(int64_t beam_width) {
  if (beam_width < 1 || beam_width > kMaxBeamWidth) {
    throw Error(codes::kInvalidArgument,
                "beam width must be 1.." + std::to_string(kMaxBeamWidth) + ", got " + std::to_string(beam_width));
  }
}

// frames: T rows of V log-probabilities, row-major doubles.
std::vector<int64_t> search(const double* frames, int64_t length, int64_t vocab, int64_t beam_width) {
  PrefixTrie trie(vocab);
  std::vector<Beam> beams{{PrefixTrie::kRoot, {0.0, kNegInf}}};
  std::unordered_map<int64_t, Scores> next;
  std::vector<Beam> ranked;
  for (int64_t t = 0; t < length; ++t) {
    const double* lp = frames + t * vocab;
    next.clear();
    for (const auto& [node, s] : beams) {
      const double total = s.total();
      auto& same = next[node];
      same.blank = log_add(same.blank, total + lp[kBlank]);
      const int64_t last = trie.last_token(node);
      for (int64_t c = 0; c < vocab; ++c) {
        if (c == kBlank) continue;
        const int64_t extended = trie.child(node, c);
        auto& grown = next[extended];
        if (c == last) {
          // A repeat only starts a new token after a blank; without one it collapses into the same prefix.
          grown.non_blank = log_add(grown.non_blank, s.blank + lp[c]);
          auto& kept = next[node];
          kept.non_blank = log_add(kept.non_blank, s.non_blank + lp[c]);
        } else {
          grown.non_blank = log_add(grown.non_blank, total + lp[c]);
        }
      }
    }
    ranked.clear();
    for (const auto& [node, s] : next) ranked.push_back({node, s});
    const auto keep = std::min<size_t>(static_cast<size_t>(beam_width), ranked.size());
    std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(keep), ranked.end(),
                      [](const Beam& a, const Beam& b) {
                        const double ta = a.scores.total(), tb = b.scores.total();
                        return ta != tb ? ta > tb : a.node < b.node;
                      });
    beams.assign(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(keep));
  }
  // beams is sorted after any frame; with no frames it is the empty prefix alone.
  return trie.tokens(beams.front().node);
}

}  // namespace

std::vector<int64_t> ctc_prefix_beam_search(const torch::Tensor& log_probs, int64_t beam_width) {
  check_width(beam_width);
  if (!log_probs.defined() || log_probs.dim() != 2 || log_probs.size(1) <= kBlank) {
    throw Error(codes::kInvalidArgument, "ctc_prefix_beam_search expects log_probs (T, V), got a " +
                                             std::to_string(log_probs.defined() ? log_probs.dim() : 0) + "-d tensor");
  }
  const auto lp = log_probs.to(torch::kCPU, torch::kDouble).contiguous();
  return search(lp.data_ptr<double>(), lp.size(0), lp.size(1), beam_width);
}

std::vector<std::vector<int64_t>> ctc_beam_decode(const torch::Tensor& log_probs, const torch::Tensor& lengths,
                                                  int64_t beam_width) {
  check_width(beam_width);
  if (log_probs.dim() != 3 || lengths.dim() != 1 || lengths.size(0) != log_probs.size(0)) {
    throw Error(codes::kInvalidArgument, "ctc_beam_decode expects log_probs (B, T, V) and lengths (B), got " +
                                             std::to_string(log_probs.dim()) + "-d and " +
                                             std::to_string(lengths.dim()) + "-d tensors");
  }
  const auto lp = log_probs.to(torch::kCPU, torch::kDouble).contiguous();
  const auto lens = lengths.to(torch::kCPU, torch::kLong).contiguous();
  const auto frames = lp.size(1), vocab = lp.size(2);
  std::vector<std::vector<int64_t>> out;
  out.reserve(static_cast<size_t>(lp.size(0)));
  for (int64_t b = 0; b < lp.size(0); ++b) {
    const auto n = std::clamp<int64_t>(lens.data_ptr<int64_t>()[b], 0, frames);
    out.push_back(search(lp.data_ptr<double>() + b * frames * vocab, n, vocab, beam_width));
  }
  return out;
}

std::vector<std::string> transcribe_beam(Trainer& trainer, const Batch& batch, int64_t beam_width) {
  check_width(beam_width);
  const auto& mc = trainer.model_config();
  if (!batch.features.defined() || batch.features.dim() != 3 || batch.features.size(2) != mc.n_mels ||
      !batch.feature_lengths.defined() || batch.feature_lengths.numel() != batch.features.size(0)) {
    throw Error(codes::kInvalidArgument,
                "batch features must be (B, T, " + std::to_string(mc.n_mels) + ") with one length per row");
  }
  auto& model = trainer.model();
  // Restores the caller's mode even when the forward pass throws.
  struct EvalMode {
    ConformerCTC& model;
    bool was_training;
    ~EvalMode() { model->train(was_training); }
  } mode{model, model->is_training()};
  model->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor log_probs, out_lengths;
  {
    AutocastScope autocast(parse_precision(trainer.train_config().precision),
                           torch::Device(trainer.device_name()).type());
    std::tie(log_probs, out_lengths) = model->forward(batch.features, batch.feature_lengths);
  }
  std::vector<std::string> texts;
  for (const auto& ids : ctc_beam_decode(log_probs, out_lengths, beam_width)) texts.push_back(decode_tokens(ids));
  return texts;
}

}  // namespace asr
