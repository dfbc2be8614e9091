// cuda_host_emulation.h — runs a CUDA kernel's own source on the CPU (no GPU needed): include this,
// then the kernel header (one whose kernels use only threadIdx, blockIdx, __syncthreads, static
// __shared__ arrays and __expf), then call host_cuda::launch(grid, threads, fn) with fn calling the
// __global__ function. One host thread per CUDA thread of a block; the blocks of the grid run one
// after another, all threads meeting at a barrier after each block, and __syncthreads() is that
// barrier too, so a block's threads see each other's shared-memory writes exactly where the
// kernel's barriers say (a missing barrier shows as a race on the shared array: the test runs
// every block's threads truly in parallel). __shared__ arrays are function statics: one copy,
// reused block after block, as on the GPU.
//
// Host arithmetic stands in for the device's: __expf is exp in float (the device's approximate
// exp differs by a few ulp), __half conversions are cuda_fp16.h's host functions (exact).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <barrier>
#include <cmath>
#include <functional>
#include <thread>
#include <vector>

namespace fungen::test::host_cuda {

inline thread_local uint3 thread_idx{0, 0, 0};
inline thread_local uint3 block_idx{0, 0, 0};
inline std::barrier<>* block_barrier = nullptr;

inline void sync_threads() {
  block_barrier->arrive_and_wait();
}

inline float exp_f(float x) {
  return std::exp(x);
}

// Runs fn() once per CUDA thread of every block of `grid` (x fastest, then y), `threads` threads
// per block (1-D blocks).
inline void launch(dim3 grid, int threads, const std::function<void()>& fn) {
  std::barrier<> bar(threads);
  block_barrier = &bar;
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      thread_idx = {static_cast<unsigned>(t), 0, 0};
      for (unsigned z = 0; z < grid.z; ++z) {
        for (unsigned y = 0; y < grid.y; ++y) {
          for (unsigned x = 0; x < grid.x; ++x) {
            block_idx = {x, y, z};
            fn();
            bar.arrive_and_wait();  // the block is done before the next one reuses shared memory
          }
        }
      }
    });
  }
  for (std::thread& th : pool) th.join();
  block_barrier = nullptr;
}

}  // namespace fungen::test::host_cuda

// The CUDA keywords and built-ins, for g++.
#undef __global__
#undef __device__
#undef __shared__
#undef __forceinline__
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
#define threadIdx ::fungen::test::host_cuda::thread_idx
#define blockIdx ::fungen::test::host_cuda::block_idx
#define __syncthreads() ::fungen::test::host_cuda::sync_threads()
#define __expf(x) ::fungen::test::host_cuda::exp_f(x)
