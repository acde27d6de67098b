#include "runtime/containment/mount_options.h"

#include <sys/mount.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "runtime/container_config.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate {

namespace {

constexpr unsigned long kTmpfsDefaultFlags = MS_NOEXEC | MS_NOSUID | MS_NODEV;

// The container path of a mount: absolute, normalised, not the root and not
// one of the kernel's views that gocrate mounts, masks and makes read-only
// (a mount there could hide a mask or show the host's own).
std::string check_target(std::string_view path, std::string_view what) {
  if (path.empty()) fail("bad {}: it names no container path", what);
  if (!path.starts_with('/')) fail("bad {}: the container path {} must be absolute", what, path);
  std::vector<std::string> parts;
  for (const auto& part : split(path, '/')) {
    if (part == "..") fail("bad {}: the container path may not contain ..", what);
    if (!part.empty() && part != ".") parts.push_back(part);
  }
  if (parts.empty()) fail("bad {}: a mount cannot replace the container's root", what);
  for (std::string_view kernel : {"proc", "sys", "dev"}) {
    if (parts[0] != kernel) continue;
    fail(
        "bad {}: /{} and everything under it is the kernel's view that gocrate mounts for the "
        "container{}; choose another container path",
        what, kernel, kernel == "dev" ? " (give a device with --device)" : "");
  }
  return "/" + join(parts, "/");
}

bool is_propagation(std::string_view text) {
  return text == "private" || text == "rprivate" || text == "slave" || text == "rslave" || text == "shared" ||
         text == "rshared";
}

void check_propagation(std::string_view text, std::string_view what) {
  if (text == "shared" || text == "rshared") {
    fail(
        "bad {}: {} propagation is not supported: mounts made in a gocrate container never reach the host; "
        "use rprivate, private, rslave or slave",
        what, text);
  }
  if (!is_propagation(text)) {
    fail("bad {}: unknown propagation \"{}\": use rprivate, private, rslave or slave", what, text);
  }
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A number with an optional k, m, g, t, p or e suffix (the kernel's memparse);
// `percent` also allows N% (tmpfs's size).
bool valid_kernel_size(std::string_view value, bool percent) {
  if (value.empty()) return false;
  char last = static_cast<char>(std::tolower(static_cast<unsigned char>(value.back())));
  std::string_view digits = value;
  if ((percent && last == '%') || std::string_view("kmgtpe").find(last) != std::string_view::npos)
    digits.remove_suffix(1);
  return all_digits(digits) && digits.size() <= 19;
}

bool valid_id(std::string_view value) {
  int64_t id = 0;
  return parse_int(value, 0, UINT32_MAX - 1, id);
}

bool valid_mode(std::string_view value) {
  if (value.empty() || value.size() > 5) return false;
  return std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '7'; }) &&
         std::stoul(std::string(value), nullptr, 8) <= 07777;
}

// Sets `key` in a comma-separated data list, replacing an earlier value (the
// last one given wins, as Docker merges tmpfs options).
void set_data(std::string& data, std::string_view key, std::string_view value) {
  std::vector<std::string> kept;
  for (const auto& entry : split(data, ',')) {
    if (!entry.empty() && !entry.starts_with(std::string(key) + "=")) kept.push_back(entry);
  }
  kept.push_back(fmt::format("{}={}", key, value));
  data = join(kept, ",");
}

void apply_tmpfs_option(VolumeMount& m, std::string_view option, std::string_view what) {
  struct Flag {
    std::string_view name;
    unsigned long flag;
    bool set;
  };
  static constexpr Flag kFlags[] = {
      {"ro", MS_RDONLY, true},
      {"rw", MS_RDONLY, false},
      {"exec", MS_NOEXEC, false},
      {"noexec", MS_NOEXEC, true},
      {"suid", MS_NOSUID, false},
      {"nosuid", MS_NOSUID, true},
      {"nodev", MS_NODEV, true},
      {"atime", MS_NOATIME, false},
      {"noatime", MS_NOATIME, true},
      {"diratime", MS_NODIRATIME, false},
      {"nodiratime", MS_NODIRATIME, true},
      {"relatime", MS_RELATIME, true},
      {"norelatime", MS_RELATIME, false},
      {"strictatime", MS_STRICTATIME, true},
      {"nostrictatime", MS_STRICTATIME, false},
      {"sync", MS_SYNCHRONOUS, true},
      {"async", MS_SYNCHRONOUS, false},
      {"dirsync", MS_DIRSYNC, true},
  };
  for (const auto& f : kFlags) {
    if (option != f.name) continue;
    if (f.set)
      m.tmpfs_flags |= f.flag;
    else
      m.tmpfs_flags &= ~f.flag;
    m.read_only = m.tmpfs_flags & MS_RDONLY;
    return;
  }
  if (option == "dev") {
    fail("bad {}: option dev is not supported: gocrate's mounts are nodev; give devices with --device", what);
  }
  size_t eq = option.find('=');
  std::string_view key = option.substr(0, eq);
  std::string_view value = eq == std::string_view::npos ? std::string_view() : option.substr(eq + 1);
  bool valid = false;
  if (key == "size") {
    valid = valid_kernel_size(value, true);
  } else if (key == "nr_inodes") {
    valid = valid_kernel_size(value, false);
  } else if (key == "mode") {
    valid = valid_mode(value);
  } else if (key == "uid" || key == "gid") {
    valid = valid_id(value);
  } else {
    fail(
        "bad {}: unknown tmpfs option \"{}\": use ro, rw, exec, noexec, suid, nosuid, nodev, size=, mode=, "
        "uid=, gid=, nr_inodes= or an atime option",
        what, option);
  }
  if (eq == std::string_view::npos || !valid) {
    std::string_view expected = key == "size"        ? "a size such as 64m, 65536k or 50%"
                                : key == "nr_inodes" ? "a number such as 4096 or 1m"
                                : key == "mode"      ? "an octal mode such as 1777"
                                                     : "a number from 0 to 4294967294";
    fail("bad {}: invalid tmpfs option {}: {} must be {}", what, option, key, expected);
  }
  set_data(m.tmpfs_data, key, value);
}

std::optional<bool> parse_bool(std::string_view value) {
  if (value.empty() || value == "1" || value == "true") return true;
  if (value == "0" || value == "false") return false;
  return std::nullopt;
}

}  // namespace

VolumeMount parse_volume(const std::string& text) {
  std::string what = fmt::format("-v \"{}\"", text);
  auto parts = split(text, ':');
  if (parts.size() == 1 && !text.empty()) {
    fail(
        "bad {}: anonymous volumes are not supported; give the volume a name (-v NAME:{}) or a host "
        "directory (-v /HOST/PATH:{})",
        what, text, text);
  }
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty()) {
    fail("bad {}: use HOST_PATH:CONTAINER_PATH[:OPTIONS] or NAME:CONTAINER_PATH[:OPTIONS]", what);
  }
  VolumeMount v;
  if (parts[0].starts_with('/')) {
    v.type = MountType::bind;
    v.source = parts[0];
  } else {
    check_volume_name(parts[0], what);
    v.type = MountType::volume;
    v.volume_name = parts[0];
    v.mode = "z";
  }
  v.target = check_target(parts[1], what);
  if (parts.size() == 3) {
    v.mode = parts[2];
    bool mode_given = false;
    for (const auto& option : split(parts[2], ',')) {
      if (option == "ro" || option == "rw") {
        if (mode_given) fail("bad {}: ro and rw may be given once", what);
        mode_given = true;
        v.read_only = option == "ro";
      } else if (option == "nocopy") {
        if (v.type != MountType::volume) fail("bad {}: nocopy applies to named volumes only", what);
        v.no_copy = true;
      } else if (is_propagation(option)) {
        if (v.type != MountType::bind) fail("bad {}: propagation applies to host directories only", what);
        if (!v.propagation.empty()) fail("bad {}: give one propagation", what);
        check_propagation(option, what);
        v.propagation = option;
      } else if (option == "z" || option == "Z" || option == "consistent" || option == "cached" ||
                 option == "delegated") {
        // SELinux relabelling and macOS consistency: Docker does nothing
        // with them on a Linux host without SELinux, nor does gocrate.
      } else {
        fail(
            "bad {}: unknown option \"{}\": use ro, rw, nocopy (named volumes), rprivate, private, rslave or "
            "slave",
            what, option);
      }
    }
  }
  if (v.type == MountType::bind) {
    if (v.propagation.empty()) v.propagation = "rprivate";
    if (!path_exists(v.source)) fail("bad {}: host path {} does not exist", what, v.source);
  }
  return v;
}

VolumeMount parse_mount(const std::string& text) {
  std::string what = fmt::format("--mount \"{}\"", text);
  VolumeMount m;
  std::string type = "volume";
  std::optional<std::string> source, target, propagation, tmpfs_size, tmpfs_mode;
  bool read_only = false, no_copy = false, nonrecursive = false;
  std::vector<std::string> volume_keys, bind_keys, tmpfs_keys;
  for (const auto& field : split(text, ',')) {
    if (field.empty()) continue;
    size_t eq = field.find('=');
    std::string key = field.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : field.substr(eq + 1);
    std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
    auto need_value = [&] {
      if (eq == std::string::npos) fail("bad {}: {} needs a value ({}=...)", what, key, key);
    };
    auto boolean = [&] {
      auto b = parse_bool(value);
      if (!b) fail("bad {}: invalid value for {}: {} (use true or false)", what, key, value);
      return *b;
    };
    if (key == "type") {
      need_value();
      type = value;
    } else if (key == "source" || key == "src") {
      need_value();
      source = value;
    } else if (key == "target" || key == "destination" || key == "dst") {
      need_value();
      target = value;
    } else if (key == "readonly" || key == "ro") {
      read_only = boolean();
    } else if (key == "consistency") {
      need_value();  // macOS only; Docker ignores it on Linux
    } else if (key == "bind-propagation") {
      need_value();
      propagation = value;
      bind_keys.push_back(key);
    } else if (key == "bind-nonrecursive") {
      nonrecursive = boolean();
      bind_keys.push_back(key);
    } else if (key == "volume-nocopy") {
      no_copy = boolean();
      volume_keys.push_back(key);
    } else if (key == "volume-driver") {
      need_value();
      if (value != "local") fail("bad {}: volume driver \"{}\" is not supported: use local", what, value);
      volume_keys.push_back(key);
    } else if (key == "volume-label" || key == "volume-opt") {
      fail(
          "bad {}: {} is not supported: create the volume first with `gocrate volume create --label ...`, "
          "then mount it by name",
          what, key);
    } else if (key == "tmpfs-size") {
      need_value();
      tmpfs_size = value;
      tmpfs_keys.push_back(key);
    } else if (key == "tmpfs-mode") {
      need_value();
      tmpfs_mode = value;
      tmpfs_keys.push_back(key);
    } else {
      fail(
          "bad {}: unexpected key '{}': use type, source, target, readonly, bind-propagation, "
          "bind-nonrecursive, volume-nocopy, volume-driver, tmpfs-size or tmpfs-mode",
          what, key);
    }
  }
  m.type = parse_mount_type(type);
  auto refuse_keys = [&](const std::vector<std::string>& keys, std::string_view kind) {
    if (!keys.empty()) fail("bad {}: {} applies to type={} only, not type={}", what, keys[0], kind, type);
  };
  if (m.type != MountType::bind) refuse_keys(bind_keys, "bind");
  if (m.type != MountType::volume) refuse_keys(volume_keys, "volume");
  if (m.type != MountType::tmpfs) refuse_keys(tmpfs_keys, "tmpfs");
  if (!target) fail("bad {}: target is required (target=/PATH)", what);
  m.target = check_target(*target, what);
  m.read_only = read_only;
  switch (m.type) {
    case MountType::bind:
      if (!source || source->empty()) fail("bad {}: source is required for type=bind", what);
      if (!source->starts_with('/'))
        fail("bad {}: the bind source {} must be an absolute path", what, *source);
      if (!path_exists(*source)) fail("bad {}: bind source path does not exist: {}", what, *source);
      m.source = *source;
      m.propagation = propagation.value_or("rprivate");
      check_propagation(m.propagation, what);
      m.nonrecursive = nonrecursive;
      break;
    case MountType::volume:
      if (!source || source->empty()) {
        fail("bad {}: anonymous volumes are not supported; give the volume a name (source=NAME)", what);
      }
      check_volume_name(*source, what);
      m.volume_name = *source;
      m.no_copy = no_copy;
      break;
    case MountType::tmpfs:
      if (source) fail("bad {}: source is not allowed for type=tmpfs", what);
      m.tmpfs_flags = kTmpfsDefaultFlags | (read_only ? MS_RDONLY : 0);
      if (tmpfs_size) {
        uint64_t bytes = 0;
        if (!parse_byte_size(*tmpfs_size, bytes) || bytes == 0)
          fail("bad {}: invalid tmpfs-size {}: use a size such as 64m or 1g", what, *tmpfs_size);
        set_data(m.tmpfs_data, "size", std::to_string(bytes));
      }
      if (tmpfs_mode) {
        if (!valid_mode(*tmpfs_mode))
          fail("bad {}: invalid tmpfs-mode {}: use an octal mode such as 1777", what, *tmpfs_mode);
        set_data(m.tmpfs_data, "mode", *tmpfs_mode);
      }
      break;
  }
  return m;
}

VolumeMount parse_tmpfs(const std::string& text) {
  std::string what = fmt::format("--tmpfs \"{}\"", text);
  size_t colon = text.find(':');
  VolumeMount m;
  m.type = MountType::tmpfs;
  m.from_tmpfs_flag = true;
  m.target = check_target(text.substr(0, colon), what);
  m.tmpfs_flags = kTmpfsDefaultFlags;
  if (colon != std::string::npos) {
    for (const auto& option : split(text.substr(colon + 1), ',')) {
      if (!option.empty()) apply_tmpfs_option(m, option, what);
    }
    m.mode = text.substr(colon + 1);
  }
  return m;
}

std::string_view mount_type_name(MountType type) {
  switch (type) {
    case MountType::bind:
      return "bind";
    case MountType::volume:
      return "volume";
    case MountType::tmpfs:
      break;
  }
  return "tmpfs";
}

MountType parse_mount_type(std::string_view text) {
  if (text == "bind") return MountType::bind;
  if (text == "volume") return MountType::volume;
  if (text == "tmpfs") return MountType::tmpfs;
  fail("unknown mount type \"{}\": use bind, volume or tmpfs", text);
}

std::string tmpfs_options_text(const VolumeMount& m) {
  std::vector<std::string> options = {(m.tmpfs_flags & MS_RDONLY) ? "ro" : "rw"};
  if (m.tmpfs_flags & MS_NOSUID) options.push_back("nosuid");
  if (m.tmpfs_flags & MS_NODEV) options.push_back("nodev");
  if (m.tmpfs_flags & MS_NOEXEC) options.push_back("noexec");
  if (!m.tmpfs_data.empty()) options.push_back(m.tmpfs_data);
  return join(options, ",");
}

std::vector<VolumeMount> order_mounts(std::vector<VolumeMount> mounts) {
  for (size_t i = 0; i < mounts.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (mounts[i].target == mounts[j].target) fail("duplicate mount point: {}", mounts[i].target);
    }
  }
  auto depth = [](const VolumeMount& m) { return std::count(m.target.begin(), m.target.end(), '/'); };
  std::stable_sort(mounts.begin(), mounts.end(),
                   [&](const VolumeMount& a, const VolumeMount& b) { return depth(a) < depth(b); });
  return mounts;
}

MountRecord mount_record(const VolumeMount& m) {
  MountRecord r;
  r.type = mount_type_name(m.type);
  r.name = m.volume_name;
  r.source = m.source;
  r.destination = m.target;
  r.mode = m.mode;
  r.rw = !m.read_only;
  r.propagation = m.propagation;
  if (m.type == MountType::tmpfs) r.tmpfs_options = tmpfs_options_text(m);
  r.tmpfs_flag = m.from_tmpfs_flag;
  return r;
}

std::vector<UniqueFd> claim_volumes(const std::string& store_root, std::vector<VolumeMount>& mounts) {
  std::vector<UniqueFd> holds;
  VolumeStore volumes(store_root);
  for (auto& m : mounts) {
    if (m.type != MountType::volume) continue;
    check_volume_name(m.volume_name, "volume");
    VolumeUse use = volumes.use(m.volume_name);
    m.source = use.volume.mountpoint;
    holds.push_back(std::move(use.lock));
  }
  return holds;
}

std::vector<std::string> containers_using_volume(const std::string& store_root, const std::string& name) {
  std::vector<std::string> users;
  ContainerDirectory directory(store_root);
  for (const auto& id : directory.ids()) {
    bool uses = false;
    try {
      if (auto state = directory.find(id)) {
        for (const auto& m : state->mounts) uses = uses || (m.type == "volume" && m.name == name);
      }
      if (auto config = read_container_config(directory.dir_of(id)); config && !uses) {
        for (const auto& m : config->spec.volumes)
          uses = uses || (m.type == MountType::volume && m.volume_name == name);
      }
    } catch (const Error&) {
      // An unreadable state or configuration names nothing.
    }
    if (uses) users.push_back(id);
  }
  return users;
}

}  // namespace gocrate
