// model_discovery.h — find a model by name in a directory: NAME.engine > NAME.onnx > NAME.pt.
#pragma once

#include <string>
#include <vector>

#include "fungen/status.h"

namespace fungen::detect {

struct FoundModel {
  std::string path;                // what to load (a fungen .engine plan or an .onnx file)
  std::vector<std::string> notes;  // what was skipped or done on the way, one line each
};

// `name` may be a bare name ("yolo11n"), a file name with extension, or a path. Discovery:
//  - NAME.engine: loaded when it is a fungen plan (fungen convert; Engine::load rebuilds it when
//    it was built for another machine); any other .engine (TensorRT's or another tool's) is
//    foreign: skipped with a note, never loaded;
//  - NAME.onnx: loaded;
//  - NAME.pt: converted once to NAME.onnx beside it by running the Ultralytics exporter
//    (pt_export_command) when `allow_convert`; fungen never unpickles a .pt itself.
Result<FoundModel> find_model(const std::string& model_dir, const std::string& name,
                              bool allow_convert = true);

// The exporter command for a .pt file, as argv; $FUNGEN_PYTHON (default python3) runs it.
std::vector<std::string> pt_export_command(const std::string& pt_path);
std::string shell_quote_command(const std::vector<std::string>& argv);

// Runs the exporter; returns the .onnx path or an error that shows the command.
Result<std::string> convert_pt_to_onnx(const std::string& pt_path);

}  // namespace fungen::detect
