// assert.h — internal invariants. A failed FUNGEN_ASSERT is a fungen bug, never a user error
// (user errors are Status values): it prints file:line and the condition, then aborts.
#pragma once

namespace fungen::detail {
[[noreturn]] void assert_fail(const char* condition, const char* file, int line);
}

#define FUNGEN_ASSERT(cond) \
  ((cond) ? static_cast<void>(0) : ::fungen::detail::assert_fail(#cond, __FILE__, __LINE__))
