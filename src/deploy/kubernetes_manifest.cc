#include "deploy/kubernetes_manifest.h"

#include <yaml-cpp/yaml.h>

#include <cmath>

#include "image/reference.h"
#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

namespace {

constexpr uint64_t kMiB = 1 << 20;

uint64_t round_up_mib(double bytes) {
  return static_cast<uint64_t>(std::ceil(bytes / kMiB)) * kMiB;
}

std::string memory_quantity(uint64_t bytes) {
  return std::to_string((bytes + kMiB - 1) / kMiB) + "Mi";
}
std::string cpu_quantity(int millis) {
  return std::to_string(millis) + "m";
}

void labels(YAML::Emitter& out, const std::string& name) {
  out << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "app.kubernetes.io/name" << YAML::Value << name;
  out << YAML::Key << "app.kubernetes.io/managed-by" << YAML::Value << "gocrate";
  out << YAML::EndMap;
}

void metadata(YAML::Emitter& out, const std::string& name) {
  out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << name;
  labels(out, name);
  out << YAML::EndMap;
}

void probe(YAML::Emitter& out, const char* key, const WorkloadSpec& spec, int initial_delay, int period) {
  out << YAML::Key << key << YAML::Value << YAML::BeginMap;
  if (spec.probe_path.empty()) {
    out << YAML::Key << "tcpSocket" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "port" << YAML::Value << *spec.port << YAML::EndMap;
  } else {
    out << YAML::Key << "httpGet" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "path" << YAML::Value << spec.probe_path;
    out << YAML::Key << "port" << YAML::Value << *spec.port << YAML::EndMap;
  }
  out << YAML::Key << "initialDelaySeconds" << YAML::Value << initial_delay;
  out << YAML::Key << "periodSeconds" << YAML::Value << period;
  out << YAML::EndMap;
}

void container_security(YAML::Emitter& out, const PodUser& user) {
  out << YAML::Key << "securityContext" << YAML::Value << YAML::BeginMap;
  if (user.non_root) out << YAML::Key << "runAsNonRoot" << YAML::Value << true;
  if (user.uid) out << YAML::Key << "runAsUser" << YAML::Value << *user.uid;
  if (user.gid) out << YAML::Key << "runAsGroup" << YAML::Value << *user.gid;
  if (!user.warning.empty()) out << YAML::Comment(user.warning);
  out << YAML::Key << "readOnlyRootFilesystem" << YAML::Value << true;
  out << YAML::Key << "allowPrivilegeEscalation" << YAML::Value << false;
  out << YAML::Key << "capabilities" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "drop" << YAML::Value << YAML::Flow << YAML::BeginSeq << "ALL" << YAML::EndSeq;
  out << YAML::EndMap;
  out << YAML::Key << "seccompProfile" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "type" << YAML::Value << "RuntimeDefault" << YAML::EndMap;
  out << YAML::EndMap;
}

void resources(YAML::Emitter& out, const ContainerResources& r) {
  out << YAML::Key << "resources" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "requests" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "cpu" << YAML::Value << cpu_quantity(r.cpu_request_millis);
  out << YAML::Key << "memory" << YAML::Value << memory_quantity(r.memory_request) << YAML::EndMap;
  out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "cpu" << YAML::Value << cpu_quantity(r.cpu_limit_millis);
  out << YAML::Key << "memory" << YAML::Value << memory_quantity(r.memory_limit) << YAML::EndMap;
  out << YAML::EndMap;
}

void deployment(YAML::Emitter& out, const WorkloadSpec& spec) {
  out << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "apps/v1";
  out << YAML::Key << "kind" << YAML::Value << "Deployment";
  metadata(out, spec.name);
  out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "replicas" << YAML::Value << spec.replicas;
  out << YAML::Key << "selector" << YAML::Value << YAML::BeginMap << YAML::Key << "matchLabels" << YAML::Value
      << YAML::BeginMap << YAML::Key << "app.kubernetes.io/name" << YAML::Value << spec.name << YAML::EndMap
      << YAML::EndMap;
  out << YAML::Key << "template" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  labels(out, spec.name);
  out << YAML::EndMap;
  out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "automountServiceAccountToken" << YAML::Value << false;
  out << YAML::Key << "securityContext" << YAML::Value << YAML::BeginMap;
  if (spec.user.non_root) out << YAML::Key << "runAsNonRoot" << YAML::Value << true;
  out << YAML::Key << "seccompProfile" << YAML::Value << YAML::BeginMap << YAML::Key << "type" << YAML::Value
      << "RuntimeDefault" << YAML::EndMap;
  out << YAML::EndMap;
  out << YAML::Key << "containers" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << spec.name;
  out << YAML::Key << "image" << YAML::Value << spec.image;
  if (!spec.args.empty()) {
    out << YAML::Key << "args" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& arg : spec.args) out << arg;
    out << YAML::EndSeq;
  }
  if (spec.port) {
    out << YAML::Key << "ports" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << "http";
    out << YAML::Key << "containerPort" << YAML::Value << *spec.port;
    out << YAML::Key << "protocol" << YAML::Value << "TCP";
    out << YAML::EndMap << YAML::EndSeq;
    probe(out, "readinessProbe", spec, 0, 5);
    probe(out, "livenessProbe", spec, 5, 10);
  }
  if (spec.resources) resources(out, *spec.resources);
  container_security(out, spec.user);
  out << YAML::Key << "volumeMounts" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << "tmp" << YAML::Key << "mountPath" << YAML::Value << "/tmp";
  out << YAML::EndMap << YAML::EndSeq;
  out << YAML::EndMap << YAML::EndSeq;  // containers
  out << YAML::Key << "volumes" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << "tmp";
  out << YAML::Key << "emptyDir" << YAML::Value << YAML::BeginMap << YAML::Key << "medium" << YAML::Value
      << "Memory" << YAML::EndMap;
  out << YAML::EndMap << YAML::EndSeq;
  out << YAML::EndMap;  // pod spec
  out << YAML::EndMap;  // template
  out << YAML::EndMap;  // spec
  out << YAML::EndMap;
}

void service(YAML::Emitter& out, const WorkloadSpec& spec) {
  out << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "v1";
  out << YAML::Key << "kind" << YAML::Value << "Service";
  metadata(out, spec.name);
  out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "selector" << YAML::Value << YAML::BeginMap << YAML::Key << "app.kubernetes.io/name"
      << YAML::Value << spec.name << YAML::EndMap;
  out << YAML::Key << "ports" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << "http";
  out << YAML::Key << "port" << YAML::Value << *spec.port;
  out << YAML::Key << "targetPort" << YAML::Value << "http";
  out << YAML::Key << "protocol" << YAML::Value << "TCP";
  out << YAML::EndMap << YAML::EndSeq;
  out << YAML::EndMap;
  out << YAML::EndMap;
}

void autoscaler(YAML::Emitter& out, const WorkloadSpec& spec) {
  out << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "autoscaling/v2";
  out << YAML::Key << "kind" << YAML::Value << "HorizontalPodAutoscaler";
  metadata(out, spec.name);
  out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "scaleTargetRef" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "apps/v1";
  out << YAML::Key << "kind" << YAML::Value << "Deployment";
  out << YAML::Key << "name" << YAML::Value << spec.name << YAML::EndMap;
  out << YAML::Key << "minReplicas" << YAML::Value << spec.replicas;
  out << YAML::Key << "maxReplicas" << YAML::Value << std::max(spec.max_replicas, spec.replicas);
  out << YAML::Key << "metrics" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "type" << YAML::Value << "Resource";
  out << YAML::Key << "resource" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << "cpu";
  out << YAML::Key << "target" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "type" << YAML::Value << "Utilization";
  out << YAML::Key << "averageUtilization" << YAML::Value << spec.cpu_target_percent;
  out << YAML::EndMap << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  out << YAML::EndMap;
  out << YAML::EndMap;
}

struct Entry {
  std::string name;
  uint32_t id = 0;
  std::optional<uint32_t> gid;  // /etc/passwd's primary group
};

std::optional<uint32_t> as_id(std::string_view text) {
  int64_t value = 0;
  if (!parse_int(text, 0, UINT32_MAX - 1, value)) return std::nullopt;
  return static_cast<uint32_t>(value);
}

// name:x:id[:gid...] lines; anything malformed is skipped, as libc does.
std::vector<Entry> database(const std::optional<std::string>& text, bool with_gid) {
  std::vector<Entry> out;
  if (!text) return out;
  for (const auto& line : split(*text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    auto fields = split(line, ':');
    if (fields.size() < (with_gid ? 4u : 3u) || fields[0].empty()) continue;
    auto id = as_id(fields[2]);
    if (!id) continue;
    Entry e{fields[0], *id, std::nullopt};
    if (with_gid) {
      e.gid = as_id(fields[3]);
      if (!e.gid) continue;
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

PodUser pod_user_for(std::string_view spec, const std::optional<std::string>& passwd,
                     const std::optional<std::string>& group) {
  PodUser user;
  std::string_view trimmed = trim(spec);
  if (trimmed.empty()) return PodUser{65532, 65532, true, {}};
  size_t colon = trimmed.find(':');
  std::string user_part(trimmed.substr(0, colon));
  std::optional<std::string> group_part;
  if (colon != std::string_view::npos) group_part = std::string(trimmed.substr(colon + 1));

  auto users = database(passwd, true);
  auto numeric = as_id(user_part);
  const Entry* entry = nullptr;
  for (const auto& e : users) {
    if (numeric ? e.id == *numeric : e.name == user_part) {
      entry = &e;
      break;
    }
  }
  if (numeric) {
    user.uid = *numeric;
  } else if (entry) {
    user.uid = entry->id;
  } else if (!user_part.empty()) {
    user.warning = fmt::format(
        "the image's USER \"{}\" is not in its /etc/passwd, so no numeric runAsUser could be set and the "
        "kubelet refuses runAsNonRoot for a user it cannot check: give the image a numeric USER (build "
        "--user UID:GID) or set runAsUser here",
        user_part);
  }
  if (group_part && !group_part->empty()) {
    if (auto gid = as_id(*group_part)) {
      user.gid = *gid;
    } else {
      for (const auto& g : database(group, false)) {
        if (g.name == *group_part) {
          user.gid = g.id;
          break;
        }
      }
      if (!user.gid && user.warning.empty()) {
        user.warning = fmt::format(
            "the image's group \"{}\" is not in its /etc/group, so no runAsGroup was set: give the image a "
            "numeric USER UID:GID or set runAsGroup here",
            *group_part);
      }
    }
  } else if (entry) {
    user.gid = entry->gid;
  }
  // Root as the image says: the pod runs it so, and runAsNonRoot would stop it.
  if (user.uid && *user.uid == 0) user.non_root = false;
  if (user_part.empty() && !user.uid) {
    // ":GROUP" names no user: the runtime's default, root.
    user.non_root = false;
  }
  return user;
}

std::string unpullable_image_warning(const std::string& image) {
  auto ref = Reference::try_parse(image);
  if (!ref || !ref->domain.empty()) return {};
  return fmt::format(
      "image {} names no registry, so no cluster can pull it: push it to one (gocrate push {} "
      "REGISTRY/REPO/NAME:TAG, or build with GOCRATE_DOCKER_REPO=REGISTRY/REPO and --push) and give manifest "
      "that name, or give manifest gocrate://IMPORTPATH with GOCRATE_DOCKER_REPO set to build and push it",
      image, image);
}

ContainerResources resources_from_measurement(uint64_t peak_memory_bytes, double peak_cpu_cores) {
  ContainerResources r;
  r.memory_request = round_up_mib(std::max<double>(peak_memory_bytes, 4 * kMiB) * 1.25);
  r.memory_limit = std::max(round_up_mib(peak_memory_bytes * 2.0), r.memory_request + 16 * kMiB);
  r.cpu_request_millis = std::max(10, static_cast<int>(std::ceil(peak_cpu_cores * 1500)));
  r.cpu_limit_millis =
      std::max({100, static_cast<int>(std::ceil(peak_cpu_cores * 4000)), r.cpu_request_millis});
  return r;
}

std::string workload_name_for(const std::string& image) {
  std::string path = image;
  if (auto ref = Reference::try_parse(image)) path = ref->path;
  std::string last = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  last = last.substr(0, last.find_first_of(":@"));
  std::string name;
  for (char c : last) {
    char lower = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    name += (isalnum(static_cast<unsigned char>(lower)) ? lower : '-');
  }
  while (!name.empty() && name.front() == '-') name.erase(name.begin());
  while (!name.empty() && name.back() == '-') name.pop_back();
  if (name.size() > 63) name.resize(63);
  if (name.empty()) fail("cannot make a Kubernetes name from {}: give one with --name", image);
  return name;
}

std::string kubernetes_manifest(const WorkloadSpec& spec) {
  YAML::Emitter out;
  out << YAML::BeginDoc;
  deployment(out, spec);
  if (spec.port) {
    out << YAML::BeginDoc;
    service(out, spec);
  }
  if (spec.resources) {
    out << YAML::BeginDoc;
    autoscaler(out, spec);
  }
  if (!out.good()) fail("cannot write the Kubernetes manifest: {}", out.GetLastError());
  return std::string(out.c_str()) + "\n";
}

}  // namespace gocrate
