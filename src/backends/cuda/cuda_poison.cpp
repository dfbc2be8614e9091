// FUNGEN_CUDA_POISON (CudaContext::poison): the activation arena filled with NaN before every
// run, and with =2 a check after every step of which arena buffers it used hold non-finite
// values. A correct run reads only bytes its own steps wrote, so a poisoned run gives the same
// outputs; a stale read (a buffer placed over one still in use, a slice nobody wrote) gives NaN.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_run.h"

namespace fungen::cuda {

namespace {

// Non-finite elements of `bytes` of the run's element type (all exponent bits set).
int64_t count_non_finite(const std::vector<unsigned char>& bytes, Elem e) {
  int64_t bad = 0;
  if (e == Elem::kF16) {
    for (size_t i = 0; i + 1 < bytes.size(); i += 2) {
      uint16_t h = 0;
      std::memcpy(&h, &bytes[i], 2);
      bad += (h & 0x7C00u) == 0x7C00u ? 1 : 0;
    }
  } else {
    for (size_t i = 0; i + 3 < bytes.size(); i += 4) {
      uint32_t f = 0;
      std::memcpy(&f, &bytes[i], 4);
      bad += (f & 0x7F800000u) == 0x7F800000u ? 1 : 0;
    }
  }
  return bad;
}

}  // namespace

Status CudaRun::poison_arena(cudaStream_t st) {
  if (!arena_ || arena_bytes_ == 0) return Status();
  CUDA_CHECK(cudaMemsetAsync(arena_.get(), 0xFF, arena_bytes_, st));
  return Status();
}

// After step `step` (eager, synchronized): each arena buffer it named that holds non-finite
// values, once per buffer and run, at most 200 lines per run object. A step writing into a
// Concat slice leaves the other slices NaN until their producers run: those lines ("partly
// written" Concat outputs, named at the conv/Resize writing into them) are expected. The line to
// look at is the first one for a dense buffer: the step that made it (first used there) read
// NaN, i.e. bytes no step of this run had written, through one of the buffers on that line's step.
Status CudaRun::report_non_finite(size_t step) {
  CUDA_CHECK(cudaStreamSynchronize(ctx_.stream));
  if (step == 0 || poison_seen_.size() != bufs_.size()) poison_seen_.assign(bufs_.size(), 0);
  const Step& s = steps_[step];
  for (size_t k = 0; k < s.bufs.size() && poison_reports_ < 200; ++k) {
    const int id = s.bufs[k];
    if (id < 0 || poison_seen_[static_cast<size_t>(id)]) continue;
    const Buf& b = bufs_[static_cast<size_t>(id)];
    if (b.persistent || !b.ptr || b.bytes == 0) continue;
    std::vector<unsigned char> host(b.bytes);
    CUDA_CHECK(cudaMemcpy(host.data(), b.ptr, b.bytes, cudaMemcpyDeviceToHost));
    const int64_t bad = count_non_finite(host, elem());
    if (bad == 0) continue;
    ++poison_reports_;
    poison_seen_[static_cast<size_t>(id)] = 1;
    std::fprintf(stderr,
                 "cuda poison: run %d step %zu '%s': buffer %d (argument %zu of the step, %zu "
                 "bytes, %s, used by steps %d..%d) holds %lld non-finite of %zu\n",
                 runs_, step, s.label.c_str(), id, k, b.bytes,
                 b.first == static_cast<int>(step) ? "first used here" : "live before this step",
                 b.first, b.last, static_cast<long long>(bad), b.bytes / elem_size(elem()));
  }
  return Status();
}

}  // namespace fungen::cuda
