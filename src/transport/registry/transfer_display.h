#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "image/manifest.h"
#include "util/progress.h"

namespace gocrate {

// docker push/pull style lines on a terminal: one per blob with a bar and
// byte counts, and a total. Prints nothing when disabled. Thread-safe.
class TransferDisplay {
 public:
  explicit TransferDisplay(bool enabled);
  ~TransferDisplay();
  bool enabled() const { return progress_.enabled(); }
  void bytes(const Descriptor& blob, int64_t done);
  // "exists", "mounted", "pushed", "pulled"...
  void finished(const Descriptor& blob, std::string_view how);
  void finish();

 private:
  struct Line {
    size_t index;
    int64_t size;
    int64_t done = 0;
    bool finished = false;
    std::chrono::steady_clock::time_point drawn;
  };
  Line& line_locked(const Descriptor& blob);
  void draw_total_locked(bool force);

  Progress progress_;
  std::mutex mutex_;
  std::map<Digest, Line> lines_;
  size_t total_line_ = 0;
  bool has_total_ = false;
  std::chrono::steady_clock::time_point total_drawn_;
};

}  // namespace gocrate
