// Model shapes, padding, presets, decoding and error rates.
#include <gtest/gtest.h>

#include "asr/errors.h"
#include "asr/metrics.h"
#include "test_model_helpers.h"

namespace asr {
namespace {

TEST(Subsampling, LengthIsFloorOfTwoStrideTwoConvolutions) {
  EXPECT_EQ(subsampled_length(400), 99);
  EXPECT_EQ(subsampled_length(7), 1);
  EXPECT_EQ(subsampled_length(10), 1);
  EXPECT_EQ(subsampled_length(11), 2);
  const auto lengths = subsampled_lengths(torch::tensor({400, 101, 7, 3, 1}, torch::kLong));
  EXPECT_TRUE(torch::equal(lengths, torch::tensor({99, 24, 1, 0, 0}, torch::kLong)));
}

TEST(Subsampling, ModelOutputLengthMatchesFormulaForEachInputLength) {
  torch::manual_seed(0);
  ConformerCTC model(test::tiny_model());
  model->eval();
  torch::NoGradGuard no_grad;
  for (int64_t t : {7, 8, 9, 10, 11, 50, 101, 400}) {
    auto [log_probs, lengths] = model->forward(torch::randn({1, t, 80}), torch::tensor({t}));
    EXPECT_EQ(log_probs.size(1), subsampled_length(t)) << "T=" << t;
    EXPECT_EQ(lengths.item<int64_t>(), subsampled_length(t)) << "T=" << t;
  }
}

TEST(Model, OutputShapesAndLogProbabilitiesForAPaddedBatch) {
  torch::manual_seed(0);
  ConformerCTC model(test::tiny_model());
  model->eval();
  torch::NoGradGuard no_grad;
  const auto batch = test::random_batch(1, {100, 73, 40}, 10);
  auto [log_probs, lengths] = model->forward(batch.features, batch.feature_lengths);
  EXPECT_EQ(log_probs.sizes(), (std::vector<int64_t>{3, subsampled_length(100), kVocabSize}));
  const auto expected = torch::tensor({subsampled_length(100), subsampled_length(73), subsampled_length(40)});
  EXPECT_TRUE(torch::equal(lengths, expected));
  EXPECT_TRUE(torch::allclose(log_probs.exp().sum(-1), torch::ones({3, log_probs.size(1)}), 1e-4, 1e-4));
}

TEST(Model, PaddedRowsMatchTheSameUtteranceAlone) {
  torch::manual_seed(0);
  ConformerCTC model(test::tiny_model());
  model->eval();
  torch::NoGradGuard no_grad;
  const auto batch = test::random_batch(2, {120, 73, 41}, 10);
  auto [padded, lengths] = model->forward(batch.features, batch.feature_lengths);
  for (int64_t i = 0; i < 3; ++i) {
    const auto frames = batch.feature_lengths[i].item<int64_t>();
    auto [alone, alone_len] =
        model->forward(batch.features[i].narrow(0, 0, frames).unsqueeze(0), batch.feature_lengths.narrow(0, i, 1));
    const auto valid = alone_len.item<int64_t>();
    ASSERT_EQ(valid, lengths[i].item<int64_t>());
    EXPECT_TRUE(torch::allclose(padded[i].narrow(0, 0, valid), alone[0], 1e-4, 1e-5))
        << "row " << i << " max diff " << (padded[i].narrow(0, 0, valid) - alone[0]).abs().max().item<float>();
  }
}

TEST(Model, EncoderNamesAndShapesAreTorchaudios) {
  ConformerCTC model(model_preset("xs"));
  auto params = model->named_parameters();
  auto buffers = model->named_buffers();
  const std::string layer = "encoder.conformer_layers.3.";
  EXPECT_EQ(params[layer + "ffn1.sequential.1.weight"].sizes(), (std::vector<int64_t>{576, 144}));
  EXPECT_EQ(params[layer + "self_attn.in_proj_weight"].sizes(), (std::vector<int64_t>{432, 144}));
  EXPECT_EQ(params[layer + "self_attn.out_proj.bias"].sizes(), (std::vector<int64_t>{144}));
  EXPECT_EQ(params[layer + "conv_module.sequential.0.weight"].sizes(), (std::vector<int64_t>{288, 144, 1}));
  EXPECT_EQ(params[layer + "conv_module.sequential.2.weight"].sizes(), (std::vector<int64_t>{144, 1, 31}));
  EXPECT_EQ(buffers[layer + "conv_module.sequential.3.running_var"].sizes(), (std::vector<int64_t>{144}));
  EXPECT_EQ(params[layer + "final_layer_norm.weight"].sizes(), (std::vector<int64_t>{144}));
  EXPECT_EQ(params["subsampling.out.weight"].sizes(), (std::vector<int64_t>{144, 144 * 19}));
  EXPECT_EQ(params["ctc_head.weight"].sizes(), (std::vector<int64_t>{kVocabSize, 144}));
  EXPECT_FALSE(params.contains("encoder.conformer_layers.4.final_layer_norm.weight"));
}

TEST(Model, PresetsAndUnknownPresetError) {
  EXPECT_EQ(model_preset("xs").num_layers, 4);
  EXPECT_EQ(model_preset("s").num_layers, 16);
  EXPECT_EQ(model_preset("m").d_model, 256);
  EXPECT_EQ(model_preset("l").num_heads, 8);
  EXPECT_EQ(model_preset("l").ffn_dim, 2048);
  try {
    model_preset("xxl");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), codes::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("xs, s, m, l"), std::string::npos);
  }
  auto bad = test::tiny_model();
  bad.num_heads = 5;
  EXPECT_THROW(validate_model_config(bad), Error);
}

TEST(Model, ParameterCountFromTheConfigEqualsTheBuiltModels) {
  auto odd = test::tiny_model();
  odd.n_mels = 40;
  odd.conv_kernel = 7;
  odd.vocab_size = 11;
  for (const auto& config : {test::tiny_model(), odd, model_preset("xs"), model_preset("s")}) {
    ConformerCTC model(config);
    int64_t built = 0;
    for (const auto& p : model->parameters()) built += p.numel();
    EXPECT_EQ(parameter_count(config), built) << "d_model " << config.d_model << ", layers " << config.num_layers;
  }
}

TEST(Decode, GreedyCollapsesRepeatsDropsBlanksAndStopsAtLength) {
  // Frames' best ids: a a blank a b b blank | c (beyond the length of row 0)
  const std::vector<int64_t> best = {3, 3, 0, 3, 4, 4, 0, 5};
  auto log_probs = torch::full({2, 8, kVocabSize}, -10.0);
  for (int64_t t = 0; t < 8; ++t) {
    log_probs[0][t][best[t]] = 0.0;
    log_probs[1][t][best[7 - t]] = 0.0;
  }
  const auto decoded = ctc_greedy_decode(log_probs, torch::tensor({7, 8}));
  EXPECT_EQ(decoded[0], (std::vector<int64_t>{3, 3, 4}));
  EXPECT_EQ(decoded[1], (std::vector<int64_t>{5, 4, 3, 3}));
  EXPECT_EQ(decode_tokens(decoded[0]), "aab");
}

TEST(Metrics, EditDistanceOnCharactersWordsAndIds) {
  EXPECT_EQ(edit_distance(std::string("kitten"), std::string("sitting")), 3);
  EXPECT_EQ(edit_distance(std::string(""), std::string("abc")), 3);
  EXPECT_EQ(edit_distance(std::string("abc"), std::string("abc")), 0);
  EXPECT_EQ(edit_distance(split_words("the cat sat"), split_words("the  bat sat down")), 2);
  EXPECT_EQ(edit_distance(std::vector<int64_t>{1, 2, 3}, std::vector<int64_t>{3, 2, 1}), 2);
}

TEST(Metrics, CorpusErrorRatesAreTotalEditsOverReferenceLength) {
  const std::vector<std::string> refs = {"hello world", "abc"};
  const std::vector<std::string> hyps = {"hallo world", "ab"};
  const auto chars = character_errors(refs, hyps);
  EXPECT_EQ(chars.edits, 2);
  EXPECT_EQ(chars.reference, 14);
  EXPECT_DOUBLE_EQ(chars.rate(), 2.0 / 14.0);
  const auto words = word_errors(refs, hyps);
  EXPECT_EQ(words.edits, 2);
  EXPECT_EQ(words.reference, 3);
  EXPECT_THROW(character_errors(refs, {"x"}), Error);
}

}  // namespace
}  // namespace asr
