#include "util/thread_pool.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <utility>

namespace fungen {

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)) {
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

namespace {
std::pair<int64_t, int64_t> chunk_range(int64_t begin, int64_t end, int64_t chunks, int64_t i) {
  int64_t n = end - begin;
  return {begin + n * i / chunks, begin + n * (i + 1) / chunks};
}
}  // namespace

void ThreadPool::run_chunks(int64_t begin, int64_t end, ChunkFn fn) {
  if (end <= begin) return;
  int64_t chunks = std::min<int64_t>(threads_, end - begin);
  if (chunks <= 1) {
    fn.invoke(fn.fn, begin, end);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = fn;
    job_begin_ = begin;
    job_end_ = end;
    job_chunks_ = chunks;
    pending_ = static_cast<int>(chunks - 1);
    ++generation_;
  }
  wake_.notify_all();
  auto [b, e] = chunk_range(begin, end, chunks, 0);
  fn.invoke(fn.fn, b, e);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [this] { return pending_ == 0; });
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    ChunkFn fn{nullptr, nullptr};
    int64_t b = 0, e = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= job_chunks_) continue;
      fn = job_;
      std::tie(b, e) = chunk_range(job_begin_, job_end_, job_chunks_, index);
    }
    fn.invoke(fn.fn, b, e);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_one();
    }
  }
}

int ThreadPool::physical_cores() {
  // Count distinct (physical id, core id) pairs; fall back to logical CPUs.
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::string line, phys = "0";
  while (std::getline(in, line)) {
    auto value = [&] { return line.substr(line.find(':') + 1); };
    if (line.rfind("physical id", 0) == 0) phys = value();
    if (line.rfind("core id", 0) == 0) cores.emplace(phys, value());
  }
  int n = static_cast<int>(cores.size());
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, n);
}

}  // namespace fungen
