# Owned by the model side: model, training step, optimizer, schedule, decoding, checkpoints.
set(ASR_MODEL_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/errors.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/vocab.cpp
)
