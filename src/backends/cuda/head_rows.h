// head_rows.h — the anchor-major input of YOLO's one-kernel Detect head (lower_head.cpp,
// detect_head_rows.cuh). Plain C++ (no CUDA): the matching and the layout are tested on the CPU.
//
// The exports build the head's inputs from per-level 1x1 convs:
//   box_x = Reshape(Concat(last axis)(Reshape(box conv_l) ...))   [B, 4, bins, A]
//   cls_x = Concat(last axis)(Reshape(cls conv_l) ...)            [B, nc, A]
// each Reshape [B, C, H, W] -> [B, C, H*W]. Instead of writing each conv NCHW into its Concat
// (2-byte scattered stores), the convs write NHWC rows into one buffer X [B, A, ld]: level l's
// pixel p of image b is anchor row off_l + p, its box logits at columns [0, 4 * bins), its class
// logits at [cls_offset, cls_offset + nc). One anchor's inputs are then ld contiguous elements
// (144 for YOLO11n: 288 bytes in fp16), read by the head kernel with 16-byte loads. The Reshapes,
// the two Concats and box_x's Reshape compute nothing and are absorbed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backends/cuda/head_match.h"

namespace fungen::cuda {

// One conv's place in X: element (b, pixel p, channel c) of its output at
// b * batch_ld + offset + p * ld + c, with offset = anchor_offset * ld + channel_offset.
struct HeadRowsPiece {
  int value = -1;  // the conv's output [B, C, H, W]
  int64_t anchor_offset = 0, channel_offset = 0, channels = 0, pixels = 0;
};

struct HeadRows {
  std::vector<HeadRowsPiece> pieces;  // box levels, then class levels
  std::vector<int> nodes;             // the views and Concats that become nothing
  int64_t ld = 0;                     // elements per anchor row (a multiple of 8)
  int64_t cls_offset = 0;             // first class column (a multiple of 8)
  int64_t anchors = 0, batch = 0;
  int64_t batch_ld() const { return anchors * ld; }  // elements per image
};

// Columns of X: the box logits padded to a multiple of 8, then the classes padded so: every row
// and both column groups start 16-byte aligned (the igemm kernel's stores, the head's loads).
inline int64_t head_rows_cls_offset(int bins) {
  return (4 * static_cast<int64_t>(bins) + 7) / 8 * 8;
}
inline int64_t head_rows_ld(int bins, int64_t classes) {
  return head_rows_cls_offset(bins) + (classes + 7) / 8 * 8;
}

// Element offset in X of (image b, anchor a, column c): what a piece's conv writes and what the
// head kernel reads (the CPU test checks the two agree with the graph's Concat order).
inline int64_t head_rows_index(const HeadRows& r, int64_t b, int64_t a, int64_t c) {
  return b * r.batch_ld() + a * r.ld + c;
}

// The pieces of `h` when its box_x and cls_x are built as above from convs of this run, each
// read only there (and no intermediate value leaves the run), else nullopt with `why` set.
std::optional<HeadRows> match_head_rows(const RunView& rv, const DetectHead& h, std::string* why);

}  // namespace fungen::cuda
