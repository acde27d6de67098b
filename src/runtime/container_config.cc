#include "runtime/container_config.h"

#include <nlohmann/json.hpp>

#include "runtime/containment/mount_options.h"
#include "util/error.h"
#include "util/fs.h"

namespace gocrate {

using nlohmann::json;

namespace {

json spec_to_json(const ContainerSpec& s) {
  json volumes = json::array();
  for (const auto& v : s.volumes) {
    json m = {{"source", v.source}, {"target", v.target}, {"ro", v.read_only}};
    if (v.type != MountType::bind) m["type"] = mount_type_name(v.type);
    if (!v.volume_name.empty()) m["volume"] = v.volume_name;
    if (v.no_copy) m["nocopy"] = true;
    if (!v.propagation.empty()) m["propagation"] = v.propagation;
    if (v.nonrecursive) m["nonrecursive"] = true;
    if (v.type == MountType::tmpfs) {
      m["tmpfs_flags"] = v.tmpfs_flags;
      m["tmpfs_data"] = v.tmpfs_data;
    }
    if (!v.mode.empty()) m["mode"] = v.mode;
    if (v.from_tmpfs_flag) m["tmpfs_flag"] = true;
    volumes.push_back(std::move(m));
  }
  json ports = json::array();
  for (const auto& p : s.ports) ports.push_back(port_mapping_text(p));
  json devices = json::array();
  for (const auto& d : s.devices) {
    devices.push_back({{"host", d.host_path},
                       {"container", d.container_path},
                       {"access", device_access_text(d.access)},
                       {"type", std::string(1, d.type)},
                       {"major", d.major},
                       {"minor", d.minor},
                       {"mode", d.mode},
                       {"uid", d.uid},
                       {"gid", d.gid}});
  }
  json limits = json::object();
  if (s.limits.memory_bytes) limits["memory_bytes"] = *s.limits.memory_bytes;
  if (s.limits.cpus) limits["cpus"] = *s.limits.cpus;
  if (s.limits.pids) limits["pids"] = *s.limits.pids;
  if (s.limits.memory_swap_bytes) limits["memory_swap_bytes"] = *s.limits.memory_swap_bytes;
  if (s.limits.memory_reservation_bytes)
    limits["memory_reservation_bytes"] = *s.limits.memory_reservation_bytes;
  if (s.limits.oom_kill_disable) limits["oom_kill_disable"] = true;
  if (s.limits.cpu_shares) limits["cpu_shares"] = *s.limits.cpu_shares;
  if (!s.limits.cpuset_cpus.empty()) limits["cpuset_cpus"] = s.limits.cpuset_cpus;
  json j = {{"id", s.id},
            {"name", s.name},
            {"hostname", s.hostname},
            {"image", s.image},
            {"image_digest", s.image_digest},
            {"platform", s.platform.str()},
            {"layers_dir", s.layers_dir},
            {"lower_dirs", s.lower_dirs},
            {"read_only", s.read_only},
            {"volumes", volumes},
            {"devices", devices},
            {"args", s.args},
            {"env", s.env},
            {"user", s.user},
            {"workdir", s.workdir},
            {"init", s.init},
            {"capabilities", s.capabilities},
            {"seccomp", s.seccomp},
            {"privileged", s.privileged},
            {"device_rules", s.device_rules},
            {"limits", limits},
            {"network", network_mode_name(s.network)},
            {"ports", ports},
            {"exposed_ports", s.exposed_ports},
            {"publish_all", s.publish_all},
            {"auto_remove", s.auto_remove},
            {"group_add", s.group_add},
            {"host_pid", s.host_pid},
            {"ipc", ipc_mode_name(s.ipc)},
            {"host_uts", s.host_uts},
            {"stop_signal", s.stop_signal},
            {"labels", s.labels}};
  if (s.emulator) j["emulator"] = *s.emulator;
  json ulimits = json::array(), sysctls = json::array();
  for (const auto& u : s.ulimits) ulimits.push_back(u.str());
  for (const auto& c : s.sysctls) sysctls.push_back(c.str());
  j["ulimits"] = ulimits;
  j["sysctls"] = sysctls;
  if (!s.seccomp_profile.empty()) j["seccomp_profile"] = s.seccomp_profile;
  json extra_hosts = json::array();
  for (const auto& h : s.extra_hosts) extra_hosts.push_back(h.name + ":" + h.address);
  j["domainname"] = s.domainname;
  j["extra_hosts"] = extra_hosts;
  j["dns"] = {{"servers", s.dns.servers}, {"search", s.dns.search}, {"options", s.dns.options}};
  j["shm_bytes"] = s.shm_bytes;
  return j;
}

ContainerSpec spec_from_json(const json& j) {
  ContainerSpec s;
  s.id = j.at("id").get<std::string>();
  s.name = j.at("name").get<std::string>();
  s.hostname = j.value("hostname", "");
  s.image = j.value("image", "");
  s.image_digest = j.value("image_digest", "");
  s.platform = Platform::parse(j.at("platform").get<std::string>());
  s.layers_dir = j.at("layers_dir").get<std::string>();
  s.lower_dirs = j.at("lower_dirs").get<std::vector<std::string>>();
  s.read_only = j.value("read_only", false);
  for (const auto& v : j.value("volumes", json::array())) {
    VolumeMount m{v.at("source").get<std::string>(), v.at("target").get<std::string>(), v.value("ro", false)};
    m.type = parse_mount_type(v.value("type", "bind"));
    m.volume_name = v.value("volume", "");
    m.no_copy = v.value("nocopy", false);
    m.propagation = v.value("propagation", "");
    m.nonrecursive = v.value("nonrecursive", false);
    m.tmpfs_flags = v.value("tmpfs_flags", 0UL);
    m.tmpfs_data = v.value("tmpfs_data", "");
    m.mode = v.value("mode", "");
    m.from_tmpfs_flag = v.value("tmpfs_flag", false);
    s.volumes.push_back(std::move(m));
  }
  // As read from the host when the container was created; the container
  // refuses to start if the host's node has changed since.
  for (const auto& d : j.value("devices", json::array())) {
    DeviceMapping m;
    m.host_path = d.at("host").get<std::string>();
    m.container_path = d.at("container").get<std::string>();
    m.access = parse_device_access(d.value("access", "rwm")).value_or(kDeviceAllAccess);
    m.type = d.value("type", "c") == "b" ? 'b' : 'c';
    m.major = d.at("major").get<uint32_t>();
    m.minor = d.at("minor").get<uint32_t>();
    m.mode = d.value("mode", mode_t{0600});
    m.uid = d.value("uid", uid_t{0});
    m.gid = d.value("gid", gid_t{0});
    s.devices.push_back(std::move(m));
  }
  s.args = j.at("args").get<std::vector<std::string>>();
  s.env = j.value("env", std::vector<std::string>{});
  s.user = j.value("user", "");
  s.workdir = j.value("workdir", "");
  s.init = j.value("init", false);
  if (j.contains("emulator")) s.emulator = j["emulator"].get<std::string>();
  s.capabilities = j.value("capabilities", docker_default_capabilities());
  s.seccomp = j.value("seccomp", true);
  s.seccomp_profile = j.value("seccomp_profile", "");
  s.privileged = j.value("privileged", false);
  s.device_rules = j.value("device_rules", true);
  const json& limits = j.value("limits", json::object());
  if (limits.contains("memory_bytes")) s.limits.memory_bytes = limits["memory_bytes"].get<uint64_t>();
  if (limits.contains("cpus")) s.limits.cpus = limits["cpus"].get<double>();
  if (limits.contains("pids")) s.limits.pids = limits["pids"].get<int64_t>();
  if (limits.contains("memory_swap_bytes"))
    s.limits.memory_swap_bytes = limits["memory_swap_bytes"].get<int64_t>();
  if (limits.contains("memory_reservation_bytes"))
    s.limits.memory_reservation_bytes = limits["memory_reservation_bytes"].get<uint64_t>();
  s.limits.oom_kill_disable = limits.value("oom_kill_disable", false);
  if (limits.contains("cpu_shares")) s.limits.cpu_shares = limits["cpu_shares"].get<uint64_t>();
  s.limits.cpuset_cpus = limits.value("cpuset_cpus", "");
  s.network = parse_network_mode(j.value("network", "private"));
  for (const auto& p : j.value("ports", std::vector<std::string>{}))
    s.ports.push_back(parse_port_mapping_text(p));
  s.exposed_ports = j.value("exposed_ports", std::vector<std::string>{});
  s.publish_all = j.value("publish_all", false);
  s.auto_remove = j.value("auto_remove", false);
  for (const auto& u : j.value("ulimits", std::vector<std::string>{})) s.ulimits.push_back(parse_ulimit(u));
  for (const auto& c : j.value("sysctls", std::vector<std::string>{})) s.sysctls.push_back(parse_sysctl(c));
  s.group_add = j.value("group_add", std::vector<std::string>{});
  s.host_pid = j.value("host_pid", false);
  s.ipc = parse_ipc_mode(j.value("ipc", "private"));
  s.host_uts = j.value("host_uts", false);
  s.stop_signal = j.value("stop_signal", "");
  s.labels = j.value("labels", std::map<std::string, std::string>{});
  s.domainname = j.value("domainname", "");
  for (const auto& h : j.value("extra_hosts", std::vector<std::string>{}))
    s.extra_hosts.push_back(parse_host_entry(h));
  const json& dns = j.value("dns", json::object());
  s.dns = parse_dns_settings(dns.value("servers", std::vector<std::string>{}),
                             dns.value("search", std::vector<std::string>{}),
                             dns.value("options", std::vector<std::string>{}));
  s.shm_bytes = j.value("shm_bytes", kDefaultShmBytes);
  return s;
}

json supervision_to_json(const SupervisorOptions& o) {
  json health = nullptr;
  if (o.health.enabled()) {
    health = {{"command", o.health.command},
              {"http_port", o.health.http_port},
              {"http_path", o.health.http_path},
              {"interval_ms", o.health.interval.count()},
              {"timeout_ms", o.health.timeout.count()},
              {"start_period_ms", o.health.start_period.count()},
              {"retries", o.health.retries}};
  }
  return {{"restart", o.restart.str()},
          {"health", health},
          {"health_on_failure", health_on_failure_name(o.health_on_failure)},
          {"log",
           {{"driver", log_driver_name(o.log.driver)},
            {"max_size", o.log.max_size},
            {"max_files", o.log.max_files}}},
          {"stop_timeout", o.stop_timeout},
          {"terminal", o.terminal},
          {"open_stdin", o.open_stdin}};
}

SupervisorOptions supervision_from_json(const json& j) {
  SupervisorOptions o;
  o.restart = RestartPolicy::parse(j.value("restart", "no"));
  if (j.contains("health") && j["health"].is_object()) {
    const json& h = j["health"];
    o.health.command = h.value("command", std::vector<std::string>{});
    o.health.http_port = h.value("http_port", uint16_t{0});
    o.health.http_path = h.value("http_path", "/");
    o.health.interval = std::chrono::milliseconds(h.value("interval_ms", int64_t{30000}));
    o.health.timeout = std::chrono::milliseconds(h.value("timeout_ms", int64_t{30000}));
    o.health.start_period = std::chrono::milliseconds(h.value("start_period_ms", int64_t{0}));
    o.health.retries = h.value("retries", 3);
  }
  o.health_on_failure = parse_health_on_failure(j.value("health_on_failure", "none"));
  const json& log = j.value("log", json::object());
  o.log.driver = parse_log_driver(log.value("driver", "json-file"));
  o.log.max_size = log.value("max_size", o.log.max_size);
  o.log.max_files = log.value("max_files", o.log.max_files);
  o.stop_timeout = j.value("stop_timeout", 10);
  o.terminal = j.value("terminal", false);
  o.open_stdin = j.value("open_stdin", false);
  return o;
}

}  // namespace

std::string ContainerConfig::to_json_text() const {
  return json{{"spec", spec_to_json(spec)}, {"supervision", supervision_to_json(supervision)}}.dump(2) + "\n";
}

ContainerConfig ContainerConfig::parse(const std::string& text, const std::string& what) {
  try {
    json j = json::parse(text);
    return {spec_from_json(j.at("spec")), supervision_from_json(j.value("supervision", json::object()))};
  } catch (const json::exception& e) {
    fail("{} is not a valid container configuration: {}", what, e.what());
  }
}

std::string container_config_path(const std::string& container_dir) {
  return container_dir + "/config.json";
}

std::optional<ContainerConfig> read_container_config(const std::string& container_dir) {
  std::string path = container_config_path(container_dir);
  auto text = read_file_if_exists(path);
  if (!text) return std::nullopt;
  return ContainerConfig::parse(*text, path);
}

}  // namespace gocrate
