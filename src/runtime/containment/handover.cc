#include "runtime/containment/handover.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "util/error.h"

namespace gocrate {

namespace {

constexpr size_t kMaxDescriptors = 8;
// The tag byte says which namespaces come first among the descriptors.
constexpr char kWithIpc = 1;
constexpr char kWithNetwork = 2;

}  // namespace

void send_handover(int socket, int ipc_namespace, int network_namespace,
                   const std::vector<UniqueFd>& cgroup_entries) {
  std::vector<int> fds;
  char tag = 0;
  if (ipc_namespace >= 0) {
    fds.push_back(ipc_namespace);
    tag |= kWithIpc;
  }
  if (network_namespace >= 0) {
    fds.push_back(network_namespace);
    tag |= kWithNetwork;
  }
  for (const auto& fd : cgroup_entries) fds.push_back(fd.get());
  if (fds.size() > kMaxDescriptors) fail("too many cgroup hierarchies to hand over ({})", fds.size());
  iovec data{&tag, 1};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxDescriptors)] = {};
  if (!fds.empty()) {
    message.msg_control = control;
    message.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
  }
  while (::sendmsg(socket, &message, MSG_NOSIGNAL) != 1) {
    if (errno != EINTR) fail_errno("cannot start the container process");
  }
}

Handover receive_handover(int socket) {
  char tag = 0;
  iovec data{&tag, 1};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxDescriptors)] = {};
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n != 1) fail("gocrate stopped before the container was set up");
  std::vector<UniqueFd> fds;
  for (cmsghdr* h = CMSG_FIRSTHDR(&message); h; h = CMSG_NXTHDR(&message, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
      fds.emplace_back(fd);
    }
  }
  Handover handover;
  size_t first = 0;
  if ((tag & kWithIpc) && first < fds.size()) handover.ipc_namespace = std::move(fds[first++]);
  if ((tag & kWithNetwork) && first < fds.size()) handover.network_namespace = std::move(fds[first++]);
  for (size_t i = first; i < fds.size(); ++i) handover.cgroup_entries.push_back(std::move(fds[i]));
  return handover;
}

}  // namespace gocrate
