/* The container's pid 1 under `gocrate run --init`: starts the program,
 * forwards every signal it receives to it, reaps all zombies, and exits with
 * the program's status (128 + signal number when a signal ended it).
 *
 * A separate static program, so that pid 1 of a container is never the
 * gocrate binary: gocrate embeds it and executes it from a sealed memfd.
 *
 * Usage: init [-f FD] PATH ARGV0 [ARG...]
 *   runs PATH with argv ARGV0 ARG...; with -f, runs the executable open as
 *   FD instead (an emulator), with PATH only for messages. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

static int exit_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

static void run_program(int exec_fd, const char* path, char** argv, const sigset_t* original_mask) {
  sigprocmask(SIG_SETMASK, original_mask, NULL);
  if (exec_fd >= 0) {
    syscall(SYS_execveat, exec_fd, "", argv, environ, AT_EMPTY_PATH);
  } else {
    execve(path, argv, environ);
  }
  int err = errno;
  dprintf(2, "gocrate-init: cannot run %s: %s\n", path, strerror(err));
  _exit(err == ENOENT ? 127 : 126);
}

int main(int argc, char** argv) {
  /* The program runs as the same user: without this it could ptrace its
   * init, or open init's executable through /proc/1/exe. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  int exec_fd = -1;
  int first = 1;
  if (argc > 2 && strcmp(argv[1], "-f") == 0) {
    exec_fd = atoi(argv[2]);
    fcntl(exec_fd, F_SETFD, FD_CLOEXEC);
    first = 3;
  }
  if (argc - first < 2) {
    dprintf(2, "gocrate-init: usage: init [-f FD] PATH ARGV0 [ARG...]\n");
    return 125;
  }
  sigset_t all, original;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &original);

  pid_t child = fork();
  if (child < 0) {
    dprintf(2, "gocrate-init: cannot fork: %s\n", strerror(errno));
    return 125;
  }
  if (child == 0) run_program(exec_fd, argv[first], argv + first + 1, &original);

  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&all, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      kill(child, sig);
      continue;
    }
    for (;;) {
      int status;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      if (pid == child) return exit_status(status);
    }
  }
}
