#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include "cli/commands.h"
#include "cli/run_flags.h"
#include "image/content.h"
#include "runtime/container.h"
#include "runtime/container_config.h"
#include "runtime/emulator.h"
#include "runtime/port_forwarder.h"
#include "runtime/signal_names.h"
#include "runtime/stdio_relay.h"
#include "runtime/supervisor.h"
#include "runtime/terminal.h"
#include "transport/registry/pull.h"
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
  for (const auto& e : config.env) add_env(env, e, "image environment entry");
  for (const auto& file : f.env_files) {
    auto text = read_file_if_exists(file);
    if (!text) fail("cannot read --env-file {}: no such file", file);
    for (const auto& raw : split(*text, '\n')) {
      std::string line(trim(raw));
      if (line.empty() || line[0] == '#') continue;
      add_env(env, line, "line in --env-file " + file);
    }
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
  ResourceLimits limits;
  if (!f.memory.empty()) {
    limits.memory_bytes = parse_memory_limit(f.memory);
    if (!limits.memory_bytes)
      fail("invalid --memory \"{}\": use a size of at least 6m such as 64m or 1g", f.memory);
  }
  if (!f.cpus.empty()) {
    limits.cpus = parse_cpus(f.cpus);
    if (!limits.cpus) {
      fail("invalid --cpus \"{}\": use a number of CPUs from 0.01 to this host's {}", f.cpus,
           ::sysconf(_SC_NPROCESSORS_ONLN));
    }
  }
  if (f.pids_limit) {
    if (*f.pids_limit < -1 || *f.pids_limit == 0) {
      fail("invalid --pids-limit {}: use a positive number, or -1 for no limit", *f.pids_limit);
    }
    if (*f.pids_limit > 0) limits.pids = *f.pids_limit;
  }
  return limits;
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
  if (f.pull != "always") {
    if (auto found = store.find(f.image)) return *found;
  }
  if (f.pull == "never" || !names_registry(f.image)) return store.resolve(f.image);
  PullOptions options;
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
  return ports;
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
    } else if (text == "no-new-privileges" || text == "no-new-privileges=true") {
      // Always set.
    } else if (text == "apparmor=unconfined" || text == "label=disable") {
      // gocrate applies no AppArmor or SELinux profile.
    } else if (text == "devices=unconfined") {
      spec.device_rules = false;
    } else if (text.starts_with("seccomp=")) {
      fail("--security-opt {}: custom seccomp profiles are not supported; use seccomp=unconfined or drop it",
           option);
    } else if (text.starts_with("no-new-privileges=")) {
      fail("--security-opt {}: gocrate always sets no-new-privileges; drop the option", option);
    } else {
      fail(
          "unsupported --security-opt \"{}\": use seccomp=unconfined, no-new-privileges, "
          "apparmor=unconfined, "
          "label=disable or devices=unconfined",
          option);
    }
  }
}

// Flags parsed but not applied yet: refused, never ignored. Each entry goes
// once its flag is applied in build_spec().
void refuse_unapplied_flags(const RunFlags& f) {
  auto refuse = [](bool given, std::string_view flag) {
    if (given) fail("{} is not supported by gocrate yet; drop it", flag);
  };
  refuse(!f.labels.empty() || !f.label_files.empty(), "--label");
  refuse(!f.group_add.empty(), "--group-add");
  refuse(!f.ulimits.empty(), "--ulimit");
  refuse(!f.sysctls.empty(), "--sysctl");
  refuse(!f.mounts.empty(), "--mount");
  refuse(!f.tmpfs.empty(), "--tmpfs");
  refuse(!f.shm_size.empty(), "--shm-size");
  refuse(!f.memory_swap.empty(), "--memory-swap");
  refuse(!f.memory_reservation.empty(), "--memory-reservation");
  refuse(f.oom_kill_disable, "--oom-kill-disable");
  refuse(!f.cpu_shares.empty(), "--cpu-shares");
  refuse(!f.cpuset_cpus.empty(), "--cpuset-cpus");
  refuse(!f.pid.empty(), "--pid");
  refuse(!f.ipc.empty(), "--ipc");
  refuse(!f.uts.empty(), "--uts");
  refuse(!f.domainname.empty(), "--domainname");
  refuse(f.publish_all, "--publish-all");
  refuse(!f.expose.empty(), "--expose");
  refuse(!f.add_hosts.empty(), "--add-host");
  refuse(!f.dns.empty(), "--dns");
  refuse(!f.dns_search.empty(), "--dns-search");
  refuse(!f.dns_options.empty(), "--dns-option");
  refuse(!f.log_driver.empty(), "--log-driver");
}

ContainerSpec build_spec(Store& store, const RunFlags& f) {
  refuse_unapplied_flags(f);
  ContainerSpec spec;
  spec.network = parse_network_mode(f.network);
  spec.ports = published_ports(f, spec.network);
  std::optional<Platform> wanted;
  if (!f.platform.empty()) wanted = Platform::parse(f.platform);
  NamedImage named = find_or_pull(store, f, wanted);
  PlatformImage image = load_platform_image(store, named.descriptor, wanted, f.image);
  const RunConfig& config = image.config.config;

  spec.image = f.image;
  spec.image_digest = image.descriptor.digest.str();
  spec.platform = image.config.platform();
  spec.emulator = find_emulator(spec.platform);
  spec.id = new_container_id();
  spec.name = f.name.empty() ? spec.id.substr(0, 12) : f.name;
  spec.hostname = f.hostname.empty() ? spec.name : f.hostname;
  spec.env = container_env(config, f, spec.hostname);
  spec.limits = parse_limits(f);
  if (!f.cgroup_parent.empty()) spec.cgroup_parent = parse_cgroup_parent(f.cgroup_parent);
  spec.capabilities = resolve_capabilities(f.cap_add, f.cap_drop);
  apply_security_options(spec, f);
  for (const auto& v : f.volumes) spec.volumes.push_back(parse_volume(v));
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
  needs_detach(!f.health.command.empty() || !f.health.http.empty(), "a health check");
  needs_detach(!f.log_options.empty(), "--log-opt");
  needs_detach(f.stop_timeout.has_value(), "--stop-timeout");
  if (f.detach && (f.tty || f.interactive)) {
    fail(
        "-d with -i or -t needs attach, which gocrate does not have: use `gocrate exec -it` on a detached "
        "container");
  }
  SupervisorOptions options;
  if (!f.restart.empty()) options.restart = RestartPolicy::parse(f.restart);
  if (f.remove && options.restart.kind != RestartPolicy::Kind::no) {
    fail("--rm and --restart {} cannot be combined: a container removed when it exits cannot be restarted",
         f.restart);
  }
  options.health = parse_health_check(f.health);
  options.log = LogOptions::parse(f.log_options);
  if (f.stop_timeout) {
    if (*f.stop_timeout < 0)
      fail("invalid --stop-timeout {}: use a number of seconds from 0 up", *f.stop_timeout);
    options.stop_timeout = *f.stop_timeout;
  }
  if (!f.stop_signal.empty()) parse_signal(f.stop_signal, "--stop-signal");
  return options;
}

int run_detached(Globals& globals, RunFlags& f, SupervisorOptions supervision) {
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
  lease.reset();
  forwarder.start(container.network_namespace());
  ExitStatus status = f.tty ? run_with_terminal(container, f.interactive) : run_with_pipes(container, *pipes);
  forwarder.stop();
  Container::remove_stale(store.dir());
  return status.code;
}

// The parser is gone before the container starts: a detached container's
// supervisor, forked from this process, does not keep it.
void parse_run_flags(Globals& globals, RunFlags& f, int argc, char** argv) {
  CLI::App app{"Run a command in a new container", "run"};
  add_global_options(app, globals);
  app.add_flag("--rm", f.remove, "Remove the container when it exits");
  app.add_option("--name", f.name, "Name of the container (default: the first 12 digits of its id)");
  app.add_option("-e,--env", f.env, "Set an environment variable (KEY=VALUE, or KEY to pass gocrate's)")
      ->allow_extra_args(false);
  app.add_option("--env-file", f.env_files, "Read environment variables from a file")
      ->allow_extra_args(false);
  app.add_option("-u,--user", f.user, "User: NAME, UID, NAME:GROUP or UID:GID (default: the image's)");
  app.add_option("-w,--workdir", f.workdir, "Working directory inside the container");
  app.add_option("--entrypoint", f.entrypoint, "Run this program instead of the image's entrypoint");
  app.add_flag("--read-only", f.read_only, "Mount the container's root file system read-only");
  app.add_option("-m,--memory", f.memory, "Memory limit (64m, 1g); no swap beyond it");
  app.add_option("--cpus", f.cpus, "CPUs the container may use (0.5, 2)");
  app.add_option("--pids-limit", f.pids_limit, "Maximum number of processes (-1: no limit)");
  app.add_option("--cap-add", f.cap_add, "Add a capability to Docker's default set (NET_ADMIN, ALL)")
      ->allow_extra_args(false);
  app.add_option("--cap-drop", f.cap_drop, "Drop a capability from Docker's default set (ALL drops all)")
      ->allow_extra_args(false);
  app.add_flag("--privileged", f.privileged,
               "Drop every protection: all capabilities and host devices, no seccomp filter, writable /sys "
               "and /proc/sys, no masked paths");
  app.add_option("--security-opt", f.security_options,
                 "seccomp=unconfined, no-new-privileges, apparmor=unconfined, label=disable, or "
                 "devices=unconfined (no device rules: lets containers with CAP_MKNOD run where they cannot "
                 "be enforced)")
      ->allow_extra_args(false);
  app.add_flag("--init", f.init, "Run a minimal init as pid 1 that forwards signals and reaps zombies");
  app.add_flag("-i,--interactive", f.interactive, "Connect standard input to the container");
  app.add_option("--cgroup-parent", f.cgroup_parent,
                 "Cgroup to create the container's cgroup in (default gocrate)");
  app.add_option("--pull", f.pull, "Pull the image from its registry: missing (default), always or never");
  app.add_option("--platform", f.platform,
                 "Run this platform's variant of the image (linux/arm64 runs under qemu)");
  app.add_option("--network", f.network, "Network: private (own namespace, loopback up), host or none");
  app.add_option("-p,--publish", f.publish,
                 "Publish a container's port on the host: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]")
      ->allow_extra_args(false);
  app.add_option("--hostname", f.hostname, "Hostname inside the container (default: its name)");
  app.add_option("-v,--volume", f.volumes, "Bind mount a host path: SRC:DST[:ro]")->allow_extra_args(false);
  app.add_option("--device", f.devices, "Give the container a host device: HOST[:CONTAINER][:rwm]")
      ->allow_extra_args(false);
  app.add_flag("-t,--tty", f.tty, "Give the container a terminal (with -i: yours, in raw mode)");
  app.add_flag("-d,--detach", f.detach, "Run in the background under a supervisor of its own; print the id");
  app.add_option("--restart", f.restart, "Restart policy (-d): no, on-failure[:N], always, unless-stopped");
  app.add_option("--health-cmd", f.health.command,
                 "Health check (-d): a command run in the container, 0 = healthy");
  app.add_option("--health-http", f.health.http,
                 "Health check (-d): GET 127.0.0.1:PORT/PATH in the container");
  app.add_option("--health-interval", f.health.interval, "Time between health checks (default 30s)");
  app.add_option("--health-timeout", f.health.timeout, "Longest a health check may take (default 30s)");
  app.add_option("--health-retries", f.health.retries,
                 "Failures in a row that make it unhealthy (default 3)");
  app.add_option("--health-start-period", f.health.start_period,
                 "Time to start during which failures do not count");
  app.add_option("--log-opt", f.log_options, "Log options (-d): max-size=10m, max-file=2")
      ->allow_extra_args(false);
  app.add_option("--stop-timeout", f.stop_timeout, "Seconds `stop` waits before SIGKILL (-d; default 10)");
  app.add_option("--stop-signal", f.stop_signal,
                 "Signal that stops the container (default: the image's, or SIGTERM)");
  app.add_option("IMAGE", f.image, "Image to run")->required();
  app.positionals_at_end(false);
  app.prefix_command();
  try {
    parse_command_line(app, argc, argv);
  } catch (const ExitRequest& e) {
    throw ExitRequest{e.code == 0 ? 0 : kExitRuntimeFailure};
  }
  // The image's own arguments come after it untouched: `run img -h` passes -h.
  f.args = app.remaining();
}

}  // namespace

int run_command(Globals& globals, int argc, char** argv) {
  RunFlags f;
  parse_run_flags(globals, f, argc, argv);
  try {
    return run(globals, f);
  } catch (const Error& e) {
    if (e.exit_code() != 1) throw;
    throw Error(e.what(), kExitRuntimeFailure);
  }
}

}  // namespace gocrate::cli
