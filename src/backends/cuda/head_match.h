// head_match.h — recognizes YOLO's anchor-free Detect head tail (YOLOv5u/v8/v9/11/12 exports) in
// a specialized graph, for the cuda backend's one-kernel head (lower_head.cpp). Plain C++ (no
// CUDA): the matcher and its constant folding are tested on the CPU.
//
// What it matches, from the graph's structure only (op types, shapes, constants; never names):
//
//   y = Concat(axis 1)(box, Sigmoid(cls_x))                 y [B, 4 + nc, A], cls_x [B, nc, A]
//   box = f(d)                                              box [B, 4, A]
//   d = Conv1x1(w [1, bins, 1, 1], bias?)(softmax over the bins of box_x)   box_x [B, 4, bins, A]
//
// where the DFL softmax is either export form (opset >= 13: Transpose(0,2,1,3) -> Softmax(axis 1);
// opset 12: Transpose(0,3,1,2) -> Softmax(last) -> Transpose(0,3,2,1)), and f is any graph of
// Add/Sub/Mul/Div (by constants), Slice/Split/Concat/Reshape/Flatten/Squeeze/Unsqueeze/Identity/
// Transpose that keeps the batch axis and in which every output element is an affine function
// of the 4 distances of its own anchor (dist2bbox: xywh or xyxy, times the stride). The folding
// evaluates f symbolically (each element an affine form in d of one anchor) and factors the
// result as box[k][a] = s[a] * sum_j m0[k][j] * d[j][a] + c[k][a]: one 4x4 matrix for the head,
// a scale (the stride) and 4 offsets (anchor point terms) per anchor. Anything else: no match,
// and the nodes are lowered one by one as before. Every intermediate value must be read only
// inside the pattern and be no output of the run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "runtime/backend.h"

namespace fungen::cuda {

inline constexpr int kMaxHeadBins = 32;  // DFL bins the fused kernel takes (reg_max 16 in YOLO)

// A Conv (or FusedConv) with weights and at most a bias as inputs, no activation, group 1, unit
// strides and dilations, no padding: the shape the DFL's expectation conv has (head_match.cpp,
// lower_dfl.cpp check its weights themselves).
bool is_plain_unit_conv(const Node& n);

// The nodes of one run and who reads what.
struct RunView {
  RunView(const Graph& graph, const NodeRun& run);
  const Graph& g;
  size_t first = 0, last = 0;
  std::vector<int> uses;         // Graph::use_counts()
  std::vector<char> run_output;  // per value: an output of the run
  bool in_run(int node) const {
    return node >= static_cast<int>(first) && node <= static_cast<int>(last);
  }
  // The node of this run producing `value`, or nullptr (graph input, constant, another run).
  const Node* producer(int value) const;
  const Shape& shape(int value) const { return g.values[static_cast<size_t>(value)].shape; }
  bool is_constant(int value) const { return g.values[static_cast<size_t>(value)].is_constant(); }
};

struct DetectHead {
  int output_node = -1;    // the Concat producing y: the fused step takes its place
  std::vector<int> nodes;  // every node the fused kernel replaces (output_node included)
  int box_x = -1;          // [B, 4, bins, A] DFL logits, read plain
  int cls_x = -1;          // [B, nc, A] class logits, read plain
  int y = -1;              // [B, 4 + nc, A]
  int64_t batch = 0, anchors = 0, classes = 0;
  int bins = 0;
  float dfl_w[kMaxHeadBins] = {};  // the expectation conv's weights and bias
  float dfl_bias = 0.0f;
  float m0[16] = {};         // row-major 4x4
  std::vector<float> table;  // [5][anchors]: scale s[a], then offsets c[0..3][a]
};

// The head whose output Concat is node `concat` of the run, or nullopt (`why` says what did not
// fit, for logs and tests).
std::optional<DetectHead> match_detect_head(const RunView& rv, int concat, std::string* why);

// Every head of the run (YOLO has one).
std::vector<DetectHead> find_detect_heads(const RunView& rv);

}  // namespace fungen::cuda
