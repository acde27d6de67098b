#include "store/oci_layout.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include "util/writer_process_for_tests.h"

namespace gocrate {
namespace {

class OciLayoutTest : public ::testing::Test {
 protected:
  TempDir work_;
  std::string dir() const { return work_.path() + "/layout"; }
  OciLayout layout_{dir(), true};
  size_t count(const std::string& sub) const {
    std::string path = dir() + "/" + sub;
    if (!std::filesystem::exists(path)) return 0;
    return std::distance(std::filesystem::directory_iterator(path), std::filesystem::directory_iterator());
  }
  // A process writing a blob and working in a scratch directory, both left
  // unfinished until it is let go or killed.
  std::unique_ptr<WriterProcess> start_writer() {
    return std::make_unique<WriterProcess>([&](WriterProcess::Child& child) {
      OciLayout layout(dir(), false);
      BlobWriter blob = layout.begin_blob();
      blob.write(std::string(3 << 20, 'x'));  // past the write buffer: on disk
      TempDir scratch = layout.make_temp_dir();
      write_file_atomic(scratch.path() + "/binary", "compiled");
      child.ready(scratch.path());
    });
  }
};

TEST_F(OciLayoutTest, ALiveWritersIngestAndScratchSurviveCleanups) {
  auto writer = start_writer();
  ASSERT_FALSE(writer->path().empty());
  ASSERT_EQ(count(".gocrate/ingest"), 1u);
  ASSERT_EQ(count(".gocrate/tmp"), 2u);  // the directory and its lock file
  OciLayout(dir(), false).remove_stale_ingests();
  EXPECT_EQ(count(".gocrate/ingest"), 1u);
  EXPECT_EQ(count(".gocrate/tmp"), 2u);
  EXPECT_EQ(read_file(writer->path() + "/binary"), "compiled");
  EXPECT_EQ(writer->let_go(), 0);
  EXPECT_EQ(count(".gocrate/ingest"), 0u);
  EXPECT_EQ(count(".gocrate/tmp"), 0u);
}

TEST_F(OciLayoutTest, AKilledWritersIngestAndScratchAreRemoved) {
  auto writer = start_writer();
  ASSERT_FALSE(writer->path().empty());
  writer->kill();
  ASSERT_EQ(count(".gocrate/ingest"), 1u);
  ASSERT_EQ(count(".gocrate/tmp"), 2u);
  layout_.remove_stale_ingests();
  EXPECT_EQ(count(".gocrate/ingest"), 0u);
  EXPECT_EQ(count(".gocrate/tmp"), 0u);
  EXPECT_EQ(count("blobs/sha256"), 0u);
}

// The writer's process lives on as another program (exec closed the locked
// descriptors), as a killed writer's pid reused by another process would.
TEST_F(OciLayoutTest, AWriterGoneWhileItsPidLivesIsCleanedUp) {
  WriterProcess writer([&](WriterProcess::Child& child) {
    OciLayout layout(dir(), false);
    auto* blob = new BlobWriter(layout.begin_blob());
    blob->write(std::string(3 << 20, 'x'));
    auto* scratch = new TempDir(layout.make_temp_dir());
    child.report(scratch->path());
    child.become_another_program();
  });
  ASSERT_FALSE(writer.path().empty());
  writer.read_line();  // the other program runs
  ASSERT_EQ(::kill(writer.pid(), 0), 0);
  ASSERT_EQ(count(".gocrate/ingest"), 1u);
  ASSERT_EQ(count(".gocrate/tmp"), 2u);
  layout_.remove_stale_ingests();
  EXPECT_EQ(count(".gocrate/ingest"), 0u);
  EXPECT_EQ(count(".gocrate/tmp"), 0u);
  EXPECT_EQ(::kill(writer.pid(), 0), 0);
}

TEST_F(OciLayoutTest, BlobsStillLandWhole) {
  BlobWriter writer = layout_.begin_blob();
  writer.write("layer");
  layout_.remove_stale_ingests();  // a cleanup meanwhile leaves the ingest alone
  Descriptor d = writer.commit("x", Digest::of("layer"), 5);
  EXPECT_EQ(layout_.read_blob(d), "layer");
  EXPECT_EQ(count(".gocrate/ingest"), 0u);
}

}  // namespace
}  // namespace gocrate
