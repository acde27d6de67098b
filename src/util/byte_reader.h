#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/sha256.h"

namespace gocrate {

// A source of bytes read front to back. read() returns 0 only at the end.
class ByteReader {
 public:
  virtual ~ByteReader() = default;
  virtual size_t read(void* buffer, size_t size) = 0;
  // Reads until `size` bytes or the end; returns how many were read.
  size_t read_full(void* buffer, size_t size);
  std::string read_all();
};

class StringReader : public ByteReader {
 public:
  explicit StringReader(std::string_view data) : data_(data) {}
  size_t read(void* buffer, size_t size) override;

 private:
  std::string_view data_;
};

// Reads an open file descriptor; `what` names it in errors.
class FdReader : public ByteReader {
 public:
  FdReader(int fd, std::string what) : fd_(fd), what_(std::move(what)) {}
  size_t read(void* buffer, size_t size) override;

 private:
  int fd_;
  std::string what_;
};

// Passes bytes through and hashes them; counts what went by.
class HashingReader : public ByteReader {
 public:
  explicit HashingReader(ByteReader& in) : in_(in) {}
  size_t read(void* buffer, size_t size) override;
  std::string finish_hex() { return hash_.finish_hex(); }
  uint64_t count() const { return count_; }

 private:
  ByteReader& in_;
  Sha256 hash_;
  uint64_t count_ = 0;
};

}  // namespace gocrate
