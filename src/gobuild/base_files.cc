#include "gobuild/base_files.h"

extern "C" {
extern const char gocrate_ca_bundle_start[];
extern const char gocrate_ca_bundle_end[];
}

namespace gocrate {

std::string_view embedded_ca_bundle() {
  return std::string_view(gocrate_ca_bundle_start, gocrate_ca_bundle_end - gocrate_ca_bundle_start);
}

LayerContents scratch_base_files() {
  LayerContents files;
  files.add_bytes("/etc/passwd",
                  "root:x:0:0:root:/root:/sbin/nologin\n"
                  "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
                  "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n");
  files.add_bytes("/etc/group",
                  "root:x:0:\n"
                  "nobody:x:65534:\n"
                  "nonroot:x:65532:\n");
  files.add_bytes("/etc/nsswitch.conf", "hosts: files dns\n");
  files.add_bytes(kCaBundlePath, std::string(embedded_ca_bundle()));
  files.add_directory("/root", 0700);
  files.add_directory("/home/nonroot", 0700, kNonrootId, kNonrootId);
  files.add_directory("/tmp", 01777);
  return files;
}

}  // namespace gocrate
