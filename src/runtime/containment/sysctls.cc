#include "runtime/containment/sysctls.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "util/error.h"
#include "util/fs.h"
#include "util/rooted_open.h"
#include "util/strings.h"

namespace gocrate {

namespace {

constexpr std::string_view kIpcSysctls[] = {"kernel.msgmax", "kernel.msgmnb",         "kernel.msgmni",
                                            "kernel.sem",    "kernel.shmall",         "kernel.shmmax",
                                            "kernel.shmmni", "kernel.shm_rmid_forced"};

bool is_ipc(std::string_view key) {
  return key.starts_with("fs.mqueue.") ||
         std::find(std::begin(kIpcSysctls), std::end(kIpcSysctls), key) != std::end(kIpcSysctls);
}

bool valid_key(std::string_view key) {
  for (const auto& part : split(key, '.')) {
    if (part.empty()) return false;
    for (char c : part) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
    }
  }
  return true;
}

}  // namespace

Sysctl parse_sysctl(std::string_view text) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    fail("invalid --sysctl \"{}\": use KEY=VALUE such as net.ipv4.ip_unprivileged_port_start=0", text);
  }
  Sysctl s{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
  if (s.key.find('/') != std::string::npos) std::replace(s.key.begin(), s.key.end(), '/', '.');
  if (!valid_key(s.key)) fail("invalid --sysctl \"{}\": {} is not a sysctl name", text, s.key);
  if (s.key == "kernel.hostname" || s.key == "kernel.domainname") {
    fail("--sysctl {}: set it with --{} instead", s.key,
         s.key == "kernel.hostname" ? "hostname" : "domainname");
  }
  if (!s.key.starts_with("net.") && !is_ipc(s.key)) {
    fail(
        "--sysctl {}: not a namespaced sysctl, so it would change the host; only net.*, fs.mqueue.*, "
        "kernel.msg*, kernel.sem and kernel.shm* are allowed",
        s.key);
  }
  if (std::any_of(s.value.begin(), s.value.end(), [](char c) { return c == '\n' || c == '\0'; })) {
    fail("invalid --sysctl {}: the value may not contain a newline", s.key);
  }
  return s;
}

void check_sysctls(const std::vector<Sysctl>& sysctls, bool host_network, bool host_ipc) {
  for (const auto& s : sysctls) {
    if (host_network && s.key.starts_with("net.")) {
      fail("--sysctl {} is not allowed with --network host: it would change the host's network", s.key);
    }
    if (host_ipc && is_ipc(s.key)) {
      fail("--sysctl {} is not allowed with --ipc host: it would change the host's ipc namespace", s.key);
    }
  }
}

void apply_sysctls(int root_fd, const std::vector<Sysctl>& sysctls) {
  for (const auto& s : sysctls) {
    std::string path = "/proc/sys/" + s.key;
    std::replace(path.begin() + 10, path.end(), '.', '/');
    UniqueFd fd(open_in_root(root_fd, path, O_WRONLY | O_NOFOLLOW | O_NOCTTY));
    if (!fd) {
      if (errno == ENOENT)
        fail("--sysctl {}: this kernel has no such sysctl in the container's namespace", s.key);
      fail_errno(fmt::format("cannot set --sysctl {}", s.str()));
    }
    if (::write(fd.get(), s.value.data(), s.value.size()) < 0)
      fail_errno(fmt::format("cannot set --sysctl {}", s.str()));
  }
}

}  // namespace gocrate
