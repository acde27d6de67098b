#pragma once

#include <mutex>
#include <string>
#include <vector>

namespace gocrate {

// Status lines that redraw in place on a terminal ("linux/arm64  packing"),
// one per task. When stderr is not a terminal it prints nothing, so piped
// output and logs stay clean. Thread-safe.
class Progress {
 public:
  explicit Progress(bool enabled);
  ~Progress();
  size_t add(std::string label);
  void set(size_t line, std::string status);
  // Stops redrawing; the last state stays on screen.
  void finish();
  bool enabled() const { return enabled_; }

  // Whether stderr is a terminal a person is looking at.
  static bool stderr_is_terminal();

 private:
  void redraw_locked();
  bool enabled_;
  std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> lines_;
  size_t drawn_ = 0;
  size_t label_width_ = 0;
};

}  // namespace gocrate
