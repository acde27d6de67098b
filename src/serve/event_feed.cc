#include "serve/event_feed.h"

#include <fmt/format.h>

#include <cstdlib>

#include "util/error.h"

namespace gocrate {

EventFeed::EventFeed(std::string store_root, size_t keep) : store_root_(std::move(store_root)), keep_(keep) {}

EventFeed::~EventFeed() {
  // The follower waits in poll() for the journal to change; it ends with the process.
  if (thread_.joinable()) thread_.detach();
}

void EventFeed::start() {
  thread_ = std::thread([this] {
    try {
      read_events(store_root_, {}, true, [this](const Event& event) {
        {
          std::lock_guard lock(mutex_);
          EventTally& tally =
              counts_[{std::string(event_type_name(event.type)), counted_action(event.action)}];
          ++tally.count;
          if (auto d = event.attributes.find("duration"); d != event.attributes.end()) {
            char* end = nullptr;
            double seconds = std::strtod(d->second.c_str(), &end);
            if (end != d->second.c_str() && *end == 0 && seconds >= 0) {
              ++tally.timed;
              tally.seconds += seconds;
            }
          }
          events_.push_back({++last_, event_to_docker_json(event)});
          if (events_.size() > keep_) events_.pop_front();
        }
        changed_.notify_all();
        return true;
      });
    } catch (const std::exception& e) {
      fmt::print(stderr, "gocrate serve: events are not shown: {}\n", e.what());
    }
  });
}

std::vector<EventFeed::Entry> EventFeed::after(uint64_t sequence, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return last_ > sequence; });
  std::vector<Entry> out;
  for (const auto& e : events_) {
    if (e.sequence > sequence) out.push_back(e);
  }
  return out;
}

std::vector<EventFeed::Entry> EventFeed::recent() {
  std::lock_guard lock(mutex_);
  return {events_.begin(), events_.end()};
}

EventCounts EventFeed::counts() {
  std::lock_guard lock(mutex_);
  return counts_;
}

}  // namespace gocrate
