#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "serve/metrics.h"
#include "store/events.h"

namespace gocrate {

// The store's events journal as `serve` shows it: one thread follows the
// journal (read_events, inotify) from its oldest record, keeps the latest
// `keep` events for the page and counts them all for /metrics.
class EventFeed {
 public:
  EventFeed(std::string store_root, size_t keep = 500);
  ~EventFeed();
  EventFeed(const EventFeed&) = delete;
  EventFeed& operator=(const EventFeed&) = delete;

  // Starts following; a journal that cannot be read is reported once on
  // stderr and the feed stays empty.
  void start();

  struct Entry {
    uint64_t sequence;    // 1, 2, ... in the order read
    nlohmann::json json;  // Docker's events.Message
  };
  // The kept events after `sequence`, oldest first; waits up to `timeout`
  // for one when there is none yet.
  std::vector<Entry> after(uint64_t sequence, std::chrono::milliseconds timeout);
  // The kept events, oldest first.
  std::vector<Entry> recent();
  EventCounts counts();

 private:
  std::string store_root_;
  size_t keep_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Entry> events_;
  uint64_t last_ = 0;
  EventCounts counts_;
  std::thread thread_;
};

}  // namespace gocrate
