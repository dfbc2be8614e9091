// Elementwise ops (unary math, activations, broadcasting binary ops, comparisons, Where).
// See op_list.h for the row format.
#pragma once

// Unary ops on one tensor; output has the input's shape (and dtype, except IsNaN/IsInf).
#define FUNGEN_UNARY_OPS(X)                       \
  X(Abs, "", 6)                                   \
  X(Neg, "", 6)                                   \
  X(Exp, "", 6)                                   \
  X(Log, "", 6)                                   \
  X(Sqrt, "", 6)                                  \
  X(Reciprocal, "", 6)                            \
  X(Floor, "", 6)                                 \
  X(Ceil, "", 6)                                  \
  X(Round, "", 11)                                \
  X(Sigmoid, "", 6)                               \
  X(Tanh, "", 6)                                  \
  X(Relu, "", 6)                                  \
  X(LeakyRelu, "alpha", 6)                        \
  X(Elu, "alpha", 6)                              \
  X(Selu, "alpha gamma", 6)                       \
  X(Celu, "alpha", 12)                            \
  X(ThresholdedRelu, "alpha", 10)                 \
  X(HardSigmoid, "alpha beta", 6)                 \
  X(HardSwish, "", 14)                            \
  X(Softplus, "", 1)                              \
  X(Softsign, "", 1)                              \
  X(Mish, "", 18)                                 \
  X(Gelu, "approximate", 20)                      \
  X(Erf, "", 9)                                   \
  X(Sin, "", 7)                                   \
  X(Cos, "", 7)                                   \
  X(Tan, "", 7)                                   \
  X(Asin, "", 7)                                  \
  X(Acos, "", 7)                                  \
  X(Atan, "", 7)                                  \
  X(Sinh, "", 9)                                  \
  X(Cosh, "", 9)                                  \
  X(Asinh, "", 9)                                 \
  X(Acosh, "", 9)                                 \
  X(Atanh, "", 9)                                 \
  X(Sign, "", 9)                                  \
  X(Not, "", 1)                                   \
  X(IsNaN, "", 9)                                 \
  X(IsInf, "detect_negative detect_positive", 10) \
  X(Clip, "min max", 6)                           \
  X(Shrink, "bias lambd", 9)                      \
  X(Dropout, "ratio seed", 7)

// Broadcasting binary and variadic ops, comparisons, logic, Where.
#define FUNGEN_BINARY_OPS(X)   \
  X(Add, "", 7)                \
  X(Sub, "", 7)                \
  X(Mul, "", 7)                \
  X(Div, "", 7)                \
  X(Pow, "", 7)                \
  X(Mod, "fmod", 10)           \
  X(Max, "", 8)                \
  X(Min, "", 8)                \
  X(Sum, "", 8)                \
  X(Mean, "", 8)               \
  X(Equal, "", 7)              \
  X(Less, "", 7)               \
  X(Greater, "", 7)            \
  X(LessOrEqual, "", 12)       \
  X(GreaterOrEqual, "", 12)    \
  X(And, "", 7)                \
  X(Or, "", 7)                 \
  X(Xor, "", 7)                \
  X(BitShift, "direction", 11) \
  X(PRelu, "", 7)              \
  X(Where, "", 9)

#define FUNGEN_ELEMENTWISE_OPS(X) FUNGEN_UNARY_OPS(X) FUNGEN_BINARY_OPS(X)
