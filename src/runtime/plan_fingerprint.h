// plan_fingerprint.h — what a plan file was built for: the backend, the device and the software
// stack whose choices it holds. A plan whose fingerprint differs from the machine loading it is
// rebuilt from its source model (plan_file.h).
//
//   auto now = current_fingerprint("cuda", 0);
//   std::string why = fingerprint_difference(plan.fingerprint, now.value());  // "" when equal
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "fungen/status.h"

namespace fungen {

struct PlanFingerprint {
  std::string backend;             // "cuda" | "cpu" | "reference"
  std::string device;              // GPU name, or the CPU model
  std::string compute_capability;  // "9.0" ("" on the CPU)
  std::string driver;              // "13.0 (580.65.06)": CUDA API and kernel module ("" on the CPU)
  std::string cuda_runtime;        // "13.0" ("" on the CPU)
  std::string cudnn;               // "9.10.0" ("" on the CPU)
  std::string cpu_features;        // on the CPU: the ISA extensions oneDNN may pick by
  std::string fungen_version;

  // (field name, value) in a fixed order: what the file stores and what messages print.
  std::vector<std::pair<std::string, std::string>> fields() const;
  // Sets the field `name`; false for a name this fungen does not know (ignored when reading).
  bool set_field(const std::string& name, const std::string& value);
  bool operator==(const PlanFingerprint&) const = default;
};

// The fingerprint of this machine for `backend` ("cuda" needs a CUDA build and device `device`).
Result<PlanFingerprint> current_fingerprint(const std::string& backend, int device = 0);

// One line naming every field that differs, "GPU 'NVIDIA A100' -> 'NVIDIA H100', cuDNN 9.1.0 ->
// 9.10.0"; "" when the fingerprints are equal.
std::string fingerprint_difference(const PlanFingerprint& plan, const PlanFingerprint& now);

// "580.65.06" from the text of /proc/driver/nvidia/version ("" when it names no kernel module).
std::string nvidia_driver_version(const std::string& proc_text);

// "13.0" from 13000 (CUDA's major*1000 + minor*10); "9.10.0" from cuDNN 9's 91000.
std::string cuda_version_string(int version);
std::string cudnn_version_string(size_t version);

}  // namespace fungen
