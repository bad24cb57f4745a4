# Finds LibTorch in the documented order and says which one it took:
#   1. the LIBTORCH environment variable (an unpacked libtorch, e.g. the prebuilt CUDA download)
#   2. Torch_DIR / CMAKE_PREFIX_PATH given on the command line (cmake-js: --CDTorch_DIR=...)
#   3. the system's (Debian libtorch-dev)
#   4. a Python torch's torch.utils.cmake_prefix_path
# ASR_LIBTORCH (environment or -D) narrows the choice: "system" takes Debian's alone, "venv" the torch
# wheel in the project's .venv (scripts/setup.sh, requirements/torch-cpu.txt) alone.
set(ASR_LIBTORCH "$ENV{ASR_LIBTORCH}" CACHE STRING "Which LibTorch: empty (the order above), system, venv")
if(NOT ASR_LIBTORCH MATCHES "^(|system|venv)$")
  message(FATAL_ERROR "ASR_LIBTORCH='${ASR_LIBTORCH}' is not one of system, venv (or empty).")
endif()

# A pip wheel's TorchConfig finds Caffe2 and its libraries on the default paths first, so on a machine with
# Debian's libtorch-dev it mixes 1.13's libc10/libtorch into 2.x: pin each to the folder Torch_DIR names.
# The wheel is the CUDA build; on a machine without the CUDA toolkit its Caffe2 config stops at "uses CUDA
# but I cannot find the CUDA libraries". Defining torch::cudart (the guard of that probe) skips it, and
# the CPU build then links torch_cpu and c10 alone; libtorch_cpu still needs libcudart and libcupti at
# load time, which the nvidia-cuda-runtime and nvidia-cuda-cupti wheels provide through its RPATH.
macro(_asr_pin_torch_dir torch_dir)
  get_filename_component(_asr_prefix "${torch_dir}/../../.." ABSOLUTE)
  if(EXISTS "${_asr_prefix}/share/cmake/Caffe2/Caffe2Config.cmake" AND EXISTS "${_asr_prefix}/lib/libc10.so")
    set(Caffe2_DIR "${_asr_prefix}/share/cmake/Caffe2" CACHE PATH "" FORCE)
    set(c10_LIBRARY "${_asr_prefix}/lib/libc10.so" CACHE FILEPATH "" FORCE)
    set(TORCH_LIBRARY "${_asr_prefix}/lib/libtorch.so" CACHE FILEPATH "" FORCE)
    find_program(_asr_nvcc nvcc)
    if(EXISTS "${_asr_prefix}/lib/libtorch_cuda.so" AND NOT _asr_nvcc AND NOT TARGET torch::cudart)
      add_library(torch::cudart INTERFACE IMPORTED)
      set(ASR_TORCH_CPU_ONLY ON)
    endif()
  endif()
endmacro()

set(_asr_tried "")

if(ASR_LIBTORCH STREQUAL "venv")
  set(_asr_venv_python "${CMAKE_CURRENT_SOURCE_DIR}/.venv/bin/python")
  list(APPEND _asr_tried "ASR_LIBTORCH=venv: ${_asr_venv_python} torch.utils.cmake_prefix_path")
  execute_process(COMMAND ${_asr_venv_python} -c
    "import importlib.util as u, os; print(os.path.join(os.path.dirname(u.find_spec('torch').origin), 'share', 'cmake'))"
    OUTPUT_VARIABLE _asr_venv_prefix OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _asr_venv_rc ERROR_QUIET)
  if(_asr_venv_rc EQUAL 0 AND EXISTS "${_asr_venv_prefix}/Torch/TorchConfig.cmake")
    set(Torch_DIR "${_asr_venv_prefix}/Torch" CACHE PATH "" FORCE)
    _asr_pin_torch_dir("${Torch_DIR}")
    find_package(Torch QUIET CONFIG PATHS "${Torch_DIR}" NO_DEFAULT_PATH)
    if(Torch_FOUND)
      set(ASR_TORCH_SOURCE "the project's .venv (${Torch_DIR})")
    endif()
  endif()
elseif(ASR_LIBTORCH STREQUAL "system")
  list(APPEND _asr_tried "ASR_LIBTORCH=system: the system's (Debian libtorch-dev)")
  find_package(Torch QUIET CONFIG NO_CMAKE_PATH NO_CMAKE_ENVIRONMENT_PATH)
  if(Torch_FOUND)
    set(ASR_TORCH_SOURCE "system (${Torch_DIR}), chosen by ASR_LIBTORCH=system")
  endif()
elseif(DEFINED ENV{LIBTORCH} AND NOT "$ENV{LIBTORCH}" STREQUAL "")
  list(APPEND _asr_tried "LIBTORCH=$ENV{LIBTORCH}")
  find_package(Torch QUIET CONFIG PATHS "$ENV{LIBTORCH}" "$ENV{LIBTORCH}/share/cmake/Torch" NO_DEFAULT_PATH)
  if(Torch_FOUND)
    set(ASR_TORCH_SOURCE "LIBTORCH environment variable ($ENV{LIBTORCH})")
  else()
    message(FATAL_ERROR "LIBTORCH is set to '$ENV{LIBTORCH}' but no TorchConfig.cmake was found under it.\n"
      "Fix: point LIBTORCH at the unpacked libtorch folder (the one holding share/cmake/Torch), "
      "or unset it to use the system's LibTorch.")
  endif()
endif()

if(NOT Torch_FOUND AND NOT ASR_LIBTORCH AND (DEFINED Torch_DIR OR DEFINED CMAKE_PREFIX_PATH))
  if(DEFINED Torch_DIR)
    _asr_pin_torch_dir("${Torch_DIR}")
  endif()
  list(APPEND _asr_tried "Torch_DIR='${Torch_DIR}' CMAKE_PREFIX_PATH='${CMAKE_PREFIX_PATH}'")
  find_package(Torch QUIET CONFIG NO_SYSTEM_ENVIRONMENT_PATH NO_CMAKE_SYSTEM_PATH)
  if(Torch_FOUND)
    set(ASR_TORCH_SOURCE "Torch_DIR/CMAKE_PREFIX_PATH (${Torch_DIR})")
  endif()
endif()

if(NOT Torch_FOUND AND NOT ASR_LIBTORCH)
  list(APPEND _asr_tried "system paths (Debian libtorch-dev: /usr/lib/x86_64-linux-gnu/cmake/Torch)")
  find_package(Torch QUIET CONFIG)
  if(Torch_FOUND)
    set(ASR_TORCH_SOURCE "system (${Torch_DIR})")
  endif()
endif()

if(NOT Torch_FOUND AND NOT ASR_LIBTORCH)
  foreach(_py python3 python)
    find_program(_asr_python NAMES ${_py})
    if(_asr_python)
      execute_process(COMMAND ${_asr_python} -c "import torch; print(torch.utils.cmake_prefix_path)"
        OUTPUT_VARIABLE _asr_py_prefix OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _asr_py_rc ERROR_QUIET)
      list(APPEND _asr_tried "${_asr_python} torch.utils.cmake_prefix_path")
      if(_asr_py_rc EQUAL 0 AND EXISTS "${_asr_py_prefix}")
        find_package(Torch QUIET CONFIG PATHS "${_asr_py_prefix}" NO_DEFAULT_PATH)
        if(Torch_FOUND)
          set(ASR_TORCH_SOURCE "Python torch (${_asr_py_prefix})")
          break()
        endif()
      endif()
      unset(_asr_python CACHE)
    endif()
  endforeach()
endif()

if(NOT Torch_FOUND)
  string(REPLACE ";" "\n  - " _asr_tried_text "${_asr_tried}")
  message(FATAL_ERROR "LibTorch was not found. Tried:\n  - ${_asr_tried_text}\n"
    "Fix one of:\n"
    "  - Debian/Ubuntu: sudo apt-get install libtorch-dev   (or run scripts/setup.sh)\n"
    "  - a downloaded libtorch: scripts/fetch-libtorch.sh, then export LIBTORCH=/path/to/libtorch\n"
    "  - cmake-js compile --CDTorch_DIR=/path/to/libtorch/share/cmake/Torch")
endif()

if(ASR_TORCH_CPU_ONLY)
  # The torch target carries the C++ standard this LibTorch needs (20 for 2.x); keep it on the CPU target.
  get_target_property(_asr_torch_features torch INTERFACE_COMPILE_FEATURES)
  add_library(asr_torch_cpu INTERFACE)
  target_link_libraries(asr_torch_cpu INTERFACE torch_cpu_library c10)
  target_include_directories(asr_torch_cpu INTERFACE ${TORCH_INCLUDE_DIRS})
  if(_asr_torch_features)
    target_compile_features(asr_torch_cpu INTERFACE ${_asr_torch_features})
  endif()
  set(TORCH_LIBRARIES asr_torch_cpu)
  set(ASR_TORCH_SOURCE "${ASR_TORCH_SOURCE}; CPU only (torch_cpu, c10: no nvcc here)")
endif()
message(STATUS "asr-trainer: using LibTorch ${Torch_VERSION} from ${ASR_TORCH_SOURCE}")

# A downloaded libtorch lives outside the loader's paths: record where it is.
get_filename_component(ASR_TORCH_LIBDIR "${TORCH_LIBRARY}" DIRECTORY)
set(CMAKE_BUILD_RPATH "${ASR_TORCH_LIBDIR}")
set(CMAKE_INSTALL_RPATH "${ASR_TORCH_LIBDIR}")
# Without this the linker drops libtorch_cuda.so (nothing references it directly) and CUDA vanishes.
if(NOT APPLE)
  set(CMAKE_SHARED_LINKER_FLAGS "${CMAKE_SHARED_LINKER_FLAGS} -Wl,--no-as-needed")
  set(CMAKE_EXE_LINKER_FLAGS "${CMAKE_EXE_LINKER_FLAGS} -Wl,--no-as-needed")
endif()
