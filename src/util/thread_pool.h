// thread_pool.h — one pool of worker threads shared by the kernels of an engine.
//
//   pool.parallel_for(0, n, [&](int64_t begin, int64_t end) { ... });  // blocks until done
//
// parallel_for splits [begin, end) into at most threads() contiguous chunks; the calling thread
// runs one of them. It allocates nothing per call.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace fungen {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }

  template <class F>
  void parallel_for(int64_t begin, int64_t end, F&& body) {
    using Body = std::remove_reference_t<F>;
    run_chunks(begin, end,
               ChunkFn(const_cast<void*>(static_cast<const void*>(&body)),
                       [](void* f, int64_t b, int64_t e) { (*static_cast<Body*>(f))(b, e); }));
  }

  // Physical cores of this machine (logical CPUs / SMT siblings), at least 1.
  static int physical_cores();

 private:
  struct ChunkFn {
    ChunkFn(void* f, void (*call)(void*, int64_t, int64_t)) : fn(f), invoke(call) {}
    void* fn;
    void (*invoke)(void*, int64_t, int64_t);
  };
  void run_chunks(int64_t begin, int64_t end, ChunkFn fn);
  void worker(int index);

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
  // Current job.
  ChunkFn job_{nullptr, nullptr};
  int64_t job_begin_ = 0, job_end_ = 0, job_chunks_ = 0;
};

// Runs body(begin, end) over [0, count): split over `pool` when there is one with several threads,
// else in one call on this thread.
template <class F>
void parallel_over(ThreadPool* pool, int64_t count, F&& body) {
  if (pool && pool->threads() > 1 && count > 1) {
    pool->parallel_for(0, count, body);
  } else {
    body(0, count);
  }
}

}  // namespace fungen
