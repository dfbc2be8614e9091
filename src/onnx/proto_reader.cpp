#include "onnx/proto_reader.h"

#include <bit>
#include <cstring>

namespace fungen::proto {

static_assert(std::endian::native == std::endian::little,
              "the protobuf reader assumes a little-endian host");

namespace {

constexpr uint32_t kMaxFieldNumber = (1u << 29) - 1;

Status wire_error(size_t offset, const std::string& what) {
  return corrupt("bad protobuf at byte " + std::to_string(offset) + ": " + what);
}

uint64_t load_le(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  std::memcpy(&v, p, n);  // little-endian host (asserted above)
  return v;
}

}  // namespace

const char* wire_type_name(WireType wire) {
  switch (wire) {
    case WireType::kVarint:
      return "varint";
    case WireType::kFixed64:
      return "fixed64";
    case WireType::kLengthDelimited:
      return "length-delimited";
    case WireType::kStartGroup:
      return "start-group";
    case WireType::kEndGroup:
      return "end-group";
    case WireType::kFixed32:
      return "fixed32";
  }
  return "invalid";
}

float Field::as_float() const {
  uint32_t bits = static_cast<uint32_t>(scalar);
  return std::bit_cast<float>(bits);
}

double Field::as_double() const {
  return std::bit_cast<double>(scalar);
}

Status read_varint(std::span<const uint8_t> bytes, size_t& pos, uint64_t& value, size_t base) {
  const size_t start = pos;
  uint64_t result = 0;
  for (int i = 0; i < 10; ++i) {
    if (pos >= bytes.size()) return wire_error(base + start, "truncated varint");
    uint8_t b = bytes[pos++];
    if (i == 9 && b > 1) return wire_error(base + start, "varint overflows 64 bits");
    result |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      value = result;
      return Status();
    }
  }
  return wire_error(base + start, "varint longer than 10 bytes");
}

Status Reader::next(Field& field) {
  field = Field();
  field.offset = position();
  uint64_t tag = 0;
  FUNGEN_RETURN_IF_ERROR(read_varint(bytes_, pos_, tag, base_));
  if (tag > 0xffffffffu) return wire_error(field.offset, "field tag does not fit 32 bits");
  const uint32_t number = static_cast<uint32_t>(tag >> 3);
  const uint32_t wire = static_cast<uint32_t>(tag & 7);
  if (number == 0) return wire_error(field.offset, "field number 0");
  if (number > kMaxFieldNumber) return wire_error(field.offset, "field number out of range");
  field.number = number;
  switch (wire) {
    case 0:
      field.wire = WireType::kVarint;
      return read_varint(bytes_, pos_, field.scalar, base_);
    case 1:
    case 5: {
      const size_t n = wire == 1 ? 8 : 4;
      field.wire = wire == 1 ? WireType::kFixed64 : WireType::kFixed32;
      if (bytes_.size() - pos_ < n) {
        return wire_error(field.offset, "truncated " + std::string(wire_type_name(field.wire)) +
                                            " field " + std::to_string(number));
      }
      field.scalar = load_le(bytes_.data() + pos_, n);
      pos_ += n;
      return Status();
    }
    case 2: {
      field.wire = WireType::kLengthDelimited;
      uint64_t length = 0;
      FUNGEN_RETURN_IF_ERROR(read_varint(bytes_, pos_, length, base_));
      const size_t left = bytes_.size() - pos_;
      if (length > left) {
        return wire_error(field.offset, "field " + std::to_string(number) + " claims " +
                                            std::to_string(length) + " bytes but only " +
                                            std::to_string(left) +
                                            " are left in its message (truncated file?)");
      }
      field.payload_offset = position();
      field.bytes = bytes_.subspan(pos_, static_cast<size_t>(length));
      pos_ += static_cast<size_t>(length);
      return Status();
    }
    case 3:
    case 4:
      return wire_error(field.offset, "field " + std::to_string(number) +
                                          " is a protobuf group, which ONNX never uses");
    default:
      return wire_error(field.offset, "invalid wire type " + std::to_string(wire) + " for field " +
                                          std::to_string(number));
  }
}

Result<Reader> Reader::nested(const Field& field) const {
  if (field.wire != WireType::kLengthDelimited) {
    return wire_error(field.offset, "field " + std::to_string(field.number) +
                                        " should be a message but has wire type " +
                                        wire_type_name(field.wire));
  }
  if (depth_ + 1 > kMaxDepth) {
    return wire_error(field.offset, "messages nested deeper than " + std::to_string(kMaxDepth));
  }
  return Reader(field.bytes, field.payload_offset, depth_ + 1);
}

Status expect_wire(const Field& field, WireType expected, const char* what) {
  if (field.wire == expected) return Status();
  return wire_error(field.offset, std::string(what) + " (field " + std::to_string(field.number) +
                                      ") has wire type " + wire_type_name(field.wire) +
                                      ", expected " + wire_type_name(expected));
}

Status append_varints(const Field& field, std::vector<uint64_t>& out, const char* what) {
  if (field.wire == WireType::kVarint) {
    out.push_back(field.scalar);
    return Status();
  }
  FUNGEN_RETURN_IF_ERROR(expect_wire(field, WireType::kLengthDelimited, what));
  size_t pos = 0;
  while (pos < field.bytes.size()) {
    uint64_t v = 0;
    FUNGEN_RETURN_IF_ERROR(read_varint(field.bytes, pos, v, field.payload_offset));
    out.push_back(v);
  }
  return Status();
}

namespace {

template <class T>
Status append_varints_as(const Field& field, std::vector<T>& out, const char* what) {
  if (field.wire == WireType::kVarint) {
    out.push_back(static_cast<T>(field.scalar));
    return Status();
  }
  FUNGEN_RETURN_IF_ERROR(expect_wire(field, WireType::kLengthDelimited, what));
  size_t pos = 0;
  while (pos < field.bytes.size()) {
    uint64_t v = 0;
    FUNGEN_RETURN_IF_ERROR(read_varint(field.bytes, pos, v, field.payload_offset));
    // int32 values arrive sign-extended to 64 bits; the low bits are the value (C++20 modular).
    out.push_back(static_cast<T>(v));
  }
  return Status();
}

template <class T, class Bits>
Status append_fixed(const Field& field, std::vector<T>& out, const char* what) {
  constexpr WireType kScalarWire = sizeof(Bits) == 4 ? WireType::kFixed32 : WireType::kFixed64;
  if (field.wire == kScalarWire) {
    out.push_back(std::bit_cast<T>(static_cast<Bits>(field.scalar)));
    return Status();
  }
  FUNGEN_RETURN_IF_ERROR(expect_wire(field, WireType::kLengthDelimited, what));
  if (field.bytes.size() % sizeof(T) != 0) {
    return wire_error(field.offset, std::string("packed ") + what + " has " +
                                        std::to_string(field.bytes.size()) +
                                        " bytes, not a multiple of " + std::to_string(sizeof(T)));
  }
  const size_t n = field.bytes.size() / sizeof(T);
  const size_t old = out.size();
  out.resize(old + n);
  if (n) std::memcpy(out.data() + old, field.bytes.data(), n * sizeof(T));
  return Status();
}

}  // namespace

Status append_int64s(const Field& field, std::vector<int64_t>& out, const char* what) {
  return append_varints_as<int64_t>(field, out, what);
}

Status append_int32s(const Field& field, std::vector<int32_t>& out, const char* what) {
  return append_varints_as<int32_t>(field, out, what);
}

Status append_floats(const Field& field, std::vector<float>& out, const char* what) {
  return append_fixed<float, uint32_t>(field, out, what);
}

Status append_doubles(const Field& field, std::vector<double>& out, const char* what) {
  return append_fixed<double, uint64_t>(field, out, what);
}

}  // namespace fungen::proto
