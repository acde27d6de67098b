#include "runtime/containment/etc_files.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "runtime/network/outbound_network.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/rooted_open.h"
#include "util/strings.h"

namespace gocrate {

namespace {

// What the container's own name resolves to where it has no address of its
// own (Debian's convention for a host without a permanent address).
constexpr std::string_view kNoNetworkAddress = "127.0.1.1";

constexpr std::string_view kStandardHosts =
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n";

// `text` in double quotes with control characters escaped, so that an error
// about a value holding a line break stays on one line.
std::string quote_value(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The address in its canonical text form, or nullopt.
std::optional<std::string> canonical_address(std::string_view text) {
  std::string s(text);
  unsigned char buffer[sizeof(in6_addr)];
  char out[INET6_ADDRSTRLEN];
  for (int family : {AF_INET, AF_INET6}) {
    if (::inet_pton(family, s.c_str(), buffer) == 1 && ::inet_ntop(family, buffer, out, sizeof out))
      return std::string(out);
  }
  return std::nullopt;
}

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 1123 labels: letters, digits and inner hyphens, joined by dots.
bool is_domain_name(std::string_view name) {
  if (name.empty()) return false;
  for (const auto& label : split(name, '.')) {
    if (label.empty() || label.size() > 63 || !is_alnum(label.front()) || !is_alnum(label.back()))
      return false;
    for (char c : label) {
      if (!is_alnum(c) && c != '-') return false;
    }
  }
  return true;
}

// A name /etc/hosts can hold: no blank, comment or line break can end it.
bool is_hosts_name(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.front() == '-' || name.front() == '.') return false;
  for (char c : name) {
    if (!is_alnum(c) && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

struct HostResolv {
  std::vector<std::string> servers;
  std::vector<std::string> search;
  std::vector<std::string> options;
};

HostResolv parse_resolv_conf(std::string_view text) {
  HostResolv r;
  for (const auto& raw : split(text, '\n')) {
    std::vector<std::string> words;
    for (const auto& word : split(std::string(trim(raw)), ' ')) {
      std::string w(trim(word));
      if (w.starts_with('#') || w.starts_with(';')) break;
      if (!w.empty()) words.push_back(w);
    }
    if (words.empty()) continue;
    std::vector<std::string> rest(words.begin() + 1, words.end());
    if (words[0] == "nameserver" && rest.size() == 1) {
      r.servers.push_back(rest[0]);
    } else if (words[0] == "search" || words[0] == "domain") {
      r.search = rest;  // the last of them wins, as in glibc
    } else if (words[0] == "options") {
      r.options.insert(r.options.end(), rest.begin(), rest.end());
    }
  }
  return r;
}

std::string resolv_conf_text(const std::vector<std::string>& servers, const std::vector<std::string>& search,
                             const std::vector<std::string>& options) {
  std::string out;
  bool no_search = search.size() == 1 && search[0] == ".";
  if (!search.empty() && !no_search) out += "search " + join(search, " ") + "\n";
  for (const auto& server : servers) out += "nameserver " + server + "\n";
  if (!options.empty()) out += "options " + join(options, " ") + "\n";
  return out;
}

std::optional<std::string> make_resolv_conf(const EtcFilesInput& in) {
  const DnsSettings& dns = in.dns;
  bool customised = !dns.servers.empty() || !dns.search.empty() || !dns.options.empty();
  if (!customised) {
    if (in.network == NetworkMode::host) return in.host_resolv;
    if (in.network == NetworkMode::none) return std::nullopt;
  }
  HostResolv host = parse_resolv_conf(in.host_resolv.value_or(""));
  std::vector<std::string> servers;
  if (!dns.servers.empty()) {
    servers = dns.servers;
  } else if (in.network == NetworkMode::host) {
    servers = host.servers;
  } else if (in.network == NetworkMode::private_network) {
    servers = {kSlirpDnsAddress};
  }
  return resolv_conf_text(servers, dns.search.empty() ? host.search : dns.search,
                          dns.options.empty() ? host.options : dns.options);
}

std::string make_hosts(const EtcFilesInput& in) {
  std::string out;
  if (in.network == NetworkMode::host) {
    out = in.host_hosts;
    if (!out.empty() && !out.ends_with('\n')) out += '\n';
  } else {
    out = kStandardHosts;
  }
  for (const auto& entry : in.extra_hosts) {
    std::string address = entry.address;
    if (address == kHostGateway) {
      if (in.network == NetworkMode::none) {
        fail(
            "--add-host {}:{}: a container with --network none cannot reach the host; use --network "
            "private or give an address",
            entry.name, address);
      }
      address = in.network == NetworkMode::host ? "127.0.0.1" : kSlirpHostAddress;
    }
    out += address + "\t" + entry.name + "\n";
  }
  std::string own = in.network == NetworkMode::private_network ? std::string(kSlirpGuestAddress)
                                                               : std::string(kNoNetworkAddress);
  std::string names = in.hostname;
  if (!in.domainname.empty()) names = in.hostname + "." + in.domainname + " " + in.hostname;
  out += own + "\t" + names + "\n";
  return out;
}

// Opens `path` in the root without leaving the root's own mount (no /proc,
// /dev or volume); `follow`: the last component may be a symlink.
UniqueFd open_on_root_mount(int root_fd, const std::string& path, int flags, bool follow) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  for (;;) {
    long fd = ::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) return UniqueFd(static_cast<int>(fd));
  }
}

bool is_regular(int fd) {
  struct stat st;
  return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

// The regular file to bind over, and whether reaching it follows a symlink;
// an empty fd where the file is left alone.
std::pair<UniqueFd, bool> bind_target(int root_fd, const std::string& path, bool writable) {
  UniqueFd fd = open_on_root_mount(root_fd, path, O_PATH, false);
  struct stat st;
  bool exists = fd && ::fstat(fd.get(), &st) == 0;
  if (exists && S_ISREG(st.st_mode)) return {std::move(fd), false};
  if (exists && S_ISLNK(st.st_mode)) {
    UniqueFd followed = open_on_root_mount(root_fd, path, O_PATH, true);
    if (followed && is_regular(followed.get())) return {std::move(followed), true};
  }
  bool replaceable = exists ? S_ISLNK(st.st_mode) : errno == ENOENT;
  if (!writable || !replaceable) return {};
  UniqueFd etc = open_on_root_mount(root_fd, dir_name(path), O_RDONLY | O_DIRECTORY, false);
  if (!etc) return {};
  std::string name = base_name(path);
  if (exists && ::unlinkat(etc.get(), name.c_str(), 0) != 0)
    fail_errno(fmt::format("cannot replace the symlink {} in the container", path));
  UniqueFd created(
      ::openat(etc.get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!created) fail_errno(fmt::format("cannot create {} in the container", path));
  return {open_on_root_mount(root_fd, path, O_PATH, false), false};
}

}  // namespace

HostEntry parse_host_entry(std::string_view text) {
  size_t separator = text.find_first_of(":=");
  if (separator == std::string_view::npos || separator == 0) {
    fail("invalid --add-host {}: use NAME:IP (or NAME:host-gateway)", quote_value(text));
  }
  HostEntry entry{std::string(text.substr(0, separator)), std::string(text.substr(separator + 1))};
  if (!is_hosts_name(entry.name)) {
    fail("invalid --add-host {}: the name may hold only letters, digits, '.', '-' and '_'",
         quote_value(text));
  }
  std::string_view address = entry.address;
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  if (address == kHostGateway) return entry;
  auto canonical = canonical_address(address);
  if (!canonical)
    fail("invalid --add-host {}: {} is not an IP address", quote_value(text), quote_value(entry.address));
  entry.address = *canonical;
  return entry;
}

DnsSettings parse_dns_settings(const std::vector<std::string>& servers,
                               const std::vector<std::string>& search,
                               const std::vector<std::string>& options) {
  DnsSettings dns;
  for (const auto& server : servers) {
    auto canonical = canonical_address(server);
    if (!canonical) fail("invalid --dns {}: give the IP address of a name server", quote_value(server));
    dns.servers.push_back(*canonical);
  }
  for (const auto& domain : search) {
    std::string_view d = domain;
    if (d == ".") {
      if (search.size() > 1) fail("invalid --dns-search .: it means no search domain, so give it alone");
      dns.search.push_back(domain);
      continue;
    }
    if (d.ends_with('.')) d.remove_suffix(1);
    if (d.size() > 253 || !is_domain_name(d)) {
      fail("invalid --dns-search {}: give a domain name such as example.com (or . for none)",
           quote_value(domain));
    }
    dns.search.emplace_back(d);
  }
  for (const auto& option : options) {
    bool printable = !option.empty() && std::all_of(option.begin(), option.end(), [](char c) {
      return c > ' ' && c < 0x7f && c != '#' && c != ';';
    });
    if (!printable)
      fail("invalid --dns-option {}: give one resolver option such as ndots:2", quote_value(option));
    dns.options.push_back(option);
  }
  return dns;
}

void check_host_name(std::string_view name, std::string_view flag) {
  if (name.size() > 64 || !is_domain_name(name)) {
    fail(
        "invalid {} {}: use at most 64 letters, digits and '-', in dot-separated labels that start and end "
        "with a letter or digit",
        flag, quote_value(name));
  }
}

std::vector<EtcFile> make_etc_files(const EtcFilesInput& input) {
  std::vector<EtcFile> files;
  files.push_back({"hosts", make_hosts(input)});
  files.push_back({"hostname", input.hostname + "\n"});
  if (auto resolv = make_resolv_conf(input)) files.push_back({"resolv.conf", std::move(*resolv)});
  return files;
}

void mount_etc_files(int root_fd, const std::vector<EtcFile>& files, const std::string& dir,
                     bool create_targets, bool read_only) {
  for (const auto& file : files) {
    std::string source_path = dir + "/" + file.name;
    {
      UniqueFd out(::open(source_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
      if (!out || ::fchmod(out.get(), 0644) != 0) fail_errno(fmt::format("cannot write {}", source_path));
      write_all(out.get(), file.content, source_path);
    }
    std::string path = "/etc/" + file.name;
    auto [target, followed] = bind_target(root_fd, path, create_targets);
    if (!target) continue;
    UniqueFd source(::open(source_path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!source) fail_errno(fmt::format("cannot open {}", source_path));
    std::string where = fmt::format("/proc/self/fd/{}", target.get());
    if (::mount(fmt::format("/proc/self/fd/{}", source.get()).c_str(), where.c_str(), nullptr, MS_BIND,
                nullptr) != 0)
      fail_errno(fmt::format("cannot mount the container's {}", path));
    if (!read_only) continue;
    // The descriptor still names the file under the new mount: reopen.
    UniqueFd mounted(open_in_root(root_fd, path, O_PATH | (followed ? 0 : O_NOFOLLOW)));
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY;
    if (!mounted || ::mount(nullptr, fmt::format("/proc/self/fd/{}", mounted.get()).c_str(), nullptr, flags,
                            nullptr) != 0) {
      fail_errno(fmt::format("cannot make the container's {} read-only", path));
    }
  }
}

std::vector<EtcFile> make_container_etc_files(EtcFilesInput input) {
  if (input.network == NetworkMode::host) input.host_hosts = read_file_if_exists("/etc/hosts").value_or("");
  input.host_resolv = read_file_if_exists("/etc/resolv.conf");
  return make_etc_files(input);
}

}  // namespace gocrate
