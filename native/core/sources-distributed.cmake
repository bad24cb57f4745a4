# Owned by the data-parallel layer: torchrun's world, the c10d process group, bucketed gradient sums,
# module broadcast, the trainer's collectives. Needs c10d's Gloo headers (Debian libgloo-dev); see native/core/CMakeLists.txt.
set(ASR_DISTRIBUTED_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/distributed/world.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/distributed/process_group.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/distributed/gradient_sync.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/distributed/module_broadcast.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/distributed/trainer_collectives.cpp
)
