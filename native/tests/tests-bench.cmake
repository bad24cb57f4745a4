# The performance side's tests (included from native/tests/CMakeLists.txt): bf16 precision on CPU, and
# the CUDA checks scripts/gpu-check.sh runs on a GPU machine (skipped without one).
add_executable(asr_precision_tests ${CMAKE_CURRENT_LIST_DIR}/test_precision.cpp)
target_link_libraries(asr_precision_tests PRIVATE asr_model GTest::gtest_main)
target_compile_options(asr_precision_tests PRIVATE ${TORCH_CXX_FLAGS})
target_precompile_headers(asr_precision_tests REUSE_FROM asr_model)
gtest_discover_tests(asr_precision_tests TEST_PREFIX "precision." DISCOVERY_TIMEOUT 120 PROPERTIES TIMEOUT 600)
