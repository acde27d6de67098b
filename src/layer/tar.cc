#include "layer/tar.h"

#include <cstring>

#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate {

namespace {

constexpr size_t kBlock = 512;

struct RawHeader {
  char name[100];
  char mode[8];
  char uid[8];
  char gid[8];
  char size[12];
  char mtime[12];
  char checksum[8];
  char typeflag;
  char linkname[100];
  char magic[6];
  char version[2];
  char uname[32];
  char gname[32];
  char devmajor[8];
  char devminor[8];
  char prefix[155];
  char pad[12];
};
static_assert(sizeof(RawHeader) == kBlock);

int64_t padding_for(int64_t size) {
  return (kBlock - size % kBlock) % kBlock;
}

// Writes value as zero-padded octal with a NUL; false when it does not fit.
bool put_octal(char* field, size_t width, uint64_t value) {
  std::string text = fmt::format("{:0{}o}", value, width - 1);
  if (text.size() > width - 1) return false;
  memcpy(field, text.data(), text.size());
  field[width - 1] = '\0';
  return true;
}

void put_string(char* field, size_t width, std::string_view value) {
  memcpy(field, value.data(), std::min(width, value.size()));
}

void put_checksum(RawHeader& h) {
  memset(h.checksum, ' ', sizeof h.checksum);
  unsigned sum = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(&h);
  for (size_t i = 0; i < kBlock; ++i) sum += bytes[i];
  std::string text = fmt::format("{:06o}", sum);
  memcpy(h.checksum, text.data(), 6);
  h.checksum[6] = '\0';
  h.checksum[7] = ' ';
}

char typeflag_of(TarHeader::Type type) {
  switch (type) {
    case TarHeader::Type::file:
      return '0';
    case TarHeader::Type::hardlink:
      return '1';
    case TarHeader::Type::symlink:
      return '2';
    case TarHeader::Type::char_device:
      return '3';
    case TarHeader::Type::block_device:
      return '4';
    case TarHeader::Type::directory:
      return '5';
    case TarHeader::Type::fifo:
      return '6';
  }
  return '0';
}

std::string pax_record(std::string_view key, std::string_view value) {
  // The length prefix counts itself, so find the fixed point.
  size_t body = key.size() + value.size() + 3;  // ' ', '=', '\n'
  size_t length = body + 1;
  while (std::to_string(length).size() + body != length) ++length;
  return fmt::format("{} {}={}\n", length, key, value);
}

// Splits a long path into ustar prefix and name at a '/', if possible.
bool split_ustar_path(std::string_view path, std::string_view& prefix, std::string_view& name) {
  if (path.size() <= 100) {
    prefix = {};
    name = path;
    return true;
  }
  if (path.size() > 256) return false;
  for (size_t i = path.size() - 1; i > 0; --i) {
    if (path[i] != '/') continue;
    if (i <= 155 && path.size() - i - 1 <= 100 && path.size() - i - 1 > 0) {
      prefix = path.substr(0, i);
      name = path.substr(i + 1);
      return true;
    }
  }
  return false;
}

}  // namespace

void TarWriter::begin(const TarHeader& header) {
  if (remaining_ != 0) fail("tar writer: the previous entry is {} bytes short", remaining_);
  std::string path = header.path;
  if (header.type == TarHeader::Type::directory && !path.ends_with('/')) path += '/';
  int64_t size = header.type == TarHeader::Type::file ? header.size : 0;

  RawHeader raw;
  memset(&raw, 0, sizeof raw);
  std::string pax;
  std::string_view prefix, name;
  if (!split_ustar_path(path, prefix, name)) {
    pax += pax_record("path", path);
    name = std::string_view(path).substr(0, 100);
    prefix = {};
  }
  if (header.link_target.size() > 100) pax += pax_record("linkpath", header.link_target);
  if (!put_octal(raw.size, sizeof raw.size, size)) pax += pax_record("size", std::to_string(size));
  if (!put_octal(raw.uid, sizeof raw.uid, header.uid)) pax += pax_record("uid", std::to_string(header.uid));
  if (!put_octal(raw.gid, sizeof raw.gid, header.gid)) pax += pax_record("gid", std::to_string(header.gid));
  for (const auto& [key, value] : header.xattrs) pax += pax_record("SCHILY.xattr." + key, value);

  if (!pax.empty()) {
    RawHeader ext;
    memset(&ext, 0, sizeof ext);
    put_string(ext.name, sizeof ext.name, ("PaxHeaders.0/" + base_name(path)).substr(0, 99));
    put_octal(ext.mode, sizeof ext.mode, 0644);
    put_octal(ext.uid, sizeof ext.uid, 0);
    put_octal(ext.gid, sizeof ext.gid, 0);
    put_octal(ext.size, sizeof ext.size, pax.size());
    put_octal(ext.mtime, sizeof ext.mtime, std::max<int64_t>(header.mtime, 0));
    ext.typeflag = 'x';
    memcpy(ext.magic, "ustar", 6);
    memcpy(ext.version, "00", 2);
    put_checksum(ext);
    sink_(std::string_view(reinterpret_cast<const char*>(&ext), kBlock));
    sink_(pax);
    sink_(std::string(padding_for(pax.size()), '\0'));
  }

  put_string(raw.name, sizeof raw.name, name);
  put_string(raw.prefix, sizeof raw.prefix, prefix);
  put_octal(raw.mode, sizeof raw.mode, header.mode & 07777);
  put_octal(raw.uid, sizeof raw.uid, header.uid > 07777777 ? 0 : header.uid);
  put_octal(raw.gid, sizeof raw.gid, header.gid > 07777777 ? 0 : header.gid);
  if (size > 077777777777) put_octal(raw.size, sizeof raw.size, 0);
  put_octal(raw.mtime, sizeof raw.mtime, std::max<int64_t>(header.mtime, 0));
  raw.typeflag = typeflag_of(header.type);
  put_string(raw.linkname, sizeof raw.linkname, std::string_view(header.link_target).substr(0, 100));
  memcpy(raw.magic, "ustar", 6);
  memcpy(raw.version, "00", 2);
  put_octal(raw.devmajor, sizeof raw.devmajor, header.dev_major);
  put_octal(raw.devminor, sizeof raw.devminor, header.dev_minor);
  put_checksum(raw);
  sink_(std::string_view(reinterpret_cast<const char*>(&raw), kBlock));
  remaining_ = size;
  written_ = size;
  if (remaining_ == 0) end_entry();
}

void TarWriter::write(std::string_view content) {
  if (static_cast<int64_t>(content.size()) > remaining_)
    fail("tar writer: more content than the header says");
  sink_(content);
  remaining_ -= content.size();
  if (remaining_ == 0) end_entry();
}

void TarWriter::end_entry() {
  int64_t pad = padding_for(written_);
  if (pad) sink_(std::string(pad, '\0'));
  written_ = 0;
}

void TarWriter::add(const TarHeader& header, std::string_view content) {
  begin(header);
  if (header.type == TarHeader::Type::file && header.size > 0) write(content);
}

void TarWriter::finish() {
  if (remaining_ != 0) fail("tar writer: the last entry is {} bytes short", remaining_);
  sink_(std::string(2 * kBlock, '\0'));
}

namespace {

std::string field_string(const char* field, size_t width) {
  return std::string(field, strnlen(field, width));
}

bool parse_numeric(const char* field, size_t width, int64_t& value) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(field);
  if (bytes[0] & 0x80) {                 // GNU base-256
    if (bytes[0] == 0xff) return false;  // negative
    uint64_t v = bytes[0] & 0x7f;
    for (size_t i = 1; i < width; ++i) {
      if (v >> 55) return false;
      v = (v << 8) | bytes[i];
    }
    value = static_cast<int64_t>(v);
    return true;
  }
  std::string_view text(field, strnlen(field, width));
  text = trim(text);
  if (text.empty()) {
    value = 0;
    return true;
  }
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return false;
    if (v >> 60) return false;
    v = v * 8 + (c - '0');
  }
  value = static_cast<int64_t>(v);
  return true;
}

bool is_zero_block(const char* block) {
  for (size_t i = 0; i < kBlock; ++i) {
    if (block[i]) return false;
  }
  return true;
}

}  // namespace

bool TarReader::read_block(char* block) {
  size_t n = in_.read_full(block, kBlock);
  if (n == 0) return false;
  if (n != kBlock) fail("{} is not a valid tar archive: it ends inside a header", what_);
  return true;
}

void TarReader::skip_rest() {
  char buffer[65536];
  int64_t left = remaining_ + padding_;
  while (left > 0) {
    size_t n = in_.read(buffer, std::min<int64_t>(left, sizeof buffer));
    if (n == 0) fail("{} is not a valid tar archive: it ends inside an entry", what_);
    left -= n;
  }
  remaining_ = padding_ = 0;
}

std::string TarReader::read_extension(int64_t size) {
  if (size > (1 << 20)) fail("{}: an extended header of {} bytes is too large", what_, size);
  std::string data(size, '\0');
  if (in_.read_full(data.data(), size) != static_cast<size_t>(size)) {
    fail("{} is not a valid tar archive: it ends inside an extended header", what_);
  }
  char pad[kBlock];
  int64_t p = padding_for(size);
  if (p && in_.read_full(pad, p) != static_cast<size_t>(p)) fail("{} is not a valid tar archive", what_);
  return data;
}

bool TarReader::next(TarHeader& header) {
  skip_rest();
  header = TarHeader{};
  std::map<std::string, std::string> pax;
  std::string long_name, long_link;
  char block[kBlock];
  for (;;) {
    if (!read_block(block)) return false;
    if (is_zero_block(block)) return false;
    RawHeader raw;
    memcpy(&raw, block, kBlock);
    int64_t stored_sum;
    if (!parse_numeric(raw.checksum, sizeof raw.checksum, stored_sum)) {
      fail("{} is not a valid tar archive: bad header checksum field", what_);
    }
    memset(raw.checksum, ' ', sizeof raw.checksum);
    int64_t unsigned_sum = 0, signed_sum = 0;
    for (size_t i = 0; i < kBlock; ++i) {
      unsigned_sum += reinterpret_cast<const unsigned char*>(&raw)[i];
      signed_sum += reinterpret_cast<const signed char*>(&raw)[i];
    }
    if (stored_sum != unsigned_sum && stored_sum != signed_sum) {
      fail("{} is not a valid tar archive: header checksum mismatch", what_);
    }
    int64_t size;
    if (!parse_numeric(raw.size, sizeof raw.size, size)) fail("{}: an entry has a bad size field", what_);
    char type = raw.typeflag;
    if (type == 'x' || type == 'g') {
      std::string data = read_extension(size);
      if (type == 'g') continue;
      std::string_view rest = data;
      while (!rest.empty()) {
        auto space = rest.find(' ');
        int64_t length;
        if (space == std::string_view::npos || !parse_int(rest.substr(0, space), 1, rest.size(), length)) {
          fail("{}: malformed PAX record", what_);
        }
        std::string_view record = rest.substr(space + 1, length - space - 2);
        auto eq = record.find('=');
        if (eq == std::string_view::npos || rest[length - 1] != '\n') fail("{}: malformed PAX record", what_);
        pax[std::string(record.substr(0, eq))] = std::string(record.substr(eq + 1));
        rest.remove_prefix(length);
      }
      continue;
    }
    if (type == 'L' || type == 'K') {
      std::string data = read_extension(size);
      data.resize(strnlen(data.data(), data.size()));
      (type == 'L' ? long_name : long_link) = data;
      continue;
    }

    std::string prefix = field_string(raw.prefix, sizeof raw.prefix);
    bool ustar = memcmp(raw.magic, "ustar", 5) == 0;
    header.path = field_string(raw.name, sizeof raw.name);
    if (ustar && !prefix.empty() && memcmp(raw.magic, "ustar\0", 6) == 0)
      header.path = prefix + "/" + header.path;
    header.link_target = field_string(raw.linkname, sizeof raw.linkname);
    int64_t value;
    if (!parse_numeric(raw.mode, sizeof raw.mode, value)) fail("{}: bad mode in {}", what_, header.path);
    header.mode = static_cast<uint32_t>(value & 07777);
    if (!parse_numeric(raw.uid, sizeof raw.uid, value)) fail("{}: bad uid in {}", what_, header.path);
    header.uid = static_cast<uint32_t>(value);
    if (!parse_numeric(raw.gid, sizeof raw.gid, value)) fail("{}: bad gid in {}", what_, header.path);
    header.gid = static_cast<uint32_t>(value);
    if (!parse_numeric(raw.mtime, sizeof raw.mtime, header.mtime)) header.mtime = 0;
    if (!parse_numeric(raw.devmajor, sizeof raw.devmajor, value)) value = 0;
    header.dev_major = static_cast<uint32_t>(value);
    if (!parse_numeric(raw.devminor, sizeof raw.devminor, value)) value = 0;
    header.dev_minor = static_cast<uint32_t>(value);
    if (!long_name.empty()) header.path = long_name;
    if (!long_link.empty()) header.link_target = long_link;
    for (const auto& [key, v] : pax) {
      int64_t number;
      if (key == "path") {
        header.path = v;
      } else if (key == "linkpath") {
        header.link_target = v;
      } else if (key == "size") {
        if (!parse_int(v, 0, INT64_MAX, size)) fail("{}: bad PAX size for {}", what_, header.path);
      } else if (key == "uid" && parse_int(v, 0, UINT32_MAX, number)) {
        header.uid = static_cast<uint32_t>(number);
      } else if (key == "gid" && parse_int(v, 0, UINT32_MAX, number)) {
        header.gid = static_cast<uint32_t>(number);
      } else if (key == "mtime") {
        parse_int(std::string_view(v).substr(0, v.find('.')), INT64_MIN, INT64_MAX, header.mtime);
      } else if (key.starts_with("SCHILY.xattr.")) {
        header.xattrs[key.substr(13)] = v;
      } else if (key.starts_with("GNU.sparse.")) {
        fail("{}: {} is a sparse file, which is not supported", what_, header.path);
      }
    }
    switch (type) {
      case '0':
      case '\0':
      case '7':
        header.type = TarHeader::Type::file;
        break;
      case '1':
        header.type = TarHeader::Type::hardlink;
        break;
      case '2':
        header.type = TarHeader::Type::symlink;
        break;
      case '3':
        header.type = TarHeader::Type::char_device;
        break;
      case '4':
        header.type = TarHeader::Type::block_device;
        break;
      case '5':
        header.type = TarHeader::Type::directory;
        break;
      case '6':
        header.type = TarHeader::Type::fifo;
        break;
      case 'S':
        fail("{}: {} is a sparse file, which is not supported", what_, header.path);
      default:
        fail("{}: entry {} has unsupported type '{}'", what_, header.path, type);
    }
    if (type == '\0' && header.path.ends_with('/')) header.type = TarHeader::Type::directory;
    while (header.path.size() > 1 && header.path.ends_with('/')) header.path.pop_back();
    bool has_content = header.type == TarHeader::Type::file;
    header.size = has_content ? size : 0;
    remaining_ = has_content ? size : 0;
    padding_ = has_content ? padding_for(size) : 0;
    // Headers of links and directories may still declare a size; skip it.
    if (!has_content && size > 0) padding_ = size + padding_for(size);
    return true;
  }
}

size_t TarReader::read(void* buffer, size_t size) {
  if (remaining_ == 0) return 0;
  size_t n = in_.read(buffer, std::min<int64_t>(size, remaining_));
  if (n == 0) fail("{} is not a valid tar archive: {} ends early", what_, "an entry");
  remaining_ -= n;
  return n;
}

std::string TarReader::read_content() {
  std::string out(remaining_, '\0');
  size_t total = 0;
  while (total < out.size()) total += read(out.data() + total, out.size() - total);
  return out;
}

}  // namespace gocrate
