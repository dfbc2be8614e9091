// Running a CpuRun (cpu_run.h): boundary tensors pointed per image, then every step in order —
// oneDNN primitives through the C API, plain and own kernels — with optional per-step timing
// (FUNGEN_LOG=debug) and calibration recording. Nothing is allocated here outside calibration.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include "backends/cpu/cpu_run.h"
#include "fungen/log.h"

namespace fungen::cpu {

Status CpuRun::run(KernelContext& ctx) {
  // Primitives run through oneDNN's C API (a status, no exception); the C++ calls left
  // (set_data_handle) cannot throw for memory objects made in finalize, but none may escape.
  try {
    return run_unchecked(ctx);
  } catch (const dnnl::error& e) {
    return internal_error(std::string("cpu backend: oneDNN: ") + e.what());
  }
}

void CpuRun::record(const Step& s) {
  const Buf& b = bufs_[static_cast<size_t>(s.record_buf)];
  const auto* p = static_cast<const float*>(b.mem.get_data_handle());
  const size_t n = b.desc.get_size() / sizeof(float);
  // Calibration only (never in an int8/bf16/plain fp32 run): allocating here is fine.
  std::vector<float> a(n);
  for (size_t i = 0; i < n; ++i) a[i] = std::abs(p[i]);
  const std::string& name = graph_.values[static_cast<size_t>(s.record_value)].name;
  auto [lo, hi] = std::minmax_element(p, p + n);
  float& mn = options_.record->min[name];
  mn = std::min(mn, *lo);
  float& mx = options_.record->max[name];
  mx = std::max(mx, *hi);
  float& have = options_.record->absmax[name];
  have = std::max(have, *std::max_element(a.begin(), a.end()));
  auto at = a.begin() + static_cast<std::ptrdiff_t>(static_cast<double>(n - 1) * 0.9999);
  std::nth_element(a.begin(), at, a.end());
  float& p9999 = options_.record->p9999[name];
  p9999 = std::max(p9999, *at);
}

Status CpuRun::run_unchecked(KernelContext& ctx) {
  omp_set_num_threads(options_.threads);
  const bool timing = log_enabled(LogLevel::kDebug);
  for (int image = 0; image < images_; ++image) {
    for (Storage& st : storages_) {
      if (st.boundary_input >= 0) {
        st.ptr = static_cast<std::byte*>(
                     const_cast<void*>(ctx.input(static_cast<size_t>(st.boundary_input)).raw())) +
                 st.image_stride * static_cast<size_t>(image);
      } else if (st.boundary_output >= 0) {
        st.ptr =
            static_cast<std::byte*>(ctx.output(static_cast<size_t>(st.boundary_output)).raw()) +
            st.image_stride * static_cast<size_t>(image);
      }
    }
    for (int b : boundary_bufs_) {
      Buf& buf = bufs_[static_cast<size_t>(b)];
      buf.mem.set_data_handle(storages_[static_cast<size_t>(buf.storage)].ptr + buf.offset);
    }
    for (auto& [t, b] : boundary_tensors_) {
      const Buf& buf = bufs_[static_cast<size_t>(b)];
      t->rebind(storages_[static_cast<size_t>(buf.storage)].ptr + buf.offset);
    }
    for (Step& s : steps_) {
      if (s.record_value >= 0) record(s);
      auto t0 = timing ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
      if (s.kernel) {
        void* scratch = s.scratch_storage >= 0
                            ? storages_[static_cast<size_t>(s.scratch_storage)].ptr
                            : nullptr;
        KernelContext kctx(*s.node, graph_.opset, s.in_ptrs, s.out_ptrs, scratch, s.scratch_bytes,
                           ctx.pool());
        Status st = s.kernel(kctx);
        if (!st.ok()) return st.with_context(s.label);
      } else if (s.own) {
        for (size_t i = 0; i < s.own_bufs.size(); ++i) {
          const Buf& b = bufs_[static_cast<size_t>(s.own_bufs[i])];
          s.own_ptrs[i] = storages_[static_cast<size_t>(b.storage)].ptr + b.offset;
        }
        s.own(s.own_ptrs);
      } else {
        dnnl_status_t st = dnnl_primitive_execute(
            s.prim.get(), stream_.get(), static_cast<int>(s.exec_args.size()), s.exec_args.data());
        if (st != dnnl_success) {
          return internal_error("oneDNN failed (status " + std::to_string(static_cast<int>(st)) +
                                ") in " + s.label);
        }
      }
      if (timing) {
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                        .count();
        log(LogLevel::kDebug, "  cpu {:<60} {:.3f} ms", s.label, ms);
      }
    }
  }
  return Status();
}

}  // namespace fungen::cpu
