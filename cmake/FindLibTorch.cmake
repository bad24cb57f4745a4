# Finds LibTorch in the documented order and says which one it took:
#   1. the LIBTORCH environment variable (an unpacked libtorch, e.g. the prebuilt CUDA download)
#   2. Torch_DIR / CMAKE_PREFIX_PATH given on the command line (cmake-js: --CDTorch_DIR=...)
#   3. the system's (Debian libtorch-dev)
#   4. a Python torch's torch.utils.cmake_prefix_path
set(_asr_tried "")

if(DEFINED ENV{LIBTORCH} AND NOT "$ENV{LIBTORCH}" STREQUAL "")
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

if(NOT Torch_FOUND AND (DEFINED Torch_DIR OR DEFINED CMAKE_PREFIX_PATH))
  list(APPEND _asr_tried "Torch_DIR='${Torch_DIR}' CMAKE_PREFIX_PATH='${CMAKE_PREFIX_PATH}'")
  find_package(Torch QUIET CONFIG NO_SYSTEM_ENVIRONMENT_PATH NO_CMAKE_SYSTEM_PATH)
  if(Torch_FOUND)
    set(ASR_TORCH_SOURCE "Torch_DIR/CMAKE_PREFIX_PATH (${Torch_DIR})")
  endif()
endif()

if(NOT Torch_FOUND)
  list(APPEND _asr_tried "system paths (Debian libtorch-dev: /usr/lib/x86_64-linux-gnu/cmake/Torch)")
  find_package(Torch QUIET CONFIG)
  if(Torch_FOUND)
    set(ASR_TORCH_SOURCE "system (${Torch_DIR})")
  endif()
endif()

if(NOT Torch_FOUND)
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
