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

// Every field's value, in declaration order, for comparing whole configs.
std::vector<double> field_values(const ModelConfig& config) {
  std::vector<double> values;
  for_each_model_config_field(config, [&](const char*, auto value) { values.push_back(static_cast<double>(value)); });
  return values;
}

TEST(Model, EveryPresetHasTheDocumentedSizeAndPassesTheConfigCheck) {
  // README and config.yaml: xs is the benchmark's 2.5M-parameter model; s/m/l the Conformer paper's S/M/L.
  struct Size {
    std::string name;
    int64_t d_model, num_layers, num_heads, ffn_dim;
  };
  const std::vector<Size> documented = {
      {"xs", 144, 4, 4, 576}, {"s", 144, 16, 4, 576}, {"m", 256, 16, 4, 1024}, {"l", 512, 17, 8, 2048}};
  ASSERT_EQ(model_presets().size(), documented.size());
  const ModelConfig defaults;
  for (size_t i = 0; i < documented.size(); ++i) {
    const ModelPreset& preset = model_presets()[i];
    const Size& size = documented[i];
    SCOPED_TRACE(size.name);
    EXPECT_EQ(preset.name, size.name);
    EXPECT_EQ(preset.config.d_model, size.d_model);
    EXPECT_EQ(preset.config.num_layers, size.num_layers);
    EXPECT_EQ(preset.config.num_heads, size.num_heads);
    EXPECT_EQ(preset.config.ffn_dim, size.ffn_dim);
    // What a preset does not size keeps the defaults (the data's mels and vocabulary among them).
    EXPECT_EQ(preset.config.n_mels, defaults.n_mels);
    EXPECT_EQ(preset.config.conv_kernel, defaults.conv_kernel);
    EXPECT_EQ(preset.config.vocab_size, defaults.vocab_size);
    EXPECT_EQ(preset.config.dropout, defaults.dropout);
    EXPECT_TRUE(model_config_problems(preset.config).empty());
    EXPECT_EQ(field_values(model_preset(size.name)), field_values(preset.config));
  }
  EXPECT_NEAR(static_cast<double>(parameter_count(model_preset("xs"))), 2.5e6, 0.1e6);
}

TEST(Model, AnUnknownPresetIsAnErrorListingEveryKnownOne) {
  try {
    model_preset("xxl");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), codes::kInvalidArgument);
    EXPECT_STREQ(e.what(), "unknown model preset 'xxl'; known presets: xs, s, m, l");
  }
}

TEST(Model, ConfigProblemsNameEveryFieldThatCannotBuildAModelAndValidateThrowsTheFirst) {
  EXPECT_TRUE(model_config_problems(test::tiny_model()).empty());
  auto bad = test::tiny_model();
  bad.d_model = 30;  // 4 heads
  bad.conv_kernel = 8;
  bad.dropout = 1.0;
  const auto problems = model_config_problems(bad);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].field, "d_model");
  EXPECT_EQ(problems[0].message, "must be a multiple of num_heads, 4 (got 30): each head takes d_model / num_heads");
  EXPECT_EQ(problems[1].field, "conv_kernel");
  EXPECT_EQ(problems[1].message,
            "must be odd and >= 1 (got 8): only an odd kernel keeps the length with 'same' padding");
  EXPECT_EQ(problems[2].field, "dropout");
  EXPECT_EQ(problems[2].message, "must be >= 0 and < 1 (got 1)");
  try {
    validate_model_config(bad);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), codes::kInvalidArgument);
    EXPECT_EQ(std::string(e.what()), "invalid model config: d_model " + problems[0].message);
  }
  bad = test::tiny_model();
  bad.num_heads = 0;  // no division by zero for the multiple check: only num_heads is named
  const auto no_heads = model_config_problems(bad);
  ASSERT_EQ(no_heads.size(), 1u);
  EXPECT_EQ(no_heads[0].field, "num_heads");
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
