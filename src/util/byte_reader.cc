#include "util/byte_reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/error.h"

namespace gocrate {

size_t ByteReader::read_full(void* buffer, size_t size) {
  auto* out = static_cast<char*>(buffer);
  size_t total = 0;
  while (total < size) {
    size_t n = read(out + total, size - total);
    if (n == 0) break;
    total += n;
  }
  return total;
}

std::string ByteReader::read_all() {
  std::string out;
  char buffer[65536];
  while (size_t n = read(buffer, sizeof buffer)) out.append(buffer, n);
  return out;
}

size_t StringReader::read(void* buffer, size_t size) {
  size_t n = std::min(size, data_.size());
  memcpy(buffer, data_.data(), n);
  data_.remove_prefix(n);
  return n;
}

size_t FdReader::read(void* buffer, size_t size) {
  for (;;) {
    ssize_t n = ::read(fd_, buffer, size);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) fail_errno(fmt::format("cannot read {}", what_));
  }
}

size_t HashingReader::read(void* buffer, size_t size) {
  size_t n = in_.read(buffer, size);
  hash_.update(buffer, n);
  count_ += n;
  return n;
}

}  // namespace gocrate
