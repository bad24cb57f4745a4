# Decoding and checkpoint tools beyond training (included from native/tests/CMakeLists.txt): CTC prefix
# beam search, checkpoint averaging and the moving average of the weights. Their own executable, so they
# build without the training tests.
add_executable(asr_quality_tests
  ${CMAKE_CURRENT_LIST_DIR}/test_beam_search.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_checkpoint_average.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_ema.cpp
)
target_link_libraries(asr_quality_tests PRIVATE asr_model GTest::gtest_main)
target_compile_options(asr_quality_tests PRIVATE ${TORCH_CXX_FLAGS})
target_precompile_headers(asr_quality_tests REUSE_FROM asr_model)
gtest_discover_tests(asr_quality_tests TEST_PREFIX "model." DISCOVERY_TIMEOUT 120 PROPERTIES TIMEOUT 600)
