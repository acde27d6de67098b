#include "cli/commands.h"

int main(int argc, char** argv) {
  return gocrate::cli::main(argc, argv);
}
