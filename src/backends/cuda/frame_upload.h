// frame_upload.h — host BGR frames into the GPU pipeline's device buffer (gpu_pipeline.cpp),
// uploading only the rows that the letterbox reads.
//
// The letterbox (preprocess.cu) reads, per row of the resized picture, the upper source row of
// its vertical tap always and the lower one only when that tap's 11-bit weight is non-zero. A
// 1920×1080 frame resized to 640×360 samples rows 3·y + 1 with weight 2048 and nothing else, so
// a third of the frame (2 MB instead of 6.2 MB) crosses PCIe; the rows not uploaded are never
// read. Rows are sent as a few strided copies (one cudaMemcpy2DAsync per arithmetic run of
// blocks of rows: 3840×2160 → 640×360 reads rows 6·y + 2 and 6·y + 3); a scale that gives an
// irregular pattern falls back to the whole frame.
//
//   std::vector<RowRun> runs = letterbox_row_runs(h, letterbox_params(w, h, 640, 640), 640);
//   upload_frame_rows(frame, dev, pitch, runs, stage, stream);
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "fungen/detector.h"
#include "fungen/image.h"

namespace fungen::cuda {

// `count` blocks of `rows` consecutive rows, starting at rows first, first + step, ...
struct RowRun {
  int first = 0, step = 1, count = 0, rows = 1;
};

// The runs of source rows (of a frame `height` rows high) that the letterbox with `params` into
// an input `input_height` rows high reads: a superset (a lower tap row is left out only when its
// fraction is below 1e-6, where the kernel's weight is 0 whatever the rounding). At most
// `max_runs` runs, else the whole frame as one run. Blocks of more than one row only when
// `contiguous` (the frame's stride equals the device pitch, so a block is one piece on both
// sides; upload_frame_rows copies row by row otherwise).
std::vector<RowRun> letterbox_row_runs(int height, const LetterboxParams& params, int input_height,
                                       bool contiguous, int max_runs = 8);

// The rows of `runs` of `frame` (host, pinned or pageable) into `dev` (rows `dev_pitch` bytes
// apart) on `stream`. Pageable frames go through `stage` (pinned, laid out like `dev`) in ~1 MiB
// pieces so the host copy of one piece overlaps the DMA of the previous one; `stage` may be null
// for pinned frames.
cudaError_t upload_frame_rows(const Frame& frame, bool pinned, uint8_t* dev, size_t dev_pitch,
                              const std::vector<RowRun>& runs, uint8_t* stage, cudaStream_t stream);

}  // namespace fungen::cuda
