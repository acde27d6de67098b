#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gocrate {

// Requests and limits for one container.
struct ContainerResources {
  uint64_t memory_request = 0;  // bytes
  uint64_t memory_limit = 0;
  int cpu_request_millis = 0;
  int cpu_limit_millis = 0;
};

// Requests from what a measurement saw, with headroom: memory requested at
// 1.25x the peak and limited at 2x (at least 16 MiB more than the request),
// CPU requested at 1.5x the peak (at least 10m) and limited at 4x (at least
// 100m). Values are rounded up to whole MiB and millicores.
ContainerResources resources_from_measurement(uint64_t peak_memory_bytes, double peak_cpu_cores);

// The user the pod runs the image as.
struct PodUser {
  std::optional<uint32_t> uid;  // runAsUser
  std::optional<uint32_t> gid;  // runAsGroup
  bool non_root = true;         // runAsNonRoot
  std::string warning;          // why a name could not become a number; empty when it could
};

// The pod's user for an image whose config says `user` (Docker's USER: "",
// "name", "uid", "name:group", "uid:gid"). Names become numbers through the
// image's own /etc/passwd and /etc/group (nullopt when it has none). No USER:
// 65532:65532, gocrate's nonroot. Root: no runAsNonRoot. A name the image
// does not list: runAsNonRoot alone, with a warning (the kubelet refuses a
// non-numeric user it cannot check).
PodUser pod_user_for(std::string_view user, const std::optional<std::string>& passwd,
                     const std::optional<std::string>& group);

// A warning when no cluster can pull `image` (a name with no registry, only
// in the local store), naming the fix; empty when it names a registry.
std::string unpullable_image_warning(const std::string& image);

struct WorkloadSpec {
  std::string name;   // a DNS-1123 label
  std::string image;  // as the cluster pulls it
  int replicas = 2;
  std::optional<int> port;
  std::string probe_path;  // HTTP path for probes; empty: a TCP check on the port
  std::optional<ContainerResources> resources;
  int max_replicas = 10;
  int cpu_target_percent = 70;
  std::vector<std::string> args;
  PodUser user{65532, 65532, true, {}};
};

// A Deployment, a Service (when a port is known) and a HorizontalPodAutoscaler
// as one YAML stream. The container runs as strictly as gocrate's own
// runtime: as `user`, read-only root file system (an emptyDir on /tmp),
// no privilege escalation, every capability dropped, the runtime's default
// seccomp profile.
std::string kubernetes_manifest(const WorkloadSpec& spec);

// A DNS-1123 label made from an image reference: "localhost:5000/team/web:v1"
// -> "web".
std::string workload_name_for(const std::string& image);

}  // namespace gocrate
