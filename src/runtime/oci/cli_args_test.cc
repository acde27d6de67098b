#include "runtime/oci/cli_args.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <signal.h>

#include "util/error_for_tests.h"

namespace gocrate::oci::cli {
namespace {

constexpr FlagSpec kCreateLike[] = {
    {"bundle", "b", true, ""},
    {"detach", "d", false, ""},
    {"env", "e", true, ""},
};

Flags parse(std::vector<std::string> args, FlagOrder order = FlagOrder::anywhere) {
  return parse_flags(kCreateLike, args, order, "run");
}

GlobalOptions parse_global(std::vector<std::string> args) {
  return parse_global_options(args);
}

Flags parse_exec(std::vector<std::string> args) {
  return parse_flags(kExecFlags, args, FlagOrder::before_arguments, "exec");
}

Flags parse_update(std::vector<std::string> args) {
  return parse_flags(kUpdateFlags, args, FlagOrder::anywhere, "update");
}

TEST(RuntimeCliFlags, TakesEveryFormGoAccepts) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"--bundle", "/b", "c1"},
                                                                {"--bundle=/b", "c1"},
                                                                {"-bundle", "/b", "c1"},
                                                                {"-b", "/b", "c1"},
                                                                {"-b=/b", "c1"},
                                                                {"c1", "--bundle", "/b"}}) {
    Flags flags = parse(args);
    EXPECT_EQ(flags.value("bundle"), "/b") << args[0];
    EXPECT_EQ(flags.args, std::vector<std::string>{"c1"}) << args[0];
  }
}

TEST(RuntimeCliFlags, BoolFlagsStandAloneOrTakeABoolean) {
  EXPECT_TRUE(parse({"-d", "c1"}).enabled("detach"));
  EXPECT_TRUE(parse({"--detach", "c1"}).enabled("detach"));
  EXPECT_TRUE(parse({"--detach=true", "c1"}).enabled("detach"));
  EXPECT_FALSE(parse({"--detach=false", "c1"}).enabled("detach"));
  EXPECT_FALSE(parse({"-d=0", "c1"}).enabled("detach"));
  EXPECT_FALSE(parse({"c1"}).enabled("detach"));
  EXPECT_EQ(parse({"-d", "c1"}).args, std::vector<std::string>{"c1"});
  EXPECT_EQ(error_of([] { parse({"--detach=maybe"}); }),
            "invalid value in --detach=maybe: --detach takes true or false");
}

TEST(RuntimeCliFlags, RepeatableFlagsKeepEveryValue) {
  EXPECT_EQ(parse({"-e", "A=1", "--env=B=2", "c1"}).values("env"), (std::vector<std::string>{"A=1", "B=2"}));
  EXPECT_EQ(parse({"-e", "A=1", "--env=B=2", "c1"}).value("env"), "B=2");
}

TEST(RuntimeCliFlags, NamesTheUnknownOrIncompleteFlag) {
  EXPECT_EQ(error_of([] {
              parse({"--bogus", "c1"});
            }),
            "unknown flag --bogus for run: see gocrate-runtime run --help");
  EXPECT_EQ(error_of([] {
              parse({"c1", "--bundle"});
            }),
            "flag --bundle needs a value: see gocrate-runtime run --help");
  EXPECT_EQ(error_of([] { parse({"---b", "c1"}); }), "bad flag syntax ---b: see gocrate-runtime run --help");
}

TEST(RuntimeCliFlags, DoubleDashEndsTheFlags) {
  EXPECT_EQ(parse({"--", "-d"}).args, std::vector<std::string>{"-d"});
  EXPECT_EQ(parse({"c1", "--", "-d"}).args, (std::vector<std::string>{"c1", "--", "-d"}));
}

TEST(RuntimeCliFlags, FlagsAfterTheArgumentsBelongToTheCommandWhenOrdered) {
  Flags flags = parse({"-d", "c1", "sh", "-e", "X=1", "--bogus"}, FlagOrder::before_arguments);
  EXPECT_TRUE(flags.enabled("detach"));
  EXPECT_FALSE(flags.has("env"));
  EXPECT_EQ(flags.args, (std::vector<std::string>{"c1", "sh", "-e", "X=1", "--bogus"}));
}

TEST(RuntimeCliFlags, HelpIsKnownToEveryVerb) {
  EXPECT_TRUE(parse({"--help"}).help);
  EXPECT_TRUE(parse({"c1", "-h"}).help);
  EXPECT_FALSE(parse({"c1"}).help);
}

TEST(RuntimeCliFlags, SynopsisListsTheAlias) {
  EXPECT_EQ(flag_synopsis(kCreateLike[0]), "--bundle value, -b value");
  EXPECT_EQ(flag_synopsis(kCreateLike[1]), "--detach, -d");
}

TEST(RuntimeCliGlobal, ReadsTheGlobalFlagsBeforeTheVerb) {
  GlobalOptions options =
      parse_global({"--root", "/run/x", "-log=/tmp/l.json", "--log-format", "json", "--debug", "--criu",
                    "/bin/criu", "--rootless", "auto", "create", "--bundle", "/b", "c1"});
  EXPECT_EQ(options.runtime.root, "/run/x");
  EXPECT_EQ(options.log_file, "/tmp/l.json");
  EXPECT_EQ(options.log_format, "json");
  EXPECT_TRUE(options.runtime.debug);
  EXPECT_EQ(options.command, (std::vector<std::string>{"create", "--bundle", "/b", "c1"}));
  EXPECT_EQ(error_of([&] { check_global_options(options); }), "");
}

TEST(RuntimeCliGlobal, Defaults) {
  GlobalOptions options = parse_global({"list"});
  EXPECT_EQ(options.runtime.root, "/run/gocrate-runtime");
  EXPECT_EQ(options.log_file, "");
  EXPECT_EQ(options.log_format, "text");
  EXPECT_FALSE(options.runtime.debug);
  EXPECT_FALSE(options.version);
  EXPECT_TRUE(parse_global({"-v"}).version);
  EXPECT_TRUE(parse_global({"--version"}).version);
  EXPECT_TRUE(parse_global({"-h"}).help);
}

TEST(RuntimeCliGlobal, RefusesWhatItCannotHonour) {
  EXPECT_EQ(error_of([] {
              check_global_options(parse_global({"--systemd-cgroup", "list"}));
            }),
            "--systemd-cgroup is not supported: gocrate-runtime has no systemd cgroup driver; use cgroupfs "
            "(drop the "
            "flag)");
  EXPECT_EQ(error_of([] {
              check_global_options(parse_global({"--rootless=true", "list"}));
            }),
            "--rootless=true is not supported: gocrate-runtime runs containers as root; use --rootless=auto");
  EXPECT_EQ(error_of([] { check_global_options(parse_global({"--rootless", "false", "list"})); }), "");
  EXPECT_EQ(error_of([] {
              check_global_options(parse_global({"--log-format", "xml", "list"}));
            }),
            "invalid --log-format \"xml\": use text or json");
  EXPECT_EQ(error_of([] {
              parse_global({"--bundle", "/b", "list"});
            }),
            "unknown global flag --bundle: see gocrate-runtime --help");
}

TEST(RuntimeCliSignal, TakesNamesWithAndWithoutSigAndNumbers) {
  EXPECT_EQ(parse_kill_signal("KILL"), SIGKILL);
  EXPECT_EQ(parse_kill_signal("SIGKILL"), SIGKILL);
  EXPECT_EQ(parse_kill_signal("term"), SIGTERM);
  EXPECT_EQ(parse_kill_signal("9"), SIGKILL);
  EXPECT_EQ(parse_kill_signal("SIGUSR1"), SIGUSR1);
  EXPECT_NE(error_of([] { parse_kill_signal("BOGUS"); }).find("\"BOGUS\""), std::string::npos);
  EXPECT_NE(error_of([] { parse_kill_signal("-9"); }), "");
}

Process base_process() {
  Process process;
  process.args = {"sleep", "inf"};
  process.env = {"PATH=/bin"};
  process.cwd = "/srv";
  process.terminal = true;
  process.user.uid = 1000;
  process.user.gid = 1000;
  return process;
}

TEST(RuntimeCliExec, KeepsTheContainersProcessDefaults) {
  Process process = exec_process(base_process(), parse_exec({"c1", "ls", "-l"}));
  EXPECT_EQ(process.args, (std::vector<std::string>{"ls", "-l"}));
  EXPECT_EQ(process.env, std::vector<std::string>{"PATH=/bin"});
  EXPECT_EQ(process.cwd, "/srv");
  EXPECT_FALSE(process.terminal);  // only --tty asks for one, as runc
  EXPECT_EQ(process.user.uid, 1000u);
  EXPECT_EQ(process.user.gid, 1000u);
  EXPECT_FALSE(process.capabilities);
}

TEST(RuntimeCliExec, AppliesItsFlags) {
  Process process = exec_process(
      base_process(),
      parse_exec(
          {"-t", "--cwd", "/tmp",   "-e",    "A=1",           "--env=B=2", "-u",         "0:5",
           "-g", "7",     "-g=8,9", "--cap", "CAP_NET_ADMIN", "-c",        "SYS_PTRACE", "--no-new-privs",
           "c1", "sh",    "-c",     "id"}));
  EXPECT_EQ(process.args, (std::vector<std::string>{"sh", "-c", "id"}));
  EXPECT_TRUE(process.terminal);
  EXPECT_EQ(process.cwd, "/tmp");
  EXPECT_EQ(process.env, (std::vector<std::string>{"PATH=/bin", "A=1", "B=2"}));
  EXPECT_EQ(process.user.uid, 0u);
  EXPECT_EQ(process.user.gid, 5u);
  EXPECT_EQ(process.user.additional_gids, (std::vector<uint32_t>{7, 8, 9}));
  EXPECT_TRUE(process.no_new_privileges);
  ASSERT_TRUE(process.capabilities);
  uint64_t added = (uint64_t{1} << CAP_NET_ADMIN) | (uint64_t{1} << CAP_SYS_PTRACE);
  EXPECT_EQ(process.capabilities->bounding, added);
  EXPECT_EQ(process.capabilities->effective, added);
  EXPECT_EQ(process.capabilities->permitted, added);
  EXPECT_EQ(process.capabilities->ambient, added);
  EXPECT_EQ(process.capabilities->inheritable, 0u);
}

TEST(RuntimeCliExec, UserWithoutGroupKeepsTheGroup) {
  Process process = exec_process(base_process(), parse_exec({"--user", "33", "c1", "id"}));
  EXPECT_EQ(process.user.uid, 33u);
  EXPECT_EQ(process.user.gid, 1000u);
}

TEST(RuntimeCliExec, RefusesWhatItCannotRun) {
  EXPECT_EQ(
      error_of([] { exec_process(base_process(), parse_exec({"c1"})); }),
      "exec needs a command after the container id, or --process FILE: see gocrate-runtime exec --help");
  EXPECT_EQ(error_of([] {
              exec_process(base_process(), parse_exec({"-u", "www-data", "c1", "id"}));
            }),
            "invalid --user \"www-data\": use numeric ids as uid[:gid]");
  EXPECT_EQ(error_of([] {
              exec_process(base_process(), parse_exec({"--cwd", "tmp", "c1", "id"}));
            }),
            "invalid --cwd \"tmp\": the working directory must be an absolute path");
  EXPECT_EQ(error_of([] {
              exec_process(base_process(), parse_exec({"-g", "x", "c1", "id"}));
            }),
            "invalid --additional-gids \"x\": use numeric ids");
  EXPECT_EQ(error_of([] {
              check_exec_flags(parse_exec({"--apparmor", "docker-default", "c1", "id"}));
            }),
            "exec --apparmor is not supported: gocrate-runtime applies no LSM profile; leave it out");
  EXPECT_EQ(error_of([] { check_exec_flags(parse_exec({"--apparmor", "", "c1", "id"})); }), "");
}

TEST(RuntimeCliUpdate, SetsOnlyWhatTheFlagsName) {
  Resources none = update_resources(parse_update({"c1"}));
  EXPECT_FALSE(none.memory);
  EXPECT_FALSE(none.cpu);
  EXPECT_FALSE(none.pids_limit);
  EXPECT_FALSE(none.block_io);

  Resources memory = update_resources(parse_update({"--memory", "64m", "--memory-swap=-1", "c1"}));
  ASSERT_TRUE(memory.memory);
  EXPECT_EQ(memory.memory->limit, 64 << 20);
  EXPECT_EQ(memory.memory->swap, -1);
  EXPECT_FALSE(memory.memory->reservation);
  EXPECT_FALSE(memory.cpu);
}

TEST(RuntimeCliUpdate, ReadsEveryFlag) {
  Resources r = update_resources(parse_update(
      {"c1",     "--memory-reservation", "1048576", "--cpu-share",     "512",     "--cpu-quota",
       "-1",     "--cpu-period",         "100000",  "--cpu-rt-period", "1000000", "--cpu-rt-runtime",
       "950000", "--cpuset-cpus",        "0-1",     "--cpuset-mems",   "0",       "--pids-limit",
       "100",    "--blkio-weight",       "500"}));
  ASSERT_TRUE(r.memory);
  EXPECT_EQ(r.memory->reservation, 1048576);
  ASSERT_TRUE(r.cpu);
  EXPECT_EQ(r.cpu->shares, 512u);
  EXPECT_EQ(r.cpu->quota, -1);
  EXPECT_EQ(r.cpu->period, 100000u);
  EXPECT_EQ(r.cpu->realtime_period, 1000000u);
  EXPECT_EQ(r.cpu->realtime_runtime, 950000);
  EXPECT_EQ(r.cpu->cpus, "0-1");
  EXPECT_EQ(r.cpu->mems, "0");
  EXPECT_EQ(r.pids_limit, 100);
  ASSERT_TRUE(r.block_io);
  EXPECT_EQ(r.block_io->weight, 500);
  EXPECT_EQ(update_resources(parse_update({"--cpu-shares=256", "c1"})).cpu->shares, 256u);
}

TEST(RuntimeCliUpdate, NamesTheBadValue) {
  EXPECT_EQ(
      error_of([] {
        update_resources(parse_update({"--memory", "lots", "c1"}));
      }),
      "invalid --memory \"lots\": use a size in bytes or with a unit such as 64m or 1g, or -1 for no limit");
  EXPECT_EQ(error_of([] {
              update_resources(parse_update({"--cpu-period", "-5", "c1"}));
            }),
            "invalid --cpu-period \"-5\": use a whole number of microseconds");
  EXPECT_EQ(error_of([] {
              update_resources(parse_update({"--blkio-weight", "5", "c1"}));
            }),
            "invalid --blkio-weight \"5\": use a weight from 10 to 1000");
  EXPECT_EQ(
      error_of([] {
        update_resources(parse_update({"--l3-cache-schema", "L3:0=f", "c1"}));
      }),
      "update --l3-cache-schema is not supported: gocrate-runtime has no Intel RDT support; leave it out");
}

}  // namespace
}  // namespace gocrate::oci::cli
