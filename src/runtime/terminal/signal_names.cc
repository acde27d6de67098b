#include "runtime/terminal/signal_names.h"

#include <signal.h>
#include <string.h>

#include <cctype>

#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

int parse_signal(std::string_view text, std::string_view what) {
  int64_t number = 0;
  if (parse_int(text, 1, SIGRTMAX, number)) return static_cast<int>(number);
  std::string name;
  for (char c : text) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (name.starts_with("SIG")) name.erase(0, 3);
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbreviation = ::sigabbrev_np(sig);
    if (abbreviation && name == abbreviation) return sig;
  }
  fail("invalid {} \"{}\": use a signal name such as SIGTERM, or its number", what, text);
}

std::string signal_name(int sig) {
  const char* abbreviation = ::sigabbrev_np(sig);
  return abbreviation ? std::string("SIG") + abbreviation : "SIG" + std::to_string(sig);
}

}  // namespace gocrate
