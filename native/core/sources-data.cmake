# Owned by the data side: audio reading, resampling, features, feature cache, batching.
set(ASR_DATA_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/data_placeholder.cpp
)
