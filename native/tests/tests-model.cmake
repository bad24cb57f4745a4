# Model-side C++ tests (included from native/tests/CMakeLists.txt).
add_executable(asr_model_tests
  ${CMAKE_CURRENT_LIST_DIR}/test_model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_model_training.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_checkpoint_zip.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_dropout.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_subsampling_conv.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_compute_thread.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_linear.cpp
)
target_link_libraries(asr_model_tests PRIVATE asr_model GTest::gtest_main)
target_compile_options(asr_model_tests PRIVATE ${TORCH_CXX_FLAGS})
target_compile_definitions(asr_model_tests PRIVATE ASR_MODEL_TESTS_DIR="${CMAKE_CURRENT_LIST_DIR}")
target_precompile_headers(asr_model_tests REUSE_FROM asr_model)
gtest_discover_tests(asr_model_tests TEST_PREFIX "model." DISCOVERY_TIMEOUT 120 PROPERTIES TIMEOUT 600)

# The multi-tensor AdamW step and gradient clip against LibTorch's (CUDA half run by scripts/gpu-check.sh).
add_executable(asr_optimizer_tests ${CMAKE_CURRENT_LIST_DIR}/test_multi_tensor_adamw.cpp)
target_link_libraries(asr_optimizer_tests PRIVATE asr_model GTest::gtest_main)
target_compile_options(asr_optimizer_tests PRIVATE ${TORCH_CXX_FLAGS})
target_precompile_headers(asr_optimizer_tests REUSE_FROM asr_model)
gtest_discover_tests(asr_optimizer_tests TEST_PREFIX "optimizer." DISCOVERY_TIMEOUT 120 PROPERTIES TIMEOUT 600)

# One xs training step's time (not part of ctest, not built by default to keep `npm test` short):
#   cmake --build BUILD --target asr_bench_step && bench/reference/compare.sh BUILD
add_executable(asr_bench_step EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/bench_step.cpp)
target_link_libraries(asr_bench_step PRIVATE asr_model)
target_precompile_headers(asr_bench_step REUSE_FROM asr_model)

# One optimizer update's time, per-tensor against multi-tensor (not part of ctest, not built by default):
#   cmake --build BUILD --target asr_bench_optimizer && BUILD/native/tests/asr_bench_optimizer --preset s
add_executable(asr_bench_optimizer EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/bench_optimizer.cpp)
target_link_libraries(asr_bench_optimizer PRIVATE asr_model)
target_precompile_headers(asr_bench_optimizer REUSE_FROM asr_model)

# The checkpoint folder's kernel lock across real (forked) processes; no LibTorch in the test itself.
add_executable(asr_file_lock_tests ${CMAKE_CURRENT_LIST_DIR}/test_file_lock.cpp)
target_link_libraries(asr_file_lock_tests PRIVATE asr_model GTest::gtest_main)
gtest_discover_tests(asr_file_lock_tests TEST_PREFIX "file_lock." DISCOVERY_TIMEOUT 60)
