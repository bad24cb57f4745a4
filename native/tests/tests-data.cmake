# Owned by the data side: audio, fbank (against torchaudio), feature store and cache, batching; and the
# training loop over a store (test_train_loop.cpp, asr_training), which needs the data side's fixtures.
add_executable(asr_data_tests
  ${CMAKE_CURRENT_LIST_DIR}/test_data_audio.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_data_fbank.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_data_store.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_data_speed_perturb.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_train_loop.cpp
)
target_link_libraries(asr_data_tests PRIVATE asr_data asr_training GTest::gtest_main)
target_precompile_headers(asr_data_tests REUSE_FROM asr_model)
# The fbank golden values come from torchaudio run by this script under the system Python.
target_compile_definitions(asr_data_tests PRIVATE
  ASR_FBANK_GOLDEN_SCRIPT="${CMAKE_CURRENT_LIST_DIR}/fbank_golden.py"
  ASR_SYSTEM_PYTHON="/usr/bin/python3")
gtest_discover_tests(asr_data_tests TEST_PREFIX "data." DISCOVERY_TIMEOUT 60)

# Not a test: measures feature extraction and resampling speed, and padding shares of a dataset.
add_executable(asr_data_bench ${CMAKE_CURRENT_LIST_DIR}/bench_data.cpp)
target_link_libraries(asr_data_bench PRIVATE asr_data)
target_precompile_headers(asr_data_bench REUSE_FROM asr_model)
