/* The container's pid 1 under `gocrate run --init`: starts the program,
 * forwards every signal it receives to it, reaps all zombies, and exits with
 * the program's status (128 + signal number when a signal ended it).
 *
 * A separate static program, so that pid 1 of a container is never the
 * gocrate binary: gocrate embeds it and executes it from a sealed memfd.
 *
 * Also what `gocrate exec` and health checks become in gocrate's pid
 * namespace, so that the program's parent is never gocrate: it starts the
 * program in the container's pid namespace with only init's sealed
 * executable behind it.
 *
 * Usage: init [-f FD] [-e FD] PATH ARGV0 [ARG...]
 *   runs PATH with argv ARGV0 ARG...; with -f, runs the executable open as
 *   FD instead (an emulator), with PATH only for messages; with -e, a failed
 *   execve is reported on that descriptor as "<code> exec-errno <errno>
 *   <path>" (and nothing printed), which closes when the program runs. */
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

static void run_program(int exec_fd, int report_fd, const char* path, char** argv, pid_t init,
                        const sigset_t* original_mask) {
  /* The program goes with its init, whoever kills init. Its parent shows
   * as 0 when init is in an ancestor pid namespace (under exec). */
  pid_t parent = getppid();
  if (parent != 0 && parent != init) _exit(125);
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid() != parent) _exit(125);
  sigprocmask(SIG_SETMASK, original_mask, NULL);
  if (exec_fd >= 0) {
    syscall(SYS_execveat, exec_fd, "", argv, environ, AT_EMPTY_PATH);
  } else {
    execve(path, argv, environ);
  }
  int err = errno;
  int code = err == ENOENT ? 127 : 126;
  if (report_fd >= 0) {
    dprintf(report_fd, "%d exec-errno %d %s", code, err, path);
  } else {
    dprintf(2, "gocrate-init: cannot run %s: %s\n", path, strerror(err));
  }
  _exit(code);
}

/* Signals a terminal sends (^C, ^Z, a quit, a resize) reach its whole
 * foreground process group, the program with init: passing them on would
 * deliver them twice. */
static int sent_by_terminal(const siginfo_t* info) {
  int sig = info->si_signo;
  return info->si_code == SI_KERNEL &&
         (sig == SIGINT || sig == SIGQUIT || sig == SIGTSTP || sig == SIGWINCH || sig == SIGHUP);
}

int main(int argc, char** argv) {
  /* The program runs as the same user: without this it could ptrace its
   * init, or open init's executable through /proc/1/exe. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  int exec_fd = -1;
  int report_fd = -1;
  int first = 1;
  if (argc > first + 1 && strcmp(argv[first], "-f") == 0) {
    exec_fd = atoi(argv[first + 1]);
    fcntl(exec_fd, F_SETFD, FD_CLOEXEC);
    first += 2;
  }
  if (argc > first + 1 && strcmp(argv[first], "-e") == 0) {
    report_fd = atoi(argv[first + 1]);
    fcntl(report_fd, F_SETFD, FD_CLOEXEC);
    first += 2;
  }
  if (argc - first < 2) {
    dprintf(2, "gocrate-init: usage: init [-f FD] [-e FD] PATH ARGV0 [ARG...]\n");
    return 125;
  }
  sigset_t all, original;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &original);

  pid_t init = getpid();
  pid_t child = fork();
  if (child < 0) {
    dprintf(2, "gocrate-init: cannot fork: %s\n", strerror(errno));
    return 125;
  }
  if (child == 0) run_program(exec_fd, report_fd, argv[first], argv + first + 1, init, &original);
  if (report_fd >= 0) close(report_fd);

  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&all, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      if (!sent_by_terminal(&info)) kill(child, sig);
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
