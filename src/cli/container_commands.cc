// Commands on containers that exist: each is a fresh process that reads the
// files of the state directory (runtime/README.md); what they do to a
// container is runtime/container_lifecycle.h's.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.h"
#include "cli/docker_flags.h"
#include "runtime/container.h"
#include "runtime/container_config.h"
#include "runtime/container_filter.h"
#include "runtime/container_lifecycle.h"
#include "runtime/containment/mount_options.h"
#include "runtime/env_file.h"
#include "runtime/supervision/container_log.h"
#include "runtime/supervision/supervisor.h"
#include "runtime/terminal/exec.h"
#include "runtime/terminal/signal_names.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/go_template.h"
#include "util/strings.h"

namespace gocrate::cli {

using nlohmann::json;

namespace {

// ---- Showing containers ------------------------------------------------------

// Docker's State.Status.
std::string docker_status(const ContainerView& c) {
  std::string text = status_text(c);
  return text.substr(0, text.find(' '));
}

std::optional<ContainerConfig> config_of(const ContainerView& c) {
  return read_container_config(c.dir);
}

std::string short_id(const std::string& id) {
  return id.substr(0, 12);
}

time_t parse_rfc3339(const std::string& text) {
  tm t{};
  if (!::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &t)) return 0;
  return ::timegm(&t);
}

std::string ago(const std::string& when) {
  time_t then = parse_rfc3339(when);
  if (!then) return "";
  int64_t s = std::max<int64_t>(0, ::time(nullptr) - then);
  auto unit = [](int64_t n, const char* name) {
    return fmt::format("{} {}{} ago", n, name, n == 1 ? "" : "s");
  };
  if (s < 1) return "Less than a second ago";  // Docker's words
  if (s < 60) return unit(s, "second");
  if (s < 3600) return unit(s / 60, "minute");
  if (s < 86400) return unit(s / 3600, "hour");
  return unit(s / 86400, "day");
}

std::string command_text(const ContainerState& s) {
  std::string text = join(s.command, " ");
  return text.size() > 24 ? text.substr(0, 23) + "…" : text;
}

std::string ports_text(const ContainerState& s) {
  std::vector<std::string> ports;
  for (const auto& p : s.ports) ports.push_back(port_mapping_text(p));
  return join(ports, ", ");
}

// Runs `action` for each reference, printing what `action` returns; an
// error is printed and the others still run, as Docker does.
int for_each_container(const std::vector<std::string>& refs,
                       const std::function<std::string(const std::string&)>& action) {
  int code = 0;
  for (const auto& ref : refs) {
    try {
      std::string out = action(ref);
      if (!out.empty()) fmt::print("{}\n", out);
      std::fflush(stdout);
    } catch (const Error& e) {
      fmt::print(stderr, "gocrate: {}\n", e.what());
      code = 1;
    }
  }
  return code;
}

// ---- ps ------------------------------------------------------------------------

json ps_json(const ContainerView& c) {
  const ContainerState& s = c.state;
  return {{"ID", s.id},
          {"Names", s.name},
          {"Image", s.image},
          {"Command", join(s.command, " ")},
          {"CreatedAt", s.created},
          {"RunningFor", ago(s.created)},
          {"State", docker_status(c)},
          {"Status", status_text(c)},
          {"Health", s.health},
          {"RestartCount", s.restart_count},
          {"Ports", ports_text(s)},
          {"ExitCode", s.exit_code ? *s.exit_code : 0},
          {"OOMKilled", s.oom_killed},
          {"Pid", c.running() ? s.pid : 0}};
}

// A config.json that cannot be read leaves the fields it gives empty; ps
// still lists the container.
std::optional<ContainerConfig> config_of_quietly(const ContainerView& c) {
  try {
    return config_of(c);
  } catch (const Error&) {
    return std::nullopt;
  }
}

// The mounts a container was given: recorded in its state, or for a
// detached container whose state lacks them, in its config.
std::vector<MountRecord> mount_records(const ContainerView& c, const std::optional<ContainerConfig>& config) {
  if (!c.state.mounts.empty() || !config) return c.state.mounts;
  std::vector<MountRecord> records;
  for (const auto& v : config->spec.volumes) records.push_back(mount_record(v));
  return records;
}

const std::map<std::string, std::string>& labels_of(const ContainerView& c,
                                                    const std::optional<ContainerConfig>& config) {
  return c.state.labels.empty() && config ? config->spec.labels : c.state.labels;
}

// What a ps filter's ancestor= value names in the store: the name, the
// index's and each platform manifest's digest.
std::vector<std::string> image_refs_in_store(Store& store, const std::string& ref) {
  std::vector<std::string> refs;
  try {
    auto image = store.find(ref);
    if (!image) return refs;
    refs.push_back(image->name);
    refs.push_back(image->descriptor.digest.str());
    for (const auto& p : load_all_platform_images(store, image->descriptor, image->name))
      refs.push_back(p.descriptor.digest.str());
  } catch (const Error&) {
  }
  return refs;
}

ContainerFacts container_facts(const ContainerView& c, const std::optional<ContainerConfig>& config) {
  const ContainerState& s = c.state;
  ContainerFacts f;
  f.id = s.id;
  f.name = s.name;
  f.state = docker_status(c);
  f.health = s.health;
  f.exit_code = s.exit_code;
  f.labels = labels_of(c, config);
  f.image_refs = {s.image, s.image_digest};
  try {
    f.image_refs.push_back(Store::canonical_name(s.image));
  } catch (const Error&) {
  }
  for (const auto& m : mount_records(c, config)) {
    if (!m.name.empty()) f.volumes.push_back(m.name);
    if (!m.source.empty()) f.volumes.push_back(m.source);
    f.volumes.push_back(m.destination);
  }
  return f;
}

// Docker's formatter.Ellipsis: at most `width` characters, the last one "…".
std::string ellipsis(const std::string& text, size_t width) {
  std::vector<size_t> starts;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  if (starts.size() <= width) return text;
  return text.substr(0, starts[width - 1]) + "…";
}

// The fields of Docker's ps --format (cli/command/formatter/container.go).
json ps_context(const ContainerView& c, const std::optional<ContainerConfig>& config, bool trunc,
                time_t now) {
  const ContainerState& s = c.state;
  std::string command = join(s.command, " ");
  if (trunc) command = ellipsis(command, 20);
  std::vector<std::string> labels, mounts;
  for (const auto& [k, v] : labels_of(c, config)) labels.push_back(k + "=" + v);
  int local_volumes = 0;
  for (const auto& m : mount_records(c, config)) {
    if (m.tmpfs_flag) continue;
    std::string name = m.name.empty() ? m.source : m.name;
    mounts.push_back(trunc ? ellipsis(name, 15) : name);
    if (m.type == "volume") ++local_volumes;
  }
  time_t created = parse_rfc3339_seconds(s.created);
  time_t started = parse_rfc3339_seconds(s.started);
  time_t finished = parse_rfc3339_seconds(s.finished);
  return {{"ID", trunc ? short_id(s.id) : s.id},
          {"Image", s.image},
          {"Command", go_quote(command)},
          {"CreatedAt", go_time_text(created)},
          {"RunningFor", human_duration(std::max<int64_t>(0, now - created)) + " ago"},
          {"Ports", ports_text(s)},
          {"State", docker_status(c)},
          {"Status", docker_status_text(docker_status(c), s.health, s.exit_code, started, finished, now)},
          {"Size", "0B"},
          {"Names", s.name},
          {"Labels", join(labels, ",")},
          {"Mounts", join(mounts, ",")},
          {"Networks", s.network},
          {"LocalVolumes", std::to_string(local_volumes)}};
}

// Docker's ps table headers, what `table` templates print as their first line.
json ps_header() {
  return {{"ID", "CONTAINER ID"},    {"Image", "IMAGE"},
          {"Command", "COMMAND"},    {"CreatedAt", "CREATED AT"},
          {"RunningFor", "CREATED"}, {"Ports", "PORTS"},
          {"State", "STATE"},        {"Status", "STATUS"},
          {"Size", "SIZE"},          {"Names", "NAMES"},
          {"Labels", "LABELS"},      {"Mounts", "MOUNTS"},
          {"Networks", "NETWORKS"},  {"LocalVolumes", "LOCAL VOLUMES"}};
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 3, ' ');
    }
    fmt::print("{}\n", trim(line));
  }
}

}  // namespace

int ps_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"List containers (running ones; -a: all)", "ps"};
  bool all = false, quiet = false, no_trunc = false, latest = false;
  int last = -1;
  std::string format;
  std::vector<std::string> filters;
  add_global_options(app, globals);
  app.add_flag("-a,--all", all, "Show every container, not only running ones");
  app.add_flag("-q,--quiet", quiet, "Show only ids");
  app.add_option("-f,--filter", filters,
                 "Filter: id=, name= (regular expressions), status=, label=KEY[=VALUE], ancestor=IMAGE, "
                 "exited=CODE, health=, volume=")
      ->allow_extra_args(false);
  app.add_option(
      "--format", format,
      "A Go template ({{.Names}}\\t{{.Status}}), table TEMPLATE, table, or json (one JSON object a line)");
  app.add_flag("--no-trunc", no_trunc, "Do not truncate ids and commands");
  app.add_option("-n,--last", last, "Show the N last created containers (all states)");
  app.add_flag("-l,--latest", latest, "Show the last created container (all states)");
  parse_command_line(app, argc, argv);
  if (latest) last = 1;
  ContainerFilter filter = ContainerFilter::parse(filters);
  std::optional<DockerFormat> docker_format;
  std::optional<GoTemplate> row_template;
  if (!quiet && !format.empty() && format != "json" && format != "table") {
    docker_format = parse_docker_format(format);
    row_template = GoTemplate::parse(docker_format->text);
  }
  Store store = open_store(globals);
  ContainerDirectory directory(store.dir());
  ImageRefsOf image_refs_of = [&store](const std::string& ref) { return image_refs_in_store(store, ref); };
  time_t now = ::time(nullptr);
  std::vector<std::vector<std::string>> rows = {
      {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "HEALTH", "RESTARTS", "PORTS", "NAMES"}};
  std::string formatted;
  int shown = 0;
  bool show_stopped = all || filter.lists_stopped() || last >= 0;
  for (const auto& c : all_containers(directory)) {
    if (!show_stopped && !c.active()) continue;
    if (last >= 0 && shown >= last) break;
    std::optional<ContainerConfig> config;
    if (!filter.empty() || row_template) config = config_of_quietly(c);
    if (!filter.matches(container_facts(c, config), image_refs_of)) continue;
    ++shown;
    if (quiet) {
      fmt::print("{}\n", no_trunc ? c.state.id : short_id(c.state.id));
    } else if (format == "json") {
      fmt::print("{}\n", ps_json(c).dump());
    } else if (row_template) {
      GoTemplateOptions options;
      options.struct_type = "*formatter.ContainerContext";
      std::map<std::string, std::string> labels =
          c.state.labels.empty() && config ? config->spec.labels : c.state.labels;
      options.methods["Label"] = [labels](const json&, const std::vector<json>& args) -> json {
        if (args.size() != 1 || !args[0].is_string())
          fail("wrong number of args for Label: want 1 got {}", args.size());
        auto it = labels.find(args[0].get<std::string>());
        return it == labels.end() ? "" : it->second;
      };
      formatted += row_template->execute(ps_context(c, config, !no_trunc, now), options) + "\n";
    } else {
      rows.push_back({short_id(c.state.id), c.state.image, "\"" + command_text(c.state) + "\"",
                      ago(c.state.created), status_text(c), c.state.health,
                      std::to_string(c.state.restart_count), ports_text(c.state), c.state.name});
    }
  }
  if (quiet || format == "json") return 0;
  if (!row_template) {
    print_table(rows);
  } else if (docker_format->table) {
    GoTemplateOptions header;
    header.header = true;
    std::string text = row_template->execute(ps_header(), header) + "\n" + formatted;
    fmt::print("{}", align_docker_columns(text));
  } else {
    fmt::print("{}", formatted);
  }
  return 0;
}

// ---- stop, kill ------------------------------------------------------------------

int stop_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Stop running containers: the stop signal, then SIGKILL after -t seconds", "stop"};
  std::optional<int> timeout;
  std::vector<std::string> refs;
  add_global_options(app, globals);
  app.add_option("-t,--time", timeout, "Seconds to wait before SIGKILL (default: the container's, 10)");
  app.add_option("CONTAINER", refs, "Containers: ids, id prefixes or names")->required();
  parse_command_line(app, argc, argv);
  if (timeout && *timeout < 0) fail("invalid -t {}: use a number of seconds from 0 up", *timeout);
  require_root("stop");
  std::string root = open_store(globals).dir();
  return for_each_container(refs, [&](const std::string& ref) {
    stop_container(root, ref, timeout);
    return ref;
  });
}

int kill_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Send a signal to running containers (default SIGKILL)", "kill"};
  std::string signal_text = "KILL";
  std::vector<std::string> refs;
  add_global_options(app, globals);
  app.add_option("-s,--signal", signal_text, "Signal: a name (SIGTERM, TERM) or a number");
  app.add_option("CONTAINER", refs, "Containers: ids, id prefixes or names")->required();
  parse_command_line(app, argc, argv);
  int sig = parse_signal(signal_text, "--signal");
  require_root("kill");
  std::string root = open_store(globals).dir();
  return for_each_container(refs, [&](const std::string& ref) {
    kill_container(root, ref, sig);
    return ref;
  });
}

// ---- rm ----------------------------------------------------------------------

int rm_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Remove containers: state, log, upper layer, cgroup", "rm"};
  bool force = false;
  std::vector<std::string> refs;
  add_global_options(app, globals);
  app.add_flag("-f,--force", force, "Kill running containers first");
  app.add_option("CONTAINER", refs, "Containers: ids, id prefixes or names")->required();
  parse_command_line(app, argc, argv);
  require_root("rm");
  std::string root = open_store(globals).dir();
  return for_each_container(refs, [&](const std::string& ref) {
    remove_container(root, ref, force);
    return ref;
  });
}

// ---- wait ----------------------------------------------------------------------

int wait_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Wait until containers stop; print their exit codes", "wait"};
  std::vector<std::string> refs;
  add_global_options(app, globals);
  app.add_option("CONTAINER", refs, "Containers: ids, id prefixes or names")->required();
  parse_command_line(app, argc, argv);
  std::string root = open_store(globals).dir();
  return for_each_container(
      refs, [&](const std::string& ref) { return std::to_string(wait_container(root, ref)); });
}

// ---- logs --------------------------------------------------------------------

namespace {

struct OwnedEntry {
  std::string time;
  LogStream stream;
  bool partial;
  std::string text;
};

class LogPrinter {
 public:
  explicit LogPrinter(bool timestamps) : timestamps_(timestamps) {}
  void print(std::string_view time, LogStream stream, bool partial, std::string_view text) {
    FILE* out = stream == LogStream::out ? stdout : stderr;
    bool& at_start = stream == LogStream::out ? out_at_start_ : err_at_start_;
    if (timestamps_ && at_start) fmt::print(out, "{} ", time);
    std::fwrite(text.data(), 1, text.size(), out);
    if (!partial) std::fputc('\n', out);
    at_start = !partial;
  }
  void flush() {
    std::fflush(stdout);
    std::fflush(stderr);
  }

 private:
  bool timestamps_;
  bool out_at_start_ = true;
  bool err_at_start_ = true;
};

// The entries that make up the last `lines` lines.
std::deque<OwnedEntry> last_lines(ContainerLogReader& reader, int64_t lines) {
  std::deque<OwnedEntry> kept;
  int64_t complete = 0;
  reader.read_all([&](const LogEntry& e) {
    kept.push_back({std::string(e.time), e.stream, e.partial, std::string(e.text)});
    if (!e.partial) ++complete;
    while (complete > lines && !kept.empty()) {
      if (!kept.front().partial) --complete;
      kept.pop_front();
    }
  });
  return kept;
}

}  // namespace

int logs_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Show what a detached container wrote to stdout and stderr", "logs"};
  bool follow = false, timestamps = false;
  std::optional<int64_t> tail;
  std::string ref;
  add_global_options(app, globals);
  app.add_flag("-f,--follow", follow, "Keep printing what it writes until it stops");
  app.add_flag("-t,--timestamps", timestamps, "Show when each line was written");
  app.add_option("-n,--tail", tail, "Only the last N lines");
  app.add_option("CONTAINER", ref, "Container: id, id prefix or name")->required();
  parse_command_line(app, argc, argv);
  if (tail && *tail < 0) fail("invalid --tail {}: use a number of lines from 0 up", *tail);
  ContainerDirectory directory(open_store(globals).dir());
  ContainerView c = find_container(directory, ref);
  if (!c.state.supervised) {
    fail("container {} ran in the foreground: its output went to its gocrate's terminal, not to a log",
         c.state.name);
  }
  if (auto config = read_container_config(c.dir);
      config && config->supervision.log.driver == LogDriver::none) {
    fail(
        "container {} has no logs: it was run with --log-driver none, which keeps nothing (as Docker's, "
        "\"configured logging driver does not support reading\")",
        c.state.name);
  }
  LogPrinter printer(timestamps);
  auto print = [&printer](const LogEntry& e) { printer.print(e.time, e.stream, e.partial, e.text); };
  ContainerLogReader reader(c.dir);
  if (tail) {
    for (const auto& e : last_lines(reader, *tail)) printer.print(e.time, e.stream, e.partial, e.text);
  } else {
    reader.read_all(print);
  }
  printer.flush();
  if (!follow) return 0;
  follow_container(c.dir, [&] {
    reader.read_new(print);
    printer.flush();
  });
  return 0;
}

// ---- inspect -------------------------------------------------------------------

namespace {

json health_json(const ContainerView& c) {
  std::string text = read_health_json(c.dir);
  if (!text.empty()) {
    json h = json::parse(text, nullptr, false);
    if (!h.is_discarded()) {
      if (c.state.health.empty())
        h["Status"] = c.running() ? "starting" : "";
      else
        h["Status"] = c.state.health;
      return h;
    }
  }
  return {{"Status", c.state.health}, {"FailingStreak", 0}, {"Log", json::array()}};
}

// Docker's {"8080/tcp": [{"HostIp", "HostPort"}]}.
json port_map(const std::vector<PortMapping>& ports, bool show_any_address) {
  json out = json::object();
  for (const auto& p : ports) {
    std::string ip = p.host_ip.empty() && show_any_address ? "0.0.0.0" : p.host_ip;
    out[fmt::format("{}/{}", p.container_port, protocol_name(p.protocol))].push_back(
        {{"HostIp", ip}, {"HostPort", p.host_port ? std::to_string(p.host_port) : ""}});
  }
  return out;
}

json state_json(const ContainerView& c) {
  const ContainerState& s = c.state;
  json state = {{"Status", docker_status(c)},
                {"Running", c.running()},
                {"Paused", c.paused()},
                {"Restarting", c.owned && s.status == ContainerStatus::restarting},
                {"OOMKilled", s.oom_killed},
                {"Dead", docker_status(c) == "dead"},
                {"Pid", c.running() ? s.pid : 0},
                {"ExitCode", s.exit_code.value_or(0)},
                {"Error", s.error},
                {"StartedAt", s.started},
                {"FinishedAt", s.finished},
                {"SupervisorPid", c.owned && s.supervised ? s.owner_pid : 0}};
  if (!c.owned && s.supervised && s.status != ContainerStatus::exited)
    state["Error"] = "supervisor gone: " + (s.error.empty() ? "it was killed" : s.error);
  return state;
}

json config_json(const ContainerState& s, const std::optional<ContainerConfig>& config) {
  json cfg = {{"Hostname", s.hostname},
              {"User", s.user},
              {"Env", s.env},
              {"Cmd", s.command},
              {"Image", s.image},
              {"WorkingDir", s.workdir},
              {"StopSignal", s.stop_signal.empty() ? "SIGTERM" : s.stop_signal},
              {"Labels", s.labels.empty() && config ? config->spec.labels : s.labels}};
  if (!config) return cfg;
  const SupervisorOptions& o = config->supervision;
  cfg["Domainname"] = config->spec.domainname;
  cfg["StopTimeout"] = o.stop_timeout;
  cfg["HealthcheckOnFailureAction"] = health_on_failure_name(o.health_on_failure);
  if (!config->spec.exposed_ports.empty()) {
    json exposed = json::object();
    for (const auto& port : config->spec.exposed_ports) exposed[port] = json::object();
    cfg["ExposedPorts"] = exposed;
  }
  if (o.health.enabled()) {
    cfg["Healthcheck"] = {{"Test", o.health.test()},
                          {"Interval", o.health.interval.count() * 1000000},
                          {"Timeout", o.health.timeout.count() * 1000000},
                          {"StartPeriod", o.health.start_period.count() * 1000000},
                          {"Retries", o.health.retries}};
  }
  return cfg;
}

json host_config_json(const ContainerState& s, const std::optional<ContainerConfig>& config) {
  json host = {{"NetworkMode", s.network},
               {"AutoRemove", s.auto_remove},
               {"Capabilities", capability_names(s.capabilities)},
               {"RestartPolicy", {{"Name", "no"}, {"MaximumRetryCount", 0}}}};
  if (!config) return host;
  const SupervisorOptions& o = config->supervision;
  const ContainerSpec& spec = config->spec;
  host["RestartPolicy"] = {{"Name", o.restart.name()}, {"MaximumRetryCount", o.restart.max_retries}};
  json log_config = json::object();
  if (o.log.driver != LogDriver::none) {
    log_config["max-size"] = o.log.max_size == UINT64_MAX ? "-1" : std::to_string(o.log.max_size);
    log_config["max-file"] = std::to_string(o.log.max_files);
  }
  host["LogConfig"] = {{"Type", log_driver_name(o.log.driver)}, {"Config", log_config}};
  host["PortBindings"] = port_map(spec.ports, false);
  host["PublishAllPorts"] = spec.publish_all;
  host["Memory"] = spec.limits.memory_bytes.value_or(0);
  // Docker's: -1 unlimited swap, equal to Memory no swap (gocrate's default with -m), 0 no limit.
  host["MemorySwap"] =
      spec.limits.memory_swap_bytes.value_or(static_cast<int64_t>(spec.limits.memory_bytes.value_or(0)));
  host["MemoryReservation"] = spec.limits.memory_reservation_bytes.value_or(0);
  host["OomKillDisable"] = spec.limits.oom_kill_disable;
  host["CpuShares"] = spec.limits.cpu_shares.value_or(0);
  host["CpusetCpus"] = spec.limits.cpuset_cpus;
  host["NanoCpus"] = static_cast<int64_t>(spec.limits.cpus.value_or(0) * 1e9);
  host["PidsLimit"] = spec.limits.pids.value_or(0);
  host["ReadonlyRootfs"] = spec.read_only;
  host["Init"] = spec.init;
  json binds = json::array();
  for (const auto& v : spec.volumes)
    binds.push_back(fmt::format("{}:{}{}", v.source, v.target, v.read_only ? ":ro" : ""));
  host["Binds"] = binds;
  json devices = json::array();
  for (const auto& d : spec.devices) {
    devices.push_back({{"PathOnHost", d.host_path},
                       {"PathInContainer", d.container_path},
                       {"CgroupPermissions", device_access_text(d.access)}});
  }
  host["Devices"] = devices;
  json extra_hosts = json::array();
  for (const auto& h : spec.extra_hosts) extra_hosts.push_back(h.name + ":" + h.address);
  host["ExtraHosts"] = extra_hosts;
  host["Dns"] = spec.dns.servers;
  host["DnsSearch"] = spec.dns.search;
  host["DnsOptions"] = spec.dns.options;
  host["ShmSize"] = spec.shm_bytes;
  return host;
}

// Docker's .Mounts: -v, --mount and --mount type=tmpfs (--tmpfs mounts are
// HostConfig.Tmpfs).
json mounts_json(const std::vector<MountRecord>& records) {
  json mounts = json::array();
  for (const auto& m : records) {
    if (m.tmpfs_flag) continue;
    json entry = {{"Type", m.type},
                  {"Source", m.source},
                  {"Destination", m.destination},
                  {"Mode", m.mode},
                  {"RW", m.rw},
                  {"Propagation", m.propagation.empty() && m.type == "bind" ? "rprivate" : m.propagation}};
    if (m.type == "volume") {
      entry["Name"] = m.name;
      entry["Driver"] = "local";
    }
    mounts.push_back(entry);
  }
  return mounts;
}

json inspect_json(const ContainerView& c) {
  const ContainerState& s = c.state;
  auto config = config_of(c);
  json out = {{"Id", s.id},
              {"Created", s.created},
              {"Path", s.command.empty() ? "" : s.command[0]},
              {"Args", s.command.size() > 1 ? std::vector<std::string>(s.command.begin() + 1, s.command.end())
                                            : std::vector<std::string>{}},
              {"State", state_json(c)},
              {"Image", s.image_digest},
              {"Name", "/" + s.name},
              {"RestartCount", s.restart_count},
              {"Platform", s.platform},
              {"LogPath", s.supervised && !(config && config->supervision.log.driver == LogDriver::none)
                              ? container_log_path(c.dir)
                              : ""},
              {"NetworkSettings", {{"Ports", port_map(s.ports, true)}}},
              {"Config", config_json(s, config)},
              {"HostConfig", host_config_json(s, config)}};
  if (config && config->supervision.health.enabled()) out["State"]["Health"] = health_json(c);
  std::vector<MountRecord> records = mount_records(c, config);
  out["Mounts"] = mounts_json(records);
  if (!out["HostConfig"].contains("Tmpfs")) {
    json tmpfs = json::object();
    for (const auto& m : records) {
      if (m.tmpfs_flag) tmpfs[m.destination] = m.tmpfs_options;
    }
    if (!tmpfs.empty()) out["HostConfig"]["Tmpfs"] = tmpfs;
  }
  return out;
}

}  // namespace

// Containers first, as docker inspect does; images otherwise.
int inspect_any_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Show containers or images as JSON", "inspect"};
  std::string type, format;
  std::vector<std::string> refs;
  add_global_options(app, globals);
  app.add_option("--type", type, "container or image (default: a container if one has that name)");
  app.add_option("-f,--format", format, "Print each object through a Go template ({{.State.Status}})");
  app.add_option("REF", refs, "Containers (ids, prefixes, names) or images")->required();
  parse_command_line(app, argc, argv);
  if (!type.empty() && type != "container" && type != "image") {
    fail("unknown --type \"{}\": use container or image", type);
  }
  ContainerDirectory directory(open_store(globals).dir());
  bool containers = type == "container";
  if (type.empty()) {
    try {
      find_container(directory, refs[0]);
      containers = true;
    } catch (const Error&) {
    }
  }
  if (!containers) {
    std::vector<char*> image_args;
    for (int i = 0; i < argc; ++i) {
      std::string_view arg = argv[i];
      if (arg == "--type") {
        ++i;
        continue;
      }
      if (!arg.starts_with("--type=")) image_args.push_back(argv[i]);
    }
    return inspect_command(globals, static_cast<int>(image_args.size()), image_args.data());
  }
  json out = json::array();
  for (const auto& ref : refs) out.push_back(inspect_json(find_container(directory, ref)));
  if (!format.empty()) {
    fmt::print("{}", docker_inspect_format(format, out));
    return 0;
  }
  fmt::print("{}\n", out.dump(2));
  return 0;
}

// ---- stats ---------------------------------------------------------------------

namespace {

struct Sample {
  CgroupStats stats;
  std::chrono::steady_clock::time_point at;
};

Sample sample(const ContainerState& s) {
  return {container_stats(s), std::chrono::steady_clock::now()};
}

std::string binary_size(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.{}f}{}", value, unit == 0 ? 0 : 2, units[unit]);
}

std::vector<std::string> stats_row(const ContainerState& s, const Sample& before, const Sample& after,
                                   uint64_t host) {
  double wall = std::chrono::duration<double, std::nano>(after.at - before.at).count();
  // A container that ended meanwhile reads as zero.
  uint64_t used = after.stats.cpu_usage_ns > before.stats.cpu_usage_ns
                      ? after.stats.cpu_usage_ns - before.stats.cpu_usage_ns
                      : 0;
  double cpu = wall > 0 ? 100.0 * static_cast<double>(used) / wall : 0;
  uint64_t limit = container_memory_limit(s, host);
  double memory_percent =
      limit ? 100.0 * static_cast<double>(after.stats.memory_bytes) / static_cast<double>(limit) : 0;
  return {short_id(s.id),
          s.name,
          fmt::format("{:.2f}%", cpu),
          binary_size(after.stats.memory_bytes) + " / " + binary_size(limit),
          fmt::format("{:.2f}%", memory_percent),
          std::to_string(after.stats.pids)};
}

}  // namespace

int stats_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Show running containers' CPU, memory and process counts from their cgroups", "stats"};
  bool no_stream = false;
  std::vector<std::string> refs;
  add_global_options(app, globals);
  app.add_flag("--no-stream", no_stream, "Print one sample and exit");
  app.add_option("CONTAINER", refs, "Containers (default: every running one)");
  parse_command_line(app, argc, argv);
  ContainerDirectory directory(open_store(globals).dir());
  std::vector<ContainerView> containers;
  if (refs.empty()) {
    for (auto& c : all_containers(directory)) {
      if (c.running()) containers.push_back(std::move(c));
    }
  } else {
    for (const auto& ref : refs) {
      ContainerView c = find_container(directory, ref);
      if (!c.running()) fail_not_running(c);
      containers.push_back(std::move(c));
    }
  }
  uint64_t host = host_memory_bytes();
  std::vector<Sample> before;
  for (const auto& c : containers) before.push_back(sample(c.state));
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(no_stream ? 500 : 1000));
    std::vector<std::vector<std::string>> rows = {
        {"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"}};
    for (size_t i = 0; i < containers.size(); ++i) {
      Sample after = sample(containers[i].state);
      rows.push_back(stats_row(containers[i].state, before[i], after, host));
      before[i] = after;
    }
    if (!no_stream) fmt::print("\033[2J\033[H");
    print_table(rows);
    std::fflush(stdout);
    if (no_stream) return 0;
  }
}

// ---- exec ----------------------------------------------------------------------

namespace {

std::vector<std::string> exec_env(const ContainerState& s, const std::vector<std::string>& flags) {
  std::vector<std::string> env = s.env;
  for (const auto& entry : flags) {
    size_t eq = entry.find('=');
    std::string key = entry.substr(0, eq);
    if (key.empty()) fail("invalid -e \"{}\": use KEY=VALUE", entry);
    std::string value;
    if (eq == std::string::npos) {
      const char* host = std::getenv(key.c_str());
      if (!host) continue;
      value = host;
    } else {
      value = entry.substr(eq + 1);
    }
    std::erase_if(env, [&](const std::string& e) { return e.starts_with(key + "="); });
    env.push_back(key + "=" + value);
  }
  return env;
}

}  // namespace

int exec_command(Globals& globals, int argc, char** argv) {
  FlagSet flags("exec", "gocrate exec [OPTIONS] CONTAINER COMMAND [ARG...]",
                "Run a command in a running container, under its restrictions");
  bool interactive = false, tty = false;
  std::string user, workdir;
  std::vector<std::string> env, env_files;
  flags.add_string("root", globals.root, "gocrate's state directory (default /var/lib/gocrate)");
  flags.add_bool("i,interactive", interactive, "Keep STDIN open even if not attached");
  flags.add_bool("t,tty", tty, "Allocate a pseudo-TTY");
  flags.add_string("u,user", user,
                   "Username or UID (format: <name|uid>[:<group|gid>]; default: the container's)");
  flags.add_string("w,workdir", workdir, "Working directory inside the container (default: the container's)");
  flags.add_list("e,env", env, "Set environment variables (KEY=VALUE, or KEY to pass gocrate's)");
  flags.add_list("env-file", env_files, "Read in a file of environment variables");
  flags.add_refused(
      "d,detach", false,
      "an exec'd command ends with the gocrate that started it; run it in the background with &",
      [](std::string_view v) { return v == "false"; });
  flags.add_refused("detach-keys", true, "gocrate does not attach; end the command to detach");
  flags.add_refused("privileged", false,
                    "an exec'd command has the container's privileges; run the container with --privileged",
                    [](std::string_view v) { return v == "false"; });
  std::vector<std::string> command;
  std::string ref;
  try {
    command = flags.parse(argc, argv, 2);
  } catch (const Error& e) {
    throw Error(e.what(), kExitRuntimeFailure);
  }
  ref = command[0];
  command.erase(command.begin());
  std::vector<std::string> from_files;
  for (const auto& file : env_files) {
    for (auto& entry : read_env_file(file)) from_files.push_back(std::move(entry));
  }
  env.insert(env.begin(), from_files.begin(), from_files.end());
  if (!workdir.empty() && !workdir.starts_with('/'))
    fail("invalid --workdir \"{}\": it must be an absolute path", workdir);
  require_root("exec");
  Store store = open_store(globals);
  ContainerDirectory directory(store.dir());
  ContainerView c = find_container(directory, ref);
  if (c.paused()) fail("container {} is paused: unpause it before exec", c.state.name);
  if (!c.running()) fail_not_running(c);
  ExecSpec spec{command, exec_env(c.state, env), user.empty() ? c.state.user : user,
                workdir.empty() ? c.state.workdir : workdir};
  return exec_in_container(store.dir(), c.state, spec, tty, interactive);
}

// ---- start ---------------------------------------------------------------------

int start_command(Globals& globals, int argc, char** argv) {
  CLI::App app{"Start detached containers that are not running again", "start"};
  bool boot = false;
  std::vector<std::string> refs;
  add_global_options(app, globals);
  app.add_flag("--boot", boot,
               "Start every container a reboot or a lost supervisor stopped: --restart always ones, and "
               "unless-stopped ones that stop or kill did not stop (for a boot-time unit)");
  app.add_option("CONTAINER", refs, "Containers: ids, id prefixes or names");
  parse_command_line(app, argc, argv);
  if (boot == !refs.empty()) fail("give containers to start, or --boot (not both)");
  require_root("start");
  std::string root = open_store(globals).dir();
  ContainerDirectory directory(root);
  if (boot) {
    return for_each_container(containers_to_start_at_boot(root), [&](const std::string& name) {
      start_detached(root, find_container(directory, name).state.id);
      return name;
    });
  }
  return for_each_container(refs, [&](const std::string& ref) {
    start_container(root, ref);
    return ref;
  });
}

}  // namespace gocrate::cli
