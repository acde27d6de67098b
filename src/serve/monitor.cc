#include "serve/monitor.h"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <deque>
#include <set>

#include "image/content.h"
#include "runtime/supervision/container_log.h"
#include "trust/attachments.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t epoch_seconds(const std::string& rfc3339) {
  tm t{};
  if (rfc3339.empty() || !::strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &t)) return 0;
  return ::timegm(&t);
}

// The directory of a container's memory controller and whether it is v2's.
std::optional<std::pair<std::string, bool>> memory_dir(const ContainerState& s) {
  for (const auto& dir : s.cgroup_dirs) {
    if (path_exists(dir + "/memory.usage_in_bytes")) return std::pair{dir, false};
    if (path_exists(dir + "/memory.current")) return std::pair{dir, true};
  }
  return std::nullopt;
}

// The limit of -m; a v1 cgroup without one reads as PAGE_COUNTER_MAX pages.
uint64_t memory_limit_of(const std::string& dir, bool v2) {
  auto text = read_file_if_exists(dir + (v2 ? "/memory.max" : "/memory.limit_in_bytes"));
  if (!text) return 0;
  std::string value(trim(*text));
  if (value == "max") return 0;
  uint64_t limit = std::strtoull(value.c_str(), nullptr, 10);
  return limit >= (uint64_t{1} << 62) ? 0 : limit;
}

std::string netns_of(const std::string& proc_dir) {
  char target[128];
  ssize_t n = ::readlink((proc_dir + "/ns/net").c_str(), target, sizeof target - 1);
  return n > 0 ? std::string(target, static_cast<size_t>(n)) : std::string();
}

std::string docker_state(const ContainerView& c) {
  std::string text = status_text(c);
  return text.substr(0, text.find(' '));
}

}  // namespace

std::vector<InterfaceCounters> parse_net_dev(std::string_view text) {
  std::vector<InterfaceCounters> out;
  for (const auto& line : split(text, '\n')) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;  // the two header lines
    std::string name(trim(std::string_view(line).substr(0, colon)));
    if (name.empty() || name == "lo") continue;
    std::vector<uint64_t> fields;
    for (const auto& field : split(line.substr(colon + 1), ' ')) {
      if (!field.empty()) fields.push_back(std::strtoull(field.c_str(), nullptr, 10));
    }
    if (fields.size() < 16) continue;
    InterfaceCounters c;
    c.name = name;
    c.receive_bytes = fields[0];
    c.receive_packets = fields[1];
    c.receive_errors = fields[2];
    c.receive_dropped = fields[3];
    c.transmit_bytes = fields[8];
    c.transmit_packets = fields[9];
    c.transmit_errors = fields[10];
    c.transmit_dropped = fields[11];
    out.push_back(std::move(c));
  }
  return out;
}

std::optional<uint64_t> stat_value(std::string_view text, std::string_view key) {
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ' ')
      return std::strtoull(std::string(line.substr(key.size() + 1)).c_str(), nullptr, 10);
    at = end + 1;
  }
  return std::nullopt;
}

MemoryFigures memory_figures(uint64_t usage, std::string_view memory_stat, bool v2) {
  MemoryFigures m;
  m.usage = usage;
  uint64_t inactive_file = stat_value(memory_stat, v2 ? "inactive_file" : "total_inactive_file").value_or(0);
  m.working_set = usage > inactive_file ? usage - inactive_file : 0;
  m.rss = stat_value(memory_stat, v2 ? "anon" : "total_rss").value_or(0);
  m.cache = stat_value(memory_stat, v2 ? "file" : "total_cache").value_or(0);
  return m;
}

Monitor::Monitor(std::string store_root) : store_root_(std::move(store_root)), directory_(store_root_) {}

ContainerSample Monitor::sample(ContainerView view) const {
  ContainerSample c;
  c.state = docker_state(view);
  const ContainerState& s = view.state;
  c.start_time = epoch_seconds(s.started.empty() ? s.created : s.started);
  c.sampled_at_ms = now_ms();
  if (view.running()) {
    c.measured = true;
    c.cgroup = Cgroup(s.cgroup_dirs, s.cgroup_v2).stats();
    if (auto memory = memory_dir(s)) {
      auto [dir, v2] = *memory;
      c.memory =
          memory_figures(c.cgroup.memory_bytes, read_file_if_exists(dir + "/memory.stat").value_or(""), v2);
      c.memory_limit = memory_limit_of(dir, v2);
    }
    if (s.pid > 0) {
      std::string proc = "/proc/" + std::to_string(s.pid);
      std::string own = netns_of(proc);
      if (!own.empty() && own != netns_of("/proc/self"))
        c.network = parse_net_dev(read_file_if_exists(proc + "/net/dev").value_or(""));
    }
  } else if (s.stats) {
    c.cgroup = *s.stats;  // what the container had used when it ended
  }
  c.view = std::move(view);
  return c;
}

std::vector<ContainerSample> Monitor::containers() const {
  std::vector<ContainerSample> out;
  for (auto& view : all_containers(directory_)) out.push_back(sample(std::move(view)));
  return out;
}

ContainerSample Monitor::container(const std::string& ref) const {
  return sample(find_container(directory_, ref));
}

std::vector<ImageSample> Monitor::images() {
  Store store(store_root_);
  std::vector<ImageSample> out;
  for (const auto& named : store.images()) {
    ImageSample image;
    image.name = named.name;
    image.digest = named.descriptor.digest.str();
    ImageFacts facts;
    bool known = false;
    {
      std::lock_guard lock(mutex_);
      if (auto it = image_facts_.find(image.digest); it != image_facts_.end()) {
        facts = it->second;
        known = true;
      }
    }
    if (!known) {
      facts.media_type = named.descriptor.media_type;
      facts.size = named.descriptor.size;
      std::set<Digest> counted{named.descriptor.digest};
      try {
        for (const auto& p : load_all_platform_images(store, named.descriptor, named.name)) {
          facts.platforms.push_back(p.descriptor.platform ? p.descriptor.platform->str()
                                                          : p.config.platform().str());
          facts.created = p.config.created;
          for (const Descriptor* d : {&p.descriptor, &p.manifest.config}) {
            if (counted.insert(d->digest).second) facts.size += d->size;
          }
          for (const auto& layer : p.manifest.layers) {
            if (counted.insert(layer.digest).second) facts.size += layer.size;
          }
        }
      } catch (const Error&) {
        // An image whose blobs are missing is still listed, with what its root says.
      }
      std::lock_guard lock(mutex_);
      image_facts_[image.digest] = facts;
    }
    image.media_type = facts.media_type;
    image.size = facts.size;
    image.platforms = facts.platforms;
    image.created = facts.created;
    try {
      if (auto attachment =
              find_store_attachment(store, named.descriptor.digest, AttachmentKind::signature)) {
        for (const auto& entry : attachment->entries) {
          SignatureSummary sig;
          sig.kind = entry.media_type == media_type::dsse_envelope ? "DSSE" : "simple signing";
          auto payload = nlohmann::json::parse(entry.content, nullptr, false);
          if (payload.is_object()) {
            const auto& critical = payload.value("critical", nlohmann::json::object());
            if (critical.is_object()) {
              sig.identity =
                  critical.value("identity", nlohmann::json::object()).value("docker-reference", "");
              sig.digest =
                  critical.value("image", nlohmann::json::object()).value("docker-manifest-digest", "");
            }
          }
          image.signatures.push_back(std::move(sig));
        }
      }
    } catch (const Error&) {
      // Unreadable signatures show as none.
    } catch (const nlohmann::json::exception&) {
    }
    out.push_back(std::move(image));
  }
  return out;
}

std::vector<LogLine> Monitor::log_tail(const ContainerView& c, size_t lines) const {
  std::deque<LogLine> kept;
  if (!c.state.supervised || lines == 0) return {};
  size_t complete = 0;
  size_t bytes = 0;
  // A line's own fields count too: many tiny pieces (progress bars ending in
  // \r) would otherwise make a large answer of a few bytes of text.
  auto cost = [](const LogLine& l) { return l.text.size() + l.time.size() + 64; };
  ContainerLogReader reader(c.dir);
  reader.read_all([&](const LogEntry& e) {
    kept.push_back({std::string(e.time), e.stream == LogStream::out ? "stdout" : "stderr",
                    std::string(e.text), e.partial});
    if (!e.partial) ++complete;
    bytes += cost(kept.back());
    while ((complete > lines || bytes > kLogTailBytes) && !kept.empty()) {
      if (!kept.front().partial) --complete;
      bytes -= cost(kept.front());
      kept.pop_front();
    }
  });
  return {kept.begin(), kept.end()};
}

nlohmann::json container_json(const ContainerSample& c) {
  const ContainerState& s = c.view.state;
  nlohmann::json ports = nlohmann::json::array();
  for (const auto& p : s.ports) ports.push_back(port_mapping_text(p));
  uint64_t rx = 0, tx = 0;
  for (const auto& i : c.network) {
    rx += i.receive_bytes;
    tx += i.transmit_bytes;
  }
  nlohmann::json out = {{"id", s.id},
                        {"name", s.name},
                        {"image", s.image},
                        {"imageDigest", s.image_digest},
                        {"command", s.command},
                        {"state", c.state},
                        {"status", status_text(c.view)},
                        {"health", s.health},
                        {"restartCount", s.restart_count},
                        {"ports", ports},
                        {"created", s.created},
                        {"started", s.started},
                        {"finished", s.finished},
                        {"pid", c.view.running() ? s.pid : 0},
                        {"supervised", s.supervised},
                        {"labels", s.labels},
                        {"network", s.network},
                        {"measured", c.measured},
                        {"cpuSeconds", static_cast<double>(c.cgroup.cpu_usage_ns) / 1e9},
                        {"memory",
                         {{"usage", c.memory.usage},
                          {"workingSet", c.memory.working_set},
                          {"rss", c.memory.rss},
                          {"limit", c.memory_limit}}},
                        {"pids", c.cgroup.pids},
                        {"oomKills", c.cgroup.oom_kills},
                        {"networkRxBytes", rx},
                        {"networkTxBytes", tx},
                        {"sampledAt", c.sampled_at_ms}};
  out["exitCode"] = s.exit_code ? nlohmann::json(*s.exit_code) : nlohmann::json(nullptr);
  return out;
}

nlohmann::json image_json(const ImageSample& image) {
  nlohmann::json signatures = nlohmann::json::array();
  for (const auto& s : image.signatures)
    signatures.push_back({{"identity", s.identity}, {"digest", s.digest}, {"kind", s.kind}});
  return {{"name", image.name},      {"digest", image.digest},       {"mediaType", image.media_type},
          {"size", image.size},      {"platforms", image.platforms}, {"created", image.created},
          {"signatures", signatures}};
}

nlohmann::json log_json(const std::vector<LogLine>& lines) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& l : lines)
    out.push_back({{"time", l.time}, {"stream", l.stream}, {"text", l.text}, {"partial", l.partial}});
  return out;
}

}  // namespace gocrate
