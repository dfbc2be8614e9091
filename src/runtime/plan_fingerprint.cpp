#include "runtime/plan_fingerprint.h"

#include <fstream>
#include <iterator>

#include "fungen/config.h"
#include "runtime/backend.h"

namespace fungen {

std::vector<std::pair<std::string, std::string>> PlanFingerprint::fields() const {
  return {{"backend", backend},
          {"device", device},
          {"compute capability", compute_capability},
          {"driver", driver},
          {"CUDA runtime", cuda_runtime},
          {"cuDNN", cudnn},
          {"CPU features", cpu_features},
          {"fungen", fungen_version}};
}

bool PlanFingerprint::set_field(const std::string& name, const std::string& value) {
  std::string* slots[] = {&backend,      &device, &compute_capability, &driver,
                          &cuda_runtime, &cudnn,  &cpu_features,       &fungen_version};
  auto names = fields();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].first == name) {
      *slots[i] = value;
      return true;
    }
  }
  return false;
}

std::string nvidia_driver_version(const std::string& proc_text) {
  const std::string marker = "Kernel Module";
  size_t at = proc_text.find(marker);
  if (at == std::string::npos) return "";
  size_t begin = proc_text.find_first_not_of(" \t", at + marker.size());
  if (begin == std::string::npos) return "";
  size_t end = proc_text.find_first_of(" \t\n", begin);
  return proc_text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

std::string cuda_version_string(int version) {
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

std::string cudnn_version_string(size_t version) {
  // cuDNN 9: major*10000 + minor*100 + patch; cuDNN 8: major*1000 + minor*100 + patch.
  size_t major = version >= 90000 ? version / 10000 : version / 1000;
  size_t rest = version >= 90000 ? version % 10000 : version % 1000;
  return std::to_string(major) + "." + std::to_string(rest / 100) + "." +
         std::to_string(rest % 100);
}

Result<PlanFingerprint> current_fingerprint(const std::string& backend, int device) {
  PlanFingerprint fp;
  fp.backend = backend;
  fp.fungen_version = FUNGEN_VERSION;
  if (backend == "cuda") {
#ifdef FUNGEN_HAVE_CUDA
    auto info = cuda_device_info(device);
    if (!info.ok()) return info.status();
    fp.device = info->name;
    fp.compute_capability = std::to_string(info->major) + "." + std::to_string(info->minor);
    fp.driver = cuda_version_string(info->driver_version);
    std::ifstream proc("/proc/driver/nvidia/version");
    std::string text((std::istreambuf_iterator<char>(proc)), std::istreambuf_iterator<char>());
    if (std::string kernel = nvidia_driver_version(text); !kernel.empty()) {
      fp.driver += " (" + kernel + ")";
    }
    fp.cuda_runtime = cuda_version_string(info->runtime_version);
    fp.cudnn = cudnn_version_string(info->cudnn_version);
    return fp;
#else
    return unsupported(
        "no CUDA device: this build of fungen has no CUDA backend (rebuild with "
        "-DFUNGEN_CUDA=ON)");
#endif
  }
  if (backend != "cpu" && backend != "reference") {
    return invalid_argument("a plan's backend is cuda, cpu or reference, not '" + backend + "'");
  }
  HardwareInfo hw = detect_hardware();
  fp.device = hw.cpu_model.empty() ? hw.arch : hw.cpu_model;
  for (const std::string& f : hw.cpu_features) {
    if (!fp.cpu_features.empty()) fp.cpu_features += ' ';
    fp.cpu_features += f;
  }
  return fp;
}

std::string fingerprint_difference(const PlanFingerprint& plan, const PlanFingerprint& now) {
  std::string out;
  auto a = plan.fields(), b = now.fields();
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].second == b[i].second) continue;
    if (!out.empty()) out += ", ";
    out += a[i].first + " '" + a[i].second + "' -> '" + b[i].second + "'";
  }
  return out;
}

}  // namespace fungen
