#include "transport/archive.h"

#include <fcntl.h>
#include <unistd.h>

#include "image/media_types.h"
#include "image/reference.h"
#include "layer/layer_writer.h"
#include "layer/tar.h"
#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

using nlohmann::json;

namespace {

constexpr std::string_view kLayoutMarker = R"({"imageLayoutVersion":"1.0.0"})";

std::string blob_member(const Digest& digest) {
  return "blobs/sha256/" + digest.hex;
}

TarHeader file_header(const std::string& name, int64_t size) {
  TarHeader h;
  h.path = name;
  h.size = size;
  h.mode = 0644;
  return h;
}

// Docker's RepoTags hold name:tag only; other names are left out of it.
std::optional<std::string> docker_repo_tag(const std::string& name) {
  auto ref = Reference::try_parse(name);
  if (!ref || ref->tag.empty() || ref->digest) return std::nullopt;
  return ref->str();
}

}  // namespace

ArchiveWriter::ArchiveWriter(std::string path, std::optional<Platform> platform)
    : path_(std::move(path)), platform_(std::move(platform)) {
  temp_path_ = fmt::format("{}.tmp-{}", path_, getpid());
  fd_ = open_or_fail(temp_path_, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  TarWriter tar([this](std::string_view data) { write(data); });
  for (const char* dir : {"blobs", "blobs/sha256"}) {
    TarHeader h;
    h.path = dir;
    h.type = TarHeader::Type::directory;
    h.mode = 0755;
    tar.add(h);
  }
}

ArchiveWriter::~ArchiveWriter() {
  if (!committed_) ::unlink(temp_path_.c_str());
}

void ArchiveWriter::write(std::string_view data) {
  buffer_.append(data);
  if (buffer_.size() >= (1 << 20)) {
    write_all(fd_.get(), buffer_, path_);
    buffer_.clear();
  }
}

bool ArchiveWriter::has_blob(const Descriptor& descriptor) {
  return written_.contains(descriptor.digest);
}

void ArchiveWriter::put_blob(const Descriptor& descriptor, ByteReader& content) {
  if (written_.contains(descriptor.digest)) {
    drain(content);
    return;
  }
  TarWriter tar([this](std::string_view data) { write(data); });
  tar.begin(file_header(blob_member(descriptor.digest), descriptor.size));
  Sha256 hash;
  int64_t total = 0;
  bool keep = media_type::is_index(descriptor.media_type) || media_type::is_manifest(descriptor.media_type);
  std::string kept;
  char buffer[1 << 16];
  while (size_t n = content.read(buffer, sizeof buffer)) {
    total += n;
    if (total > descriptor.size) fail("blob {} is larger than its descriptor says", descriptor.digest.str());
    hash.update(buffer, n);
    tar.write(std::string_view(buffer, n));
    if (keep) kept.append(buffer, n);
  }
  if (total != descriptor.size || hash.finish_hex() != descriptor.digest.hex) {
    fail("blob {} does not match its descriptor; {} was not written", descriptor.digest.str(), path_);
  }
  written_.insert(descriptor.digest);
  if (keep) json_blobs_[descriptor.digest] = std::move(kept);
}

void ArchiveWriter::add_name(const std::string& name, const Descriptor& root) {
  names_.emplace_back(name, root);
}

void ArchiveWriter::add_referrer(const Descriptor& referrer) {
  referrers_.push_back(referrer);
}

void ArchiveWriter::add_file(const std::string& name, std::string_view content) {
  TarWriter tar([this](std::string_view data) { write(data); });
  tar.add(file_header(name, static_cast<int64_t>(content.size())), content);
}

void ArchiveWriter::commit() {
  Index index;
  index.media_type = media_type::oci_index;
  json docker_manifest = json::array();
  std::map<Digest, size_t> docker_entry_of_root;
  for (const auto& [name, root] : names_) {
    Descriptor entry = root;
    entry.platform.reset();
    entry.annotations[std::string(annotation::ref_name)] = name;
    entry.annotations[std::string(annotation::image_name)] = name;
    index.manifests.push_back(entry);

    auto repo_tag = docker_repo_tag(name);
    if (auto it = docker_entry_of_root.find(root.digest); it != docker_entry_of_root.end()) {
      if (repo_tag) docker_manifest[it->second]["RepoTags"].push_back(*repo_tag);
      continue;
    }
    // Docker's manifest.json describes one platform of the image.
    Descriptor chosen = root;
    if (media_type::is_index(root.media_type)) {
      Index image_index = Index::parse(json_blobs_.at(root.digest), name);
      std::vector<Platform> platforms;
      std::vector<Descriptor> candidates;
      for (const auto& m : image_index.manifests) {
        if (m.platform && media_type::is_manifest(m.media_type) && json_blobs_.contains(m.digest)) {
          platforms.push_back(*m.platform);
          candidates.push_back(m);
        }
      }
      if (candidates.empty()) continue;
      auto match = best_platform_match(platforms, platform_.value_or(Platform::host()));
      if (!match && platform_) fail("image {} has no variant for {}", name, platform_->str());
      chosen = candidates[match.value_or(0)];
    }
    Manifest manifest = Manifest::parse(json_blobs_.at(chosen.digest), name);
    json layers = json::array();
    for (const auto& layer : manifest.layers) layers.push_back(blob_member(layer.digest));
    json repo_tags = json::array();
    if (repo_tag) repo_tags.push_back(*repo_tag);
    docker_manifest.push_back(
        {{"Config", blob_member(manifest.config.digest)}, {"RepoTags", repo_tags}, {"Layers", layers}});
    docker_entry_of_root[root.digest] = docker_manifest.size() - 1;
  }
  for (const auto& referrer : referrers_) {
    if (written_.contains(referrer.digest)) index.manifests.push_back(referrer);
  }
  add_file("index.json", index.to_json_text());
  add_file("oci-layout", kLayoutMarker);
  add_file("manifest.json", docker_manifest.dump());
  TarWriter([this](std::string_view data) { write(data); }).finish();
  write_all(fd_.get(), buffer_, path_);
  buffer_.clear();
  if (::fsync(fd_.get()) != 0) fail_errno(fmt::format("cannot sync {}", path_));
  fd_.reset();
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) fail_errno(fmt::format("cannot write {}", path_));
  committed_ = true;
}

namespace {

// Tracks how far into the file the tar reader has got.
class CountingFdReader : public ByteReader {
 public:
  CountingFdReader(int fd, std::string what) : file_(fd, std::move(what)) {}
  size_t read(void* buffer, size_t size) override {
    size_t n = file_.read(buffer, size);
    position_ += n;
    return n;
  }
  int64_t position() const { return position_; }

 private:
  FdReader file_;
  int64_t position_ = 0;
};

// Reads [offset, offset + size) of a file and verifies it at the end.
class RangeReader : public ByteReader {
 public:
  RangeReader(int fd, int64_t offset, int64_t size, std::optional<Digest> expected, std::string what)
      : fd_(fd), offset_(offset), left_(size), expected_(std::move(expected)), what_(std::move(what)) {}
  size_t read(void* buffer, size_t size) override {
    if (left_ == 0) {
      if (expected_ && hash_.finish_hex() != expected_->hex) {
        fail("{} is corrupt: its content does not match digest {}", what_, expected_->str());
      }
      expected_.reset();
      return 0;
    }
    size_t n = std::min<int64_t>(size, left_);
    read_exact_at(fd_, buffer, n, offset_, what_);
    hash_.update(buffer, n);
    offset_ += n;
    left_ -= n;
    return n;
  }

 private:
  int fd_;
  int64_t offset_;
  int64_t left_;
  std::optional<Digest> expected_;
  std::string what_;
  Sha256 hash_;
};

std::string clean_member_name(std::string_view name) {
  while (name.starts_with("./")) name.remove_prefix(2);
  while (name.starts_with("/")) name.remove_prefix(1);
  return std::string(name);
}

std::string join_member(const std::string& dir, const std::string& target) {
  std::vector<std::string> parts;
  if (!target.starts_with("/")) {
    for (const auto& p : split(dir, '/')) {
      if (!p.empty()) parts.push_back(p);
    }
  }
  for (const auto& p : split(target, '/')) {
    if (p.empty() || p == ".") continue;
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();
    } else {
      parts.push_back(p);
    }
  }
  return join(parts, "/");
}

}  // namespace

ArchiveReader::ArchiveReader(std::string path, DecompressionLimit* limit) : path_(std::move(path)) {
  fd_ = open_or_fail(path_, O_RDONLY);
  char head[4] = {};
  ssize_t n = ::pread(fd_.get(), head, sizeof head, 0);
  auto compression = sniff_compression(std::string_view(head, n > 0 ? n : 0));
  if (compression != media_type::Compression::none) {
    // A compressed tar cannot be read at random: unpack it once.
    decompressed_dir_.emplace();
    std::string plain = decompressed_dir_->path() + "/archive.tar";
    UniqueFd out = open_or_fail(plain, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FdReader compressed(fd_.get(), path_);
    auto reader = decompressing_reader(compressed, compression, path_);
    char buffer[1 << 16];
    while (size_t got = reader->read(buffer, sizeof buffer)) {
      if (limit) limit->add(got);
      write_all(out.get(), std::string_view(buffer, got), plain);
    }
    fd_ = open_or_fail(plain, O_RDONLY);
  }
  scan();
  if (members_.contains("index.json")) {
    load_oci_index();
  } else if (members_.contains("manifest.json")) {
    load_docker_manifest();
  } else {
    fail("{} is not an image archive: it has neither manifest.json (docker save) nor index.json (OCI)",
         path_);
  }
}

ArchiveReader::~ArchiveReader() = default;

void ArchiveReader::scan() {
  CountingFdReader counter(fd_.get(), path_);
  TarReader tar(counter, "it");
  TarHeader header;
  try {
    while (tar.next(header)) {
      Member m;
      m.offset = counter.position();
      m.size = header.size;
      std::string name = clean_member_name(header.path);
      if (header.type == TarHeader::Type::symlink) {
        std::string dir = name.find('/') == std::string::npos ? "" : dir_name(name);
        m.link = join_member(dir, header.link_target);
      }
      if (header.type == TarHeader::Type::hardlink) m.link = clean_member_name(header.link_target);
      if (header.type == TarHeader::Type::file || !m.link.empty()) members_[name] = m;
    }
  } catch (const Error& e) {
    fail("{} is not an image archive: {}", path_, e.what());
  }
}

const ArchiveReader::Member& ArchiveReader::member(const std::string& raw_name) const {
  std::string name = clean_member_name(raw_name);
  for (int hops = 0; hops < 16; ++hops) {
    auto it = members_.find(name);
    if (it == members_.end()) fail("{} is not a complete image archive: {} is missing", path_, raw_name);
    if (it->second.link.empty()) return it->second;
    name = it->second.link;
  }
  fail("{}: too many links to follow for {}", path_, raw_name);
}

std::string ArchiveReader::read_member(const std::string& name) const {
  const Member& m = member(name);
  if (m.size > (64 << 20)) fail("{}: {} is too large for a metadata file", path_, name);
  std::string out(m.size, '\0');
  read_exact_at(fd_.get(), out.data(), out.size(), m.offset, path_);
  return out;
}

void ArchiveReader::load_oci_index() {
  for (const auto& [name, m] : members_) {
    if (name.starts_with("blobs/sha256/")) {
      if (auto digest = Digest::try_parse("sha256:" + name.substr(13))) blob_members_[*digest] = name;
    }
  }
  Index index = Index::parse(read_member("index.json"), path_ + ": index.json");
  for (const auto& entry : index.manifests) {
    if (!media_type::is_index(entry.media_type) && !media_type::is_manifest(entry.media_type)) continue;
    Image image;
    image.root = entry;
    image.root.annotations.clear();
    std::string name;
    for (auto key : {annotation::image_name, annotation::ref_name}) {
      auto it = entry.annotations.find(std::string(key));
      if (it == entry.annotations.end()) continue;
      auto ref = Reference::try_parse(it->second);
      // A bare tag ("latest") names nothing on its own.
      if (ref && (it->second.find(':') != std::string::npos || it->second.find('/') != std::string::npos)) {
        name = ref->with_default_tag().str();
        break;
      }
    }
    if (!name.empty()) image.names.push_back(name);
    // An artifact whose subject is another entry (an SBOM) is not an image.
    if (media_type::is_manifest(entry.media_type) && name.empty() && !entry.artifact_type.empty()) {
      artifacts_.push_back(image.root);
      continue;
    }
    images_.push_back(std::move(image));
  }
}

void ArchiveReader::load_docker_manifest() {
  json entries = parse_json(read_member("manifest.json"), path_ + ": manifest.json");
  if (!entries.is_array()) fail("{}: manifest.json must be an array", path_);
  for (const auto& entry : entries) {
    if (!entry.is_object() || !entry.contains("Config") || !entry["Config"].is_string()) {
      fail("{}: manifest.json has an entry without \"Config\"", path_);
    }
    std::string config_name = entry["Config"].get<std::string>();
    std::string config_text = read_member(config_name);
    ImageConfig config = ImageConfig::parse(config_text, path_ + ": " + config_name);
    Manifest manifest;
    manifest.media_type = media_type::oci_manifest;
    manifest.config = Descriptor{std::string(media_type::oci_config), Digest::of(config_text),
                                 static_cast<int64_t>(config_text.size())};
    blob_members_[manifest.config.digest] = config_name;
    const json& layers = entry.value("Layers", json::array());
    if (layers.size() != config.diff_ids.size()) {
      fail("{}: image {} lists {} layers but its config {}", path_, config_name, layers.size(),
           config.diff_ids.size());
    }
    for (const auto& layer : layers) {
      std::string layer_name = layer.get<std::string>();
      const Member& m = member(layer_name);
      RangeReader reader(fd_.get(), m.offset, m.size, std::nullopt, path_ + ": " + layer_name);
      Sha256 hash;
      char buffer[1 << 16];
      std::string first;
      while (size_t n = reader.read(buffer, sizeof buffer)) {
        if (first.size() < 4) first.append(buffer, std::min<size_t>(n, 4));
        hash.update(buffer, n);
      }
      Digest digest = Digest::from_hex(hash.finish_hex());
      blob_members_[digest] = layer_name;
      manifest.layers.push_back(Descriptor{layer_media_type(sniff_compression(first)), digest, m.size});
    }
    std::string manifest_text = manifest.to_json_text();
    Image image;
    image.root = Descriptor{std::string(media_type::oci_manifest), Digest::of(manifest_text),
                            static_cast<int64_t>(manifest_text.size())};
    synthesized_[image.root.digest] = manifest_text;
    for (const auto& tag : entry.value("RepoTags", json::array())) {
      auto ref = tag.is_string() ? Reference::try_parse(tag.get<std::string>()) : std::nullopt;
      if (ref) image.names.push_back(ref->with_default_tag().str());
    }
    images_.push_back(std::move(image));
  }
}

std::string ArchiveReader::read_blob(const Descriptor& descriptor) {
  if (auto it = synthesized_.find(descriptor.digest); it != synthesized_.end()) return it->second;
  auto reader = open_blob(descriptor);
  std::string out = reader->read_all();
  if (static_cast<int64_t>(out.size()) != descriptor.size) {
    fail("{}: blob {} has {} bytes, its descriptor says {}", path_, descriptor.digest.str(), out.size(),
         descriptor.size);
  }
  return out;
}

std::unique_ptr<ByteReader> ArchiveReader::open_blob(const Descriptor& descriptor) {
  if (auto it = synthesized_.find(descriptor.digest); it != synthesized_.end()) {
    return std::make_unique<StringReader>(it->second);
  }
  auto it = blob_members_.find(descriptor.digest);
  if (it == blob_members_.end())
    fail("{} is not a complete image archive: blob {} is missing", path_, descriptor.digest.str());
  const Member& m = member(it->second);
  return std::make_unique<RangeReader>(fd_.get(), m.offset, m.size, descriptor.digest,
                                       fmt::format("blob {} in {}", descriptor.digest.str(), path_));
}

}  // namespace gocrate
