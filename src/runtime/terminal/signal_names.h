#pragma once

#include <string>
#include <string_view>

namespace gocrate {

// A signal as docker's --signal and StopSignal take it: "SIGTERM", "TERM",
// "term" or "15". An unknown one is an error naming `what` and the text.
int parse_signal(std::string_view text, std::string_view what);
// "SIGTERM"; "SIG34" for a signal without a name.
std::string signal_name(int sig);

}  // namespace gocrate
