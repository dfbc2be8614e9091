#include <gtest/gtest.h>

#include <random>

#include "graph/memory_plan.h"
#include "op_test_util.h"

namespace fungen {

TEST(MemoryPlan, LiveBuffersNeverOverlapAndMemoryIsReused) {
  uint32_t seed = test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<BufferRequest> reqs;
    int steps = 5 + static_cast<int>(rng() % 60);
    size_t total = 0;
    for (int s = 0; s < steps; ++s) {
      int count = 1 + static_cast<int>(rng() % 3);
      for (int c = 0; c < count; ++c) {
        int last = s + static_cast<int>(rng() % 6);
        size_t bytes = 1 + rng() % 100000;
        reqs.push_back({bytes, s, last});
        total += bytes;
      }
    }
    MemoryPlan plan = plan_memory(reqs);
    ASSERT_EQ(plan.offsets.size(), reqs.size());
    for (size_t a = 0; a < reqs.size(); ++a) {
      EXPECT_EQ(plan.offsets[a] % kArenaAlignment, 0u);
      EXPECT_LE(plan.offsets[a] + reqs[a].bytes, plan.arena_bytes);
      for (size_t b = a + 1; b < reqs.size(); ++b) {
        bool time_overlap =
            reqs[a].first_step <= reqs[b].last_step && reqs[b].first_step <= reqs[a].last_step;
        bool space_overlap = plan.offsets[a] < plan.offsets[b] + reqs[b].bytes &&
                             plan.offsets[b] < plan.offsets[a] + reqs[a].bytes;
        EXPECT_FALSE(time_overlap && space_overlap) << "buffers " << a << " and " << b;
      }
    }
    // Short lifetimes over many steps: the arena must be well below the sum of sizes.
    if (steps > 40) EXPECT_LT(plan.arena_bytes, total);
  }
}

TEST(MemoryPlan, ChainReusesTwoBuffers) {
  // A chain a->b->c->d: each buffer lives two steps, so two slots suffice.
  std::vector<BufferRequest> reqs;
  for (int s = 0; s < 10; ++s) reqs.push_back({1000, s, s + 1});
  MemoryPlan plan = plan_memory(reqs);
  EXPECT_EQ(plan.arena_bytes, 2 * 1024u);
}

}  // namespace fungen
