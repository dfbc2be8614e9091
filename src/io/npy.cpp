#include "io/npy.h"

#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string_view>

namespace fungen {
namespace {

constexpr char kMagic[] = "\x93NUMPY";

struct DescrEntry {
  const char* descr;
  DType dtype;
};
// Little-endian descriptors; '|' marks single-byte types.
constexpr DescrEntry kDescrs[] = {
    {"<f4", DType::kFloat32}, {"<f8", DType::kFloat64}, {"<f2", DType::kFloat16},
    {"<i8", DType::kInt64},   {"<i4", DType::kInt32},   {"<i2", DType::kInt16},
    {"|i1", DType::kInt8},    {"<u8", DType::kUInt64},  {"<u4", DType::kUInt32},
    {"<u2", DType::kUInt16},  {"|u1", DType::kUInt8},   {"|b1", DType::kBool},
};

// Finds 'key': in the header dict and returns the text after the colon.
std::string_view dict_value(std::string_view header, std::string_view key) {
  std::string quoted = "'" + std::string(key) + "'";
  size_t pos = header.find(quoted);
  if (pos == std::string_view::npos) return {};
  pos = header.find(':', pos + quoted.size());
  if (pos == std::string_view::npos) return {};
  std::string_view rest = header.substr(pos + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return rest;
}

Status parse_header(std::string_view header, const std::string& path, DType& dtype, Shape& shape) {
  auto bad = [&](const std::string& what) {
    return corrupt(path + ": not a valid .npy header (" + what + ")");
  };
  std::string_view descr = dict_value(header, "descr");
  if (descr.size() < 5 || descr[0] != '\'') return bad("no descr");
  std::string_view d = descr.substr(1, descr.find('\'', 1) - 1);
  dtype = DType::kUndefined;
  for (const DescrEntry& e : kDescrs) {
    if (d == e.descr || (d.size() == 3 && d[0] == '<' &&
                         std::string_view(e.descr).substr(1) == d.substr(1) && e.descr[0] == '|')) {
      dtype = e.dtype;
    }
  }
  if (dtype == DType::kUndefined) {
    return unsupported(
        path + ": .npy dtype '" + std::string(d) +
        "' is not supported (use little-endian float32/64, int8-64, uint8-64 or bool)");
  }
  std::string_view order = dict_value(header, "fortran_order");
  if (order.rfind("False", 0) != 0) {
    return unsupported(path +
                       ": Fortran-order .npy is not supported; save with np.ascontiguousarray");
  }
  std::string_view sh = dict_value(header, "shape");
  if (sh.empty() || sh.front() != '(') return bad("no shape");
  size_t close = sh.find(')');
  if (close == std::string_view::npos) return bad("unterminated shape");
  std::string_view dims = sh.substr(1, close - 1);
  shape.clear();
  size_t i = 0;
  while (i < dims.size()) {
    while (i < dims.size() && (dims[i] == ' ' || dims[i] == ',')) ++i;
    if (i >= dims.size()) break;
    int64_t v = 0;
    size_t start = i;
    while (i < dims.size() && dims[i] >= '0' && dims[i] <= '9') {
      if (v > (int64_t{1} << 40)) return bad("dimension too large");
      v = v * 10 + (dims[i] - '0');
      ++i;
    }
    if (i == start) return bad("bad dimension");
    shape.push_back(v);
    if (shape.size() > 16) return bad("too many dimensions");
  }
  return Status();
}

}  // namespace

Result<Tensor> read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found(path + ": cannot open (" + std::strerror(errno) + ")");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0) {
    return corrupt(path + ": not a .npy file (no \\x93NUMPY magic); write inputs with numpy.save");
  }
  int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return corrupt(path + ": truncated .npy header");
    header_len = 0;
    for (int b = 0; b < 4; ++b)
      header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + b])) << (8 * b);
    header_start = 12;
  } else {
    return unsupported(path + ": .npy format version " + std::to_string(major) +
                       " is not supported");
  }
  if (header_start + header_len > bytes.size()) return corrupt(path + ": truncated .npy header");
  DType dtype;
  Shape shape;
  FUNGEN_RETURN_IF_ERROR(
      parse_header(std::string_view(bytes).substr(header_start, header_len), path, dtype, shape));
  size_t data_start = header_start + header_len;
  size_t expected = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  if (bytes.size() - data_start != expected) {
    return corrupt(path + ": .npy holds " + std::to_string(bytes.size() - data_start) +
                   " data bytes but its header " + shape_to_string(shape) + " " +
                   dtype_name(dtype) + " needs " + std::to_string(expected) + " (truncated file?)");
  }
  Tensor t(dtype, shape);
  if (expected) std::memcpy(t.raw(), bytes.data() + data_start, expected);
  return t;
}

Status write_file_atomically(const std::string& path, const std::string& bytes) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return io_error(path + ": cannot write (" + std::strerror(errno) + ")");
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = (std::fflush(f) == 0) && ok;
  int err = errno;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    return io_error(path + ": write failed (" + std::strerror(err ? err : errno) +
                    "); is the disk full?");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    std::remove(tmp.c_str());
    return io_error(path + ": cannot rename temporary file (" + std::strerror(e) + ")");
  }
  return Status();
}

Status write_npy(const std::string& path, const Tensor& tensor) {
  const char* descr = nullptr;
  for (const DescrEntry& e : kDescrs) {
    if (e.dtype == tensor.dtype()) descr = e.descr;
  }
  if (!descr) return unsupported("cannot write dtype " + dtype_name(tensor.dtype()) + " to .npy");
  std::ostringstream dict;
  dict << "{'descr': '" << descr << "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < tensor.shape().size(); ++i) {
    dict << tensor.shape()[i]
         << (tensor.shape().size() == 1 ? "," : (i + 1 < tensor.shape().size() ? ", " : ""));
  }
  dict << "), }";
  std::string header = dict.str();
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string out(kMagic, 6);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>((header.size() >> 8) & 0xff));
  out += header;
  out.append(static_cast<const char*>(tensor.raw()), tensor.nbytes());
  return write_file_atomically(path, out);
}

}  // namespace fungen
