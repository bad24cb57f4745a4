# Owned by the data side: audio reading, resampling, features, feature cache, batching.
set(ASR_DATA_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/audio.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/features.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/feature_cache.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/feature_workers.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/feature_store.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/batching.cpp
)
