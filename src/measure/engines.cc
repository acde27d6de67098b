#include "measure/engines.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "image/content.h"
#include "image/media_types.h"
#include "runtime/containment/cgroups.h"
#include "transport/archive.h"
#include "unpack/layer_cache.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/process.h"
#include "util/strings.h"

extern char** environ;

namespace gocrate {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// How the engines are told to run the image, and what they report about it.
struct Engine {
  std::string name;
  std::vector<std::string> command;  // with {CGROUP_PARENT} where the engine takes --cgroup-parent
  std::vector<std::string> env;      // for the bare process: the image's environment
  uint64_t compressed = 0;
  uint64_t unpacked = 0;
  std::function<void()> cleanup;
};

// ---- running one process under a cgroup of its own -----------------------

struct Spawned {
  pid_t pid = -1;
  std::string output_path;
};

// Starts argv with stdout and stderr in a file. With `join`, the child moves
// itself into the cgroup before exec (the bare engine); the others hand the
// cgroup to the engine by name.
Spawned spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, const Cgroup* join,
              const std::string& output_path) {
  UniqueFd output = open_or_fail(output_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<UniqueFd> join_files;
  if (join) join_files = join->open_join_files();
  std::vector<std::string> args = argv, environment = env;
  std::vector<char*> arg_pointers, env_pointers;
  for (auto& a : args) arg_pointers.push_back(a.data());
  arg_pointers.push_back(nullptr);
  for (auto& e : environment) env_pointers.push_back(e.data());
  env_pointers.push_back(nullptr);
  char** envp = env.empty() ? environ : env_pointers.data();
  pid_t pid = ::fork();
  if (pid < 0) fail_errno("cannot start " + argv[0]);
  if (pid == 0) {
    for (const auto& f : join_files) {
      if (::write(f.get(), "0", 1) != 1) _exit(125);
    }
    int null_in = ::open("/dev/null", O_RDONLY);
    ::dup2(null_in, 0);
    ::dup2(output.get(), 1);
    ::dup2(output.get(), 2);
    ::setpgid(0, 0);
    ::execvpe(arg_pointers[0], arg_pointers.data(), envp);
    _exit(127);
  }
  return {pid, output_path};
}

std::optional<int> reap(pid_t pid, bool block) {
  int status = 0;
  pid_t done = ::waitpid(pid, &status, block ? 0 : WNOHANG);
  if (done == 0) return std::nullopt;
  if (done < 0) return 255;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string last_output_line(const std::string& path) {
  std::string text(trim(read_file_if_exists(path).value_or("")));
  auto newline = text.rfind('\n');
  text = newline == std::string::npos ? text : text.substr(newline + 1);
  return text.empty() ? "no output" : "it printed: " + text.substr(0, 300);
}

// Removes a cgroup with whatever an engine made below it (docker and podman
// leave their container's cgroup there when a run fails), children first,
// killing what still runs in them.
void remove_cgroup_tree(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec)) remove_cgroup_tree(entry.path().string());
  }
  for (int attempt = 0; attempt < 100; ++attempt) {
    for (const auto& line : split(read_file_if_exists(dir + "/cgroup.procs").value_or(""), '\n')) {
      int64_t pid;
      if (parse_int(line, 1, INT32_MAX, pid)) ::kill(static_cast<pid_t>(pid), SIGKILL);
    }
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// ---- readiness -------------------------------------------------------------

struct ReadyProbe {
  std::string host;
  std::string port;
  std::string path;  // empty: a TCP connect is enough
};

ReadyProbe parse_ready(const std::string& text) {
  ReadyProbe probe;
  std::string rest;
  if (text.starts_with("http://")) {
    rest = text.substr(7);
    auto slash = rest.find('/');
    probe.path = slash == std::string::npos ? "/" : rest.substr(slash);
    rest = rest.substr(0, slash);
  } else if (text.starts_with("tcp://")) {
    rest = text.substr(6);
  } else {
    fail("invalid --ready \"{}\": use http://HOST:PORT/PATH or tcp://HOST:PORT", text);
  }
  auto colon = rest.rfind(':');
  probe.host = rest.substr(0, colon);
  probe.port = colon == std::string::npos ? (probe.path.empty() ? "" : "80") : rest.substr(colon + 1);
  if (probe.host.empty() || probe.port.empty())
    fail("invalid --ready \"{}\": it needs a host and a port", text);
  return probe;
}

bool is_ready(const ReadyProbe& probe) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(probe.host.c_str(), probe.port.c_str(), &hints, &found) != 0) return false;
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
  UniqueFd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd || ::connect(fd.get(), found->ai_addr, found->ai_addrlen) != 0) return false;
  if (probe.path.empty()) return true;
  std::string request = fmt::format("GET {} HTTP/1.0\r\nHost: {}\r\n\r\n", probe.path, probe.host);
  if (::write(fd.get(), request.data(), request.size()) != static_cast<ssize_t>(request.size())) return false;
  char buffer[64];
  ssize_t n = ::read(fd.get(), buffer, sizeof buffer - 1);
  if (n < 12) return false;
  buffer[n] = '\0';
  return std::strncmp(buffer, "HTTP/1.", 7) == 0 && buffer[9] == '2';
}

// ---- one run ---------------------------------------------------------------

struct RunResult {
  double seconds = 0;
  uint64_t peak_memory = 0;
  double cpu_cores = 0;
};

std::string cgroup_name(const std::string& engine, int run) {
  return fmt::format("gocrate-measure-{}-{}-{}", ::getpid(), engine, run);
}

std::vector<std::string> with_cgroup_parent(const std::vector<std::string>& command,
                                            const std::string& parent) {
  std::vector<std::string> out;
  for (const auto& arg : command) out.push_back(arg == "{CGROUP_PARENT}" ? parent : arg);
  return out;
}

void stop(pid_t pid) {
  ::kill(pid, SIGTERM);
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!reap(pid, false)) {
    if (Clock::now() > deadline) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      reap(pid, true);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// Runs once; throws Error describing what went wrong and when.
RunResult run_once(const Engine& engine, const MeasureRequest& request,
                   const std::optional<ReadyProbe>& ready, int index, const std::string& work) {
  CgroupLayout layout = CgroupLayout::detect();
  std::string name = cgroup_name(engine.name, index);
  Cgroup cgroup = Cgroup::create(layout, name, ResourceLimits{});
  // An engine's runtime may make the same parent in the cgroup2 hierarchy
  // too (runc on a hybrid host): it goes as well.
  std::vector<std::string> dirs = cgroup.dirs();
  if (const CgroupHierarchy* v2 = layout.v2_hierarchy(); v2 && path_exists(v2->mount)) {
    std::string dir = v2->mount + "/" + name;
    if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
  }
  struct Removal {
    const std::vector<std::string>& dirs;
    ~Removal() {
      for (const auto& dir : dirs) {
        if (path_exists(dir)) remove_cgroup_tree(dir);
      }
    }
  } removal{dirs};

  std::string output = fmt::format("{}/{}-{}.log", work, engine.name, index);
  bool bare = engine.name == "bare";
  auto start = Clock::now();
  Spawned child =
      spawn(with_cgroup_parent(engine.command, "/" + name), engine.env, bare ? &cgroup : nullptr, output);
  std::string what = fmt::format("{} under {}", request.image, engine.name);
  RunResult result;
  if (ready) {
    while (!is_ready(*ready)) {
      if (auto code = reap(child.pid, false)) {
        fail("{} exited with code {} before it was ready at {} (after {:.2f} s; {})", what, *code,
             *request.ready, seconds_since(start), last_output_line(output));
      }
      if (Clock::now() - start > request.timeout) {
        stop(child.pid);
        fail("{} never became ready at {} within {:.0f} s ({})", what, *request.ready,
             std::chrono::duration<double>(request.timeout).count(), last_output_line(output));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    result.seconds = seconds_since(start);
    stop(child.pid);
  } else {
    std::optional<int> code;
    while (!(code = reap(child.pid, false))) {
      if (Clock::now() - start > request.timeout) {
        stop(child.pid);
        fail("{} did not exit within {:.0f} s (give --ready for a server)", what,
             std::chrono::duration<double>(request.timeout).count());
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    result.seconds = seconds_since(start);
    if (*code != 0) {
      fail("{} exited with code {} after {:.2f} s ({})", what, *code, result.seconds,
           last_output_line(output));
    }
  }
  CgroupStats stats = cgroup.stats();
  result.peak_memory = stats.memory_peak_bytes ? stats.memory_peak_bytes : stats.memory_bytes;
  result.cpu_cores = result.seconds > 0 ? static_cast<double>(stats.cpu_usage_ns) / 1e9 / result.seconds : 0;
  return result;
}

// ---- the engines -----------------------------------------------------------

uint64_t directory_size(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) total += it->file_size(ec);
  }
  return total;
}

std::vector<std::string> image_command(const PlatformImage& image, const MeasureRequest& request) {
  std::vector<std::string> command = image.config.config.entrypoint.value_or(std::vector<std::string>{});
  if (!request.args.empty()) {
    command.insert(command.end(), request.args.begin(), request.args.end());
  } else if (image.config.config.cmd) {
    command.insert(command.end(), image.config.config.cmd->begin(), image.config.config.cmd->end());
  }
  if (command.empty()) fail("{} has neither an entrypoint nor a command: give one after --", request.image);
  return command;
}

Engine gocrate_engine(Store& store, const MeasureRequest& request, const PlatformImage& image,
                      const std::vector<std::string>& lower_dirs) {
  Engine e{"gocrate"};
  e.command = {request.gocrate_binary,
               "--root",
               store.dir(),
               "run",
               "--rm",
               "--network",
               request.ready ? "host" : "none",
               "--cgroup-parent",
               "{CGROUP_PARENT}",
               request.image};
  e.command.insert(e.command.end(), request.args.begin(), request.args.end());
  e.compressed = image.descriptor.size + image.manifest.config.size;
  for (const auto& layer : image.manifest.layers) e.compressed += layer.size;
  for (const auto& dir : lower_dirs) e.unpacked += directory_size(dir);
  return e;
}

Engine bare_engine(const MeasureRequest& request, const PlatformImage& image,
                   const std::vector<std::string>& lower_dirs) {
  std::vector<std::string> command = image_command(image, request);
  std::string program = command[0];
  if (!program.starts_with('/'))
    fail("bare: the entrypoint {} is not an absolute path in the image", program);
  // The executable as the image's topmost layer holding it has it.
  std::string host_path;
  for (const auto& dir : lower_dirs) {
    if (path_exists(dir + program)) {
      host_path = dir + program;
      break;
    }
  }
  if (host_path.empty()) fail("bare: the image has no {}", program);
  Engine e{"bare"};
  e.command = command;
  e.command[0] = host_path;
  e.env = image.config.config.env;
  struct stat st;
  if (::stat(host_path.c_str(), &st) == 0) e.unpacked = st.st_size;
  return e;
}

std::optional<std::string> first_error_line(const ProcessResult& r) {
  if (r.exit_code == 0) return std::nullopt;
  std::string text(trim(r.err.empty() ? r.out : r.err));
  return text.substr(0, text.find('\n')).substr(0, 200);
}

// Docker and podman get the image from a tar gocrate writes (their load).
Engine container_engine(const std::string& tool, Store& store, const MeasureRequest& request,
                        const PlatformImage& image, const std::string& work, std::string& skipped) {
  Engine e{tool};
  if (!find_executable(tool)) {
    skipped = fmt::format("{} is not installed", tool);
    return e;
  }
  std::vector<std::string> probe = tool == "docker" ? std::vector<std::string>{"docker", "version"}
                                                    : std::vector<std::string>{"podman", "info"};
  if (auto error = first_error_line(run_process(probe))) {
    skipped = fmt::format("{} cannot run here ({})", tool, *error);
    return e;
  }
  std::string tag = "gocrate-measure:" + image.descriptor.digest.short_hex();
  std::string archive = work + "/" + tool + ".tar";
  {
    ArchiveWriter writer(archive, image.config.platform());
    copy_image(store, image.descriptor, writer);
    writer.add_name(tag, image.descriptor);
    writer.commit();
  }
  if (auto error = first_error_line(run_process({tool, "load", "-i", archive}))) {
    skipped = fmt::format("{} load failed ({})", tool, *error);
    return e;
  }
  std::string name = tool == "podman" ? "localhost/" + tag : tag;
  e.command = {
      tool, "run", "--rm", "--network", request.ready ? "host" : "none", "--cgroup-parent", "{CGROUP_PARENT}",
      name};
  e.command.insert(e.command.end(), request.args.begin(), request.args.end());
  e.compressed = image.descriptor.size + image.manifest.config.size;
  for (const auto& layer : image.manifest.layers) e.compressed += layer.size;
  auto size = run_process({tool, "image", "inspect", "--format", "{{.Size}}", name});
  int64_t unpacked = 0;
  if (size.exit_code == 0 && parse_int(trim(size.out), 0, INT64_MAX, unpacked)) e.unpacked = unpacked;
  e.cleanup = [tool, name] { run_process({tool, "rmi", "-f", name}); };
  return e;
}

}  // namespace

std::vector<EngineResult> measure_image(Store& store, const MeasureRequest& request) {
  if (request.runs < 1 || request.runs > 1000) fail("invalid --runs {}: use 1 to 1000", request.runs);
  std::optional<ReadyProbe> ready;
  if (request.ready) ready = parse_ready(*request.ready);
  NamedImage named = store.resolve(request.image);
  PlatformImage image = load_platform_image(store, named.descriptor, std::nullopt, request.image);
  std::vector<std::string> lower_dirs;
  {
    FileLock lease = store.lease();
    LayerCache cache(store.dir() + "/layers");
    const auto& layers = image.manifest.layers;
    for (size_t i = 0; i < layers.size(); ++i)
      lower_dirs.insert(lower_dirs.begin(),
                        cache.ensure(store, layers[i], image.config.diff_ids[i], named.name));
  }
  TempDir work;

  // Every engine's result by name; engines that cannot run are results too.
  std::map<std::string, EngineResult> results;
  std::vector<Engine> engines{gocrate_engine(store, request, image, lower_dirs)};
  for (const auto& name : request.against) {
    if (name != "bare" && name != "docker" && name != "podman") {
      fail("unknown engine \"{}\" in --against: use bare, docker or podman", name);
    }
    std::string skipped;
    try {
      if (name == "bare") {
        engines.push_back(bare_engine(request, image, lower_dirs));
      } else {
        Engine e = container_engine(name, store, request, image, work.path(), skipped);
        if (skipped.empty()) engines.push_back(std::move(e));
      }
    } catch (const Error& e) {
      skipped = e.what();
    }
    if (!skipped.empty()) results[name] = EngineResult{name, skipped};
  }

  for (auto& engine : engines) {
    EngineResult result{engine.name};
    result.image_compressed_bytes = engine.compressed;
    result.image_unpacked_bytes = engine.unpacked;
    double peak_cpu = 0;
    try {
      // One run first that is not counted: caches warm, lazy set-up done.
      run_once(engine, request, ready, 0, work.path());
      for (int i = 1; i <= request.runs; ++i) {
        if (request.on_run) request.on_run(engine.name, i, request.runs);
        RunResult run = run_once(engine, request, ready, i, work.path());
        result.start_seconds.push_back(run.seconds);
        result.peak_memory_bytes = std::max(result.peak_memory_bytes, run.peak_memory);
        peak_cpu = std::max(peak_cpu, run.cpu_cores);
      }
    } catch (const Error& e) {
      if (engine.cleanup) engine.cleanup();
      if (engine.name == "gocrate") throw;
      result = EngineResult{engine.name, std::string(e.what())};
    }
    if (engine.cleanup) engine.cleanup();
    if (engine.name == "gocrate") {
      save_measurement(store, image.descriptor.digest.str(), {result.peak_memory_bytes, peak_cpu});
    }
    results[engine.name] = std::move(result);
  }

  // gocrate first, then the baselines in the order asked for.
  std::vector<EngineResult> ordered{results.at("gocrate")};
  for (const auto& name : request.against) ordered.push_back(results.at(name));
  return ordered;
}

void save_measurement(Store& store, const std::string& manifest_digest, const ResourceMeasurement& m) {
  auto digest = Digest::parse(manifest_digest);
  nlohmann::json entry = {{"digest", manifest_digest},
                          {"peakMemoryBytes", m.peak_memory_bytes},
                          {"peakCpuCores", m.peak_cpu_cores}};
  store.cache_put("measurements", digest.hex, entry.dump());
}

std::optional<ResourceMeasurement> load_measurement(Store& store, const std::string& manifest_digest) {
  auto digest = Digest::try_parse(manifest_digest);
  if (!digest) return std::nullopt;
  auto text = store.cache_get("measurements", digest->hex);
  if (!text) return std::nullopt;
  auto entry = nlohmann::json::parse(*text, nullptr, false);
  if (!entry.is_object()) return std::nullopt;
  return ResourceMeasurement{entry.value("peakMemoryBytes", uint64_t{0}), entry.value("peakCpuCores", 0.0)};
}

}  // namespace gocrate
