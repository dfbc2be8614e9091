# Required and optional dependencies, all from Debian packages (scripts/install-deps.sh).
find_package(Threads REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 REQUIRED)

# fungen_optional(NAME FOUND_VAR "what to install"): AUTO -> use if found; ON -> fatal if missing.
function(fungen_optional option found hint)
  if(${option} STREQUAL "OFF")
    set(${option}_ENABLED OFF PARENT_SCOPE)
  elseif(${found})
    set(${option}_ENABLED ON PARENT_SCOPE)
  elseif(${option} STREQUAL "ON")
    message(FATAL_ERROR "${option}=ON but it was not found: ${hint}")
  else()
    set(${option}_ENABLED OFF PARENT_SCOPE)
  endif()
  message(STATUS "${option}: requested ${${option}}, found ${${found}}")
endfunction()

if(NOT FUNGEN_ONEDNN STREQUAL "OFF")
  find_package(dnnl CONFIG QUIET)
  find_package(OpenMP QUIET COMPONENTS CXX)
  if(dnnl_FOUND AND NOT OpenMP_CXX_FOUND)
    set(dnnl_FOUND FALSE)  # Debian's oneDNN runs on OpenMP; the backend bounds its threads
  endif()
endif()
fungen_optional(FUNGEN_ONEDNN dnnl_FOUND "install Debian's libdnnl-dev (and a compiler with OpenMP)")

# CUDA backend: the toolkit (nvcc, cudart, cuBLAS) and cuDNN 9 (header + libcudnn), looked for
# beside the toolkit unless CUDNN_ROOT says otherwise.
set(FUNGEN_CUDA_FOUND FALSE)
if(NOT FUNGEN_CUDA STREQUAL "OFF")
  find_package(CUDAToolkit QUIET)
  if(CUDAToolkit_FOUND)
    find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDNN_ROOT} ${CUDAToolkit_INCLUDE_DIRS}
              PATH_SUFFIXES include)
    find_library(CUDNN_LIBRARY cudnn HINTS ${CUDNN_ROOT} ${CUDAToolkit_LIBRARY_DIR}
                 PATH_SUFFIXES lib64 lib)
    include(CheckLanguage)
    check_language(CUDA)
    if(CUDNN_INCLUDE_DIR AND CUDNN_LIBRARY AND CMAKE_CUDA_COMPILER AND TARGET CUDA::cublas)
      set(FUNGEN_CUDA_FOUND TRUE)
    endif()
  endif()
endif()
fungen_optional(FUNGEN_CUDA FUNGEN_CUDA_FOUND
  "install the CUDA toolkit (nvcc, cudart, cuBLAS) and cuDNN 9 (or set CUDNN_ROOT)")

if(NOT FUNGEN_FFMPEG STREQUAL "OFF")
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(FFMPEG QUIET IMPORTED_TARGET libavformat libavcodec libavutil libswscale)
  endif()
endif()
fungen_optional(FUNGEN_FFMPEG FFMPEG_FOUND
  "install Debian's libavformat-dev libavcodec-dev libavutil-dev libswscale-dev")
if(FUNGEN_FFMPEG_ENABLED)
  # The video writers' .msgpack output (Debian's libmsgpack-cxx-dev, header-only).
  find_package(msgpack CONFIG QUIET)
  if(NOT TARGET msgpackc-cxx)
    message(FATAL_ERROR "FUNGEN_FFMPEG needs msgpack-cxx for .msgpack output: install Debian's libmsgpack-cxx-dev")
  endif()
endif()
