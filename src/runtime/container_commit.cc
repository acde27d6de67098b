#include "runtime/container_commit.h"

#include <cctype>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>

#include "image/config_options.h"
#include "image/media_types.h"
#include "layer/layer_writer.h"
#include "runtime/container_changes.h"
#include "runtime/container_rootfs.h"
#include "runtime/containment/freezer.h"
#include "store/events.h"
#include "store/store.h"
#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

namespace {

// A JSON array of strings ("exec form"), or the text run by /bin/sh -c.
std::vector<std::string> command_form(std::string_view text) {
  std::string_view t = trim(text);
  if (t.starts_with('[')) {
    auto parsed = nlohmann::json::parse(t, nullptr, false);
    if (parsed.is_array()) {
      std::vector<std::string> args;
      for (const auto& a : parsed) {
        if (!a.is_string()) break;
        args.push_back(a.get<std::string>());
      }
      if (args.size() == parsed.size()) return args;
    }
  }
  return {"/bin/sh", "-c", std::string(t)};
}

// "K=V K2=V2", or "K V" (the old form).
std::vector<std::pair<std::string, std::string>> assignments(std::string_view text,
                                                             std::string_view instruction) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string_view t = trim(text);
  auto space = t.find_first_of(" \t");
  auto equals = t.find('=');
  if (equals == std::string_view::npos || (space != std::string_view::npos && space < equals)) {
    if (space == std::string_view::npos) fail("--change \"{} {}\" needs a value", instruction, t);
    out.emplace_back(std::string(t.substr(0, space)), std::string(trim(t.substr(space))));
    return out;
  }
  for (const auto& word : split(std::string(t), ' ')) {
    if (word.empty()) continue;
    auto eq = word.find('=');
    if (eq == std::string::npos || eq == 0)
      fail("--change \"{} {}\": \"{}\" is not KEY=VALUE", instruction, t, word);
    std::string value = word.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    out.emplace_back(word.substr(0, eq), value);
  }
  return out;
}

std::vector<std::string> words_or_array(std::string_view text) {
  std::string_view t = trim(text);
  if (t.starts_with('[')) {
    auto parsed = nlohmann::json::parse(t, nullptr, false);
    if (parsed.is_array()) {
      std::vector<std::string> out;
      for (const auto& a : parsed)
        if (a.is_string()) out.push_back(a.get<std::string>());
      return out;
    }
  }
  std::vector<std::string> out;
  for (const auto& w : split(std::string(t), ' '))
    if (!w.empty()) out.push_back(w);
  return out;
}

int64_t creation_time() {
  const char* epoch = std::getenv("SOURCE_DATE_EPOCH");
  if (epoch && *epoch) return source_date_epoch();
  return static_cast<int64_t>(::time(nullptr));
}

// Freezes a running container for as long as it lives, unless it already was.
class Freeze {
 public:
  explicit Freeze(const ContainerState& s) : dirs_(s.cgroup_dirs), name_(s.name) {
    if (container_cgroup_frozen(dirs_)) return;
    try {
      freeze_container_cgroup(dirs_);
    } catch (const Error& e) {
      fail("cannot pause container {} to commit it ({}): commit --pause=false reads its layer while it runs",
           name_, e.what());
    }
    frozen_ = true;
  }
  ~Freeze() {
    try {
      if (frozen_) thaw_container_cgroup(dirs_);
    } catch (const Error&) {
    }
  }

 private:
  std::vector<std::string> dirs_;
  std::string name_;
  bool frozen_ = false;
};

}  // namespace

void apply_config_change(RunConfig& config, const std::string& change) {
  std::string_view t = trim(change);
  auto space = t.find_first_of(" \t");
  std::string instruction(t.substr(0, space));
  for (char& c : instruction) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string_view rest = space == std::string_view::npos ? std::string_view{} : trim(t.substr(space));
  if (rest.empty()) fail("--change \"{}\" needs a value after {}", change, instruction);
  if (instruction == "CMD") {
    config.cmd = command_form(rest);
  } else if (instruction == "ENTRYPOINT") {
    config.entrypoint = command_form(rest);
  } else if (instruction == "ENV") {
    for (const auto& [k, v] : assignments(rest, instruction)) config.set_env(k, v);
  } else if (instruction == "LABEL") {
    for (const auto& [k, v] : assignments(rest, instruction)) config.labels[k] = v;
  } else if (instruction == "EXPOSE") {
    for (const auto& port : words_or_array(rest))
      config.exposed_ports.insert(parse_exposed_port(port, "--change EXPOSE"));
  } else if (instruction == "VOLUME") {
    for (const auto& v : words_or_array(rest)) config.volumes.insert(v);
  } else if (instruction == "USER") {
    config.user = std::string(rest);
  } else if (instruction == "WORKDIR") {
    config.working_dir = std::string(rest);
  } else if (instruction == "STOPSIGNAL") {
    config.stop_signal = std::string(rest);
  } else {
    fail(
        "--change \"{}\": {} is not one commit applies: use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, "
        "VOLUME, "
        "WORKDIR or STOPSIGNAL",
        change, instruction);
  }
}

CommitResult commit_container(const std::string& store_root, const ContainerView& c,
                              const CommitOptions& options) {
  const ContainerState& s = c.state;
  ContainerLayers layers = container_layers(store_root, s);
  // A container made but never started has changed nothing: its layer is
  // empty, as Docker commits it.
  bool never_started = s.status == ContainerStatus::created && s.started.empty() && !c.running();
  if (layers.upper_dir.empty() && !never_started) {
    if (s.auto_remove)
      fail(
          "container {} runs with --rm, which keeps its changes in memory: there is no upper layer to commit",
          s.name);
    fail(
        "container {} keeps its changes in a private copy of its image (this store does not use overlay): "
        "there is no upper layer to commit",
        s.name);
  }
  RunConfig run = layers.image.config.config;
  // Docker commits the container's own command: its entrypoint stays, the
  // rest becomes Cmd.
  std::vector<std::string> command = s.command;
  const auto& entrypoint = run.entrypoint;
  if (entrypoint && command.size() >= entrypoint->size() &&
      std::equal(entrypoint->begin(), entrypoint->end(), command.begin())) {
    command.erase(command.begin(), command.begin() + static_cast<long>(entrypoint->size()));
  } else {
    run.entrypoint.reset();
  }
  if (!command.empty()) run.cmd = command;
  for (const auto& change : options.changes) apply_config_change(run, change);

  Store store(store_root);
  FileLock lease = store.lease();
  bool docker = layers.image.manifest.media_type == media_type::docker_manifest;
  LayerDigests digests;
  Descriptor layer;
  {
    std::optional<Freeze> freeze;
    if (options.pause && c.running() && !s.cgroup_dirs.empty()) freeze.emplace(s);
    BlobWriter blob = store.begin_blob();
    LayerWriter writer(options.compression, [&](std::string_view data) { blob.write(data); });
    if (!layers.upper_dir.empty()) write_upper_layer(layers.upper_dir, writer.tar());
    digests = writer.finish();
    std::string type = digests.media_type;
    if (docker && type == media_type::oci_layer_gzip) type = media_type::docker_layer_gzip;
    if (docker && type == media_type::oci_layer_tar) type = media_type::docker_layer_tar;
    layer = blob.commit(type);
  }

  ImageConfig config = layers.image.config;
  config.config = run;
  config.created = rfc3339_utc(creation_time());
  if (!options.author.empty()) config.author = options.author;
  config.diff_ids.push_back(digests.diff_id);
  HistoryEntry history;
  history.created = config.created;
  history.created_by = join(s.command, " ");
  history.author = options.author;
  history.comment = options.message;
  config.history.push_back(history);
  Descriptor config_blob = store.write_blob(
      config.to_json_text(), std::string(docker ? media_type::docker_config : media_type::oci_config));

  Manifest manifest = layers.image.manifest;
  manifest.config = config_blob;
  manifest.layers.push_back(layer);
  manifest.annotations.clear();
  Descriptor manifest_blob = store.write_blob(
      manifest.to_json_text(), std::string(docker ? media_type::docker_manifest : media_type::oci_manifest));
  if (!options.name.empty()) {
    store.set_name(Store::canonical_name(options.name), manifest_blob);
  } else {
    store.update_index([&](Index& index) {
      for (const auto& d : index.manifests)
        if (d.digest == manifest_blob.digest) return;
      index.manifests.push_back(manifest_blob);
    });
  }

  Event event;
  event.type = EventType::container;
  event.action = "commit";
  event.id = s.id;
  event.attributes = s.labels;
  event.attributes["name"] = s.name;
  event.attributes["image"] = s.image;
  event.attributes["comment"] = options.message;
  event.attributes["imageID"] = config_blob.digest.str();
  event.attributes["imageRef"] =
      options.name.empty() ? config_blob.digest.str() : Store::canonical_name(options.name);
  record_event(store_root, event);
  return {manifest_blob, config_blob.digest};
}

}  // namespace gocrate
