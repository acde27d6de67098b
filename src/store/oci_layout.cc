#include "store/oci_layout.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "image/media_types.h"
#include "util/error.h"

namespace gocrate {

namespace {

constexpr std::string_view kLayoutMarker = R"({"imageLayoutVersion":"1.0.0"})";
constexpr size_t kWriteBuffer = 1 << 20;

std::string private_dir(const std::string& dir) {
  return dir + "/.gocrate";
}
std::string ingest_dir(const std::string& dir) {
  return dir + "/.gocrate/ingest";
}
std::string lock_path(const std::string& dir) {
  return dir + "/.gocrate/lock";
}
std::string temp_root(const std::string& dir) {
  return dir + "/.gocrate/tmp";
}

// Whether a directory holds nothing but what creating a layout makes, so
// that a creation interrupted or under way elsewhere can be completed.
bool holds_only_layout_parts(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return true;
  bool unused = true;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    bool part = name == "." || name == ".." || name == ".gocrate" || name == "blobs" ||
                name == "index.json" || name.starts_with(".index.json.tmp-") ||
                name.starts_with(".oci-layout.tmp-");
    if (!part) {
      unused = false;
      break;
    }
  }
  ::closedir(d);
  return unused;
}

// Reads a blob file and checks it against its descriptor.
class VerifyingFileReader : public ByteReader {
 public:
  VerifyingFileReader(UniqueFd fd, Descriptor descriptor, std::function<void(std::string_view)> on_corrupt)
      : fd_(std::move(fd)),
        file_(fd_.get(), descriptor.digest.str()),
        descriptor_(std::move(descriptor)),
        on_corrupt_(std::move(on_corrupt)) {}

  size_t read(void* buffer, size_t size) override {
    if (verified_) return 0;
    size_t n = file_.read(buffer, size);
    hash_.update(buffer, n);
    count_ += n;
    if (n == 0) {
      verified_ = true;
      if (count_ != descriptor_.size) {
        on_corrupt_(fmt::format("it has {} bytes, its descriptor says {}", count_, descriptor_.size));
      }
      if (hash_.finish_hex() != descriptor_.digest.hex) on_corrupt_("its content does not match its digest");
    }
    return n;
  }

 private:
  UniqueFd fd_;
  FdReader file_;
  Descriptor descriptor_;
  std::function<void(std::string_view)> on_corrupt_;
  Sha256 hash_;
  int64_t count_ = 0;
  bool verified_ = false;
};

}  // namespace

BlobWriter::BlobWriter(std::string blobs_dir, std::string temp_path, UniqueFd fd, std::string where)
    : blobs_dir_(std::move(blobs_dir)),
      temp_path_(std::move(temp_path)),
      fd_(std::move(fd)),
      where_(std::move(where)) {
  buffer_.reserve(kWriteBuffer);
}

BlobWriter::~BlobWriter() {
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void BlobWriter::flush() {
  write_out(buffer_);
  buffer_.clear();
}

void BlobWriter::write_out(std::string_view data) {
  write_all(fd_.get(), data, where_);
  // Start writeback now, so that the fsync on commit finds little left to do.
  ::sync_file_range(fd_.get(), written_, static_cast<off_t>(data.size()), SYNC_FILE_RANGE_WRITE);
  written_ += static_cast<off_t>(data.size());
}

void BlobWriter::write(std::string_view data) {
  hash_.update(data);
  size_ += data.size();
  if (buffer_.size() + data.size() > kWriteBuffer) flush();
  if (data.size() >= kWriteBuffer) {
    write_out(data);
  } else {
    buffer_.append(data);
  }
}

Descriptor BlobWriter::commit(std::string media_type, const std::optional<Digest>& expected_digest,
                              std::optional<int64_t> expected_size) {
  flush();
  Descriptor d;
  d.media_type = std::move(media_type);
  d.digest = Digest::from_hex(hash_.finish_hex());
  d.size = size_;
  if (expected_size && *expected_size != size_) {
    fail("blob {} was refused: it has {} bytes, its descriptor says {}",
         expected_digest ? expected_digest->str() : "", size_, *expected_size);
  }
  if (expected_digest && *expected_digest != d.digest) {
    fail("blob {} was refused: its content has digest {}", expected_digest->str(), d.digest.str());
  }
  std::string final_path = blobs_dir_ + "/" + d.digest.hex;
  struct stat st;
  if (::stat(final_path.c_str(), &st) == 0 && st.st_size == size_) {
    ::unlink(temp_path_.c_str());
  } else {
    if (::fsync(fd_.get()) != 0) fail_errno(fmt::format("cannot sync {}", where_));
    if (::rename(temp_path_.c_str(), final_path.c_str()) != 0) {
      fail_errno(fmt::format("cannot store blob {} in {}", d.digest.str(), where_));
    }
  }
  committed_ = true;
  return d;
}

OciLayout::OciLayout(std::string dir, bool create) : dir_(std::move(dir)) {
  label_ = dir_;
  std::string marker = dir_ + "/oci-layout";
  if (path_exists(marker)) return;
  if (!create) fail("{} is not an OCI image layout (it has no oci-layout file)", dir_);
  // Checked before the marker test: a layout finished meanwhile elsewhere
  // may already hold more than the parts of a layout.
  auto is_foreign = [&] { return !holds_only_layout_parts(dir_) && !path_exists(marker); };
  auto refuse = [&] {
    fail("{} exists and is not an OCI image layout: give an empty or new directory", dir_);
  };
  if (is_directory(dir_) && is_foreign()) refuse();
  // Several processes may create the same layout at once: the first to hold
  // the lock makes it, the others find it made.
  make_directories(private_dir(dir_));
  FileLock lock(lock_path(dir_), FileLock::Mode::exclusive);
  if (path_exists(marker)) return;
  if (is_foreign()) refuse();
  make_directories(dir_ + "/blobs/sha256");
  make_directories(ingest_dir(dir_));
  Index empty;
  empty.media_type = media_type::oci_index;
  write_file_atomic(dir_ + "/index.json", empty.to_json_text());
  write_file_atomic(marker, kLayoutMarker);
}

std::string OciLayout::blob_path(const Digest& digest) const {
  return dir_ + "/blobs/sha256/" + digest.hex;
}

bool OciLayout::has_blob(const Digest& digest) const {
  return path_exists(blob_path(digest));
}

BlobWriter OciLayout::begin_blob() {
  std::string ingest = ingest_dir(dir_);
  if (!is_directory(ingest)) {
    make_directories(ingest);
    make_directories(dir_ + "/blobs/sha256");
  }
  // Held while it is written, so that remove_stale_ingests() elsewhere
  // leaves it alone until this writer is gone.
  HeldFile temp = create_held_file(ingest);
  return BlobWriter(dir_ + "/blobs/sha256", std::move(temp.path), std::move(temp.fd), label_);
}

Descriptor OciLayout::write_blob(std::string_view data, std::string media_type) {
  Digest digest = Digest::of(data);
  if (has_blob(digest)) return Descriptor{std::move(media_type), digest, static_cast<int64_t>(data.size())};
  BlobWriter writer = begin_blob();
  writer.write(data);
  return writer.commit(std::move(media_type));
}

void OciLayout::corrupt_blob(const Digest& digest, std::string_view why) const {
  // Move the bad copy aside so that the next build or pull writes a good one.
  std::string quarantine = private_dir(dir_) + "/corrupt";
  std::string moved;
  try {
    make_directories(quarantine);
    moved = quarantine + "/" + digest.hex;
    if (::rename(blob_path(digest).c_str(), moved.c_str()) != 0) moved.clear();
  } catch (const Error&) {
    moved.clear();
  }
  fail("blob {} in {} is corrupt ({}){}: build or pull the image again", digest.str(), label_, why,
       moved.empty() ? "" : fmt::format("; it was moved to {}", moved));
}

std::string OciLayout::read_blob(const Descriptor& descriptor) {
  auto content = read_file_if_exists(blob_path(descriptor.digest));
  if (!content) {
    fail("blob {} is missing from {}: build or pull the image again", descriptor.digest.str(), label_);
  }
  if (static_cast<int64_t>(content->size()) != descriptor.size) {
    corrupt_blob(descriptor.digest,
                 fmt::format("it has {} bytes, its descriptor says {}", content->size(), descriptor.size));
  }
  if (Digest::of(*content) != descriptor.digest) {
    corrupt_blob(descriptor.digest, "its content does not match its digest");
  }
  return std::move(*content);
}

std::unique_ptr<ByteReader> OciLayout::open_blob(const Descriptor& descriptor) {
  int fd = ::open(blob_path(descriptor.digest).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      fail("blob {} is missing from {}: build or pull the image again", descriptor.digest.str(), label_);
    }
    fail_errno(fmt::format("cannot open blob {} in {}", descriptor.digest.str(), label_));
  }
  Digest digest = descriptor.digest;
  return std::make_unique<VerifyingFileReader>(
      UniqueFd(fd), descriptor, [this, digest](std::string_view why) { corrupt_blob(digest, why); });
}

std::string OciLayout::describe() const {
  return "OCI layout " + label_;
}

Index OciLayout::read_index() const {
  std::string path = dir_ + "/index.json";
  auto text = read_file_if_exists(path);
  if (!text) {
    Index empty;
    empty.media_type = media_type::oci_index;
    return empty;
  }
  return Index::parse(*text, path);
}

void OciLayout::update_index(const std::function<void(Index&)>& change) {
  // Blob renames of this and other processes become durable before a name
  // can lead to them.
  if (is_directory(dir_ + "/blobs/sha256")) fsync_directory(dir_ + "/blobs/sha256");
  make_directories(private_dir(dir_));
  FileLock lock(lock_path(dir_), FileLock::Mode::exclusive);
  Index index = read_index();
  if (index.media_type.empty()) index.media_type = media_type::oci_index;
  change(index);
  write_file_atomic(dir_ + "/index.json", index.to_json_text());
}

void OciLayout::put_blob(const Descriptor& descriptor, ByteReader& content) {
  if (has_blob(descriptor.digest)) {
    drain(content);
    return;
  }
  BlobWriter writer = begin_blob();
  char buffer[1 << 16];
  while (size_t n = content.read(buffer, sizeof buffer)) writer.write(std::string_view(buffer, n));
  writer.commit(descriptor.media_type, descriptor.digest, descriptor.size);
}

void OciLayout::add_name(const std::string& name, const Descriptor& root) {
  pending_names_.emplace_back(name, root);
}

void OciLayout::add_referrer(const Descriptor& referrer) {
  pending_referrers_.push_back(referrer);
}

void OciLayout::commit() {
  if (pending_names_.empty() && pending_referrers_.empty()) return;
  update_index([&](Index& index) {
    for (const auto& [name, root] : pending_names_) {
      std::erase_if(index.manifests, [&](const Descriptor& d) {
        auto it = d.annotations.find(std::string(annotation::ref_name));
        return it != d.annotations.end() && it->second == name;
      });
      Descriptor entry = root;
      entry.platform.reset();
      entry.annotations[std::string(annotation::ref_name)] = name;
      index.manifests.push_back(entry);
    }
    for (const auto& referrer : pending_referrers_) {
      bool present = false;
      for (const auto& d : index.manifests) present |= d.digest == referrer.digest;
      if (!present) index.manifests.push_back(referrer);
    }
  });
  pending_names_.clear();
  pending_referrers_.clear();
}

TempDir OciLayout::make_temp_dir() const {
  make_directories(temp_root(dir_));
  return TempDir::held(temp_root(dir_), "scratch-");
}

void OciLayout::remove_stale_ingests() const {
  remove_unheld_entries(ingest_dir(dir_));
  remove_unheld_entries(temp_root(dir_));
}

}  // namespace gocrate
