// pipeline_breakdown.cpp — where the time of one frame → detections goes on the device: upload
// of a 1080p BGR frame from pinned memory (the rows the letterbox reads, as the pipeline does),
// letterbox, model, detections, download, each between two CUDA events (the middle three as one
// captured CUDA graph, like the detector's pipeline); then the detections kernel by kernel.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "backends/cuda/frame_upload.h"
#include "backends/cuda/postprocess.cuh"
#include "bench/gpu/pipeline_checks.h"
#include "detect/gpu_preprocess.h"
#include "runtime/device_run.h"

namespace fungen::bench {
namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int print_breakdown(Detector& det, const uint8_t* pinned_frame, int fw, int fh, float conf,
                    int iterations, int nms_method) {
  const int b = det.static_batch() > 0 ? det.static_batch() : 1;
  const int in_w = det.input_width(), in_h = det.input_height();
  Shape shape{b, 3, in_h, in_w};
  auto found = device_run_of(det.engine(), {&shape, 1});
  if (!found.ok() || !found.value()) {
    std::printf("FAIL breakdown: the model is not one GPU run\n");
    return 1;
  }
  DeviceRun* run = found.value();
  auto st = static_cast<cudaStream_t>(run->device_stream());
  DeviceBuffer in = run->device_input(0), out = run->device_output(0);
  const int d1 = static_cast<int>(out.shape[1]), d2 = static_cast<int>(out.shape[2]);
  const bool raw = det.layout() == HeadLayout::kRaw;
  const size_t frame_bytes = static_cast<size_t>(fw) * fh * 3;
  const int max_det = 300;
  // The first CUDA error of the breakdown (its name is printed; the stages are then unreliable).
  cudaError_t err = cudaSuccess;
  std::string where;
  auto check = [&](cudaError_t e, const char* what) {
    if (e != cudaSuccess && err == cudaSuccess) err = e, where = what;
  };
  cudaGetLastError();  // an earlier caller's stale error is not ours
  uint8_t* dframe = nullptr;
  void* ws = nullptr;
  float* dets = nullptr;
  int* counts = nullptr;
  size_t ws_bytes = raw ? cuda::raw_detect_workspace_bytes(b, d2) : 16;
  check(cudaMalloc(&dframe, frame_bytes), "cudaMalloc");
  check(cudaMalloc(&ws, ws_bytes), "cudaMalloc");
  check(cudaMalloc(&dets, sizeof(float) * 6 * max_det * b), "cudaMalloc");
  check(cudaMalloc(&counts, sizeof(int) * b), "cudaMalloc");
  if (err != cudaSuccess) {
    std::printf("FAIL breakdown: %s: %s\n", where.c_str(), cudaGetErrorString(err));
    cudaFree(dframe), cudaFree(ws), cudaFree(dets), cudaFree(counts);
    return 1;
  }
  std::vector<float> host(static_cast<size_t>(6) * max_det * b + b);
  gpu::DeviceFrame df;
  df.width = fw, df.height = fh, df.data[0] = dframe, df.pitch[0] = fw * 3;
  LetterboxParams lp = letterbox_params(fw, fh, in_w, in_h);
  // The upload as the pipeline does it: only the rows the letterbox reads (frame_upload.h).
  const size_t row_bytes = static_cast<size_t>(fw) * 3;
  const Frame frame{fw, fh, fw * 3, pinned_frame};
  const std::vector<cuda::RowRun> runs = cuda::letterbox_row_runs(fh, lp, in_h, true);
  size_t rows_sent = 0;
  for (const cuda::RowRun& rr : runs) rows_sent += static_cast<size_t>(rr.count) * rr.rows;
  cuda::DetectParams p;
  p.conf = conf, p.max_det = max_det;
  p.method = static_cast<cuda::NmsMethod>(nms_method);
  cuda::DetectOutput r{dets, counts};
  cudaEvent_t ev[6];
  for (cudaEvent_t& e : ev) check(cudaEventCreate(&e), "cudaEventCreate");
  // Inside the capture: external event nodes, so their times can be read after a replay.
  // Outside: plain records (cudaEventRecordExternal is invalid there, and its error would be
  // picked up by the next launch check).
  auto mark = [&](int k) {
    cudaStreamCaptureStatus cs = cudaStreamCaptureStatusNone;
    check(cudaStreamIsCapturing(st, &cs), "cudaStreamIsCapturing");
    check(cs == cudaStreamCaptureStatusActive
              ? cudaEventRecordWithFlags(ev[k], st, cudaEventRecordExternal)
              : cudaEventRecord(ev[k], st),
          "event record");
  };
  std::string step_error;
  auto middle = [&]() {
    mark(1);
    Status s = gpu::letterbox_on_device(
        df, nullptr, lp, in.data,
        in.dtype == DType::kFloat16 ? gpu::InputType::kF16 : gpu::InputType::kF32, in_w, in_h, st);
    mark(2);
    if (s.ok()) s = run->enqueue();
    mark(3);
    if (raw) {
      check(
          cuda::raw_detect(static_cast<const float*>(out.data), b, d1, d2, p, ws, ws_bytes, r, st),
          "raw_detect");
    } else {
      check(cuda::end_to_end_detect(static_cast<const float*>(out.data), b, d1, d2, p, r, st),
            "end_to_end_detect");
    }
    mark(4);
    if (!s.ok() && step_error.empty()) step_error = s.message();
    return s;
  };
  (void)middle();  // eager once (library initialization)
  check(cudaStreamSynchronize(st), "eager run");
  cudaGraphExec_t exec = nullptr;
  cudaGraph_t g = nullptr;
  bool graph = err == cudaSuccess && step_error.empty();
  std::string capture_error;
  if (graph) {
    cudaError_t e = cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal);
    Status s = e == cudaSuccess ? middle() : Status();
    cudaError_t end = e == cudaSuccess ? cudaStreamEndCapture(st, &g) : e;
    cudaError_t inst = end == cudaSuccess && s.ok() ? cudaGraphInstantiate(&exec, g, 0) : end;
    if (g) cudaGraphDestroy(g);
    graph = s.ok() && inst == cudaSuccess;
    if (!graph) {
      capture_error = !s.ok() ? s.message() : cudaGetErrorString(inst);
      exec = nullptr;
    }
    cudaGetLastError();
  }
  std::vector<double> seg[5];
  for (int it = 0; it < iterations + 5 && err == cudaSuccess; ++it) {
    check(cudaEventRecord(ev[0], st), "event record");
    check(cuda::upload_frame_rows(frame, true, dframe, row_bytes, runs, nullptr, st), "upload");
    if (graph) {
      check(cudaGraphLaunch(exec, st), "cudaGraphLaunch");
    } else {
      (void)middle();
    }
    check(cudaMemcpyAsync(host.data(), dets, sizeof(float) * 6 * max_det * b,
                          cudaMemcpyDeviceToHost, st),
          "download");
    check(cudaEventRecord(ev[5], st), "event record");
    check(cudaStreamSynchronize(st), "cudaStreamSynchronize");
    if (it < 5) continue;
    for (int k = 0; k < 5; ++k) {
      float ms = 0;
      check(cudaEventElapsedTime(&ms, ev[k], ev[k + 1]), "cudaEventElapsedTime");
      seg[k].push_back(ms);
    }
  }
  // The detections stage kernel by kernel (raw heads; eager launches, so a gap between two
  // kernels counts too): candidates, then sort + IoU bitmask + walk (kMask) or the NMS kernel.
  const bool mask = p.method == cuda::NmsMethod::kMask && cuda::mask_nms_fits(b, d2);
  std::vector<double> sub[4];
  if (raw && err == cudaSuccess) {
    cudaEvent_t se[5];
    for (cudaEvent_t& e : se) check(cudaEventCreate(&e), "cudaEventCreate");
    cuda::DetectMarks marks{se[1], mask ? se[2] : nullptr, mask ? se[3] : nullptr};
    for (int it = 0; it < iterations + 5 && err == cudaSuccess; ++it) {
      check(cudaEventRecord(se[0], st), "event record");
      check(cuda::raw_detect(static_cast<const float*>(out.data), b, d1, d2, p, ws, ws_bytes, r, st,
                             &marks),
            "raw_detect");
      check(cudaEventRecord(se[4], st), "event record");
      check(cudaStreamSynchronize(st), "cudaStreamSynchronize");
      if (it < 5) continue;
      const int from[4] = {0, 1, 2, 3}, to[4] = {1, 2, 3, 4};
      for (int k = 0; k < 4; ++k) {
        if (!mask && k > 0) {
          if (k == 1) {
            float ms = 0;
            check(cudaEventElapsedTime(&ms, se[1], se[4]), "cudaEventElapsedTime");
            sub[1].push_back(ms);
          }
          continue;
        }
        float ms = 0;
        check(cudaEventElapsedTime(&ms, se[from[k]], se[to[k]]), "cudaEventElapsedTime");
        sub[k].push_back(ms);
      }
    }
    for (cudaEvent_t e : se) cudaEventDestroy(e);
  }
  // For scale: the whole frame up in one copy.
  std::vector<double> whole;
  for (int it = 0; it < iterations + 5 && err == cudaSuccess; ++it) {
    check(cudaEventRecord(ev[0], st), "event record");
    check(cudaMemcpyAsync(dframe, pinned_frame, frame_bytes, cudaMemcpyHostToDevice, st), "upload");
    check(cudaEventRecord(ev[1], st), "event record");
    check(cudaStreamSynchronize(st), "cudaStreamSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, ev[0], ev[1]), "cudaEventElapsedTime");
    if (it >= 5) whole.push_back(ms);
  }
  check(cudaGetLastError(), "a launch");
  const char* names[5] = {"upload 1080p BGR (pinned)", "letterbox", "model", "detections",
                          "download"};
  std::printf("\ndevice time per stage, batch %d, conf %.2f, %s NMS (%s):\n", b, conf,
              nms_method_name(nms_method), graph ? "stages 2-4 one CUDA graph" : "eager launches");
  if (!capture_error.empty()) std::printf("  graph capture failed: %s\n", capture_error.c_str());
  if (!step_error.empty()) std::printf("  FAIL breakdown: %s\n", step_error.c_str());
  if (err != cudaSuccess) {
    std::printf("  FAIL breakdown: CUDA error in %s: %s (%s)\n", where.c_str(),
                cudaGetErrorName(err), cudaGetErrorString(err));
  }
  double total = 0;
  for (int k = 0; k < 5; ++k) {
    double m = median(seg[k]);
    total += m;
    std::printf("  %-28s %8.3f ms\n", names[k], m);
  }
  std::printf("  %-28s %8.3f ms\n", "sum", total);
  std::printf(
      "  upload: %zu of %d rows in %zu copies (what the letterbox reads); the whole "
      "frame %.3f ms (%.1f GB/s)\n",
      rows_sent, fh, runs.size(), median(whole),
      median(whole) > 0 ? frame_bytes / (median(whole) * 1e6) : 0.0);
  if (!sub[0].empty()) {
    if (mask) {
      std::printf(
          "  detections by kernel (eager): candidates %.3f, sort %.3f, IoU mask %.3f, "
          "walk %.3f ms (with the top pass, nms_mask.cu: its sort, its mask, then its walk "
          "+ the full pass's kernels)\n",
          median(sub[0]), median(sub[1]), median(sub[2]), median(sub[3]));
    } else {
      std::printf("  detections by kernel (eager): candidates %.3f, sort + NMS %.3f ms\n",
                  median(sub[0]), median(sub[1]));
    }
  }
  if (exec) cudaGraphExecDestroy(exec);
  for (cudaEvent_t e : ev) cudaEventDestroy(e);
  cudaFree(dframe), cudaFree(ws), cudaFree(dets), cudaFree(counts);
  return err != cudaSuccess || !step_error.empty() ? 1 : 0;
}

}  // namespace fungen::bench
