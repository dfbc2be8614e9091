// device_run.h — engine internals for callers that keep data on the accelerator (the detector's
// GPU pre/post-processing, detect/gpu_pipeline.h): when one kernel of a device backend computes
// a whole plan, the caller writes the graph input straight into that kernel's device buffer,
// launches the compute on its stream and reads the graph output on the device, so nothing but
// what it chooses crosses PCIe.
//
//   DeviceRun* run = device_run_of(engine, shapes).value();   // nullptr: no single device run
//   DeviceBuffer in = run->device_input(0);                   // write it on run->stream()
//   run->enqueue();                                           // no host copies, no sync
//   DeviceBuffer out = run->device_output(0);                 // read it on run->stream()
#pragma once

#include <span>

#include "fungen/engine.h"
#include "fungen/status.h"
#include "fungen/tensor.h"

namespace fungen {

// A tensor in device memory, plain row-major layout.
struct DeviceBuffer {
  void* data = nullptr;
  DType dtype = DType::kUndefined;
  Shape shape;
};

class DeviceRun {
 public:
  virtual ~DeviceRun() = default;
  // Where graph input i is read from by enqueue() (fp16 or fp32, the backend's precision).
  virtual DeviceBuffer device_input(size_t i) const = 0;
  // Where graph output i is after enqueue() (fp32).
  virtual DeviceBuffer device_output(size_t i) const = 0;
  // The stream (cudaStream_t) the compute runs on; the caller's work goes on it too.
  virtual void* device_stream() const = 0;
  // Launches the compute from device_input to device_output on device_stream() without host
  // copies or synchronization. After one call it may be captured in a CUDA graph by the caller.
  virtual Status enqueue() = 0;
};

// The device run that computes the whole plan of `engine` for these input shapes (prepared on
// the way), in graph input/output order; nullptr when the plan is not one device run (part of
// the graph on the CPU, or a CPU engine). Valid as long as the engine.
Result<DeviceRun*> device_run_of(Engine& engine, std::span<const Shape> input_shapes);

}  // namespace fungen
