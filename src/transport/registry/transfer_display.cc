#include "transport/registry/transfer_display.h"

#include <fmt/format.h>

#include "util/strings.h"

namespace gocrate {

namespace {

constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

std::string bar(int64_t done, int64_t size) {
  constexpr int kWidth = 30;
  int filled = size > 0 ? static_cast<int>(kWidth * std::min(done, size) / size) : kWidth;
  std::string out = "[" + std::string(filled, '=');
  if (filled < kWidth) out += ">" + std::string(kWidth - filled - 1, ' ');
  return out + "]";
}

}  // namespace

TransferDisplay::TransferDisplay(bool enabled) : progress_(enabled) {}

TransferDisplay::~TransferDisplay() {
  finish();
}

TransferDisplay::Line& TransferDisplay::line_locked(const Descriptor& blob) {
  auto it = lines_.find(blob.digest);
  if (it != lines_.end()) return it->second;
  if (!has_total_) {
    total_line_ = progress_.add("total");
    has_total_ = true;
  }
  Line line{progress_.add(blob.digest.str().substr(0, 19)), blob.size};
  return lines_.emplace(blob.digest, line).first->second;
}

void TransferDisplay::bytes(const Descriptor& blob, int64_t done) {
  if (!progress_.enabled()) return;
  std::lock_guard lock(mutex_);
  Line& line = line_locked(blob);
  line.done = done;
  auto now = std::chrono::steady_clock::now();
  if (now - line.drawn < kRedrawInterval) return;
  line.drawn = now;
  progress_.set(line.index,
                fmt::format("{} {} / {}", bar(done, line.size), human_size(done), human_size(line.size)));
  draw_total_locked(false);
}

void TransferDisplay::finished(const Descriptor& blob, std::string_view how) {
  if (!progress_.enabled()) return;
  std::lock_guard lock(mutex_);
  Line& line = line_locked(blob);
  line.done = line.size;
  line.finished = true;
  progress_.set(line.index, fmt::format("{:<8} {}", how, human_size(line.size)));
  draw_total_locked(true);
}

void TransferDisplay::draw_total_locked(bool force) {
  auto now = std::chrono::steady_clock::now();
  if (!force && now - total_drawn_ < kRedrawInterval) return;
  total_drawn_ = now;
  int64_t done = 0, size = 0;
  size_t finished = 0;
  for (const auto& [digest, line] : lines_) {
    done += line.done;
    size += line.size;
    finished += line.finished;
  }
  progress_.set(total_line_, fmt::format("{} {} / {}  ({} of {} blobs)", bar(done, size), human_size(done),
                                         human_size(size), finished, lines_.size()));
}

void TransferDisplay::finish() {
  progress_.finish();
}

}  // namespace gocrate
