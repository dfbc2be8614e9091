// pipeline_checks.h — the GPU pre/post-processing checks of pipeline_bench: each prints one
// PASS/FAIL line per case and returns the number of failures.
#pragma once

#include <cstdint>
#include <random>

#include "fungen/image.h"

namespace fungen::bench {

Image random_image(int width, int height, std::mt19937& rng);
// The fused letterbox kernel vs the CPU letterbox (after a plain reference sampler).
int check_preprocess(uint32_t seed);
// GPU score filter + NMS (raw and end-to-end heads) vs detect/postprocess.cpp.
int check_postprocess(uint32_t seed);

}  // namespace fungen::bench
