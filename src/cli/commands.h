#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace gocrate::cli {

// Options every command accepts, before or after its name.
struct Globals {
  std::string root;  // empty: default_store_root()
};

int main(int argc, char** argv);

// Adds --root to a command's parser.
void add_global_options(CLI::App& app, Globals& globals);
// Parses argv (argv[0] is the command's name); --help prints and exits 0,
// a usage error exits 2 with a one-line message.
void parse_command_line(CLI::App& app, int argc, char** argv);
Store open_store(const Globals& globals);
// Refuses a command that makes or manages containers unless run as root.
void require_root(std::string_view command);
// The path of the running gocrate, for commands that start it again.
std::string gocrate_executable();
// Splits argv at "--": returns what follows it (for the program a command
// hands over to) and shortens argc to what precedes it.
std::vector<std::string> take_arguments_after_double_dash(int& argc, char** argv);

// A command of a group (`gocrate volume ls`): its names (the first is the one
// listed) and what runs it with argv starting at its name.
struct Subcommand {
  std::vector<std::string_view> names;
  std::function<int(int argc, char** argv)> run;
};
// Runs the subcommand argv[1] names: without one, prints `usage` to stderr
// and returns 2; --help prints it to stdout.
int run_subcommand(std::string_view group, std::string_view usage, int argc, char** argv,
                   const std::vector<Subcommand>& commands);

// Thrown to end a command early with an exit code and nothing more to say.
struct ExitRequest {
  int code;
};

// One function per command; each builds its own parser.
int build_command(Globals& globals, int argc, char** argv);
int pack_command(Globals& globals, int argc, char** argv);
int images_command(Globals& globals, int argc, char** argv);
int inspect_command(Globals& globals, int argc, char** argv);
int tag_command(Globals& globals, int argc, char** argv);
int rmi_command(Globals& globals, int argc, char** argv);
int prune_command(Globals& globals, int argc, char** argv);
int save_command(Globals& globals, int argc, char** argv);
int load_command(Globals& globals, int argc, char** argv);
int resolve_command(Globals& globals, int argc, char** argv);
int apply_command(Globals& globals, int argc, char** argv);
// Docker's `create IMAGE`, or ko's `create -f FILE` (kubectl_create_command).
int create_command(Globals& globals, int argc, char** argv);
int kubectl_create_command(Globals& globals, int argc, char** argv);
int delete_command(Globals& globals, int argc, char** argv);
int manifest_command(Globals& globals, int argc, char** argv);
int measure_command(Globals& globals, int argc, char** argv);
int push_command(Globals& globals, int argc, char** argv);
int pull_command(Globals& globals, int argc, char** argv);
int login_command(Globals& globals, int argc, char** argv);
int logout_command(Globals& globals, int argc, char** argv);
int run_command(Globals& globals, int argc, char** argv);
// The config.json of what `run` does with the same options (runtime/oci/from_container_spec.h).
int spec_command(Globals& globals, int argc, char** argv);
// Containers that exist (container_commands.cc).
int ps_command(Globals& globals, int argc, char** argv);
int stop_command(Globals& globals, int argc, char** argv);
int kill_command(Globals& globals, int argc, char** argv);
int rm_command(Globals& globals, int argc, char** argv);
int wait_command(Globals& globals, int argc, char** argv);
int logs_command(Globals& globals, int argc, char** argv);
int stats_command(Globals& globals, int argc, char** argv);
// Metrics, JSON and a web view of the store, in the foreground (serve_command.cc).
int serve_command(Globals& globals, int argc, char** argv);
// What happened to containers and images (events_command.cc).
int events_command(Globals& globals, int argc, char** argv);
int exec_command(Globals& globals, int argc, char** argv);
int start_command(Globals& globals, int argc, char** argv);
int inspect_any_command(Globals& globals, int argc, char** argv);
// top, port, rename, pause, unpause, update (manage_commands.cc).
int top_command(Globals& globals, int argc, char** argv);
int port_command(Globals& globals, int argc, char** argv);
int rename_command(Globals& globals, int argc, char** argv);
int pause_command(Globals& globals, int argc, char** argv);
int unpause_command(Globals& globals, int argc, char** argv);
int update_command(Globals& globals, int argc, char** argv);
// A container's files and the store's usage (file_commands.cc).
int cp_command(Globals& globals, int argc, char** argv);
int diff_command(Globals& globals, int argc, char** argv);
int export_command(Globals& globals, int argc, char** argv);
int commit_command(Globals& globals, int argc, char** argv);
int system_command(Globals& globals, int argc, char** argv);
// Named volumes (volume_commands.cc).
int volume_command(Globals& globals, int argc, char** argv);
// Signing (trust_commands.cc): cosign's keys, signatures and attestations.
int key_command(Globals& globals, int argc, char** argv);
int sign_command(Globals& globals, int argc, char** argv);
int attest_command(Globals& globals, int argc, char** argv);
int verify_command(Globals& globals, int argc, char** argv);
int verify_attestation_command(Globals& globals, int argc, char** argv);

}  // namespace gocrate::cli
