// proto_reader.h — a bounded reader of the protobuf wire format, just enough for ONNX files.
//
//   proto::Reader r(bytes);
//   proto::Field f;
//   while (!r.at_end()) {
//     FUNGEN_RETURN_IF_ERROR(r.next(f));
//     if (f.number == 7) { FUNGEN_ASSIGN_OR_RETURN(proto::Reader graph, r.nested(f)); ... }
//   }                                       // unknown field numbers are simply not looked at
//
// Every read is checked against the bytes of the enclosing message: a truncated varint, a
// length that runs past the end, a zero field number, a group or a reserved wire type is a
// kCorrupt Status naming the byte offset (counted from the start of the outermost buffer).
// Nothing here allocates more than the bytes it reads justify, and nesting stops at kMaxDepth.
// fungen does not link libprotobuf; this file is the whole dependency.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fungen/status.h"

namespace fungen::proto {

inline constexpr int kMaxDepth = 32;

enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,  // deprecated groups: rejected
  kEndGroup = 4,
  kFixed32 = 5,
};
const char* wire_type_name(WireType wire);

// One field as read off the wire.
struct Field {
  uint32_t number = 0;
  WireType wire = WireType::kVarint;
  uint64_t scalar = 0;             // varint value, or the raw bits of a fixed32/fixed64
  std::span<const uint8_t> bytes;  // payload of a length-delimited field
  size_t offset = 0;               // absolute offset of the field's tag
  size_t payload_offset = 0;       // absolute offset of `bytes`

  int64_t as_int64() const { return static_cast<int64_t>(scalar); }
  uint64_t as_uint64() const { return scalar; }
  // proto int32/enum: the low 32 bits of the (sign-extended) varint.
  int32_t as_int32() const { return static_cast<int32_t>(static_cast<uint32_t>(scalar)); }
  float as_float() const;    // fixed32 bits
  double as_double() const;  // fixed64 bits
  std::string as_string() const { return std::string(bytes.begin(), bytes.end()); }
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes, size_t base_offset = 0, int depth = 0)
      : bytes_(bytes), base_(base_offset), depth_(depth) {}

  bool at_end() const { return pos_ >= bytes_.size(); }
  size_t position() const { return base_ + pos_; }  // absolute
  int depth() const { return depth_; }

  // Reads the next field into `field`.
  Status next(Field& field);
  // A reader over the payload of a length-delimited field, one nesting level deeper.
  Result<Reader> nested(const Field& field) const;

 private:
  std::span<const uint8_t> bytes_;
  size_t base_ = 0;
  size_t pos_ = 0;
  int depth_ = 0;
};

// Reads one varint (at most 10 bytes) at bytes[pos], advancing pos. `base` only names offsets.
Status read_varint(std::span<const uint8_t> bytes, size_t& pos, uint64_t& value, size_t base = 0);

// A field with the wrong wire type for what the schema says: kCorrupt naming both.
Status expect_wire(const Field& field, WireType expected, const char* what);

// Repeated scalar fields accept both encodings: packed (one length-delimited field holding all
// elements) and unpacked (one field per element). Each call appends what `field` holds.
Status append_varints(const Field& field, std::vector<uint64_t>& out, const char* what);
Status append_int64s(const Field& field, std::vector<int64_t>& out, const char* what);
Status append_int32s(const Field& field, std::vector<int32_t>& out, const char* what);
Status append_floats(const Field& field, std::vector<float>& out, const char* what);
Status append_doubles(const Field& field, std::vector<double>& out, const char* what);

}  // namespace fungen::proto
