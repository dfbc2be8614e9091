// The protobuf wire reader on hand-written malformed inputs.
#include <gtest/gtest.h>

#include "onnx/proto_reader.h"
#include "unit/test_onnx_writer.h"

namespace fungen::proto {
namespace {

std::vector<uint8_t> bytes_of(std::initializer_list<int> v) {
  std::vector<uint8_t> out;
  for (int b : v) out.push_back(static_cast<uint8_t>(b));
  return out;
}

Status read_all(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  Field f;
  while (!r.at_end()) FUNGEN_RETURN_IF_ERROR(r.next(f));
  return Status();
}

TEST(ProtoReader, Varints) {
  std::vector<uint8_t> max = bytes_of({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01});
  size_t pos = 0;
  uint64_t v = 0;
  ASSERT_TRUE(read_varint(max, pos, v).ok());
  EXPECT_EQ(v, ~uint64_t{0});
  EXPECT_EQ(pos, 10u);

  std::vector<uint8_t> eleven(10, 0x80);
  eleven.push_back(0x01);
  pos = 0;
  EXPECT_EQ(read_varint(eleven, pos, v).code(), StatusCode::kCorrupt);
  std::vector<uint8_t> overflow =
      bytes_of({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02});
  pos = 0;
  EXPECT_EQ(read_varint(overflow, pos, v).code(), StatusCode::kCorrupt);
  std::vector<uint8_t> truncated = bytes_of({0x80, 0x80});
  pos = 0;
  EXPECT_EQ(read_varint(truncated, pos, v).code(), StatusCode::kCorrupt);
}

TEST(ProtoReader, FieldsOfEveryWireType) {
  onnx_test::Pb pb;
  pb.varint(1, 300).fixed64(2, 0x1122334455667788ull).bytes(3, "abc").fixed32(4, 0xdeadbeef);
  std::vector<uint8_t> bytes = pb.data();
  Reader r(bytes);
  Field f;
  ASSERT_TRUE(r.next(f).ok());
  EXPECT_EQ(f.number, 1u);
  EXPECT_EQ(f.wire, WireType::kVarint);
  EXPECT_EQ(f.scalar, 300u);
  ASSERT_TRUE(r.next(f).ok());
  EXPECT_EQ(f.wire, WireType::kFixed64);
  EXPECT_EQ(f.scalar, 0x1122334455667788ull);
  ASSERT_TRUE(r.next(f).ok());
  EXPECT_EQ(f.as_string(), "abc");
  ASSERT_TRUE(r.next(f).ok());
  EXPECT_EQ(f.scalar, 0xdeadbeefu);
  EXPECT_TRUE(r.at_end());
}

TEST(ProtoReader, MalformedInputsAreErrors) {
  // Length prefix of 2^60.
  onnx_test::Pb huge;
  huge.tag(7, 2).raw_varint(1ull << 60);
  EXPECT_EQ(read_all(huge.data()).code(), StatusCode::kCorrupt);
  // Length one past the end.
  EXPECT_EQ(read_all(bytes_of({0x0a, 0x03, 'a', 'b'})).code(), StatusCode::kCorrupt);
  // Field number 0, groups, reserved wire types, truncated fixed fields.
  EXPECT_EQ(read_all(bytes_of({0x00, 0x01})).code(), StatusCode::kCorrupt);
  EXPECT_EQ(read_all(bytes_of({0x0b, 0x0c})).code(), StatusCode::kCorrupt);  // start/end group
  EXPECT_EQ(read_all(bytes_of({0x0c})).code(), StatusCode::kCorrupt);
  EXPECT_EQ(read_all(bytes_of({0x0e, 0x00})).code(), StatusCode::kCorrupt);  // wire type 6
  EXPECT_EQ(read_all(bytes_of({0x0f, 0x00})).code(), StatusCode::kCorrupt);  // wire type 7
  EXPECT_EQ(read_all(bytes_of({0x0d, 1, 2, 3})).code(), StatusCode::kCorrupt);
  EXPECT_EQ(read_all(bytes_of({0x09, 1, 2, 3, 4, 5, 6, 7})).code(), StatusCode::kCorrupt);
  // Error messages carry the absolute byte offset.
  Status s = read_all(bytes_of({0x08, 0x01, 0x0a, 0x05}));
  EXPECT_NE(s.message().find("byte 2"), std::string::npos) << s.message();
}

TEST(ProtoReader, NestingDepthIsBounded) {
  onnx_test::Pb inner;
  inner.varint(1, 1);
  for (int i = 0; i < kMaxDepth + 2; ++i) {
    onnx_test::Pb outer;
    outer.msg(1, inner);
    inner = outer;
  }
  std::vector<uint8_t> bytes = inner.data();
  // Descend until nested() refuses; it must refuse before the data runs out.
  Reader r(bytes);
  Field f;
  Status s;
  int levels = 0;
  while (true) {
    ASSERT_TRUE(r.next(f).ok());
    if (f.wire != WireType::kLengthDelimited) break;
    Result<Reader> sub = r.nested(f);
    if (!sub.ok()) {
      s = sub.status();
      break;
    }
    r = std::move(sub).value();
    ++levels;
  }
  EXPECT_EQ(levels, kMaxDepth);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
}

TEST(ProtoReader, PackedAndUnpackedRepeatedFields) {
  onnx_test::Pb pb;
  pb.packed_varints(1, {1, -1, 300}).sint(1, 7).packed_floats(2, {1.f, 2.f}).f32(2, 3.f);
  std::vector<uint8_t> bytes = pb.data();
  Reader r(bytes);
  Field f;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  while (!r.at_end()) {
    ASSERT_TRUE(r.next(f).ok());
    if (f.number == 1) {
      ASSERT_TRUE(append_int64s(f, ints, "ints").ok());
    } else if (f.number == 2) {
      ASSERT_TRUE(append_floats(f, floats, "floats").ok());
    }
  }
  EXPECT_EQ(ints, (std::vector<int64_t>{1, -1, 300, 7}));
  EXPECT_EQ(floats, (std::vector<float>{1.f, 2.f, 3.f}));

  std::vector<int32_t> i32;
  onnx_test::Pb neg;
  neg.packed_varints(1, {-5});
  std::vector<uint8_t> nb = neg.data();
  Reader nr(nb);
  ASSERT_TRUE(nr.next(f).ok());
  ASSERT_TRUE(append_int32s(f, i32, "i32").ok());
  EXPECT_EQ(i32[0], -5);

  // A packed float field whose size is not a multiple of 4, and a truncated packed varint.
  std::vector<uint8_t> odd = bytes_of({0x12, 0x03, 0, 0, 0});
  Reader orr(odd);
  ASSERT_TRUE(orr.next(f).ok());
  EXPECT_FALSE(append_floats(f, floats, "floats").ok());
  std::vector<uint8_t> cut = bytes_of({0x0a, 0x01, 0x80});
  Reader cr(cut);
  ASSERT_TRUE(cr.next(f).ok());
  EXPECT_FALSE(append_int64s(f, ints, "ints").ok());
  // A wire type that fits neither encoding.
  std::vector<uint8_t> fixed = bytes_of({0x0d, 0, 0, 0, 0});
  Reader fr(fixed);
  ASSERT_TRUE(fr.next(f).ok());
  EXPECT_FALSE(append_int64s(f, ints, "ints").ok());
}

}  // namespace
}  // namespace fungen::proto
