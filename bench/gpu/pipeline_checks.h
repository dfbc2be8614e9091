// pipeline_checks.h — the GPU pre/post-processing checks of pipeline_bench (each prints one
// PASS/FAIL line per case and returns the number of failures) and its per-stage breakdown.
#pragma once

#include <cstdint>
#include <random>
#include <span>

#include "fungen/detector.h"
#include "fungen/image.h"

namespace fungen::bench {

Image random_image(int width, int height, std::mt19937& rng);
// The plain reference sampler of check_preprocess vs the project's CPU samplers (video::
// FrameSampler for NV12, remap_bgr for BGR); CPU only, skipped without FFmpeg.
int check_reference_sampler(uint32_t seed);
// The fused letterbox kernel vs the CPU letterbox (after a plain reference sampler).
int check_preprocess(uint32_t seed);
// GPU score filter + NMS (raw and end-to-end heads) vs detect/postprocess.cpp.
int check_postprocess(uint32_t seed);
// Device time per stage of frame → detections at the detector's batch (its engine must be cuda);
// nms_method: a cuda::NmsMethod (0 mask, 1 per-box, 2 grouped). Returns 1 when a CUDA call or a
// step failed (printed as a FAIL line with the CUDA error's name), else 0.
int print_breakdown(Detector& det, const uint8_t* pinned_frame, int frame_width, int frame_height,
                    float conf, int iterations, int nms_method);
// The GPU pipeline vs the CPU pre/post-processing around the same engine on `frames` (one
// batch), stage by stage (model inputs, model outputs, NMS of identical outputs, score
// statistics); prints PASS/FAIL lines tagged `what`, returns the number of failures.
int diagnose_pipeline(Detector& det, std::span<const Frame> frames, const DetectOptions& options,
                      const char* what);
// NMS method names for messages.
const char* nms_method_name(int nms_method);

}  // namespace fungen::bench
