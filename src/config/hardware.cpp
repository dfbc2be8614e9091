// hardware.cpp — what machine this is: CPU (model, cores, features), RAM, CUDA devices. The CUDA
// driver is opened with dlopen so that every build, CPU-only included, can say which GPUs exist.
#include <dlfcn.h>
#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "fungen/config.h"

namespace fungen {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

void read_cpuinfo(HardwareInfo& hw) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::pair<int, int>> cores;
  int physical_id = 0;
  std::set<std::string> flags;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = trim(line.substr(0, colon));
    std::string value = trim(line.substr(colon + 1));
    if ((key == "model name" || key == "Model" || key == "cpu model") && hw.cpu_model.empty()) {
      hw.cpu_model = value;
    } else if (key == "physical id") {
      physical_id = std::atoi(value.c_str());
    } else if (key == "core id") {
      cores.emplace(physical_id, std::atoi(value.c_str()));
    } else if ((key == "flags" || key == "Features") && flags.empty()) {
      std::istringstream ss(value);
      std::string f;
      while (ss >> f) flags.insert(f);
    }
  }
  static const char* interesting[] = {
      "sse4_2",   "avx",         "avx2",        "fma",         "f16c",     "avx512f",  "avx512bw",
      "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "asimd",
      "asimdhp",  "asimddp",     "sve",         "sve2",        "bf16",     "i8mm"};
  for (const char* f : interesting) {
    if (flags.count(f)) hw.cpu_features.push_back(f);
  }
  hw.physical_cores = cores.empty() ? hw.logical_cpus : static_cast<int>(cores.size());
  hw.physical_cores = std::clamp(hw.physical_cores, 1, hw.logical_cpus);
}

double meminfo_gb(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      return std::atof(line.c_str() + key.size() + 1) / (1024.0 * 1024.0);  // kB -> GB
    }
  }
  return 0;
}

// cgroup v2 memory limit of this process, if any (containers).
double cgroup_limit_gb() {
  std::ifstream in("/sys/fs/cgroup/memory.max");
  std::string v;
  if (!(in >> v) || v == "max") return 0;
  return std::atof(v.c_str()) / (1024.0 * 1024.0 * 1024.0);
}

void read_cuda(HardwareInfo& hw) {
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    hw.cuda_status = "no NVIDIA driver (libcuda.so.1 not found)";
    return;
  }
  using InitFn = int (*)(unsigned);
  using VersionFn = int (*)(int*);
  using CountFn = int (*)(int*);
  using GetFn = int (*)(int*, int);
  using NameFn = int (*)(char*, int, int);
  using MemFn = int (*)(size_t*, int);
  using AttrFn = int (*)(int*, int, int);
  auto cu_init = reinterpret_cast<InitFn>(dlsym(lib, "cuInit"));
  auto cu_version = reinterpret_cast<VersionFn>(dlsym(lib, "cuDriverGetVersion"));
  auto cu_count = reinterpret_cast<CountFn>(dlsym(lib, "cuDeviceGetCount"));
  auto cu_get = reinterpret_cast<GetFn>(dlsym(lib, "cuDeviceGet"));
  auto cu_name = reinterpret_cast<NameFn>(dlsym(lib, "cuDeviceGetName"));
  auto cu_mem = reinterpret_cast<MemFn>(dlsym(lib, "cuDeviceTotalMem_v2"));
  if (cu_mem == nullptr) cu_mem = reinterpret_cast<MemFn>(dlsym(lib, "cuDeviceTotalMem"));
  auto cu_attr = reinterpret_cast<AttrFn>(dlsym(lib, "cuDeviceGetAttribute"));
  if (!cu_init || !cu_count || !cu_get || !cu_name || !cu_mem) {
    hw.cuda_status = "libcuda.so.1 lacks the driver API entry points";
    return;  // the library stays loaded: unloading a driver is not worth the risk
  }
  if (cu_version) cu_version(&hw.cuda_driver_version);
  int rc = cu_init(0);
  if (rc != 0) {
    hw.cuda_status = "cuInit failed with CUDA error " + std::to_string(rc) +
                     (rc == 100 ? " (no CUDA-capable device)" : "");
    return;
  }
  int count = 0;
  if (cu_count(&count) != 0) count = 0;
  for (int i = 0; i < count; ++i) {
    int dev = 0;
    if (cu_get(&dev, i) != 0) continue;
    GpuInfo g;
    g.index = i;
    char name[256] = {0};
    if (cu_name(name, sizeof(name) - 1, dev) == 0) g.name = name;
    size_t bytes = 0;
    if (cu_mem(&bytes, dev) == 0)
      g.memory_gb = static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0);
    if (cu_attr) {
      cu_attr(&g.compute_major, 75, dev);  // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
      cu_attr(&g.compute_minor, 76, dev);  // ..._MINOR
    }
    hw.gpus.push_back(g);
  }
  hw.cuda_status = count > 0 ? "ok" : "the driver reports no CUDA devices";
}

}  // namespace

HardwareInfo detect_hardware() {
  HardwareInfo hw;
#if defined(__x86_64__)
  hw.arch = "x86_64";
#elif defined(__aarch64__)
  hw.arch = "aarch64";
#else
  hw.arch = "other";
#endif
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    hw.logical_cpus = std::max(CPU_COUNT(&set), 1);
  } else {
    hw.logical_cpus = std::max(static_cast<int>(std::thread::hardware_concurrency()), 1);
  }
  read_cpuinfo(hw);
  hw.ram_total_gb = meminfo_gb("MemTotal");
  hw.ram_available_gb = meminfo_gb("MemAvailable");
  double limit = cgroup_limit_gb();
  if (limit > 0) {
    hw.ram_total_gb = std::min(hw.ram_total_gb, limit);
    hw.ram_available_gb = std::min(hw.ram_available_gb, limit);
  }
  read_cuda(hw);
  return hw;
}

}  // namespace fungen
