# The training loop: a Trainer (model side) driven over a FeatureStore's batches (data side) on the compute
# thread. Neither side needs it and it needs both, so it is a library of its own above them.
set(ASR_TRAINING_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/train_loop.cpp
)
