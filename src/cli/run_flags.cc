#include "cli/run_flags.h"

#include <algorithm>

namespace gocrate::cli {

namespace {

auto is_any_of(std::vector<std::string_view> values) {
  return [values = std::move(values)](std::string_view v) {
    return std::find(values.begin(), values.end(), v) != values.end();
  };
}

void add_identity_flags(FlagSet& flags, RunFlags& f) {
  flags.add_string("name", f.name, "Assign a name to the container (default: the first 12 digits of its id)");
  flags.add_list("l,label", f.labels, "Set metadata on a container (KEY=VALUE)");
  flags.add_list("label-file", f.label_files, "Read in a line delimited file of labels");
  flags.add_string("cidfile", f.cidfile, "Write the container ID to the file");
}

void add_process_flags(FlagSet& flags, RunFlags& f) {
  flags.add_list("e,env", f.env, "Set environment variables (KEY=VALUE, or KEY to pass gocrate's)");
  flags.add_list("env-file", f.env_files, "Read in a file of environment variables");
  flags.add_string("u,user", f.user, "Username or UID (format: <name|uid>[:<group|gid>])");
  flags.add_list("group-add", f.group_add, "Add additional groups to join");
  flags.add_string("w,workdir", f.workdir, "Working directory inside the container");
  flags.add_string("entrypoint", f.entrypoint, "Overwrite the default ENTRYPOINT of the image");
  flags.add_bool("init", f.init,
                 "Run an init inside the container that forwards signals and reaps processes");
  flags.add_bool("i,interactive", f.interactive, "Keep STDIN open even if not attached");
  flags.add_bool("t,tty", f.tty, "Allocate a pseudo-TTY");
  flags.add_bool("rm", f.remove, "Automatically remove the container when it exits");
  flags.add_string("stop-signal", f.stop_signal,
                   "Signal to stop a container (default: the image's, or SIGTERM)");
  flags.add_int("stop-timeout", f.stop_timeout, "Timeout (in seconds) to stop a container (-d; default 10)");
  flags.add_list("ulimit", f.ulimits, "Ulimit options (nofile=1024:2048), up to this host's hard limits");
  flags.add_list("sysctl", f.sysctls,
                 "Sysctl options of the container's namespaces (net.*, kernel.shm*, ...)");
}

void add_file_system_flags(FlagSet& flags, RunFlags& f) {
  flags.add_bool("read-only", f.read_only, "Mount the container's root filesystem as read only");
  flags.add_list("v,volume", f.volumes, "Bind mount a volume (SRC:DST[:ro], NAME:DST for a named volume)");
  flags.add_list("mount", f.mounts,
                 "Attach a filesystem mount to the container (type=bind|volume|tmpfs,...)");
  flags.add_list("tmpfs", f.tmpfs, "Mount a tmpfs directory (/run[:OPTIONS])");
  flags.add_list("device", f.devices, "Add a host device to the container (HOST[:CONTAINER][:rwm])");
  flags.add_string("shm-size", f.shm_size, "Size of /dev/shm (default 64m)");
  flags.add_refused("volumes-from", true, "use -v with the same host paths, or a named volume");
  flags.add_refused("volume-driver", true, "only the local driver exists", is_any_of({"local"}));
  flags.add_refused("storage-opt", true, "the container's layer has no size option");
}

void add_resource_flags(FlagSet& flags, RunFlags& f) {
  flags.add_string("m,memory", f.memory, "Memory limit (64m, 1g); no swap beyond it unless --memory-swap");
  flags.add_string("memory-swap", f.memory_swap, "Memory plus swap limit: -1 for unlimited swap");
  flags.add_string("memory-reservation", f.memory_reservation, "Memory soft limit");
  flags.add_bool("oom-kill-disable", f.oom_kill_disable, "Disable OOM Killer (needs -m)");
  flags.add_string("cpus", f.cpus, "Number of CPUs (0.5, 2)");
  flags.add_string("c,cpu-shares", f.cpu_shares, "CPU shares (relative weight)");
  flags.add_string("cpuset-cpus", f.cpuset_cpus, "CPUs in which to allow execution (0-3, 0,1)");
  flags.add_int("pids-limit", f.pids_limit, "Tune container pids limit (-1 for unlimited)");
  flags.add_string("cgroup-parent", f.cgroup_parent,
                   "Optional parent cgroup for the container (default gocrate)");
  std::string rt = "real-time scheduling is not supported; drop it";
  flags.add_refused("cpu-period", true, "use --cpus, which sets the period and quota");
  flags.add_refused("cpu-quota", true, "use --cpus, which sets the period and quota");
  flags.add_refused("cpu-rt-period", true, rt);
  flags.add_refused("cpu-rt-runtime", true, rt);
  flags.add_refused("cpuset-mems", true, "memory nodes cannot be chosen; use --cpuset-cpus");
  flags.add_refused("memory-swappiness", true, "swappiness cannot be set; use --memory-swap",
                    is_any_of({"-1"}));
  flags.add_refused("kernel-memory", true, "kernel memory limits are deprecated by Linux; use -m");
  flags.add_refused("oom-score-adj", true, "the OOM score cannot be set; use -m and --memory-reservation",
                    is_any_of({"0"}));
  std::string blkio = "block I/O limits are not supported; drop it";
  for (auto name : {"blkio-weight", "blkio-weight-device", "device-read-bps", "device-read-iops",
                    "device-write-bps", "device-write-iops"}) {
    flags.add_refused(name, true, blkio);
  }
  for (auto name : {"cpu-count", "cpu-percent", "io-maxbandwidth", "io-maxiops"}) {
    flags.add_refused(name, true, "it exists only for Windows containers; use --cpus");
  }
  flags.add_refused("gpus", true, "GPUs cannot be given to containers; drop it");
}

void add_security_flags(FlagSet& flags, RunFlags& f) {
  flags.add_list("cap-add", f.cap_add, "Add Linux capabilities");
  flags.add_list("cap-drop", f.cap_drop, "Drop Linux capabilities");
  flags.add_bool("privileged", f.privileged,
                 "Give extended privileges: all capabilities and host devices, no seccomp filter, writable "
                 "/sys and /proc/sys, no masked paths");
  flags.add_list("security-opt", f.security_options,
                 "Security options: seccomp=PROFILE.json|unconfined, no-new-privileges, apparmor=unconfined, "
                 "label=disable, devices=unconfined");
  flags.add_refused("userns", true, "user namespaces are not supported yet; drop it",
                    is_any_of({"host", ""}));
  flags.add_refused("device-cgroup-rule", true, "use --device to give a device");
  flags.add_refused("isolation", true, "only the default isolation exists", is_any_of({"default"}));
  flags.add_refused("runtime", true,
                    "gocrate is the runtime; use gocrate's, or Docker with gocrate's OCI runtime");
  flags.add_refused("disable-content-trust", false, "Docker Content Trust is not supported",
                    is_any_of({"true"}));
}

void add_namespace_flags(FlagSet& flags, RunFlags& f) {
  flags.add_string("network", f.network,
                   "Network: private (bridge, the default: own namespace), host or none");
  flags.add_string("net", f.network, "Same as --network");
  flags.add_string("pid", f.pid, "PID namespace to use (host)");
  flags.add_string("ipc", f.ipc, "IPC mode to use (private, shareable, none, host)");
  flags.add_string("uts", f.uts, "UTS namespace to use (host)");
  flags.add_refused("cgroupns", true, "a container always has its own cgroup namespace",
                    is_any_of({"private"}));
  flags.add_string("h,hostname", f.hostname, "Container host name (default: its name)");
  flags.add_string("domainname", f.domainname, "Container NIS domain name");
  flags.add_list("p,publish", f.publish,
                 "Publish a container's port to the host: [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp]");
  flags.add_bool("P,publish-all", f.publish_all, "Publish all exposed ports to random ports");
  flags.add_list("expose", f.expose, "Expose a port or a range of ports");
  flags.add_list("add-host", f.add_hosts, "Add a custom host-to-IP mapping (host:ip)");
  flags.add_list("dns", f.dns, "Set custom DNS servers");
  flags.add_list("dns-search", f.dns_search, "Set custom DNS search domains");
  flags.add_list("dns-option", f.dns_options, "Set DNS options");
  std::string networks = "gocrate has no user-defined networks; use -p to reach the container";
  for (auto name : {"ip", "ip6", "link", "link-local-ip", "mac-address", "network-alias"}) {
    flags.add_refused(name, true, networks);
  }
}

void add_supervision_flags(FlagSet& flags, RunFlags& f) {
  flags.add_string("restart", f.restart, "Restart policy (-d): no, on-failure[:N], always, unless-stopped");
  flags.add_string("health-cmd", f.health.command, "Command to run to check health (-d)");
  flags.add_string("health-http", f.health.http,
                   "Health check (-d): GET 127.0.0.1:PORT/PATH in the container");
  flags.add_string("health-interval", f.health.interval, "Time between running the check (default 30s)");
  flags.add_string("health-timeout", f.health.timeout,
                   "Maximum time to allow one check to run (default 30s)");
  flags.add_int("health-retries", f.health.retries, "Consecutive failures needed to report unhealthy");
  flags.add_string("health-start-period", f.health.start_period,
                   "Start period for the container to initialize before counting retries");
  flags.add_bool("no-healthcheck", f.no_healthcheck, "Disable any container-specified HEALTHCHECK");
  flags.add_string("health-on-failure", f.health_on_failure,
                   "Action once the container is unhealthy (-d): none, kill, restart or stop");
  flags.add_string("log-driver", f.log_driver, "Logging driver for the container: json-file, local or none");
  flags.add_list("log-opt", f.log_options, "Log driver options (max-size=10m, max-file=2)");
}

}  // namespace

void add_run_flags(FlagSet& flags, Globals& globals, RunFlags& f, RunVerb verb) {
  flags.add_string("root", globals.root, "gocrate's state directory (default /var/lib/gocrate)");
  add_identity_flags(flags, f);
  add_process_flags(flags, f);
  if (verb == RunVerb::spec) {
    flags.add_string("bundle", f.bundle,
                     "Also write the bundle to this directory: config.json, rootfs/ (the image's layers "
                     "merged) and etc/, for runc run --bundle");
  }
  if (verb != RunVerb::create) {
    flags.add_bool("d,detach", f.detach, "Run in the background under a supervisor of its own; print the id");
    flags.add_refused("sig-proxy", false,
                      "a foreground container ends with its gocrate, which always passes signals on; use -d "
                      "for one that does not",
                      is_any_of({"true"}));
    flags.add_refused("detach-keys", true, "gocrate does not attach to a running container; use -d and exec");
  }
  flags.add_refused("a,attach", true,
                    "standard output and error are always attached (standard input with -i); redirect them "
                    "instead");
  add_file_system_flags(flags, f);
  add_resource_flags(flags, f);
  add_security_flags(flags, f);
  add_namespace_flags(flags, f);
  add_supervision_flags(flags, f);
  flags.add_string("platform", f.platform,
                   "Run this platform's variant of the image (linux/arm64 under qemu)");
  flags.add_string("pull", f.pull, "Pull image before running (always, missing, never)");
  if (verb != RunVerb::spec) {
    flags.add_string(
        "signature-policy", f.signature_policy,
        "containers-policy.json(5) the image must satisfy (default: $GOCRATE_SIGNATURE_POLICY, else "
        "/etc/containers/policy.json when it exists)");
  }
}

void parse_run_command_line(Globals& globals, RunFlags& f, int argc, char** argv, RunVerb verb) {
  bool run = verb == RunVerb::run;
  FlagSet flags = verb == RunVerb::spec
                      ? FlagSet("spec", "gocrate spec [OPTIONS] IMAGE [COMMAND] [ARG...]",
                                "Print the config.json of what `run` with these options does")
                      : FlagSet(run ? "run" : "create",
                                run ? "gocrate run [OPTIONS] IMAGE [COMMAND] [ARG...]"
                                    : "gocrate create [OPTIONS] IMAGE [COMMAND] [ARG...]\n        gocrate "
                                      "create -f FILE|DIR "
                                      "[-- KUBECTL-OPTIONS] (resolve, then kubectl create)",
                                run ? "Run a command in a new container"
                                    : "Create a new container (`gocrate start` starts it)");
  add_run_flags(flags, globals, f, verb);
  std::vector<std::string> rest = flags.parse(argc, argv, 1);
  if (verb != RunVerb::spec) f.policy_verb = run ? "run" : "create";
  f.image = rest[0];
  f.args.assign(rest.begin() + 1, rest.end());
}

}  // namespace gocrate::cli
