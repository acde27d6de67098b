#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include "cli/commands.h"
#include "cli/run_flags.h"
#include "image/content.h"
#include "runtime/container.h"
#include "runtime/container_config.h"
#include "runtime/containment/emulator.h"
#include "runtime/containment/mount_options.h"
#include "runtime/containment/seccomp_profile.h"
#include "runtime/env_file.h"
#include "runtime/network/port_forwarder.h"
#include "runtime/supervision/cid_file.h"
#include "runtime/supervision/supervisor.h"
#include "runtime/terminal/signal_names.h"
#include "runtime/terminal/stdio_relay.h"
#include "runtime/terminal/terminal.h"
#include "transport/registry/pull.h"
#include "trust/image_trust.h"
#include "unpack/layer_cache.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/progress.h"
#include "util/strings.h"

namespace gocrate::cli {

namespace {

constexpr std::string_view kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// What a foreground `run` passes on to the container, as docker run does.
const std::vector<int> kForwardedSignals = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};

// "K=V" as given; "K" takes K's value from gocrate's environment, or is
// left out when it has none (docker's rule).
void add_env(std::vector<std::string>& env, const std::string& entry, std::string_view what) {
  size_t eq = entry.find('=');
  std::string key = entry.substr(0, eq);
  if (key.empty()) fail("invalid {} \"{}\": use KEY=VALUE", what, entry);
  std::string value;
  if (eq == std::string::npos) {
    const char* host = std::getenv(key.c_str());
    if (!host) return;
    value = host;
  } else {
    value = entry.substr(eq + 1);
  }
  std::erase_if(env, [&](const std::string& e) { return e.size() > key.size() && e.starts_with(key + "="); });
  env.push_back(key + "=" + value);
}

std::vector<std::string> container_env(const RunConfig& config, const RunFlags& f,
                                       const std::string& hostname) {
  std::vector<std::string> env;
  add_env(env, "HOSTNAME=" + hostname, "hostname");
  if (f.tty) add_env(env, "TERM=xterm", "terminal");  // the image's or -e's TERM replaces it
  for (const auto& e : config.env) add_env(env, e, "image environment entry");
  for (const auto& file : f.env_files) {
    for (const auto& line : read_env_file(file)) add_env(env, line, "line in --env-file " + file);
  }
  for (const auto& e : f.env) add_env(env, e, "-e");
  bool has_path = std::any_of(env.begin(), env.end(), [](const auto& e) { return e.starts_with("PATH="); });
  if (!has_path) env.insert(env.begin(), "PATH=" + std::string(kDefaultPath));
  return env;
}

// Docker's rule: --entrypoint replaces the image's entrypoint and drops its
// cmd; arguments replace the cmd.
std::vector<std::string> container_args(const RunConfig& config, const RunFlags& f) {
  std::vector<std::string> args;
  if (f.entrypoint) {
    if (!f.entrypoint->empty()) args.push_back(*f.entrypoint);
  } else if (config.entrypoint) {
    args = *config.entrypoint;
  }
  if (!f.args.empty()) {
    args.insert(args.end(), f.args.begin(), f.args.end());
  } else if (!f.entrypoint && config.cmd) {
    args.insert(args.end(), config.cmd->begin(), config.cmd->end());
  }
  return args;
}

ResourceLimits parse_limits(const RunFlags& f) {
  return parse_resource_limits({.memory = f.memory,
                                .memory_swap = f.memory_swap,
                                .memory_reservation = f.memory_reservation,
                                .oom_kill_disable = f.oom_kill_disable,
                                .cpus = f.cpus,
                                .cpu_shares = f.cpu_shares,
                                .cpuset_cpus = f.cpuset_cpus,
                                .pids_limit = f.pids_limit});
}

// docker's --cgroup-parent: a path below each hierarchy's root.
std::string parse_cgroup_parent(const std::string& text) {
  std::vector<std::string> parts;
  for (const auto& part : split(text, '/')) {
    if (part.empty()) continue;
    bool valid = part != "." && part != ".." && std::all_of(part.begin(), part.end(), [](char c) {
                   return isalnum(c) || c == '-' || c == '_' || c == '.';
                 });
    if (!valid) fail("invalid --cgroup-parent \"{}\": use a path of letters, digits, '-', '_' and '.'", text);
    parts.push_back(part);
  }
  if (parts.empty()) fail("invalid --cgroup-parent \"{}\": name a cgroup below the root", text);
  return join(parts, "/");
}

// The image from the store, pulled first when --pull asks for it and the
// reference names a registry.
NamedImage find_or_pull(Store& store, const RunFlags& f, const std::optional<Platform>& wanted) {
  if (f.pull != "missing" && f.pull != "always" && f.pull != "never") {
    fail("invalid --pull \"{}\": use missing, always or never", f.pull);
  }
  std::optional<PolicyInEffect> policy;
  if (!f.policy_verb.empty()) policy = load_policy_in_effect(f.signature_policy);
  auto checked = [&](NamedImage image) {
    if (!f.policy_verb.empty()) enforce_store_policy(store, image, policy, f.policy_verb);
    return image;
  };
  if (f.pull != "always") {
    if (auto found = store.find(f.image)) return checked(*found);
  }
  if (f.pull == "never" || !names_registry(f.image)) return checked(store.resolve(f.image));
  PullOptions options;
  options.signature_policy = f.signature_policy;
  options.platform = wanted;
  options.referrers = false;
  options.show_progress = Progress::stderr_is_terminal();
  return pull_image(store, f.image, options).image;
}

// -p: Docker warns and ignores it with the host's network; gocrate refuses it.
std::vector<PortMapping> published_ports(const RunFlags& f, NetworkMode network) {
  std::vector<PortMapping> ports = parse_port_mappings(f.publish);
  if (!ports.empty() && network == NetworkMode::host) {
    fail("-p {} has no effect with --network host: the container already uses the host's ports; drop -p",
         f.publish[0]);
  }
  if (!ports.empty() && network == NetworkMode::none) {
    fail("-p {} cannot work with --network none: the container has no network; use --network private",
         f.publish[0]);
  }
  if (f.publish_all && network != NetworkMode::private_network) {
    fail("-P cannot work with --network {}: the container {}; use --network private", f.network,
         network == NetworkMode::host ? "already uses the host's ports" : "has no network");
  }
  return ports;
}

// Config.ExposedPorts: the image's, --expose's and -p's; -P publishes each
// one -p does not on a free host port.
void apply_exposed_ports(ContainerSpec& spec, const RunConfig& config, const RunFlags& f) {
  std::vector<std::string> exposed(config.exposed_ports.begin(), config.exposed_ports.end());
  for (auto& port : parse_exposed_ports(f.expose)) exposed.push_back(std::move(port));
  for (const auto& p : spec.ports)
    exposed.push_back(fmt::format("{}/{}", p.container_port, protocol_name(p.protocol)));
  std::sort(exposed.begin(), exposed.end());
  exposed.erase(std::unique(exposed.begin(), exposed.end()), exposed.end());
  spec.exposed_ports = exposed;
  spec.publish_all = f.publish_all;
  if (!f.publish_all) return;
  std::vector<std::string> to_publish(config.exposed_ports.begin(), config.exposed_ports.end());
  for (auto& port : parse_exposed_ports(f.expose)) to_publish.push_back(std::move(port));
  for (auto& m : publish_all_ports(to_publish, spec.ports)) spec.ports.push_back(std::move(m));
}

// --privileged and --security-opt: each value is applied or refused, never
// accepted without effect.
void apply_security_options(ContainerSpec& spec, const RunFlags& f) {
  if (f.privileged) {
    spec.privileged = true;
    spec.capabilities = all_capabilities();
    spec.seccomp = false;
  }
  for (const auto& option : f.security_options) {
    std::string text = option;
    if (size_t colon = text.find(':'); colon != std::string::npos && text.find('=') == std::string::npos)
      text[colon] = '=';  // Docker's older KEY:VALUE form
    if (text == "seccomp=unconfined") {
      spec.seccomp = false;
      spec.seccomp_profile.clear();
    } else if (text == "seccomp=builtin") {
      spec.seccomp = true;
      spec.seccomp_profile.clear();
    } else if (text == "no-new-privileges" || text == "no-new-privileges=true") {
      // Always set.
    } else if (text == "apparmor=unconfined" || text == "label=disable") {
      // gocrate applies no AppArmor or SELinux profile.
    } else if (text == "devices=unconfined") {
      spec.device_rules = false;
    } else if (text.starts_with("seccomp=")) {
      // A profile is applied as given, with --privileged too (as Docker 27 does).
      if (text.size() == 8) fail("--security-opt {}: name a profile file, seccomp=PROFILE.json", option);
      spec.seccomp = true;
      spec.seccomp_profile = read_docker_seccomp_profile(text.substr(8), spec.capabilities);
    } else if (text.starts_with("no-new-privileges=")) {
      fail("--security-opt {}: gocrate always sets no-new-privileges; drop the option", option);
    } else {
      fail(
          "unsupported --security-opt \"{}\": use seccomp=PROFILE.json, seccomp=unconfined, "
          "no-new-privileges, "
          "apparmor=unconfined, "
          "label=disable or devices=unconfined",
          option);
    }
  }
}

// -h, --domainname, --add-host, --dns, --dns-search, --dns-option and
// --shm-size: the container's names, its /etc/hosts, /etc/hostname and
// /etc/resolv.conf, and its /dev/shm.
void apply_names_and_resolver(ContainerSpec& spec, const RunFlags& f) {
  if (!f.hostname.empty()) check_host_name(f.hostname, "--hostname");
  if (!f.domainname.empty()) {
    if (spec.host_uts)
      fail("conflicting options: --domainname and --uts host (the host's names are kept); drop one");
    check_host_name(f.domainname, "--domainname");
    spec.domainname = f.domainname;
  }
  for (const auto& h : f.add_hosts) spec.extra_hosts.push_back(parse_host_entry(h));
  spec.dns = parse_dns_settings(f.dns, f.dns_search, f.dns_options);
  if (!f.shm_size.empty()) {
    auto bytes = parse_shm_size(f.shm_size);
    if (!bytes) fail("invalid --shm-size \"{}\": use a size above 0 such as 64m, 1g or 67108864", f.shm_size);
    if (spec.ipc == IpcMode::host || spec.ipc == IpcMode::none) {
      fail("--shm-size cannot size /dev/shm with --ipc {}: the container has {}; drop one",
           ipc_mode_name(spec.ipc), spec.ipc == IpcMode::host ? "the host's /dev/shm" : "no /dev/shm");
    }
    spec.shm_bytes = *bytes;
  }
}

// --pid, --ipc, --uts, -v, --mount, --tmpfs, --ulimit, --sysctl and
// --group-add, checked before the image is looked up.
void apply_mounts_limits_namespaces(ContainerSpec& spec, const RunFlags& f) {
  spec.host_pid = parse_host_namespace("pid", f.pid);
  spec.ipc = parse_ipc_mode(f.ipc);
  spec.host_uts = parse_host_namespace("uts", f.uts);
  if (spec.host_uts && !f.hostname.empty()) {
    fail("conflicting options: --hostname and --uts host (the container has the host's hostname); drop one");
  }
  std::vector<VolumeMount> mounts;
  for (const auto& v : f.volumes) mounts.push_back(parse_volume(v));
  for (const auto& m : f.mounts) mounts.push_back(parse_mount(m));
  for (const auto& t : f.tmpfs) mounts.push_back(parse_tmpfs(t));
  spec.volumes = order_mounts(std::move(mounts));
  for (const auto& u : f.ulimits) spec.ulimits.push_back(parse_ulimit(u));
  check_ulimits(spec.ulimits);
  for (const auto& s : f.sysctls) spec.sysctls.push_back(parse_sysctl(s));
  check_sysctls(spec.sysctls, spec.network == NetworkMode::host, spec.ipc == IpcMode::host);
  spec.group_add = f.group_add;
}

ContainerSpec build_spec(Store& store, const RunFlags& f) {
  ContainerSpec spec;
  spec.network = parse_network_mode(f.network);
  apply_mounts_limits_namespaces(spec, f);
  apply_names_and_resolver(spec, f);
  spec.ports = published_ports(f, spec.network);
  std::optional<Platform> wanted;
  if (!f.platform.empty()) wanted = Platform::parse(f.platform);
  NamedImage named = find_or_pull(store, f, wanted);
  PlatformImage image = load_platform_image(store, named.descriptor, wanted, f.image);
  const RunConfig& config = image.config.config;

  spec.image = f.image;
  spec.image_digest = image.descriptor.digest.str();
  spec.platform = image.config.platform();
  spec.labels = merge_labels(config.labels, f.label_files, f.labels);
  spec.emulator = find_emulator(spec.platform);
  spec.id = new_container_id();
  spec.name = f.name.empty() ? spec.id.substr(0, 12) : f.name;
  spec.hostname = spec.host_uts ? host_hostname() : f.hostname.empty() ? spec.name : f.hostname;
  spec.env = container_env(config, f, spec.hostname);
  spec.limits = parse_limits(f);
  if (!f.cgroup_parent.empty()) spec.cgroup_parent = parse_cgroup_parent(f.cgroup_parent);
  spec.capabilities = resolve_capabilities(f.cap_add, f.cap_drop);
  apply_security_options(spec, f);
  for (const auto& d : f.devices) spec.devices.push_back(parse_device_mapping(d));
  spec.args = container_args(config, f);
  spec.user = f.user.empty() ? config.user : f.user;
  spec.workdir = f.workdir.empty() ? config.working_dir : f.workdir;
  if (!spec.workdir.empty() && !spec.workdir.starts_with('/')) {
    fail("invalid --workdir \"{}\": it must be an absolute path", spec.workdir);
  }
  spec.read_only = f.read_only;
  spec.init = f.init;
  spec.auto_remove = f.remove;
  spec.stop_signal = f.stop_signal.empty() ? config.stop_signal : f.stop_signal;
  apply_exposed_ports(spec, config, f);

  LayerCache cache(store.dir() + "/layers");
  spec.layers_dir = store.dir() + "/layers";
  spec.lower_dirs = image_lower_dirs(cache, store, image.manifest.layers, image.config.diff_ids, f.image);
  return spec;
}

void block_signals(const std::vector<int>& signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : signals) sigaddset(&set, sig);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
}

// What only a detached container has (a supervisor) is refused without -d,
// and checked before anything is made.
SupervisorOptions supervisor_options(const RunFlags& f) {
  auto needs_detach = [&](bool given, std::string_view flag) {
    if (given && !f.detach) fail("{} needs -d: only a detached container has a supervisor to do it", flag);
  };
  needs_detach(!f.restart.empty(), "--restart");
  bool health_check = !f.health.command.empty() || !f.health.http.empty();
  if (f.no_healthcheck && health_check)
    fail("--no-healthcheck conflicts with --health-cmd and --health-http: give one or the other");
  needs_detach(health_check, "a health check");
  needs_detach(!f.log_options.empty(), "--log-opt");
  // A foreground container's output goes to the terminal and is kept
  // nowhere: --log-driver none is what it has, json-file and local need -d.
  LogDriver log_driver = parse_log_driver(f.log_driver);
  if (log_driver != LogDriver::none && !f.log_driver.empty() && !f.detach) {
    fail(
        "--log-driver {} needs -d: a foreground container's output goes to this terminal and no log of it "
        "is kept; use -d, or --log-driver none",
        f.log_driver);
  }
  needs_detach(f.stop_timeout.has_value(), "--stop-timeout");
  SupervisorOptions options;
  options.terminal = f.detach && f.tty;
  options.open_stdin = f.detach && f.interactive;
  if (!f.restart.empty()) options.restart = RestartPolicy::parse(f.restart);
  if (f.remove && options.restart.kind != RestartPolicy::Kind::no) {
    fail("--rm and --restart {} cannot be combined: a container removed when it exits cannot be restarted",
         f.restart);
  }
  options.health = parse_health_check(f.health);
  if (!f.health_on_failure.empty()) {
    options.health_on_failure = parse_health_on_failure(f.health_on_failure);
    needs_detach(options.health_on_failure != HealthOnFailure::none, "--health-on-failure");
    if (options.health_on_failure != HealthOnFailure::none && !options.health.enabled()) {
      fail("--health-on-failure {} needs a health check to act on: add --health-cmd or --health-http",
           f.health_on_failure);
    }
  }
  options.log = LogOptions::parse(f.log_options, f.log_driver);
  if (f.stop_timeout) {
    if (*f.stop_timeout < 0)
      fail("invalid --stop-timeout {}: use a number of seconds from 0 up", *f.stop_timeout);
    options.stop_timeout = *f.stop_timeout;
  }
  if (!f.stop_signal.empty()) parse_signal(f.stop_signal, "--stop-signal");
  return options;
}

int run_detached(Globals& globals, RunFlags& f, SupervisorOptions supervision) {
  CidFile cidfile = CidFile::create(f.cidfile);
  ContainerConfig config;
  std::string store_root;
  std::optional<FileLock> lease;  // until the container's state names the image
  {
    // Gone before the supervisor is forked, which would keep its memory.
    Store store = open_store(globals);
    lease = store.lease();
    config.spec = build_spec(store, f);
    store_root = store.dir();
  }
  config.supervision = std::move(supervision);
  std::string id = gocrate::run_detached(store_root, std::move(config));
  cidfile.write(id);
  fmt::print("{}\n", id);
  return 0;
}

// gocrate create: a detached container that `start` starts.
int create_container(Globals& globals, RunFlags& f) {
  f.detach = true;
  SupervisorOptions supervision = supervisor_options(f);
  CidFile cidfile = CidFile::create(f.cidfile);
  ContainerConfig config;
  std::string store_root;
  std::optional<FileLock> lease;
  {
    Store store = open_store(globals);
    lease = store.lease();
    config.spec = build_spec(store, f);
    store_root = store.dir();
  }
  config.supervision = std::move(supervision);
  std::string id = create_detached(store_root, std::move(config));
  cidfile.write(id);
  fmt::print("{}\n", id);
  return 0;
}

ExitStatus run_with_terminal(Container& container, bool interactive) {
  std::vector<int> forwarded;
  for (int sig : kForwardedSignals) {
    if (sig != SIGWINCH) forwarded.push_back(sig);
  }
  {
    TerminalRelay relay(container.terminal(), 0, 1, interactive);
    relay.run(container.pidfd(), forwarded, [&container](int sig) { container.signal(sig); });
  }
  return container.wait();
}

ExitStatus run_with_pipes(Container& container, StdioRelay& pipes) {
  pipes.run(container.pidfd(), kForwardedSignals, [&container](int sig) { container.signal(sig); });
  return container.wait();
}

int run(Globals& globals, RunFlags& f) {
  if (::geteuid() != 0) {
    fail(
        "gocrate run needs root: it creates namespaces, mounts and cgroups (rootless containers are not "
        "supported "
        "yet); run it with sudo");
  }
  SupervisorOptions supervision = supervisor_options(f);
  if (f.detach) return run_detached(globals, f, std::move(supervision));
  CidFile cidfile = CidFile::create(f.cidfile);
  Store store = open_store(globals);
  StartOptions options;
  std::optional<StdioRelay> pipes;
  if (f.tty) {
    options.terminal = true;
    options.terminal_size = terminal_size(::isatty(0) ? 0 : 1);
  } else {
    pipes.emplace(0, 1, 2, f.interactive);
    options.stdin_fd = pipes->container_stdin();
    options.stdout_fd = pipes->container_stdout();
    options.stderr_fd = pipes->container_stderr();
  }
  block_signals(kForwardedSignals);
  // The lease keeps prune from the image's blobs and unpacked layers until the
  // container's state names the image (prune keeps images containers use).
  std::optional<FileLock> lease = store.lease();
  ContainerSpec spec = build_spec(store, f);
  // Host ports are taken before the container is made: a port in use fails
  // the run with nothing to undo.
  PortForwarder forwarder = PortForwarder::bind(spec.ports);
  spec.ports = forwarder.mappings();
  Container container = Container::start(store.dir(), std::move(spec), options);
  cidfile.write(container.state().id);
  lease.reset();
  forwarder.start(container.network_namespace());
  ExitStatus status = f.tty ? run_with_terminal(container, f.interactive) : run_with_pipes(container, *pipes);
  forwarder.stop();
  Container::remove_stale(store.dir());
  return status.code;
}

// Usage errors and failures before the program runs exit 125, as Docker's.
template <typename Step>
int with_docker_exit_codes(Step step) {
  try {
    return step();
  } catch (const Error& e) {
    if (e.exit_code() != 1) throw;
    throw Error(e.what(), kExitRuntimeFailure);
  }
}

// ko's `create -f FILE`: a -f or --filename before anything else.
bool names_kubernetes_files(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--" || !arg.starts_with('-')) return false;
    if (arg.starts_with("-f") || arg.starts_with("--filename")) return true;
  }
  return false;
}

}  // namespace

ContainerSpec build_run_spec(Store& store, const RunFlags& f) {
  return build_spec(store, f);
}

int create_command(Globals& globals, int argc, char** argv) {
  if (names_kubernetes_files(argc, argv)) return kubectl_create_command(globals, argc, argv);
  RunFlags f;
  return with_docker_exit_codes([&] {
    parse_run_command_line(globals, f, argc, argv, RunVerb::create);
    require_root("create");
    return create_container(globals, f);
  });
}

int run_command(Globals& globals, int argc, char** argv) {
  RunFlags f;
  return with_docker_exit_codes([&] {
    parse_run_command_line(globals, f, argc, argv, RunVerb::run);
    return run(globals, f);
  });
}

}  // namespace gocrate::cli
