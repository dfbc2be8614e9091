// TensorProto -> Tensor: dims, data_type, raw_data or the typed *_data fields, external data.
#include <cstring>
#include <limits>

#include "onnx/onnx_import.h"
#include "onnx/onnx_parse.h"

namespace fungen {
namespace onnx_detail {
namespace {

// TensorProto field numbers (onnx.proto3).
enum TensorField : uint32_t {
  kDims = 1,
  kDataType = 2,
  kSegment = 3,
  kFloatData = 4,
  kInt32Data = 5,
  kStringData = 6,
  kInt64Data = 7,
  kName = 8,
  kRawData = 9,
  kDoubleData = 10,
  kUInt64Data = 11,
  kExternalData = 13,
  kDataLocation = 14,
};

std::string onnx_dtype_label(int32_t v) {
  switch (v) {
    case 14:
      return "COMPLEX64";
    case 15:
      return "COMPLEX128";
    case 17:
      return "FLOAT8E4M3FN";
    case 18:
      return "FLOAT8E4M3FNUZ";
    case 19:
      return "FLOAT8E5M2";
    case 20:
      return "FLOAT8E5M2FNUZ";
    case 21:
      return "UINT4";
    case 22:
      return "INT4";
    case 23:
      return "FLOAT4E2M1";
    default:
      return dtype_name(static_cast<DType>(v));
  }
}

// The typed field the spec stores `dtype` in.
uint32_t typed_field_for(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return kFloatData;
    case DType::kInt64:
      return kInt64Data;
    case DType::kFloat64:
      return kDoubleData;
    case DType::kUInt32:
    case DType::kUInt64:
      return kUInt64Data;
    default:
      return kInt32Data;  // int32, int16, int8, uint16, uint8, bool, float16, bfloat16
  }
}

struct TensorFields {
  std::string name;
  Shape dims;
  int32_t data_type = 0;
  bool has_raw = false;
  std::span<const uint8_t> raw;
  std::vector<float> floats;
  std::vector<int32_t> int32s;
  std::vector<int64_t> int64s;
  std::vector<double> doubles;
  std::vector<uint64_t> uint64s;
  size_t strings = 0;
  bool has_segment = false;
  bool external = false;
  std::string external_location;
};

Status read_external_entry(proto::Reader r, TensorFields& t) {
  std::string key, value;
  proto::Field f;
  while (!r.at_end()) {
    FUNGEN_RETURN_IF_ERROR(r.next(f));
    if (f.number == 1 || f.number == 2) {
      FUNGEN_RETURN_IF_ERROR(
          proto::expect_wire(f, proto::WireType::kLengthDelimited, "external_data entry"));
      (f.number == 1 ? key : value) = f.as_string();
    }
  }
  if (key == "location") t.external_location = value;
  return Status();
}

Status read_fields(proto::Reader& r, TensorFields& t) {
  using proto::WireType;
  proto::Field f;
  while (!r.at_end()) {
    FUNGEN_RETURN_IF_ERROR(r.next(f));
    switch (f.number) {
      case kDims:
        FUNGEN_RETURN_IF_ERROR(proto::append_int64s(f, t.dims, "TensorProto.dims"));
        break;
      case kDataType:
        FUNGEN_RETURN_IF_ERROR(proto::expect_wire(f, WireType::kVarint, "TensorProto.data_type"));
        t.data_type = f.as_int32();
        break;
      case kSegment:
        t.has_segment = true;
        break;
      case kFloatData:
        FUNGEN_RETURN_IF_ERROR(proto::append_floats(f, t.floats, "TensorProto.float_data"));
        break;
      case kInt32Data:
        FUNGEN_RETURN_IF_ERROR(proto::append_int32s(f, t.int32s, "TensorProto.int32_data"));
        break;
      case kStringData:
        ++t.strings;
        break;
      case kInt64Data:
        FUNGEN_RETURN_IF_ERROR(proto::append_int64s(f, t.int64s, "TensorProto.int64_data"));
        break;
      case kName:
        FUNGEN_RETURN_IF_ERROR(
            proto::expect_wire(f, WireType::kLengthDelimited, "TensorProto.name"));
        t.name = f.as_string();
        break;
      case kRawData:
        FUNGEN_RETURN_IF_ERROR(
            proto::expect_wire(f, WireType::kLengthDelimited, "TensorProto.raw_data"));
        t.has_raw = true;
        t.raw = f.bytes;
        break;
      case kDoubleData:
        FUNGEN_RETURN_IF_ERROR(proto::append_doubles(f, t.doubles, "TensorProto.double_data"));
        break;
      case kUInt64Data:
        FUNGEN_RETURN_IF_ERROR(proto::append_varints(f, t.uint64s, "TensorProto.uint64_data"));
        break;
      case kExternalData: {
        t.external = true;
        FUNGEN_ASSIGN_OR_RETURN(proto::Reader entry, r.nested(f));
        FUNGEN_RETURN_IF_ERROR(read_external_entry(entry, t));
        break;
      }
      case kDataLocation:
        FUNGEN_RETURN_IF_ERROR(
            proto::expect_wire(f, WireType::kVarint, "TensorProto.data_location"));
        if (f.scalar == 1) t.external = true;
        break;
      default:
        break;  // doc_string, metadata_props, fields newer than this reader
    }
  }
  return Status();
}

// Copies `src` into `dst` element by element, narrowing to the tensor's element type.
template <class Dst, class Src>
void copy_elements(const std::vector<Src>& src, Tensor& dst) {
  Dst* out = dst.data<Dst>();
  for (size_t i = 0; i < src.size(); ++i) out[i] = static_cast<Dst>(src[i]);
}

size_t typed_count(const TensorFields& t, uint32_t field) {
  switch (field) {
    case kFloatData:
      return t.floats.size();
    case kInt32Data:
      return t.int32s.size();
    case kInt64Data:
      return t.int64s.size();
    case kDoubleData:
      return t.doubles.size();
    case kUInt64Data:
      return t.uint64s.size();
    default:
      return 0;
  }
}

void fill_typed(const TensorFields& t, Tensor& out) {
  switch (out.dtype()) {
    case DType::kFloat32:
      copy_elements<float>(t.floats, out);
      break;
    case DType::kFloat64:
      copy_elements<double>(t.doubles, out);
      break;
    case DType::kInt64:
      copy_elements<int64_t>(t.int64s, out);
      break;
    case DType::kUInt64:
      copy_elements<uint64_t>(t.uint64s, out);
      break;
    case DType::kUInt32:
      copy_elements<uint32_t>(t.uint64s, out);
      break;
    case DType::kInt32:
      copy_elements<int32_t>(t.int32s, out);
      break;
    case DType::kInt16:
      copy_elements<int16_t>(t.int32s, out);
      break;
    case DType::kInt8:
      copy_elements<int8_t>(t.int32s, out);
      break;
    case DType::kUInt8:
      copy_elements<uint8_t>(t.int32s, out);
      break;
    case DType::kBool:
      copy_elements<uint8_t>(t.int32s, out);
      break;
    // float16/bfloat16 travel as their bit patterns in the low 16 bits.
    case DType::kUInt16:
    case DType::kFloat16:
    case DType::kBFloat16:
      copy_elements<uint16_t>(t.int32s, out);
      break;
    default:
      break;
  }
}

}  // namespace

Result<Tensor> read_tensor(proto::Reader reader, std::string* name) {
  TensorFields t;
  FUNGEN_RETURN_IF_ERROR(read_fields(reader, t));
  if (name) *name = t.name;
  const std::string what = t.name.empty() ? "tensor" : "tensor '" + t.name + "'";

  if (t.external) {
    return unsupported("model uses external data (" + what + " is stored in '" +
                       (t.external_location.empty() ? "<no location>" : t.external_location) +
                       "'); re-export with the weights inside the .onnx");
  }
  if (t.has_segment)
    return unsupported(what + " is stored in segments, which fungen does not read");
  if (t.data_type == 0) return corrupt(what + " has no data type");
  if (t.data_type == static_cast<int32_t>(DType::kString) || t.strings) {
    return unsupported(what + " is a string tensor; fungen computes on numeric tensors only");
  }
  if (!dtype_is_known(t.data_type)) {
    return unsupported(what + " has data type " + std::to_string(t.data_type) + " (" +
                       onnx_dtype_label(t.data_type) + "), which fungen does not support");
  }
  const DType dtype = static_cast<DType>(t.data_type);
  const size_t elem = dtype_size(dtype);

  // Element count, refusing negative dims and any product that could not fit in memory.
  constexpr int64_t kLimit = std::numeric_limits<int64_t>::max() / 16;
  int64_t numel = 1;
  bool zero = false;
  for (int64_t d : t.dims) {
    if (d < 0) return corrupt(what + " has a negative dimension in " + shape_to_string(t.dims));
    if (d == 0) {
      zero = true;
      continue;
    }
    if (numel > kLimit / d)
      return corrupt(what + " has dims " + shape_to_string(t.dims) + " too large for memory");
    numel *= d;
  }
  if (zero) numel = 0;

  const uint32_t typed = typed_field_for(dtype);
  for (uint32_t other : {kFloatData, kInt32Data, kInt64Data, kDoubleData, kUInt64Data}) {
    if (other != typed && typed_count(t, other) != 0 && !t.has_raw) {
      return corrupt(what + " of type " + dtype_name(dtype) +
                     " stores its values in the typed field for another type (field " +
                     std::to_string(other) + ")");
    }
  }

  const uint64_t need = static_cast<uint64_t>(numel) * elem;  // numel * 8 < 2^63 by kLimit
  if (t.has_raw) {
    if (t.raw.size() != need) {
      return corrupt(what + ": dims " + shape_to_string(t.dims) + " of " + dtype_name(dtype) +
                     " need " + std::to_string(need) + " bytes but raw_data holds " +
                     std::to_string(t.raw.size()));
    }
    Tensor out(dtype, t.dims);
    if (need) std::memcpy(out.raw(), t.raw.data(), need);
    return out;
  }
  const size_t count = typed_count(t, typed);
  if (count != static_cast<uint64_t>(numel)) {
    return corrupt(what + ": dims " + shape_to_string(t.dims) + " hold " + std::to_string(numel) +
                   " elements but the file stores " + std::to_string(count) +
                   (count == 0 ? " (no raw_data or typed data)" : ""));
  }
  Tensor out(dtype, t.dims);
  fill_typed(t, out);
  return out;
}

}  // namespace onnx_detail

Result<Tensor> parse_tensor_proto(std::span<const uint8_t> bytes, std::string* name) {
  Result<Tensor> r = onnx_detail::read_tensor(proto::Reader(bytes), name);
  if (!r.ok() && r.status().code() == StatusCode::kCorrupt) {
    return r.status().with_context("not a valid TensorProto");
  }
  return r;
}

}  // namespace fungen
