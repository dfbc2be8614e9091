// head_model.h — a YOLO anchor-free Detect head (YOLOv8/11/12 export form) built as a small ONNX
// model for the cuda head tests: per level a 1x1 box conv (4 * bins channels) and class conv
// (nc channels) read by Reshape -> Concat on the last axis, the DFL (either export form), the
// box decode with constant anchor points and strides (xywh or xyxy; Slice or Split; Div by 2 or
// Mul by 0.5), Sigmoid of the classes, and the output Concat. Twists break one rule the fused
// head needs, so the lowering must fall back to the node-by-node path (and still be right).
#pragma once

#include <random>
#include <string>
#include <vector>

#include "model_builder.h"
#include "op_test_util.h"

namespace fungen::test {

enum class HeadTwist {
  kNone,
  kBoxAlsoOutput,  // the decoded boxes are a graph output too: no head fusion
  kNonAffine,      // x2y2 = x1y1 * rb: not affine in the distances: no head fusion
  kBatchConstant,  // anchors given per image ([B, 2, A]): no head fusion
};

struct HeadSpec {
  const char* name;
  int64_t batch;
  std::vector<std::pair<int64_t, int64_t>> levels;  // (H, W), strides 8, 16, 32, ...
  int64_t classes;
  bool opset12_dfl;  // Transpose(0,3,1,2) -> Softmax(last) -> Transpose(0,3,2,1)
  bool xyxy;         // YOLOv10's box form
  bool split;        // Split instead of two Slices
  bool mul_half;     // Mul by 0.5 instead of Div by 2
  HeadTwist twist;
  int fused;  // heads the cuda lowering must fuse
};

inline Tensor float_tensor(Shape shape, const std::vector<float>& v) {
  Tensor t(DType::kFloat32, std::move(shape));
  for (size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = v[i];
  return t;
}

// Inputs "x0", "x1", ...: [B, 16, H, W] per level. Output "y": [B, 4 + nc, anchors]; with
// `expose`, also the fused kernel's inputs "dr" ([B, 4, bins, anchors]) and "cls_cat"; with
// `expose_convs`, then each level's box and class conv output "bc<l>", "cc<l>" ([B, C, H, W]).
// The same rng state gives the same weights whatever is exposed.
inline std::string head_model(std::mt19937& rng, const HeadSpec& s, bool expose = false,
                              bool expose_convs = false) {
  const int64_t bins = 16, cin = 16;
  ModelBuilder b(s.opset12_dfl ? 12 : 17);
  std::vector<std::string> boxes, scores;
  std::vector<float> ax, ay, st;
  int64_t anchors = 0, stride = 8;
  for (size_t l = 0; l < s.levels.size(); ++l, stride *= 2) {
    const auto [h, w] = s.levels[l];
    const std::string L = std::to_string(l);
    auto nm = [&](const char* prefix) { return std::string(prefix).append(L); };
    const std::string x = nm("x");
    b.input(x, DType::kFloat32, {s.batch, cin, h, w});
    const float a = 0.8f;
    b.initializer(nm("bw"), random_tensor({4 * bins, cin, 1, 1}, rng, -a, a));
    b.initializer(nm("bb"), random_tensor({4 * bins}, rng, -1.0f, 1.0f));
    b.initializer(nm("cw"), random_tensor({s.classes, cin, 1, 1}, rng, -a, a));
    b.initializer(nm("cb"), random_tensor({s.classes}, rng, -1.0f, 1.0f));
    b.node("Conv", {x, nm("bw"), nm("bb")}, {nm("bc")});
    b.node("Conv", {x, nm("cw"), nm("cb")}, {nm("cc")});
    b.initializer(nm("bs"), int64_tensor({3}, {s.batch, 4 * bins, h * w}));
    b.initializer(nm("cs"), int64_tensor({3}, {s.batch, s.classes, h * w}));
    b.node("Reshape", {nm("bc"), nm("bs")}, {nm("br")});
    b.node("Reshape", {nm("cc"), nm("cs")}, {nm("cr")});
    boxes.push_back(nm("br"));
    scores.push_back(nm("cr"));
    for (int64_t i = 0; i < h; ++i) {
      for (int64_t j = 0; j < w; ++j) {
        ax.push_back(static_cast<float>(j) + 0.5f);
        ay.push_back(static_cast<float>(i) + 0.5f);
        st.push_back(static_cast<float>(stride));
      }
    }
    anchors += h * w;
  }
  b.node("Concat", boxes, {"box_cat"}, {{"axis", attr_int(-1)}});
  b.node("Concat", scores, {"cls_cat"}, {{"axis", attr_int(-1)}});
  b.initializer("dshape", int64_tensor({4}, {s.batch, 4, bins, anchors}));
  b.node("Reshape", {"box_cat", "dshape"}, {"dr"});
  std::vector<float> idx(bins);
  for (int64_t i = 0; i < bins; ++i) idx[static_cast<size_t>(i)] = static_cast<float>(i);
  b.initializer("dflw", float_tensor({1, bins, 1, 1}, idx));
  if (s.opset12_dfl) {
    b.node("Transpose", {"dr"}, {"dt"}, {{"perm", attr_ints({0, 3, 1, 2})}});
    b.node("Softmax", {"dt"}, {"ds"}, {{"axis", attr_int(3)}});
    b.node("Transpose", {"ds"}, {"dt2"}, {{"perm", attr_ints({0, 3, 2, 1})}});
    b.node("Conv", {"dt2", "dflw"}, {"dc"});
  } else {
    b.node("Transpose", {"dr"}, {"dt"}, {{"perm", attr_ints({0, 2, 1, 3})}});
    b.node("Softmax", {"dt"}, {"ds"}, {{"axis", attr_int(1)}});
    b.node("Conv", {"ds", "dflw"}, {"dc"});
  }
  b.initializer("d3", int64_tensor({3}, {s.batch, 4, anchors}));
  b.node("Reshape", {"dc", "d3"}, {"dist"});
  // Anchor points [1, 2, A] (x row then y row) and strides [1, A].
  std::vector<float> pts = ax;
  pts.insert(pts.end(), ay.begin(), ay.end());
  if (s.twist == HeadTwist::kBatchConstant) {
    std::vector<float> per_image;
    for (int64_t n = 0; n < s.batch; ++n) per_image.insert(per_image.end(), pts.begin(), pts.end());
    b.initializer("anc", float_tensor({s.batch, 2, anchors}, per_image));
  } else {
    b.initializer("anc", float_tensor({1, 2, anchors}, pts));
  }
  b.initializer("str", float_tensor({1, anchors}, st));
  if (s.split) {
    if (s.opset12_dfl) {  // sizes as an attribute before opset 13
      b.node("Split", {"dist"}, {"lt", "rb"},
             {{"axis", attr_int(1)}, {"split", attr_ints({2, 2})}});
    } else {
      b.initializer("halves", int64_tensor({2}, {2, 2}));
      b.node("Split", {"dist", "halves"}, {"lt", "rb"}, {{"axis", attr_int(1)}});
    }
  } else {
    b.initializer("s0", int64_tensor({1}, {0}));
    b.initializer("s2", int64_tensor({1}, {2}));
    b.initializer("s4", int64_tensor({1}, {4}));
    b.initializer("ax1", int64_tensor({1}, {1}));
    b.node("Slice", {"dist", "s0", "s2", "ax1"}, {"lt"});
    b.node("Slice", {"dist", "s2", "s4", "ax1"}, {"rb"});
  }
  b.node("Sub", {"anc", "lt"}, {"x1y1"});
  if (s.twist == HeadTwist::kNonAffine)
    b.node("Mul", {"x1y1", "rb"}, {"x2y2"});
  else
    b.node("Add", {"anc", "rb"}, {"x2y2"});
  if (s.xyxy) {
    b.node("Concat", {"x1y1", "x2y2"}, {"bx"}, {{"axis", attr_int(1)}});
  } else {
    b.node("Add", {"x1y1", "x2y2"}, {"sum"});
    if (s.mul_half) {
      b.initializer("half", float_tensor({}, {0.5f}));
      b.node("Mul", {"sum", "half"}, {"cxy"});
    } else {
      b.initializer("two", float_tensor({}, {2.0f}));
      b.node("Div", {"sum", "two"}, {"cxy"});
    }
    b.node("Sub", {"x2y2", "x1y1"}, {"wh"});
    b.node("Concat", {"cxy", "wh"}, {"bx"}, {{"axis", attr_int(1)}});
  }
  b.node("Mul", {"bx", "str"}, {"boxes"});
  b.node("Sigmoid", {"cls_cat"}, {"scores"});
  b.node("Concat", {"boxes", "scores"}, {"y"}, {{"axis", attr_int(1)}});
  b.output("y");
  if (s.twist == HeadTwist::kBoxAlsoOutput) b.output("boxes");
  if (expose) b.output("dr").output("cls_cat");
  for (size_t l = 0; l < s.levels.size() && expose_convs; ++l)
    b.output("bc" + std::to_string(l)).output("cc" + std::to_string(l));
  return b.build();
}

}  // namespace fungen::test
