// Multi-stream capture of a CudaRun: while its steps are captured into a CUDA graph they are
// spread over a few streams ("lanes") so independent steps become parallel branches of the
// graph. At batch 1 most kernels fill a few of the GPU's SMs; the detect head's six conv chains
// and the neck can then run side by side.
//
// Which steps may overlap is decided from the device memory each step names (add_step's
// buffers, at their final addresses): two steps touching overlapping bytes are ordered, every
// touch counted as a write. That covers data dependencies, a Concat written slice by slice, and
// arena bytes reused by a later buffer (graph/memory_plan.h plans by step order), without
// knowing which buffers a step reads. Steps calling cuDNN or cuBLAS use handles bound to their
// lane's stream and a workspace of their own per lane (next_step_uses(kPerStream)), or stay on
// lane 0, the context's stream (kContext; and kPerStream when the run's workspace is too large to
// repeat per lane). Eager runs (the first, FUNGEN_CUDA_PROFILE, FUNGEN_CUDA_POISON=2) keep one
// stream. The arena plan keeps each buffer's bytes a few steps past its last use
// (kLaneLifetimePad, cuda_run.cpp) so that reused bytes order fewer unrelated steps.
// FUNGEN_CUDA_LANES_DUMP=1 prints each step's lane and waits to stderr.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_run.h"
#include "fungen/log.h"

namespace fungen::cuda {

namespace {

struct Range {
  uintptr_t begin = 0, end = 0;
};

std::atomic<int> g_multi_lane_captures{0};

bool overlap(const std::vector<Range>& a, const std::vector<Range>& b) {
  for (const Range& x : a) {
    for (const Range& y : b) {
      if (x.begin < y.end && y.begin < x.end) return true;
    }
  }
  return false;
}

}  // namespace

int multi_lane_captures() {
  return g_multi_lane_captures.load();
}

Status CudaRun::plan_lanes() {
  const int lanes = ctx_.graphs ? ctx_.lanes : 1;
  if (lanes <= 1 || steps_.size() < 2) return Status();
  const size_t n = steps_.size();
  std::vector<std::vector<Range>> ranges(n);
  for (size_t s = 0; s < n; ++s) {
    for (int b : steps_[s].bufs) {
      if (b < 0) continue;
      const Buf& buf = bufs_[static_cast<size_t>(b)];
      if (!buf.ptr || buf.bytes == 0) continue;
      auto p = reinterpret_cast<uintptr_t>(buf.ptr);
      Range r{p, p + buf.bytes};
      for (const Step::Range& n : steps_[s].narrowed) {  // narrow_last_step: a part of it
        if (n.buf == b && n.offset < buf.bytes)
          r = {p + n.offset, p + std::min(buf.bytes, n.offset + n.bytes)};
      }
      ranges[s].push_back(r);
    }
  }
  // Per-lane handles and workspaces, unless the workspace is large (b128 search results).
  constexpr size_t kMaxLaneWorkspace = size_t{64} << 20;
  const bool per_lane = workspace_bytes_ <= kMaxLaneWorkspace;
  lane_steps_.assign(n, {});
  std::vector<int> tail(static_cast<size_t>(lanes), -1);  // last step put on each lane
  // covered[l][m]: lane l is already ordered after step covered[l][m] of lane m.
  std::vector<std::vector<int>> covered(static_cast<size_t>(lanes),
                                        std::vector<int>(static_cast<size_t>(lanes), -1));
  for (size_t s = 0; s < n; ++s) {
    std::vector<int> deps;
    for (size_t t = 0; t < s; ++t) {
      if (overlap(ranges[t], ranges[s])) deps.push_back(static_cast<int>(t));
    }
    auto is_dep = [&](int t) { return std::binary_search(deps.begin(), deps.end(), t); };
    // Lane: 0 when pinned; else one whose last step it depends on (the latest such: a chain
    // continues), else the lane idle the longest.
    int lane = 0;
    const StepLibrary lib = steps_[s].library;
    if (lib == StepLibrary::kNone || (lib == StepLibrary::kPerStream && per_lane)) {
      int best = -1;
      for (int l = 0; l < lanes; ++l) {
        if (tail[static_cast<size_t>(l)] >= 0 && is_dep(tail[static_cast<size_t>(l)]) &&
            (best < 0 || tail[static_cast<size_t>(l)] > tail[static_cast<size_t>(best)]))
          best = l;
      }
      if (best < 0) {
        best = 0;
        for (int l = 1; l < lanes; ++l) {
          if (tail[static_cast<size_t>(l)] < tail[static_cast<size_t>(best)]) best = l;
        }
      }
      lane = best;
    }
    LaneStep& ls = lane_steps_[s];
    ls.lane = lane;
    // Per other lane, the latest step it depends on there (earlier ones come before it in that
    // lane's order), unless this lane waited for it or a later one already.
    auto& cov = covered[static_cast<size_t>(lane)];
    for (int l = 0; l < lanes; ++l) {
      if (l == lane) continue;
      int latest = -1;
      for (int t : deps) {
        if (lane_steps_[static_cast<size_t>(t)].lane == l) latest = std::max(latest, t);
      }
      if (latest > cov[static_cast<size_t>(l)]) {
        ls.waits.push_back(latest);
        lane_steps_[static_cast<size_t>(latest)].record = true;
        cov[static_cast<size_t>(l)] = latest;
      }
    }
    tail[static_cast<size_t>(lane)] = static_cast<int>(s);
  }
  lanes_.assign(static_cast<size_t>(lanes), nullptr);
  lane_done_.assign(static_cast<size_t>(lanes), nullptr);
  for (int l = 1; l < lanes; ++l) {
    CUDA_CHECK(cudaStreamCreateWithFlags(&lanes_[static_cast<size_t>(l)], cudaStreamNonBlocking));
    CUDA_CHECK(
        cudaEventCreateWithFlags(&lane_done_[static_cast<size_t>(l)], cudaEventDisableTiming));
  }
  step_done_.assign(n, nullptr);
  for (size_t s = 0; s < n; ++s) {
    if (lane_steps_[s].record)
      CUDA_CHECK(cudaEventCreateWithFlags(&step_done_[s], cudaEventDisableTiming));
  }
  CUDA_CHECK(cudaEventCreateWithFlags(&fork_, cudaEventDisableTiming));
  const bool library = std::any_of(steps_.begin(), steps_.end(), [](const Step& st) {
    return st.library == StepLibrary::kPerStream;
  });
  if (per_lane && library) {
    lane_cudnn_.assign(static_cast<size_t>(lanes), nullptr);
    lane_cublas_.assign(static_cast<size_t>(lanes), nullptr);
    lane_workspace_.assign(static_cast<size_t>(lanes), nullptr);
    for (size_t l = 1; l < static_cast<size_t>(lanes); ++l) {
      CUDNN_CHECK(cudnnCreate(&lane_cudnn_[l]));
      CUDNN_CHECK(cudnnSetStream(lane_cudnn_[l], lanes_[l]));
      CUBLAS_CHECK(cublasCreate(&lane_cublas_[l]));
      CUBLAS_CHECK(cublasSetStream(lane_cublas_[l], lanes_[l]));
      if (workspace_bytes_) {
        lane_workspace_[l] = device_alloc(workspace_bytes_);
        if (!lane_workspace_[l])
          return out_of_memory("cuda: cannot allocate a convolution workspace per stream");
      }
    }
  }
  std::vector<int> per(static_cast<size_t>(lanes), 0);
  size_t waits = 0;
  for (const LaneStep& ls : lane_steps_) {
    ++per[static_cast<size_t>(ls.lane)];
    waits += ls.waits.size();
  }
  std::string counts;
  for (int c : per) {
    if (!counts.empty()) counts += '/';
    counts += std::to_string(c);
  }
  log(LogLevel::kInfo, "cuda lanes: {} steps over {} streams ({}), {} cross-stream waits", n, lanes,
      counts, waits);
  if (const char* dump = std::getenv("FUNGEN_CUDA_LANES_DUMP");
      dump && std::strcmp(dump, "1") == 0) {
    for (size_t k = 0; k < n; ++k) {
      std::string w;
      for (int t : lane_steps_[k].waits) {
        w += ' ';
        w += std::to_string(t);
      }
      std::fprintf(stderr, "lanes: step %3zu lane %d waits [%s ] %s\n", k, lane_steps_[k].lane,
                   w.c_str(), steps_[k].label.c_str());
    }
  }
  return Status();
}

namespace {
template <typename T>
T lane_pick(const std::vector<cudaStream_t>& lanes, const std::vector<T>& per_lane, cudaStream_t st,
            T fallback) {
  for (size_t l = 1; l < lanes.size() && l < per_lane.size(); ++l) {
    if (lanes[l] == st && per_lane[l]) return per_lane[l];
  }
  return fallback;
}
}  // namespace

cudnnHandle_t CudaRun::cudnn_for(cudaStream_t st) const {
  return lane_pick(lanes_, lane_cudnn_, st, ctx_.cudnn);
}

cublasHandle_t CudaRun::cublas_for(cudaStream_t st) const {
  return lane_pick(lanes_, lane_cublas_, st, ctx_.cublas);
}

void* CudaRun::workspace_for(cudaStream_t st) const {
  for (size_t l = 1; l < lanes_.size() && l < lane_workspace_.size(); ++l) {
    if (lanes_[l] == st && lane_workspace_[l]) return lane_workspace_[l].get();
  }
  return workspace();
}

// Called while ctx_.stream is being captured: lane l > 0 joins the capture by waiting for fork_
// (recorded on the context's stream, after whatever the caller put there), and the context's
// stream waits for every lane's last step at the end.
Status CudaRun::run_lanes(size_t first) {
  const cudaStream_t main = ctx_.stream;
  CUDA_CHECK(cudaEventRecord(fork_, main));
  std::vector<char> joined(lanes_.size(), 0);
  joined[0] = 1;
  for (size_t k = first; k < steps_.size(); ++k) {
    const LaneStep& ls = lane_steps_[k];
    const auto l = static_cast<size_t>(ls.lane);
    cudaStream_t st = l == 0 ? main : lanes_[l];
    if (!joined[l]) {
      CUDA_CHECK(cudaStreamWaitEvent(st, fork_, 0));
      joined[l] = 1;
    }
    for (int t : ls.waits) {
      if (static_cast<size_t>(t) >= first) CUDA_CHECK(cudaStreamWaitEvent(st, step_done_[t], 0));
    }
    Step& s = steps_[k];
    Status status = s.fn(st);
    if (!status.ok()) return status.with_context(s.label);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) {
      return internal_error("cuda: step '" + s.label +
                            "' failed to launch: " + cudaGetErrorString(err));
    }
    if (ls.record) CUDA_CHECK(cudaEventRecord(step_done_[k], st));
  }
  if (std::count(joined.begin(), joined.end(), 1) > 1) ++g_multi_lane_captures;
  for (size_t l = 1; l < lanes_.size(); ++l) {
    if (!joined[l]) continue;
    CUDA_CHECK(cudaEventRecord(lane_done_[l], lanes_[l]));
    CUDA_CHECK(cudaStreamWaitEvent(main, lane_done_[l], 0));
  }
  return Status();
}

void CudaRun::destroy_lanes() {
  for (cudnnHandle_t h : lane_cudnn_) {
    if (h) cudnnDestroy(h);
  }
  for (cublasHandle_t h : lane_cublas_) {
    if (h) cublasDestroy(h);
  }
  for (cudaEvent_t e : step_done_) {
    if (e) cudaEventDestroy(e);
  }
  for (cudaEvent_t e : lane_done_) {
    if (e) cudaEventDestroy(e);
  }
  for (cudaStream_t s : lanes_) {
    if (s) cudaStreamDestroy(s);
  }
  if (fork_) cudaEventDestroy(fork_);
}

}  // namespace fungen::cuda
