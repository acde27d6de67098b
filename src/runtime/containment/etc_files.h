#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/containment/namespaces.h"

namespace gocrate {

// The files Docker generates for each container and binds over the image's:
// /etc/hosts, /etc/hostname and /etc/resolv.conf.

// --add-host NAME:IP (or NAME=IP). The address "host-gateway" stands for the
// host as the container reaches it, resolved when the files are made.
struct HostEntry {
  std::string name;
  std::string address;
};
inline constexpr std::string_view kHostGateway = "host-gateway";
HostEntry parse_host_entry(std::string_view text);

// --dns, --dns-search, --dns-option: each list, when given, replaces what
// the container would otherwise get for it (as Docker's).
struct DnsSettings {
  std::vector<std::string> servers;  // IPv4 or IPv6 addresses
  std::vector<std::string> search;   // domains; "." alone means none
  std::vector<std::string> options;  // "ndots:2", "edns0"
};
// Checks each value; an error names the flag and the value.
DnsSettings parse_dns_settings(const std::vector<std::string>& servers,
                               const std::vector<std::string>& search,
                               const std::vector<std::string>& options);

// -h/--hostname and --domainname: RFC 1123 labels joined by dots, at most
// 64 characters (the kernel's limit). `flag` names the option in errors.
void check_host_name(std::string_view name, std::string_view flag);

struct EtcFilesInput {
  std::string hostname;
  std::string domainname;
  std::vector<HostEntry> extra_hosts;
  DnsSettings dns;
  NetworkMode network = NetworkMode::private_network;
  std::string host_hosts;                  // the host's /etc/hosts (used with --network host)
  std::optional<std::string> host_resolv;  // the host's /etc/resolv.conf, nullopt when it has none
};

struct EtcFile {
  std::string name;  // "hosts", "hostname", "resolv.conf": the file under /etc
  std::string content;
};

// The files a container gets. resolv.conf is left out when there is nothing
// to resolve with (--network none without --dns and friends: the image's
// own file stays). A "host-gateway" address that the network mode cannot
// reach is an error.
std::vector<EtcFile> make_etc_files(const EtcFilesInput& input);

// make_etc_files() with the host's /etc/hosts and /etc/resolv.conf read.
std::vector<EtcFile> make_container_etc_files(EtcFilesInput input);

// Writes `files` into `dir` (the container's directory, or the scratch tmpfs
// of a --rm container) and binds each over /etc/NAME in the root `root_fd`,
// before pivot_root. Only the root's own file system is used: a target that
// is missing is created with `create_targets` (the root is writable for
// now); a symlink is followed when it leads to a regular file on that file
// system, else replaced (`create_targets`) or left alone, as are a directory
// or a path through another mount. Bound read-only with `read_only` (a
// read-only root: Docker's rule), otherwise writable by the container's root.
void mount_etc_files(int root_fd, const std::vector<EtcFile>& files, const std::string& dir,
                     bool create_targets, bool read_only);

}  // namespace gocrate
