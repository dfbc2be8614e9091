// Tensor/shape ops (Shape, Reshape, Transpose, Concat, Split, Slice, Gather, Resize, TopK, ...).
// See op_list.h for the row format. Shape functions: ops/tensor_<family>.cpp; reference kernels:
// backends/reference/tensor_<family>.cpp; shared parameter resolution: ops/tensor_params.h.
#pragma once

// ops/tensor_shape.cpp: ops that make or reinterpret shapes.
#define FUNGEN_TENSOR_SHAPE_OPS(X)                                                                 \
  X(Constant,                                                                                      \
    "value value_float value_floats value_int value_ints value_string value_strings sparse_value", \
    1)                                                                                             \
  X(Identity, "", 1)                                                                               \
  X(Shape, "start end", 1)                                                                         \
  X(Size, "", 1)                                                                                   \
  X(Reshape, "allowzero shape", 1)                                                                 \
  X(Flatten, "axis", 1)                                                                            \
  X(Squeeze, "axes", 1)                                                                            \
  X(Unsqueeze, "axes", 1)                                                                          \
  X(Expand, "", 8)                                                                                 \
  X(Range, "", 11)                                                                                 \
  X(ConstantOfShape, "value", 9)                                                                   \
  X(NonZero, "", 9)

// ops/tensor_layout.cpp: ops that move elements around.
#define FUNGEN_TENSOR_LAYOUT_OPS(X)     \
  X(Transpose, "perm", 1)               \
  X(Concat, "axis", 1)                  \
  X(Split, "axis split num_outputs", 1) \
  X(Slice, "starts ends axes", 1)       \
  X(Tile, "", 6)                        \
  X(Pad, "mode pads paddings value", 1) \
  X(DepthToSpace, "blocksize mode", 1)  \
  X(SpaceToDepth, "blocksize", 1)       \
  X(Trilu, "upper", 14)

// ops/tensor_gather.cpp: indexing.
#define FUNGEN_TENSOR_GATHER_OPS(X)        \
  X(Gather, "axis", 1)                     \
  X(GatherElements, "axis", 11)            \
  X(GatherND, "batch_dims", 11)            \
  X(ScatterND, "reduction", 11)            \
  X(ScatterElements, "axis reduction", 11) \
  X(OneHot, "axis", 9)

// ops/tensor_cast.cpp, tensor_resize.cpp, tensor_topk.cpp.
#define FUNGEN_TENSOR_MISC_OPS(X)                                                  \
  X(Cast, "to saturate", 6)                                                        \
  X(CastLike, "saturate", 15)                                                      \
  X(Resize,                                                                        \
    "antialias axes coordinate_transformation_mode cubic_coeff_a exclude_outside " \
    "extrapolation_value keep_aspect_ratio_policy mode nearest_mode",              \
    10)                                                                            \
  X(Upsample, "mode scales", 7)                                                    \
  X(TopK, "axis k largest sorted", 1)                                              \
  X(CumSum, "exclusive reverse", 11)

#define FUNGEN_TENSOR_OPS(X) \
  FUNGEN_TENSOR_SHAPE_OPS(X) \
  FUNGEN_TENSOR_LAYOUT_OPS(X) FUNGEN_TENSOR_GATHER_OPS(X) FUNGEN_TENSOR_MISC_OPS(X)
