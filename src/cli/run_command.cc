#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include "cli/commands.h"
#include "image/content.h"
#include "runtime/container.h"
#include "runtime/emulator.h"
#include "runtime/port_forwarder.h"
#include "unpack/layer_cache.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate::cli {

namespace {

constexpr std::string_view kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// What a foreground `run` passes on to the container, as docker run does.
const std::vector<int> kForwardedSignals = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};

struct RunFlags {
  bool remove = false;
  std::string name;
  std::vector<std::string> env;
  std::vector<std::string> env_files;
  std::string user;
  std::string workdir;
  std::optional<std::string> entrypoint;
  bool read_only = false;
  std::string memory;
  std::string cpus;
  std::optional<int64_t> pids_limit;
  std::vector<std::string> cap_add;
  std::vector<std::string> cap_drop;
  bool init = false;
  bool interactive = false;
  std::string platform;
  std::string network = "private";
  std::vector<std::string> publish;
  std::string hostname;
  std::vector<std::string> volumes;
  std::string image;
  std::vector<std::string> args;
};

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

ContainerSpec build_spec(Store& store, const RunFlags& f) {
  ContainerSpec spec;
  spec.network = parse_network_mode(f.network);
  spec.ports = published_ports(f, spec.network);
  std::optional<Platform> wanted;
  if (!f.platform.empty()) wanted = Platform::parse(f.platform);
  NamedImage named = store.resolve(f.image);
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
  spec.capabilities = resolve_capabilities(f.cap_add, f.cap_drop);
  for (const auto& v : f.volumes) spec.volumes.push_back(parse_volume(v));
  spec.args = container_args(config, f);
  spec.user = f.user.empty() ? config.user : f.user;
  spec.workdir = f.workdir.empty() ? config.working_dir : f.workdir;
  if (!spec.workdir.empty() && !spec.workdir.starts_with('/')) {
    fail("invalid --workdir \"{}\": it must be an absolute path", spec.workdir);
  }
  spec.read_only = f.read_only;
  spec.init = f.init;
  spec.auto_remove = f.remove;

  {
    FileLock lease = store.lease();  // prune keeps the blobs while they are unpacked
    LayerCache cache(store.dir() + "/layers");
    spec.layers_dir = store.dir() + "/layers";
    spec.lower_dirs = image_lower_dirs(cache, store, image.manifest.layers);
  }
  return spec;
}

void block_signals(const std::vector<int>& signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : signals) sigaddset(&set, sig);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
}

int run(Globals& globals, RunFlags& f) {
  if (::geteuid() != 0) {
    fail(
        "gocrate run needs root: it creates namespaces, mounts and cgroups (rootless containers are not "
        "supported "
        "yet); run it with sudo");
  }
  Store store = open_store(globals);
  ContainerSpec spec = build_spec(store, f);
  StartOptions options;
  if (f.interactive) options.stdin_fd = 0;
  // Host ports are taken before anything else is made: a port in use fails
  // the run with nothing to undo.
  PortForwarder forwarder = PortForwarder::bind(spec.ports);
  spec.ports = forwarder.mappings();
  block_signals(kForwardedSignals);
  Container container = Container::start(store.dir(), std::move(spec), options);
  forwarder.start(container.network_namespace());
  ExitStatus status = container.wait(kForwardedSignals);
  forwarder.stop();
  Container::remove_stale(store.dir());
  return status.code;
}

}  // namespace

int run_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Run a command in a new container", "run"};
  RunFlags f;
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
  app.add_flag("--init", f.init, "Run a minimal init as pid 1 that forwards signals and reaps zombies");
  app.add_flag("-i,--interactive", f.interactive, "Connect standard input to the container");
  app.add_option("--platform", f.platform,
                 "Run this platform's variant of the image (linux/arm64 runs under qemu)");
  app.add_option("--network", f.network, "Network: private (own namespace, loopback up), host or none");
  app.add_option("-p,--publish", f.publish,
                 "Publish a container's port on the host: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]")
      ->allow_extra_args(false);
  app.add_option("--hostname", f.hostname, "Hostname inside the container (default: its name)");
  app.add_option("-v,--volume", f.volumes, "Bind mount a host path: SRC:DST[:ro]")->allow_extra_args(false);
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
  try {
    return run(globals, f);
  } catch (const Error& e) {
    if (e.exit_code() != 1) throw;
    throw Error(e.what(), kExitRuntimeFailure);
  }
}

}  // namespace gocrate::cli
