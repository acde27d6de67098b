#include "util/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace gocrate {

bool Progress::stderr_is_terminal() {
  const char* term = std::getenv("TERM");
  return ::isatty(STDERR_FILENO) && !(term && strcmp(term, "dumb") == 0);
}

Progress::Progress(bool enabled) : enabled_(enabled) {}

Progress::~Progress() {
  finish();
}

size_t Progress::add(std::string label) {
  std::lock_guard lock(mutex_);
  label_width_ = std::max(label_width_, label.size());
  lines_.emplace_back(std::move(label), "waiting");
  redraw_locked();
  return lines_.size() - 1;
}

void Progress::set(size_t line, std::string status) {
  std::lock_guard lock(mutex_);
  if (line >= lines_.size()) return;
  lines_[line].second = std::move(status);
  redraw_locked();
}

void Progress::redraw_locked() {
  if (!enabled_) return;
  std::string out;
  if (drawn_) out += fmt::format("\x1b[{}A", drawn_);
  for (const auto& [label, status] : lines_) {
    out += fmt::format("\r\x1b[2K{:<{}}  {}\n", label, label_width_, status);
  }
  drawn_ = lines_.size();
  fputs(out.c_str(), stderr);
  fflush(stderr);
}

void Progress::finish() {
  std::lock_guard lock(mutex_);
  enabled_ = false;
}

}  // namespace gocrate
