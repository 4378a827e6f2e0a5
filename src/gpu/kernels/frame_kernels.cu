// Kernels on NVDEC's frames, compiled to PTX at build time (cmake/cuda_kernels.cmake) and loaded
// through the driver API at run time (gpu/cuda_frames.cpp), so the binary needs no CUDA runtime.
//
// NVDEC writes NV12 (P010 for 10-bit): a luma plane, then one plane of interleaved U,V pairs.
// The CPU stages and x264 take planar 4:2:0, so the chroma is split on the GPU before the frame
// goes down; the luma goes down as it is (8-bit) or shifted into the low bits (P010).

#include <stdint.h>

// u[y][x] = uv[y][2x], v[y][x] = uv[y][2x + 1] for one chroma plane of width x height pairs.
extern "C" __global__ void unmark_split_uv8(const uint8_t* uv, unsigned uv_pitch, uint8_t* u,
                                            uint8_t* v, unsigned pitch, unsigned width,
                                            unsigned height) {
  const unsigned x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= width || y >= height) return;
  const uchar2 pair = reinterpret_cast<const uchar2*>(uv + size_t(y) * uv_pitch)[x];
  u[size_t(y) * pitch + x] = pair.x;
  v[size_t(y) * pitch + x] = pair.y;
}

// The same for P010 (16-bit samples, 10 bits in the high end), into 10-bit planar samples in the
// low end (yuv420p10le).
extern "C" __global__ void unmark_split_uv16(const uint16_t* uv, unsigned uv_pitch, uint16_t* u,
                                             uint16_t* v, unsigned pitch, unsigned width,
                                             unsigned height) {
  const unsigned x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= width || y >= height) return;
  const ushort2 pair = reinterpret_cast<const ushort2*>(reinterpret_cast<const uint8_t*>(uv) + size_t(y) * uv_pitch)[x];
  uint16_t* urow = reinterpret_cast<uint16_t*>(reinterpret_cast<uint8_t*>(u) + size_t(y) * pitch);
  uint16_t* vrow = reinterpret_cast<uint16_t*>(reinterpret_cast<uint8_t*>(v) + size_t(y) * pitch);
  urow[x] = pair.x >> 6;
  vrow[x] = pair.y >> 6;
}

// P010's luma into the low bits: out[y][x] = in[y][x] >> 6.
extern "C" __global__ void unmark_shift_y16(const uint16_t* in, unsigned in_pitch, uint16_t* out,
                                            unsigned pitch, unsigned width, unsigned height) {
  const unsigned x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= width || y >= height) return;
  const uint16_t* irow = reinterpret_cast<const uint16_t*>(reinterpret_cast<const uint8_t*>(in) + size_t(y) * in_pitch);
  uint16_t* orow = reinterpret_cast<uint16_t*>(reinterpret_cast<uint8_t*>(out) + size_t(y) * pitch);
  orow[x] = irow[x] >> 6;
}
