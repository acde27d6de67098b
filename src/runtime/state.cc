#include "runtime/state.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/fs.h"
#include "util/sha256.h"

namespace gocrate {

using nlohmann::json;

namespace {

json stats_to_json(const CgroupStats& s) {
  return {{"cpu_usage_ns", s.cpu_usage_ns},
          {"cpu_periods", s.cpu_periods},
          {"cpu_throttled_periods", s.cpu_throttled_periods},
          {"cpu_throttled_ns", s.cpu_throttled_ns},
          {"memory_bytes", s.memory_bytes},
          {"memory_peak_bytes", s.memory_peak_bytes},
          {"pids", s.pids},
          {"oom_kills", s.oom_kills}};
}

CgroupStats stats_from_json(const json& j) {
  CgroupStats s;
  s.cpu_usage_ns = j.value("cpu_usage_ns", uint64_t{0});
  s.cpu_periods = j.value("cpu_periods", uint64_t{0});
  s.cpu_throttled_periods = j.value("cpu_throttled_periods", uint64_t{0});
  s.cpu_throttled_ns = j.value("cpu_throttled_ns", uint64_t{0});
  s.memory_bytes = j.value("memory_bytes", uint64_t{0});
  s.memory_peak_bytes = j.value("memory_peak_bytes", uint64_t{0});
  s.pids = j.value("pids", uint64_t{0});
  s.oom_kills = j.value("oom_kills", uint64_t{0});
  return s;
}

json ports_to_json(const std::vector<PortMapping>& ports) {
  json out = json::array();
  for (const auto& p : ports) {
    out.push_back({{"host_ip", p.host_ip},
                   {"host_port", p.host_port},
                   {"container_port", p.container_port},
                   {"protocol", protocol_name(p.protocol)}});
  }
  return out;
}

std::vector<PortMapping> ports_from_json(const json& j) {
  std::vector<PortMapping> ports;
  for (const auto& p : j) {
    ports.push_back({p.value("host_ip", ""), p.value("host_port", uint16_t{0}),
                     p.value("container_port", uint16_t{0}),
                     p.value("protocol", "tcp") == "udp" ? Protocol::udp : Protocol::tcp});
  }
  return ports;
}

json mounts_to_json(const std::vector<MountRecord>& mounts) {
  json out = json::array();
  for (const auto& m : mounts) {
    out.push_back({{"type", m.type},
                   {"name", m.name},
                   {"source", m.source},
                   {"destination", m.destination},
                   {"mode", m.mode},
                   {"rw", m.rw},
                   {"propagation", m.propagation},
                   {"tmpfs_options", m.tmpfs_options},
                   {"tmpfs_flag", m.tmpfs_flag}});
  }
  return out;
}

std::vector<MountRecord> mounts_from_json(const json& j) {
  std::vector<MountRecord> mounts;
  for (const auto& m : j) {
    mounts.push_back({m.value("type", ""), m.value("name", ""), m.value("source", ""),
                      m.value("destination", ""), m.value("mode", ""), m.value("rw", true),
                      m.value("propagation", ""), m.value("tmpfs_options", ""),
                      m.value("tmpfs_flag", false)});
  }
  return mounts;
}

bool is_container_id(std::string_view name) {
  return name.size() == 64 && name.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// Docker's [a-zA-Z0-9][a-zA-Z0-9_.-]*: nothing that could leave by-name/.
bool is_container_name(std::string_view name) {
  if (name.empty() || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

}  // namespace

std::string_view status_name(ContainerStatus status) {
  switch (status) {
    case ContainerStatus::created:
      return "created";
    case ContainerStatus::running:
      return "running";
    case ContainerStatus::restarting:
      return "restarting";
    case ContainerStatus::exited:
      return "exited";
    case ContainerStatus::dead:
      return "dead";
    case ContainerStatus::paused:
      return "paused";
  }
  return "created";
}

ContainerStatus parse_container_status(std::string_view name, const std::string& what) {
  for (auto status : {ContainerStatus::created, ContainerStatus::running, ContainerStatus::restarting,
                      ContainerStatus::exited, ContainerStatus::dead, ContainerStatus::paused}) {
    if (status_name(status) == name) return status;
  }
  fail("{} is not a valid container state: unknown status '{}'", what, name);
}

std::string ContainerState::to_json_text() const {
  json j = {{"id", id},
            {"name", name},
            {"image", image},
            {"image_digest", image_digest},
            {"platform", platform},
            {"hostname", hostname},
            {"command", command},
            {"network", network},
            {"ports", ports_to_json(ports)},
            {"status", status_name(status)},
            {"pid", pid},
            {"created", created},
            {"finished", finished},
            {"cgroup_dirs", cgroup_dirs},
            {"cgroup_v2", cgroup_v2},
            {"oom_killed", oom_killed},
            {"auto_remove", auto_remove},
            {"started", started},
            {"env", env},
            {"user", user},
            {"workdir", workdir},
            {"capabilities", capabilities},
            {"seccomp", seccomp},
            {"privileged", privileged},
            {"owner_pid", owner_pid},
            {"stop_signal", stop_signal}};
  if (!mounts.empty()) j["mounts"] = mounts_to_json(mounts);
  if (!labels.empty()) j["labels"] = labels;
  if (!ulimits.empty()) j["ulimits"] = ulimits;
  if (!group_add.empty()) j["group_add"] = group_add;
  if (!seccomp_profile.empty()) j["seccomp_profile"] = seccomp_profile;
  if (exit_code) j["exit_code"] = *exit_code;
  if (stats) j["stats"] = stats_to_json(*stats);
  if (supervised) {
    j["supervised"] = true;
    j["restart_count"] = restart_count;
    j["health"] = health;
    j["error"] = error;
    j["stopped_by_user"] = stopped_by_user;
  }
  return j.dump(2) + "\n";
}

ContainerState ContainerState::parse(const std::string& text, const std::string& what) {
  try {
    json j = json::parse(text);
    ContainerState s;
    s.id = j.at("id").get<std::string>();
    s.name = j.value("name", "");
    s.image = j.value("image", "");
    s.image_digest = j.value("image_digest", "");
    s.platform = j.value("platform", "");
    s.hostname = j.value("hostname", "");
    s.command = j.value("command", std::vector<std::string>{});
    s.network = j.value("network", "");
    if (j.contains("ports")) s.ports = ports_from_json(j["ports"]);
    s.status = parse_container_status(j.value("status", "created"), what);
    s.pid = j.value("pid", 0);
    s.created = j.value("created", "");
    s.finished = j.value("finished", "");
    s.cgroup_dirs = j.value("cgroup_dirs", std::vector<std::string>{});
    s.cgroup_v2 = j.value("cgroup_v2", false);
    if (j.contains("exit_code")) s.exit_code = j["exit_code"].get<int>();
    s.oom_killed = j.value("oom_killed", false);
    if (j.contains("stats")) s.stats = stats_from_json(j["stats"]);
    s.auto_remove = j.value("auto_remove", false);
    s.started = j.value("started", "");
    s.env = j.value("env", std::vector<std::string>{});
    s.user = j.value("user", "");
    s.workdir = j.value("workdir", "");
    s.capabilities = j.value("capabilities", uint64_t{0});
    s.seccomp = j.value("seccomp", true);
    s.seccomp_profile = j.value("seccomp_profile", "");
    s.privileged = j.value("privileged", false);
    s.owner_pid = j.value("owner_pid", 0);
    s.stop_signal = j.value("stop_signal", "");
    if (j.contains("mounts")) s.mounts = mounts_from_json(j["mounts"]);
    s.labels = j.value("labels", std::map<std::string, std::string>{});
    s.ulimits = j.value("ulimits", std::vector<std::string>{});
    s.group_add = j.value("group_add", std::vector<std::string>{});
    s.supervised = j.value("supervised", false);
    s.restart_count = j.value("restart_count", 0);
    s.health = j.value("health", "");
    s.error = j.value("error", "");
    s.stopped_by_user = j.value("stopped_by_user", false);
    return s;
  } catch (const json::exception& e) {
    fail("{} is not a valid container state: {}", what, e.what());
  }
}

ContainerDirectory::ContainerDirectory(const std::string& store_root) : dir_(store_root + "/containers") {}

void ContainerDirectory::ensure_exists() const {
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) make_directories(dir_, 0700);
}

void ContainerDirectory::create(const ContainerState& state) {
  std::string names = dir_ + "/by-name";
  if (::mkdir(names.c_str(), 0700) != 0 && errno != EEXIST) {
    make_directories(names, 0700);
  }
  std::string dir = dir_of(state.id);
  if (::mkdir(dir.c_str(), 0700) != 0) fail_errno(fmt::format("cannot create container directory {}", dir));
  try {
    claim_name(state.name, state.id, "remove that container or choose another --name");
  } catch (const Error&) {
    ::rmdir(dir.c_str());
    throw;
  }
}

void ContainerDirectory::claim_name(const std::string& name, const std::string& id, std::string_view fix) {
  std::string link = dir_ + "/by-name/" + name;
  for (int attempt = 0; ::symlink(id.c_str(), link.c_str()) != 0; ++attempt) {
    int err = errno;
    char holder[128] = {};
    ssize_t n = ::readlink(link.c_str(), holder, sizeof holder - 1);
    bool stale = err == EEXIST && n > 0 && !path_exists(dir_of(std::string(holder, n)));
    if (!stale || attempt > 2) {
      if (err == EEXIST) {
        fail("container name \"{}\" is in use by container {}: {}", name,
             std::string(holder, n > 0 ? std::min<ssize_t>(n, 12) : 0), fix);
      }
      fail_errno(fmt::format("cannot record container name {}", name), err);
    }
    ::unlink(link.c_str());  // left by a gocrate that was killed
  }
}

void ContainerDirectory::release_name(const std::string& name, const std::string& id) const {
  std::string link = dir_ + "/by-name/" + name;
  char target[128] = {};
  ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
  if (n > 0 && std::string(target, n) == id) ::unlink(link.c_str());
}

void ContainerDirectory::save(const ContainerState& state) const {
  std::string path = dir_of(state.id) + "/state.json";
  std::string temp = path + ".tmp";
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) fail_errno(fmt::format("cannot write {}", temp));
  write_all(fd.get(), state.to_json_text(), temp);
  fd.reset();
  if (::rename(temp.c_str(), path.c_str()) != 0) fail_errno(fmt::format("cannot replace {}", path));
}

std::optional<ContainerState> ContainerDirectory::find(const std::string& id_or_name) const {
  std::string id = id_or_name;
  if (!is_container_id(id)) {
    if (!is_container_name(id)) return std::nullopt;
    char target[128] = {};
    ssize_t n = ::readlink((dir_ + "/by-name/" + id_or_name).c_str(), target, sizeof target - 1);
    if (n <= 0) return std::nullopt;
    id.assign(target, n);
    if (!is_container_id(id)) return std::nullopt;
  }
  std::string path = dir_of(id) + "/state.json";
  auto text = read_file_if_exists(path);
  if (!text) return std::nullopt;
  return ContainerState::parse(*text, path);
}

std::vector<std::string> ContainerDirectory::ids() const {
  std::vector<std::string> ids;
  DIR* dir = ::opendir(dir_.c_str());
  if (!dir) return ids;
  while (dirent* entry = ::readdir(dir)) {
    if (is_container_id(entry->d_name)) ids.push_back(entry->d_name);
  }
  ::closedir(dir);
  return ids;
}

std::vector<ContainerState> ContainerDirectory::list() const {
  std::vector<ContainerState> out;
  for (const auto& id : ids()) {
    if (auto state = find(id)) out.push_back(std::move(*state));
  }
  return out;
}

void ContainerDirectory::mark_ended(const std::string& id) const {
  std::string path = dir_of(id) + "/ended";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) fail_errno(fmt::format("cannot write {}", path));
}

bool ContainerDirectory::is_ended(const std::string& id) const {
  return ::access((dir_of(id) + "/ended").c_str(), F_OK) == 0;
}

void ContainerDirectory::remove(const ContainerState& state) const {
  release_name(state.name, state.id);
  remove_tree(dir_of(state.id));
}

std::string new_container_id() {
  uint8_t bytes[32];
  if (::getrandom(bytes, sizeof bytes, 0) != sizeof bytes) fail_errno("cannot draw a random container id");
  return to_hex(bytes, sizeof bytes);
}

void check_container_name(const std::string& name) {
  auto ok = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  };
  bool valid = !name.empty() && name.size() <= 64 && std::isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name) valid = valid && ok(c);
  if (!valid) {
    fail(
        "invalid container name \"{}\": use letters, digits, '_', '.' and '-', starting with a letter or "
        "digit",
        name);
  }
}

}  // namespace gocrate
