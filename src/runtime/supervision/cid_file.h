#pragma once

#include <string>

#include "util/fs.h"

namespace gocrate {

// --cidfile FILE, as Docker's: the file is created, empty, before the
// container is (an existing file, or a symlink there, is refused: it may
// belong to a container still running), the id is written into it once the
// container exists (no newline), and the file is removed again when the
// container could not be made.
class CidFile {
 public:
  // An empty path: no file, write() does nothing.
  static CidFile create(const std::string& path);

  CidFile() = default;
  CidFile(CidFile&& other) noexcept;
  CidFile& operator=(CidFile&&) = delete;
  ~CidFile();

  void write(const std::string& id);

 private:
  std::string path_;
  UniqueFd fd_;
  bool written_ = false;
};

}  // namespace gocrate
