#include "runtime/containment/ulimits.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include "util/error_for_tests.h"

namespace gocrate {
namespace {

bool mentions(const std::string& error, std::string_view text) {
  return error.find(text) != std::string::npos;
}

TEST(Ulimit, ParsesDockersForms) {
  Ulimit nofile = parse_ulimit("nofile=1024:2048");
  EXPECT_EQ(nofile.resource, RLIMIT_NOFILE);
  EXPECT_EQ(nofile.soft, 1024u);
  EXPECT_EQ(nofile.hard, 2048u);
  EXPECT_EQ(nofile.str(), "nofile=1024:2048");
  Ulimit core = parse_ulimit("core=0");
  EXPECT_EQ(core.resource, RLIMIT_CORE);
  EXPECT_EQ(core.soft, 0u);
  EXPECT_EQ(core.hard, 0u);
  Ulimit stack = parse_ulimit("stack=8388608:-1");
  EXPECT_EQ(stack.hard, RLIM_INFINITY);
  EXPECT_EQ(stack.str(), "stack=8388608:-1");
  EXPECT_EQ(parse_ulimit(stack.str()).hard, RLIM_INFINITY);
  for (std::string name : {"cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nproc", "rss",
                           "rtprio", "rttime", "sigpending"}) {
    EXPECT_EQ(parse_ulimit(name + "=1").name, name);
  }
}

TEST(Ulimit, RefusesBadInput) {
  EXPECT_TRUE(mentions(error_of([] { parse_ulimit("nofile"); }), "NAME=SOFT[:HARD]"));
  EXPECT_TRUE(mentions(error_of([] { parse_ulimit("as=1"); }), "unknown limit as"));
  EXPECT_TRUE(mentions(error_of([] { parse_ulimit("nofile=abc"); }), "must be numbers"));
  EXPECT_TRUE(mentions(error_of([] { parse_ulimit("nofile=1:"); }), "must be numbers"));
  EXPECT_TRUE(mentions(error_of([] { parse_ulimit("nofile=-2"); }), "must be numbers"));
  EXPECT_TRUE(mentions(error_of([] { parse_ulimit("nofile=2048:1024"); }), "2048 > 1024"));
  EXPECT_TRUE(mentions(error_of([] { parse_ulimit("nofile=-1:1024"); }), "unlimited > 1024"));
}

TEST(Ulimit, CheckedAgainstWhatThisProcessMayGive) {
  rlimit nofile{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &nofile), 0);
  EXPECT_EQ(error_of([&] {
              check_ulimits({parse_ulimit(fmt::format("nofile={}:{}", nofile.rlim_cur, nofile.rlim_max))});
            }),
            "");
  // Above fs.nr_open nothing can raise it, with or without CAP_SYS_RESOURCE.
  std::string error = error_of([] { check_ulimits({parse_ulimit("nofile=1:1099511627776")}); });
  EXPECT_TRUE(mentions(error, "nofile")) << error;
  EXPECT_TRUE(mentions(error, "use at most")) << error;
}

}  // namespace
}  // namespace gocrate
