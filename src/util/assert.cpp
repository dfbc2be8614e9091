#include "util/assert.h"

#include <cstdio>
#include <cstdlib>

namespace fungen::detail {

void assert_fail(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "fungen: internal error: %s:%d: assertion failed: %s\n", file, line,
               condition);
  std::abort();
}

}  // namespace fungen::detail
