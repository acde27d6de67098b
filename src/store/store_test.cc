#include "store/store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <thread>

#include "image/media_types.h"
#include "util/error.h"
#include "util/processes_for_tests.h"

namespace gocrate {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  TempDir dir_;
  std::string root() const { return dir_.path() + "/store"; }
  size_t count(const std::string& sub) const {
    std::string path = root() + "/" + sub;
    if (!std::filesystem::exists(path)) return 0;
    return std::distance(std::filesystem::directory_iterator(path), std::filesystem::directory_iterator());
  }
};

std::string manifest_json(Store& store) {
  Manifest m;
  m.media_type = media_type::oci_manifest;
  m.config =
      store.write_blob(R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})",
                       std::string(media_type::oci_config));
  return m.to_json_text();
}

TEST_F(StoreTest, UncommittedBlobLeavesNothing) {
  Store store(root());
  {
    BlobWriter writer = store.begin_blob();
    writer.write("half a layer");
  }
  EXPECT_EQ(count(".gocrate/ingest"), 0u);
  EXPECT_EQ(count("blobs/sha256"), 0u);
}

TEST_F(StoreTest, BlobWithWrongDigestIsRefused) {
  Store store(root());
  BlobWriter writer = store.begin_blob();
  writer.write("content");
  EXPECT_THROW(writer.commit("x", Digest::of("other content")), Error);
  EXPECT_EQ(count("blobs/sha256"), 0u);
  Descriptor d = store.write_blob("content", "x");
  EXPECT_EQ(d.digest, Digest::of("content"));
  EXPECT_EQ(store.read_blob(d), "content");
}

TEST_F(StoreTest, CorruptBlobIsNamedAndMovedAside) {
  Store store(root());
  Descriptor d = store.write_blob("precious", "x");
  write_file_atomic(store.blob_path(d.digest), "precioux");
  try {
    store.read_blob(d);
    FAIL() << "a corrupt blob was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(d.digest.str()), std::string::npos);
  }
  EXPECT_FALSE(store.has_blob(d.digest));
  // A streaming read verifies too, at the end.
  Descriptor e = store.write_blob("streamed", "x");
  write_file_atomic(store.blob_path(e.digest), "streamex");
  auto reader = store.open_blob(e);
  EXPECT_THROW(drain(*reader), Error);
}

TEST_F(StoreTest, NamesResolveByTagDigestAndPrefix) {
  Store store(root());
  std::string text = manifest_json(store);
  Descriptor m = store.write_blob(text, std::string(media_type::oci_manifest));
  store.set_name("hello:latest", m);
  EXPECT_EQ(store.resolve("hello").descriptor.digest, m.digest);
  EXPECT_EQ(store.resolve(m.digest.str()).descriptor.digest, m.digest);
  EXPECT_EQ(store.resolve(m.digest.hex.substr(0, 8)).descriptor.digest, m.digest);
  EXPECT_EQ(store.resolve("hello@" + m.digest.str()).descriptor.media_type, media_type::oci_manifest);
  EXPECT_FALSE(store.find("other"));
  EXPECT_THROW(store.resolve("other"), Error);
  store.set_name("hello:latest", m);  // naming again does not duplicate
  EXPECT_EQ(store.images().size(), 1u);
  store.remove_name("hello:latest");
  EXPECT_TRUE(store.images().empty());
}

TEST_F(StoreTest, ConcurrentNameUpdatesAreNotLost) {
  Store created_first(root());
  in_processes(6, [&](int i) {
    Store store(root());
    for (int j = 0; j < 15; ++j) {
      Descriptor d = store.write_blob(fmt::format("{}-{}", i, j), std::string(media_type::oci_manifest));
      store.set_name(fmt::format("p{}:t{}", i, j), d);
    }
  });
  EXPECT_EQ(Store(root()).images().size(), 90u);
}

TEST_F(StoreTest, ConcurrentCreationOfOneStore) {
  in_processes(6, [&](int i) {
    Store store(root());
    store.set_name(fmt::format("n{}:latest", i), store.write_blob(std::to_string(i), "x"));
  });
  EXPECT_EQ(Store(root()).images().size(), 6u);
}

TEST_F(StoreTest, PruneKeepsWhatIsNamedAndWaitsForLeases) {
  Store store(root());
  Descriptor m = store.write_blob(manifest_json(store), std::string(media_type::oci_manifest));
  store.set_name("kept:latest", m);
  Descriptor garbage = store.write_blob("garbage", "x");

  // A writer holds its lease while its blob has no name yet; prune must not
  // collect the blob, so it either skips (no wait) or waits for the name.
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t writer = fork();
  if (writer == 0) {
    Store s(root());
    FileLock lease = s.lease();
    Descriptor fresh = s.write_blob("fresh", "x");
    if (write(ready[1], "x", 1) != 1) _exit(1);
    usleep(200 * 1000);
    s.set_name("fresh:latest", fresh);
    _exit(0);
  }
  char byte;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  EXPECT_EQ(store.prune(false).blobs_removed, 0);
  PruneReport report = store.prune(true);
  int status;
  waitpid(writer, &status, 0);
  EXPECT_EQ(report.blobs_removed, 1);
  EXPECT_FALSE(store.has_blob(garbage.digest));
  EXPECT_TRUE(store.has_blob(Digest::of("fresh")));
  EXPECT_TRUE(store.has_blob(m.digest));
  close(ready[0]);
  close(ready[1]);
}

TEST_F(StoreTest, PruneAsksWhatIsInUseOnlyWhileItHoldsTheStore) {
  Store store(root());
  Descriptor used = store.write_blob("the image of a container being made", "x");
  // A container being made: it holds the lease until its state names the
  // image, which is what `roots` reads.
  std::optional<FileLock> lease = store.lease();
  std::vector<Descriptor> recorded;
  bool held = false;
  std::thread prune([&] {
    Store s(root());
    s.prune_locked(true, [&] {
      held = !FileLock::acquire(root() + "/.gocrate/gc.lock", FileLock::Mode::shared, false);
      return recorded;
    });
  });
  recorded.push_back(used);
  lease.reset();
  prune.join();
  EXPECT_TRUE(held) << "what is in use was asked before prune held the store";
  EXPECT_TRUE(store.has_blob(used.digest));
}

TEST_F(StoreTest, RefusesForeignDirectories) {
  make_directories(root());
  write_file_atomic(root() + "/notes.txt", "mine");
  EXPECT_THROW(Store s(root()), Error);
  EXPECT_THROW(OciLayout(dir_.path() + "/absent", false), Error);
}

}  // namespace
}  // namespace gocrate
