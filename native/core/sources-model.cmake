# Owned by the model side: model, training step, optimizer, schedule, decoding, checkpoints.
set(ASR_MODEL_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/errors.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/vocab.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/dropout.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/subsampling_conv.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/metrics.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/runtime.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/spec_augment.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/trainer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/trainer_checkpoint.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/precision.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/checkpoint.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/compute_thread.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/file_lock.cpp
)
