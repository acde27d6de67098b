#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "layer/stream.h"

namespace gocrate {

struct TarHeader {
  enum class Type { file, directory, symlink, hardlink, char_device, block_device, fifo };
  std::string path;  // as stored: relative, directories without a trailing '/'
  Type type = Type::file;
  uint32_t mode = 0644;  // permission bits and setuid/setgid/sticky
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t size = 0;
  int64_t mtime = 0;
  std::string link_target;
  uint32_t dev_major = 0;
  uint32_t dev_minor = 0;
  std::map<std::string, std::string> xattrs;
};

// Writes a POSIX tar stream: ustar headers, PAX records only for what ustar
// cannot hold. Output depends only on the headers and contents given, so the
// same entries always give the same bytes. Empty user and group names.
class TarWriter {
 public:
  using Sink = std::function<void(std::string_view)>;
  explicit TarWriter(Sink sink) : sink_(std::move(sink)) {}
  // Writes a header; for files, content must then be given through write()
  // (exactly header.size bytes in total), or at once with add().
  void begin(const TarHeader& header);
  void write(std::string_view content);
  void add(const TarHeader& header, std::string_view content = {});
  void finish();

 private:
  void end_entry();
  Sink sink_;
  int64_t remaining_ = 0;
  int64_t written_ = 0;
};

// Reads a tar stream strictly: checksums verified; ustar, PAX and GNU long
// names understood; sparse files and unknown entry types refused. `what`
// names the stream in errors.
class TarReader {
 public:
  TarReader(ByteReader& in, std::string what) : in_(in), what_(std::move(what)) {}
  // Moves to the next entry, skipping what is left of the current one.
  // Returns false at the end of the archive.
  bool next(TarHeader& header);
  // Reads the current entry's content.
  size_t read(void* buffer, size_t size);
  std::string read_content();

 private:
  bool read_block(char* block);
  void skip_rest();
  std::string read_extension(int64_t size);
  ByteReader& in_;
  std::string what_;
  int64_t remaining_ = 0;
  int64_t padding_ = 0;
};

}  // namespace gocrate
