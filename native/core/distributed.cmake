# asr_distributed: the data-parallel layer over LibTorch's c10d (sources-distributed.cmake). Gloo is always
# in; NCCL only when this LibTorch was built with it (a CUDA LibTorch; Debian's CPU one is not), found by
# compiling and linking a use of c10d::ProcessGroupNCCL, since no TorchConfig variable says so.
option(ASR_BUILD_DISTRIBUTED "Build the data-parallel layer (needs c10d's Gloo headers)" ON)
if(NOT ASR_BUILD_DISTRIBUTED)
  message(STATUS "asr-trainer: distributed layer not built (ASR_BUILD_DISTRIBUTED=OFF)")
  return()
endif()

find_path(ASR_GLOO_INCLUDE_DIR gloo/algorithm.h HINTS ${TORCH_INCLUDE_DIRS})
if(NOT ASR_GLOO_INCLUDE_DIR)
  message(WARNING "asr-trainer: distributed layer not built: c10d's ProcessGroupGloo.hpp needs the Gloo headers.\\n"
    "Fix: sudo apt-get install libgloo-dev (scripts/setup.sh does), or -DASR_GLOO_INCLUDE_DIR=DIR holding gloo/.")
  return()
endif()

include(${CMAKE_CURRENT_SOURCE_DIR}/sources-distributed.cmake)
add_library(asr_distributed STATIC ${ASR_DISTRIBUTED_SOURCES})
target_include_directories(asr_distributed PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include PRIVATE ${ASR_GLOO_INCLUDE_DIR})
target_link_libraries(asr_distributed PUBLIC asr_model ${TORCH_LIBRARIES} Threads::Threads)
target_compile_options(asr_distributed PRIVATE ${TORCH_CXX_FLAGS})
target_precompile_headers(asr_distributed REUSE_FROM asr_model)

set(ASR_NCCL_INCLUDE_DIR "" CACHE PATH "Folder holding nccl.h, for c10d's NCCL backend")
if(TORCH_CUDA_LIBRARIES OR TARGET torch_cuda)
  find_path(ASR_NCCL_INCLUDE_DIR nccl.h HINTS $ENV{NCCL_HOME}/include ${CUDAToolkit_INCLUDE_DIRS}
    ${CUDA_TOOLKIT_ROOT_DIR}/include /usr/local/cuda/include ${TORCH_INCLUDE_DIRS})
endif()
if(ASR_NCCL_INCLUDE_DIR)
  include(CheckCXXSourceCompiles)
  set(CMAKE_REQUIRED_DEFINITIONS -DUSE_C10D_NCCL)
  set(CMAKE_REQUIRED_INCLUDES ${ASR_NCCL_INCLUDE_DIR} ${TORCH_INCLUDE_DIRS})
  set(CMAKE_REQUIRED_LIBRARIES ${TORCH_LIBRARIES})
  check_cxx_source_compiles("
    #include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
    int main() { return c10d::ProcessGroupNCCL::Options::create() ? 0 : 1; }" ASR_TORCH_HAS_NCCL)
  unset(CMAKE_REQUIRED_DEFINITIONS)
  unset(CMAKE_REQUIRED_INCLUDES)
  unset(CMAKE_REQUIRED_LIBRARIES)
endif()
if(ASR_TORCH_HAS_NCCL)
  target_compile_definitions(asr_distributed PRIVATE ASR_HAVE_NCCL USE_C10D_NCCL)
  target_include_directories(asr_distributed PRIVATE ${ASR_NCCL_INCLUDE_DIR})
  message(STATUS "asr-trainer: distributed backends gloo, nccl")
else()
  message(STATUS "asr-trainer: distributed backend gloo (this LibTorch has no c10d NCCL)")
endif()
