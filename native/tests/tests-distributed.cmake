# Data-parallel tests (included from native/tests/CMakeLists.txt when asr_distributed is built). The binary
# is also its own worker: started with ASR_DIST_SCENARIO set it runs one rank (distributed_workers.cpp).
add_executable(asr_distributed_tests
  ${CMAKE_CURRENT_LIST_DIR}/test_distributed.cpp
  ${CMAKE_CURRENT_LIST_DIR}/distributed_workers.cpp
  ${CMAKE_CURRENT_LIST_DIR}/test_distributed_bench.cpp
)
target_link_libraries(asr_distributed_tests PRIVATE asr_distributed GTest::gtest)
target_compile_options(asr_distributed_tests PRIVATE ${TORCH_CXX_FLAGS})
target_precompile_headers(asr_distributed_tests REUSE_FROM asr_model)
gtest_discover_tests(asr_distributed_tests TEST_PREFIX "distributed." DISCOVERY_TIMEOUT 120 PROPERTIES TIMEOUT 600)

# The Trainer attached to a world (train_loop's shares and stop agreement: the training library).
if(TARGET asr_training)
  add_executable(asr_trainer_world_tests
    ${CMAKE_CURRENT_LIST_DIR}/test_trainer_world.cpp
    ${CMAKE_CURRENT_LIST_DIR}/trainer_world_workers.cpp
  )
  target_link_libraries(asr_trainer_world_tests PRIVATE asr_distributed asr_training GTest::gtest)
  target_compile_options(asr_trainer_world_tests PRIVATE ${TORCH_CXX_FLAGS})
  target_precompile_headers(asr_trainer_world_tests REUSE_FROM asr_model)
  gtest_discover_tests(asr_trainer_world_tests TEST_PREFIX "distributed." DISCOVERY_TIMEOUT 120 PROPERTIES TIMEOUT 900)
endif()
