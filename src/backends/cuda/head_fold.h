// head_fold.h — symbolic evaluation of the box decode of YOLO's Detect head (head_match.h): every
// element of a value is an affine form in the 4 DFL distances of one anchor, evaluated per image
// (the batch axis kept at 1), through the elementwise and indexing ops the exports use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace fungen::cuda {

// c[0..3] . d(anchor) + k; anchor -1: a constant (c all zero).
struct AffineForm {
  int32_t anchor = -1;
  double c[4] = {0, 0, 0, 0};
  double k = 0;
};

struct AffineField {
  Shape shape;  // per image: a non-constant value's shape with its batch axis set to 1
  std::vector<AffineForm> f;
};

// Evaluates `nodes` (indices into g.nodes, topological order) starting from `leaf`, the field of
// value `d`; every other input must be a constant or an output of an earlier node of the list.
// Values must keep the batch axis first (size `batch`). Returns the field of `box`, or nullopt
// with `why` set when an op or a use of it is outside the affine set.
std::optional<AffineField> fold_affine(const Graph& g, int64_t batch, int d,
                                       const AffineField& leaf, const std::vector<int>& nodes,
                                       int box, std::string* why);

// Whether fold_affine evaluates this op (and which inputs carry data: the rest must be constant).
bool is_affine_op(const Node& n);
std::vector<int> affine_data_inputs(const Node& n);

}  // namespace fungen::cuda
