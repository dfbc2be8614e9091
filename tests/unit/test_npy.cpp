#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "io/npy.h"
#include "op_test_util.h"

namespace fungen {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("fungen_test_" + name)).string();
}

}  // namespace

TEST(Npy, RoundTripsEveryDtype) {
  std::mt19937 rng(test::test_seed());
  for (DType dt : {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kInt32, DType::kInt8,
                   DType::kUInt8, DType::kBool, DType::kInt16, DType::kUInt16}) {
    Tensor t(dt, {2, 3, 5});
    auto* p = static_cast<unsigned char*>(t.raw());
    for (size_t i = 0; i < t.nbytes(); ++i)
      p[i] = dt == DType::kBool ? rng() % 2 : static_cast<unsigned char>(rng());
    std::string path = temp_path("rt.npy");
    ASSERT_TRUE(write_npy(path, t).ok());
    auto r = read_npy(path);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->dtype(), dt);
    EXPECT_EQ(r->shape(), t.shape());
    EXPECT_EQ(0, std::memcmp(r->raw(), t.raw(), t.nbytes()));
  }
  Tensor scalar(DType::kFloat32, {});
  ASSERT_TRUE(write_npy(temp_path("s.npy"), scalar).ok());
  EXPECT_TRUE(read_npy(temp_path("s.npy"))->shape().empty());
  Tensor one(DType::kFloat32, {7});
  ASSERT_TRUE(write_npy(temp_path("one.npy"), one).ok());
  EXPECT_EQ(read_npy(temp_path("one.npy"))->shape(), Shape{7});
}

TEST(Npy, BadFilesGiveClearErrors) {
  EXPECT_EQ(read_npy("/nonexistent/x.npy").status().code(), StatusCode::kNotFound);
  std::string path = temp_path("bad.npy");
  { std::ofstream(path) << "hello, not numpy"; }
  auto r = read_npy(path);
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(r.status().message().find("not a .npy"), std::string::npos);
  // Truncated data.
  Tensor t(DType::kFloat32, {4, 4});
  ASSERT_TRUE(write_npy(path, t).ok());
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
  r = read_npy(path);
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos);
}

}  // namespace fungen
