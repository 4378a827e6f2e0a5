# The GPU kernels (src/gpu/kernels/*.cu) as PTX text inside the binary, loaded by the CUDA driver at
# run time: the binary links no CUDA library and starts where there is no GPU.
#
#   UNMARK_CUDA=AUTO (default): built when nvcc is found (/usr/local/cuda/bin, CUDA_PATH, PATH)
#   UNMARK_CUDA=ON: nvcc must be found     UNMARK_CUDA=OFF: not built
#
# Without them the GPU path still decodes on NVDEC and the CPU splits NV12's chroma (logged).
# PTX for compute_75 is JIT-compiled by the driver for the card in hand (sm_75 through sm_90 and
# later); the PTX version is nvcc's, so the driver must be as new as the toolkit.
set(UNMARK_CUDA AUTO CACHE STRING "Build the GPU kernels: AUTO (when nvcc is found), ON or OFF")
set_property(CACHE UNMARK_CUDA PROPERTY STRINGS AUTO ON OFF)

function(unmark_cuda_kernels source output)
  set(nvcc "")
  if(NOT UNMARK_CUDA STREQUAL "OFF")
    find_program(UNMARK_NVCC nvcc HINTS /usr/local/cuda/bin $ENV{CUDA_PATH}/bin)
    if(UNMARK_NVCC)
      set(nvcc "${UNMARK_NVCC}")
    elseif(UNMARK_CUDA STREQUAL "ON")
      message(FATAL_ERROR "UNMARK_CUDA=ON but nvcc was not found (install the CUDA toolkit or set CUDA_PATH)")
    endif()
  endif()
  set(embed "${PROJECT_SOURCE_DIR}/cmake/embed_ptx.cmake")
  if(nvcc)
    message(STATUS "GPU kernels: built with ${nvcc}")
    set(ptx "${CMAKE_CURRENT_BINARY_DIR}/frame_kernels.ptx")
    add_custom_command(
      OUTPUT "${output}"
      COMMAND "${nvcc}" -ptx -arch=compute_75 -o "${ptx}" "${source}"
      COMMAND "${CMAKE_COMMAND}" -DPTX=${ptx} -DOUTPUT=${output} -P "${embed}"
      DEPENDS "${source}" "${embed}"
      COMMENT "nvcc: GPU kernels to PTX"
      VERBATIM)
  else()
    message(STATUS "GPU kernels: not built (UNMARK_CUDA=${UNMARK_CUDA}, nvcc not found or off)")
    add_custom_command(
      OUTPUT "${output}"
      COMMAND "${CMAKE_COMMAND}" -DPTX= -DOUTPUT=${output} -P "${embed}"
      DEPENDS "${embed}"
      VERBATIM)
  endif()
endfunction()
