#include "gobuild/image_builder.h"

#include <functional>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>

#include "gobuild/base_files.h"
#include "gobuild/elf.h"
#include "gobuild/go_buildinfo.h"
#include "gobuild/layer_contents.h"
#include "gobuild/sbom.h"
#include "image/media_types.h"
#include "transport/diff_id_verifier.h"
#include "util/error.h"
#include "util/sha256.h"
#include "util/strings.h"

namespace gocrate {

namespace {

constexpr std::string_view kEmptyJson = "{}";

std::string oci_layer_type(const std::string& type) {
  if (type == media_type::docker_layer_gzip) return std::string(media_type::oci_layer_gzip);
  if (type == media_type::docker_layer_tar) return std::string(media_type::oci_layer_tar);
  return type;
}

// A layer written to the store, or found in the build cache.
struct StoredLayer {
  Descriptor descriptor;
  Digest diff_id;
};

StoredLayer store_layer(Store& store, const LayerContents& contents, int64_t epoch,
                        const CompressionSettings& compression) {
  std::string key = contents.cache_key(epoch, compression);
  if (auto cached = store.cache_get("layers", key)) {
    auto entry = nlohmann::json::parse(*cached, nullptr, false);
    if (entry.is_object()) {
      auto digest = Digest::try_parse(entry.value("digest", ""));
      auto diff_id = Digest::try_parse(entry.value("diff_id", ""));
      if (digest && diff_id && store.has_blob(*digest)) {
        return {Descriptor{entry.value("media_type", ""), *digest, entry.value("size", int64_t{0})},
                *diff_id};
      }
    }
  }
  BlobWriter blob = store.begin_blob();
  LayerWriter writer(compression, [&](std::string_view data) { blob.write(data); });
  LayerDigests digests = contents.write(writer, epoch);
  Descriptor descriptor = blob.commit(digests.media_type);
  nlohmann::json entry = {{"digest", descriptor.digest.str()},
                          {"size", descriptor.size},
                          {"diff_id", digests.diff_id.str()},
                          {"media_type", descriptor.media_type}};
  store.cache_put("layers", key, entry.dump());
  return {descriptor, digests.diff_id};
}

class PlatformAssembly {
 public:
  PlatformAssembly(Store& store, const ImageRecipe& recipe, const PlatformExecutables& target)
      : store_(store), recipe_(recipe), target_(target) {}

  Descriptor assemble(BuiltImage& built) {
    std::string created = rfc3339_utc(recipe_.epoch);
    start_from_base();
    config_.set_platform(target_.platform);
    config_.created = created;
    std::future<StoredLayer> essentials;
    if (recipe_.base.is_scratch()) {
      // The essentials never change: compress them hard (gzip levels above 9
      // cost five times the time for a few hundred bytes), beside the rest.
      CompressionSettings strongest = recipe_.compression;
      if (strongest.algorithm == media_type::Compression::gzip) strongest.level = 9;
      if (strongest.algorithm == media_type::Compression::zstd) strongest.level = 19;
      essentials = std::async(std::launch::async, [this, strongest] {
        return store_layer(store_, scratch_base_files(), recipe_.epoch, strongest);
      });
    }
    std::optional<StoredLayer> files = files_layer();
    StoredLayer executables = executables_layer();
    if (essentials.valid()) append_layer(essentials.get(), "gocrate: CA certificates, passwd, group, /tmp");
    if (files) append_layer(*files, "gocrate: kodata and added files");
    append_layer(executables, "gocrate: " + join(executable_paths_, " "));
    configure();

    Descriptor config_blob = store_.write_blob(config_.to_json_text(), std::string(media_type::oci_config));
    manifest_.media_type = media_type::oci_manifest;
    manifest_.config = config_blob;
    manifest_.annotations = recipe_.annotations;
    if (!recipe_.base.is_scratch()) {
      manifest_.annotations[std::string(annotation::base_name)] = recipe_.base.name;
      manifest_.annotations[std::string(annotation::base_digest)] = recipe_.base.root.digest.str();
    }
    Descriptor manifest = store_.write_blob(manifest_.to_json_text(), std::string(media_type::oci_manifest));
    manifest.platform = target_.platform;
    if (recipe_.sbom && sbom_) built.sboms.push_back(write_sbom_artifact(manifest));
    if (recipe_.provenance) built.provenance.push_back(write_provenance_artifact(manifest));
    return manifest;
  }

 private:
  void start_from_base() {
    if (recipe_.base.is_scratch()) return;
    PlatformImage base =
        load_platform_image(*recipe_.base.source, recipe_.base.root, target_.platform, recipe_.base.name);
    config_ = base.config;
    // The base's layers must be what its config says: the new image's config
    // takes the base's diff_ids over.
    DiffIdVerifier verified(*recipe_.base.source, store_);
    verified.expect(base, recipe_.base.name);
    for (size_t i = 0; i < base.manifest.layers.size(); ++i) {
      const Descriptor& layer = base.manifest.layers[i];
      if (!store_.has_blob(layer.digest)) {
        auto reader = verified.open_blob(layer);
        store_.put_blob(layer, *reader);
      }
      Descriptor copy{oci_layer_type(layer.media_type), layer.digest, layer.size};
      copy.urls = layer.urls;
      manifest_.layers.push_back(copy);
    }
  }

  void append_layer(const StoredLayer& layer, std::string created_by) {
    manifest_.layers.push_back(layer.descriptor);
    config_.diff_ids.push_back(layer.diff_id);
    config_.history.push_back(HistoryEntry{rfc3339_utc(recipe_.epoch), std::move(created_by), "", "", false});
  }

  std::optional<StoredLayer> files_layer() {
    LayerContents files;
    if (!recipe_.kodata_dir.empty()) files.add_tree(kKoDataPath, recipe_.kodata_dir);
    for (const auto& [source, destination] : recipe_.files) {
      if (is_directory(source)) {
        files.add_tree(destination, source);
      } else {
        files.add_file(destination, source);
      }
    }
    if (files.empty()) return std::nullopt;
    return store_layer(store_, files, recipe_.epoch, recipe_.compression);
  }

  StoredLayer executables_layer() {
    LayerContents contents;
    contents.add_directory(recipe_.app_dir);
    for (const auto& executable : target_.executables) {
      auto binary = std::make_shared<MappedFile>(executable.host_path);
      ElfInfo elf = inspect_elf(binary->data(), executable.host_path);
      check_executable(executable, elf);
      bool trust_build_id = executable.fresh_from_go_build && !elf.go_build_id.empty();
      std::string identity = trust_build_id ? "go:" + elf.go_build_id : content_fingerprint(binary->data());
      std::string path = recipe_.app_dir + "/" + executable.name;
      contents.add_mapped_file(path, binary, identity);
      executable_paths_.push_back(path);
      if (!sbom_ && recipe_.sbom) make_sbom(elf, identity);
      if (recipe_.provenance && executable_paths_.size() == 1)
        entrypoint_build_info_ = parse_go_buildinfo(elf.go_buildinfo);
    }
    return store_layer(store_, contents, recipe_.epoch, recipe_.compression);
  }

  void check_executable(const Executable& executable, const ElfInfo& elf) {
    if (elf.platform.architecture != target_.platform.architecture) {
      fail("{} is a {} executable, but the image is for {}", executable.host_path, elf.platform.str(),
           target_.platform.str());
    }
    if (recipe_.base.is_scratch() && !elf.is_static()) {
      std::string needs = !elf.interpreter.empty() ? elf.interpreter : join(elf.needed, ", ");
      fail(
          "{} is dynamically linked (it needs {}), which an image on scratch does not have: build it "
          "statically "
          "(CGO_ENABLED=0 for Go, -static for C) or give a --base that provides those libraries",
          executable.host_path, needs);
    }
  }

  void make_sbom(const ElfInfo& elf, const std::string& identity) {
    if (elf.go_buildinfo.empty()) return;
    std::string key = sha256_hex(fmt::format("sbom-v1 {} {} {}", identity, recipe_.epoch, GOCRATE_VERSION));
    if (auto cached = store_.cache_get("sbom", key)) {
      auto entry = nlohmann::json::parse(*cached, nullptr, false);
      auto digest = entry.is_object() ? Digest::try_parse(entry.value("digest", "")) : std::nullopt;
      if (digest && store_.has_blob(*digest)) {
        sbom_ = Descriptor{std::string(media_type::spdx_json), *digest, entry.value("size", int64_t{0})};
        return;
      }
    }
    auto info = parse_go_buildinfo(elf.go_buildinfo);
    if (!info) return;
    sbom_ = store_.write_blob(spdx_sbom(*info, identity, recipe_.epoch), std::string(media_type::spdx_json));
    nlohmann::json entry = {{"digest", sbom_->digest.str()}, {"size", sbom_->size}};
    store_.cache_put("sbom", key, entry.dump());
  }

  Descriptor write_sbom_artifact(const Descriptor& subject) { return write_artifact(subject, *sbom_); }

  // The statement names the manifest by the entrypoint's name, not by the
  // image's tags, so that one build has one statement whatever it is called.
  Descriptor write_provenance_artifact(const Descriptor& subject) {
    ProvenanceInputs inputs = *recipe_.provenance;
    inputs.builder_version = GOCRATE_VERSION;
    inputs.platform = target_.platform.str();
    for (const auto& [key, value] : target_.platform.go_environment())
      inputs.env.push_back(key + "=" + value);
    inputs.source_date_epoch = recipe_.epoch;
    inputs.build_info = entrypoint_build_info_;
    std::string statement =
        provenance_statement(target_.executables.front().name, subject.digest, slsa_provenance(inputs));
    return write_artifact(subject, store_.write_blob(statement, std::string(media_type::in_toto)));
  }

  // An artifact manifest whose one layer is `content`, about `subject`.
  Descriptor write_artifact(const Descriptor& subject, const Descriptor& content) {
    Manifest artifact;
    artifact.media_type = media_type::oci_manifest;
    artifact.artifact_type = content.media_type;
    artifact.config = store_.write_blob(kEmptyJson, std::string(media_type::oci_empty));
    artifact.config.data = "e30=";
    artifact.layers.push_back(content);
    Descriptor s{subject.media_type, subject.digest, subject.size};
    artifact.subject = s;
    artifact.annotations[std::string(annotation::created)] = rfc3339_utc(recipe_.epoch);
    Descriptor d = store_.write_blob(artifact.to_json_text(), std::string(media_type::oci_manifest));
    d.artifact_type = content.media_type;
    return d;
  }

  void configure() {
    RunConfig& c = config_.config;
    const std::string& app = recipe_.app_dir;
    std::string path = c.env_value("PATH").value_or(std::string(kDefaultPath));
    if ((":" + path + ":").find(":" + app + ":") == std::string::npos) path += ":" + app;
    c.set_env("PATH", path);
    if (recipe_.base.is_scratch()) c.set_env("SSL_CERT_FILE", kCaBundlePath);
    c.set_env("KO_DATA_PATH", kKoDataPath);
    for (const auto& entry : recipe_.env) {
      auto eq = entry.find('=');
      c.set_env(entry.substr(0, eq), entry.substr(eq + 1));
    }
    c.entrypoint = std::vector<std::string>{app + "/" + target_.executables.front().name};
    c.cmd.reset();
    c.user = recipe_.user.value_or(fmt::format("{}:{}", kNonrootId, kNonrootId));
    if (!recipe_.workdir.empty()) c.working_dir = recipe_.workdir;
    c.exposed_ports.insert(recipe_.ports.begin(), recipe_.ports.end());
    for (const auto& [key, value] : recipe_.labels) c.labels[key] = value;
  }

  Store& store_;
  const ImageRecipe& recipe_;
  const PlatformExecutables& target_;
  ImageConfig config_;
  Manifest manifest_;
  std::optional<Descriptor> sbom_;
  std::optional<GoBuildInfo> entrypoint_build_info_;
  std::vector<std::string> executable_paths_;
};

}  // namespace

std::vector<Platform> BaseImage::platforms() const {
  if (is_scratch()) return {};
  std::vector<Platform> out;
  for (const auto& image : load_all_platform_images(*source, root, name)) {
    if (image.descriptor.platform) out.push_back(image.descriptor.platform->normalized());
  }
  return out;
}

BuiltImage assemble_image(Store& store, const ImageRecipe& recipe,
                          const std::vector<PlatformExecutables>& platforms) {
  if (platforms.empty()) fail("no platform to build for");
  BuiltImage built;
  for (const auto& target : platforms) {
    if (target.executables.empty()) fail("no executable to put into the {} image", target.platform.str());
    PlatformAssembly assembly(store, recipe, target);
    built.manifests.push_back(assembly.assemble(built));
  }
  if (platforms.size() == 1) {
    built.root = built.manifests.front();
    built.root.platform.reset();
    return built;
  }
  Index index;
  index.media_type = media_type::oci_index;
  index.manifests = built.manifests;
  index.annotations = recipe.annotations;
  if (!recipe.base.is_scratch()) {
    index.annotations[std::string(annotation::base_name)] = recipe.base.name;
    index.annotations[std::string(annotation::base_digest)] = recipe.base.root.digest.str();
  }
  built.root = store.write_blob(index.to_json_text(), std::string(media_type::oci_index));
  return built;
}

}  // namespace gocrate
