#include "runtime/container_file_verbs.h"

#include <fcntl.h>
#include <unistd.h>

#include <climits>

#include "runtime/container_copy.h"
#include "runtime/container_rootfs.h"
#include "runtime/containment/users.h"
#include "store/events.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate {

namespace {

std::string host_path(const std::string& path) {
  if (path.starts_with('/')) return path;
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof cwd)) fail_errno("cannot find the working directory");
  std::string base = cwd;
  return (base == "/" ? "" : base) + "/" + path;
}

void container_event(const std::string& store_root, const ContainerView& c, const std::string& action,
                     const std::string& path) {
  Event event;
  event.type = EventType::container;
  event.action = action;
  event.id = c.state.id;
  event.attributes = c.state.labels;
  event.attributes["name"] = c.state.name;
  event.attributes["image"] = c.state.image;
  if (!path.empty()) event.attributes["path"] = path;
  record_event(store_root, event);
}

// As Docker takes a container path: absolute from the container's root and
// cleaned lexically (so `..` never climbs above it), a trailing "/" or "/."
// kept.
std::string clean_container_path(const std::string& path) {
  std::vector<std::string> parts;
  for (const auto& part : split(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out = "/" + join(parts, "/");
  if (path.ends_with("/.") || path == ".") return out == "/" ? "/." : out + "/.";
  if (path.ends_with('/') && out != "/") return out + "/";
  return out;
}

}  // namespace

CpLocation parse_cp_location(const std::string& arg) {
  CpLocation location;
  if (arg == "-") {
    location.stream = true;
    return location;
  }
  auto colon = arg.find(':');
  if (arg.starts_with('/') || colon == std::string::npos || arg.starts_with('.')) {
    location.path = arg;
    return location;
  }
  location.container = arg.substr(0, colon);
  location.path = clean_container_path(arg.substr(colon + 1));
  return location;
}

void copy_files(const std::string& store_root, const std::string& source, const std::string& dest,
                const CpOptions& options, int stdin_fd, int stdout_fd) {
  CpLocation from = parse_cp_location(source);
  CpLocation to = parse_cp_location(dest);
  if (from.stream && to.stream) fail("cp cannot copy from - to -: one side must be CONTAINER:PATH");
  if (!from.container.empty() && !to.container.empty())
    fail("cp copies between a container and the host, not between two containers ({} and {})", from.container,
         to.container);
  if (from.container.empty() && to.container.empty())
    fail("cp needs one side written CONTAINER:PATH (\"{}\" and \"{}\" are both on the host)", source, dest);

  ContainerDirectory directory(store_root);
  const std::string& ref = from.container.empty() ? to.container : from.container;
  ContainerView container = find_container(directory, ref);
  ContainerRootfs rootfs = ContainerRootfs::open(store_root, container, ContainerRootfs::View::live);
  UniqueFd host_root = open_or_fail("/", O_PATH | O_DIRECTORY);
  std::vector<std::string> user_mounts;
  for (const auto& m : container.state.mounts)
    if (m.type == "bind" || m.type == "volume") user_mounts.push_back(clean_container_path(m.destination));
  auto side = [&](const CpLocation& l) {
    TreePath p;
    if (l.container.empty()) {
      p.root_fd = host_root.get();
      p.path = host_path(l.path);
      p.what = "the host";
    } else {
      p.root_fd = rootfs.fd();
      p.path = l.path;
      p.container = true;
      p.what = rootfs.what();
      p.user_mounts = user_mounts;
    }
    return p;
  };
  // Owners as Docker 20.10 gives them. Into a container: as the archive
  // says (the host files' owners), and with -a the container's user when
  // it has one. Out to the host: the caller's, -a or not.
  std::optional<std::pair<uid_t, gid_t>> into_container;
  if (options.archive && !container.state.user.empty()) {
    ContainerUser user = resolve_user(rootfs.fd(), container.state.user, rootfs.what());
    into_container = std::pair{user.uid, user.gid};
  }

  if (from.stream) {
    FdReader in(stdin_fd, "standard input");
    copy_archive_into(in, side(to), into_container);
    container_event(store_root, container, "extract-to-dir", to.path);
    return;
  }
  if (to.stream) {
    TarWriter tar([&](std::string_view data) { write_all(stdout_fd, data, "standard output"); });
    copy_tree_path_to_archive(side(from), options.follow_link, tar);
    container_event(store_root, container, "archive-path", from.path);
    return;
  }
  std::optional<std::pair<uid_t, gid_t>> owner =
      to.container.empty() ? std::optional{std::pair{::geteuid(), ::getegid()}} : into_container;
  copy_tree_path(side(from), side(to), options.follow_link, owner);
  container_event(store_root, container, from.container.empty() ? "extract-to-dir" : "archive-path",
                  from.container.empty() ? to.path : from.path);
}

std::vector<FileChange> container_diff(const std::string& store_root, const std::string& ref) {
  ContainerView c = find_container(ContainerDirectory(store_root), ref);
  ContainerLayers layers = container_layers(store_root, c.state);
  // A container made but never started has changed nothing yet.
  if (layers.upper_dir.empty() && c.state.status == ContainerStatus::created && c.state.started.empty() &&
      !c.running())
    return {};
  if (layers.upper_dir.empty() && c.state.auto_remove)
    fail("container {} runs with --rm, which keeps its changes in memory: diff reads an upper layer on disk",
         c.state.name);
  if (layers.upper_dir.empty())
    fail(
        "container {} keeps its changes in a private copy of its image (this store does not use overlay): "
        "diff "
        "reads an upper layer on disk",
        c.state.name);
  return upper_layer_changes(layers.upper_dir, layers.lower_dirs);
}

void export_container(const std::string& store_root, const std::string& ref, const std::string& output,
                      int stdout_fd) {
  ContainerView c = find_container(ContainerDirectory(store_root), ref);
  ContainerRootfs rootfs = ContainerRootfs::open(store_root, c, ContainerRootfs::View::layers);
  TreePath root{rootfs.fd(), "/", true, rootfs.what()};
  if (output.empty()) {
    TarWriter tar([&](std::string_view data) { write_all(stdout_fd, data, "standard output"); });
    archive_tree_path(root, true, "", tar);
    tar.finish();
  } else {
    std::string path = host_path(output);
    HeldFile out = create_held_file(dir_name(path), "." + base_name(path) + ".");
    try {
      TarWriter tar([&](std::string_view data) { write_all(out.fd.get(), data, out.path); });
      archive_tree_path(root, true, "", tar);
      tar.finish();
      if (::fsync(out.fd.get()) != 0) fail_errno("cannot write " + out.path);
      if (::rename(out.path.c_str(), path.c_str()) != 0) fail_errno("cannot write " + path);
    } catch (...) {
      ::unlink(out.path.c_str());
      throw;
    }
  }
  container_event(store_root, c, "export", "");
}

}  // namespace gocrate
