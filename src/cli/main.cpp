// fungen command-line tool: one file per subcommand under src/cli/.
#include <cstdio>

int main() {
  std::puts("fungen " FUNGEN_VERSION);
  return 0;
}
