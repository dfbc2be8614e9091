// npy.h — NumPy .npy files (format 1.0–3.0, C order, little-endian) to and from Tensors.
#pragma once

#include <string>

#include "fungen/status.h"
#include "fungen/tensor.h"

namespace fungen {

// Reads a .npy file; a missing file, a non-.npy file, Fortran order, an unsupported dtype or a
// size that disagrees with the header is an error naming the file.
Result<Tensor> read_npy(const std::string& path);

// Writes atomically: a temporary file beside `path`, renamed over it when complete.
Status write_npy(const std::string& path, const Tensor& tensor);

// Writes `bytes` to `path` through a temporary file and rename (shared by every file writer).
Status write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace fungen
