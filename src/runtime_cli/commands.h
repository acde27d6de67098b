#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "runtime/oci/cli_args.h"

// The verbs of `gocrate-runtime`, runc's command line over runtime/oci: each
// parses its flags, calls the library and prints what runc prints.
namespace gocrate::oci::cli {

struct Verb {
  std::string_view name;
  std::string_view summary;    // a line of the verb list
  std::string_view arguments;  // "<container-id> [signal]"
  std::span<const FlagSpec> flags;
  FlagOrder order = FlagOrder::anywhere;
  size_t min_args = 0;
  size_t max_args = 0;
  // Returns the exit code; throws Error with the reason.
  int (*run)(const GlobalOptions& global, const Flags& flags) = nullptr;
  std::string_view refusal;  // a verb gocrate-runtime does not implement: why
};

// lifecycle.cc
extern const Verb kCreateVerb;
extern const Verb kStartVerb;
extern const Verb kRunVerb;
extern const Verb kKillVerb;
extern const Verb kDeleteVerb;
// exec.cc
extern const Verb kExecVerb;
// inspect.cc
extern const Verb kStateVerb;
extern const Verb kListVerb;
extern const Verb kPsVerb;
extern const Verb kFeaturesVerb;
// resources.cc
extern const Verb kPauseVerb;
extern const Verb kResumeVerb;
extern const Verb kUpdateVerb;
// spec_file.cc
extern const Verb kSpecVerb;

// A non-negative count flag (--preserve-fds).
int count_flag(const Flags& flags, std::string_view name);

}  // namespace gocrate::oci::cli
