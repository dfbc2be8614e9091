#include <gtest/gtest.h>

#include <set>
#include <string>

#include "ops/op.h"

namespace fungen {

TEST(OpRegistry, NamesAreUniqueAndFindable) {
  std::set<std::string> seen;
  for (const OpSchema* s : all_op_schemas()) {
    EXPECT_TRUE(seen.insert(std::string(s->name)).second) << s->name;
    EXPECT_EQ(find_op_schema(s->name), s);
    EXPECT_NE(s->infer, nullptr);
    EXPECT_NE(s->reference, nullptr);
  }
  EXPECT_EQ(find_op_schema("NoSuchOp"), nullptr);
}

}  // namespace fungen
