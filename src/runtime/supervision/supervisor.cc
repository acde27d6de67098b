#include "runtime/supervision/supervisor.h"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <utility>

#include "runtime/container_events.h"
#include "runtime/containment/freezer.h"
#include "runtime/network/port_forwarder.h"
#include "runtime/supervision/container_control.h"
#include "runtime/terminal/signal_names.h"
#include "store/events.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strings.h"

namespace gocrate {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kStartedReport = "ok";
// Signals that stop the container when the supervisor gets them.
constexpr int kStopSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};

std::string now_rfc3339() {
  return rfc3339_utc(::time(nullptr));
}

int stop_signal_of(const ContainerSpec& spec) {
  if (spec.stop_signal.empty()) return SIGTERM;
  try {
    return parse_signal(spec.stop_signal, "StopSignal");
  } catch (const Error&) {
    return SIGTERM;
  }
}

milliseconds since(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t);
}

int timeout_until(Clock::time_point t) {
  auto left = std::chrono::duration_cast<milliseconds>(t - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left + 1, 0, 3600 * 1000));
}

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

Pipe make_output_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail_errno("cannot create a pipe for the container's output");
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Pipe make_input_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail_errno("cannot create a pipe for the container's input");
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// ---- Becoming a lean, detached process -------------------------------------

// Closes every descriptor from 3 up but those in `keep`.
void close_all_but(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned from = 3;
  for (int fd : keep) {
    if (fd < 3) continue;
    if (static_cast<unsigned>(fd) > from) ::syscall(SYS_close_range, from, fd - 1, 0);
    from = static_cast<unsigned>(fd) + 1;
  }
  ::syscall(SYS_close_range, from, ~0U, 0);
}

void detach_from_command_line(const std::vector<int>& keep) {
  ::setsid();
  int null = ::open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
  if (null > 2) ::close(null);
  close_all_but(keep);
  [[maybe_unused]] int ignored = ::chdir("/");
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGCHLD, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kStopSignals) sigaddset(&set, sig);
  ::sigprocmask(SIG_SETMASK, &set, nullptr);
  ::prctl(PR_SET_NAME, "gocrate-sup", 0, 0, 0);
  // Its children enter the container (health checks): nothing there may
  // open this process's memory or executable.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

// Gives back what the command line's deeper calls left on the stack, and
// the free pages of the heap; the pages still count otherwise, since the
// command line that shared them has exited.
void give_back_memory() {
  static uintptr_t stack_low = 0;
  if (!stack_low) {
    if (auto maps = read_file_if_exists("/proc/self/maps")) {
      for (const auto& line : split(*maps, '\n')) {
        if (line.ends_with("[stack]")) stack_low = std::stoull(line.substr(0, line.find('-')), nullptr, 16);
      }
    }
  }
  char here;
  uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  uintptr_t below = (reinterpret_cast<uintptr_t>(&here) - 4096) & ~(page - 1);
  if (stack_low && below > stack_low) {
    ::madvise(reinterpret_cast<void*>(stack_low), below - stack_low, MADV_DONTNEED);
  }
  ::malloc_trim(0);
}

// ---- The supervisor ----------------------------------------------------------

class Supervisor {
 public:
  Supervisor(std::string store_root, ContainerConfig config, ContainerState state, UniqueFd lock,
             UniqueFd control)
      : store_root_(std::move(store_root)),
        config_(std::move(config)),
        state_(std::move(state)),
        directory_(store_root_),
        dir_(directory_.dir_of(state_.id)),
        lock_(std::move(lock)),
        control_(std::move(control)),
        log_(dir_, config_.supervision.log),
        stop_signal_(stop_signal_of(config_.spec)) {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : kStopSignals) sigaddset(&set, sig);
    signals_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  }

  // The first start's outcome goes to `report_fd`; a new container that
  // cannot start is removed.
  int run(int report_fd, bool new_container);

 private:
  void start_container();
  void supervise_until_done();
  void adopt(const ContainerState& started);
  void supervise();
  void record_exit(const ExitStatus& status);
  bool wait_before_restart(milliseconds delay);
  void finish();

  void poll_once();
  void copy_output(UniqueFd& pipe, LogStream stream);
  void drain_output();
  void handle_requests();
  void handle_request(std::string_view line);
  void handle_signals();
  void begin_stop(int timeout_seconds, bool by_user);
  void start_health_check();
  void end_health_check(bool timed_out);
  void act_on_unhealthy();
  void reload_config();
  void thaw_if_paused();
  void record(std::string action, std::map<std::string, std::string> attributes = {}) const;
  void record_new_oom_kills(uint64_t oom_kills);
  int next_timeout(bool waiting, Clock::time_point restart_at) const;
  void save() const { directory_.save(state_); }

  std::string store_root_;
  ContainerConfig config_;
  ContainerState state_;
  ContainerDirectory directory_;
  std::string dir_;
  UniqueFd lock_;
  UniqueFd control_;
  std::string pending_request_;
  UniqueFd signals_;
  ContainerLogWriter log_;
  int stop_signal_;

  std::optional<Container> container_;
  // The kernel's OOM kills in the container's cgroup, recorded as they come.
  UniqueFd oom_watch_;
  uint64_t oom_kills_seen_ = 0;
  // v1 notifies before its OOM killer has counted the kill: the count is
  // read again a few times after a notification.
  std::optional<Clock::time_point> oom_recheck_at_;
  int oom_rechecks_left_ = 0;
  std::optional<PortForwarder> forwarder_;  // -p: host ports, bound anew for each start
  UniqueFd out_;
  UniqueFd err_;
  std::optional<Pipe> stdin_;  // -i without -t: its write end is never written to, nor closed
  Clock::time_point started_at_;
  RestartBackoff backoff_;

  bool stopping_ = false;
  // --health-on-failure restart: once the container has stopped, it starts
  // again whatever its restart policy says.
  bool restart_requested_ = false;
  bool stopped_for_health_ = false;  // --health-on-failure stop: its event follows the exit
  std::optional<Clock::time_point> kill_at_;

  HealthState health_;
  std::optional<HealthProbe> probe_;
  Clock::time_point next_check_;
  Clock::time_point probe_deadline_;
};

void Supervisor::adopt(const ContainerState& started) {
  ContainerState next = started;
  next.created = state_.created;
  next.supervised = true;
  next.restart_count = state_.restart_count;
  next.stopped_by_user = state_.stopped_by_user;
  next.health = config_.supervision.health.enabled() ? "starting" : "";
  state_ = std::move(next);
}

void Supervisor::start_container() {
  Pipe out = make_output_pipe();
  Pipe err = make_output_pipe();
  StartOptions options;
  options.stdout_fd = out.write_end.get();
  options.stderr_fd = err.write_end.get();
  options.terminal = config_.supervision.terminal;
  if (config_.supervision.open_stdin && !options.terminal) {
    if (!stdin_) stdin_ = make_input_pipe();
    options.stdin_fd = stdin_->read_end.get();
  }
  options.kill_with_parent = true;
  options.supervised = true;
  // Host ports first: a port in use fails the start with nothing to undo. A
  // port the kernel picked stays the container's across restarts.
  std::optional<PortForwarder> forwarder;
  if (!config_.spec.ports.empty()) {
    forwarder.emplace(PortForwarder::bind(config_.spec.ports));
    config_.spec.ports = forwarder->mappings();
  }
  container_.emplace(Container::start(store_root_, config_.spec, options));
  if (forwarder) {
    forwarder->start(container_->network_namespace());
    forwarder_ = std::move(forwarder);
  }
  if (options.terminal) {
    out_.reset(::fcntl(container_->terminal(), F_DUPFD_CLOEXEC, 3));
    ::fcntl(out_.get(), F_SETFL, O_NONBLOCK);
  } else {
    out_ = std::move(out.read_end);
    err_ = std::move(err.read_end);
  }
  started_at_ = Clock::now();
  adopt(container_->state());
  oom_watch_ = Cgroup(state_.cgroup_dirs, state_.cgroup_v2).watch_oom();
  oom_kills_seen_ = 0;
  if (config_.supervision.health.enabled()) {
    health_.restart();
    next_check_ = started_at_ + config_.supervision.health.interval;
  }
  save();
  record("start");
}

int Supervisor::run(int report_fd, bool new_container) {
  try {
    start_container();
  } catch (const Error& e) {
    if (new_container) {
      directory_.remove(state_);
      record("destroy");
    } else {
      state_.status = ContainerStatus::exited;
      state_.error = e.what();
      state_.finished = now_rfc3339();
      save();
      directory_.mark_ended(state_.id);
    }
    std::string report =
        fmt::format("{} {}", e.exit_code() == 1 ? kExitRuntimeFailure : e.exit_code(), e.what());
    [[maybe_unused]] ssize_t n = ::write(report_fd, report.data(), report.size());
    return e.exit_code();
  }
  [[maybe_unused]] ssize_t n = ::write(report_fd, kStartedReport.data(), kStartedReport.size());
  ::close(report_fd);
  give_back_memory();
  try {
    supervise_until_done();
  } catch (const Error& e) {
    // Recorded rather than lost: the container goes, ps says why.
    container_.reset();
    state_.error = fmt::format("its supervisor failed: {}", e.what());
    state_.pid = 0;
    state_.finished = now_rfc3339();
  }
  finish();
  return 0;
}

// Runs and restarts the container until its restart policy or a stop ends
// it.
void Supervisor::supervise_until_done() {
  for (;;) {
    supervise();
    ExitStatus status = container_->wait();
    drain_output();
    probe_.reset();
    container_.reset();
    forwarder_.reset();
    remove_added_cgroups(state_.cgroup_dirs);
    record_exit(status);
    record_new_oom_kills(status.stats.oom_kills);
    oom_watch_.reset();
    oom_recheck_at_.reset();
    record("die", {{"exitCode", std::to_string(status.code)}});
    auto ran_for = since(started_at_);
    const RestartPolicy& policy = config_.supervision.restart;
    if (std::exchange(stopped_for_health_, false)) record("stop", {{"healthOnFailure", "stop"}});
    bool forced = std::exchange(restart_requested_, false);
    if (forced) kill_at_.reset();  // meant for the run that has ended
    if (stopping_ ||
        (!forced && !policy.should_restart(status.code, state_.restart_count, state_.stopped_by_user)))
      return;
    if (!wait_before_restart(forced ? milliseconds(0) : backoff_.next_delay(ran_for))) return;
    state_.restart_count += 1;
    try {
      start_container();
    } catch (const Error& e) {
      state_.status = ContainerStatus::exited;
      state_.error = e.what();
      state_.exit_code = e.exit_code() == 1 ? kExitRuntimeFailure : e.exit_code();
      return;
    }
    if (forced) record("restart", {{"healthOnFailure", "restart"}});
    give_back_memory();
  }
}

// Saved by what comes next: "restarting" before a restart, "exited" in
// finish(). A file that said "exited" in between would tell `stop` that a
// container about to restart is not running.
void Supervisor::record_exit(const ExitStatus& status) {
  state_.status = ContainerStatus::exited;
  state_.pid = 0;
  state_.exit_code = status.code;
  state_.oom_killed = status.oom_killed;
  state_.stats = status.stats;
  state_.finished = now_rfc3339();
  state_.health.clear();
}

void Supervisor::finish() {
  state_.status = ContainerStatus::exited;
  state_.owner_pid = 0;
  if (state_.auto_remove) {
    directory_.remove(state_);
    record("destroy");
    return;
  }
  save();
  directory_.mark_ended(state_.id);
}

// ---- The loop ---------------------------------------------------------------

void Supervisor::supervise() {
  while (container_) {
    pollfd exited{container_->pidfd(), POLLIN, 0};
    if (::poll(&exited, 1, 0) == 1) return;
    poll_once();
  }
}

int Supervisor::next_timeout(bool waiting, Clock::time_point restart_at) const {
  int timeout = waiting ? timeout_until(restart_at) : -1;
  auto earlier = [&timeout](int t) { timeout = timeout < 0 ? t : std::min(timeout, t); };
  if (kill_at_) earlier(timeout_until(*kill_at_));
  if (oom_recheck_at_) earlier(timeout_until(*oom_recheck_at_));
  if (probe_) earlier(timeout_until(probe_deadline_));
  if (!probe_ && !waiting && config_.supervision.health.enabled()) earlier(timeout_until(next_check_));
  return timeout;
}

// One round of the loop: the container's exit, its output, requests,
// signals, the health check and the timers.
void Supervisor::poll_once() {
  constexpr size_t kFixed = 6;
  pollfd fds[kFixed + 3] = {
      {container_->pidfd(), POLLIN, 0},    {out_ ? out_.get() : -1, POLLIN, 0},
      {err_ ? err_.get() : -1, POLLIN, 0}, {control_.get(), POLLIN, 0},
      {signals_.get(), POLLIN, 0},         {oom_watch_ ? oom_watch_.get() : -1, POLLIN, 0}};
  int probe_fds[3];
  short probe_events[3];
  size_t probe_count = probe_ ? probe_->poll_fds(probe_fds, probe_events) : 0;
  for (size_t i = 0; i < probe_count; ++i) fds[kFixed + i] = {probe_fds[i], probe_events[i], 0};
  int n = ::poll(fds, kFixed + probe_count, next_timeout(false, {}));
  if (n < 0 && errno != EINTR) fail_errno("cannot watch the container");
  if (n > 0) {
    if (fds[1].revents) copy_output(out_, LogStream::out);
    if (fds[2].revents) copy_output(err_, LogStream::err);
    if (fds[3].revents & POLLIN) handle_requests();
    if (fds[4].revents & POLLIN) handle_signals();
    if (fds[5].revents & POLLIN) {
      Cgroup::drain_oom_watch(oom_watch_.get());
      oom_recheck_at_ = Clock::now();
      oom_rechecks_left_ = 5;
    }
    bool probe_ready = false;
    for (size_t i = 0; i < probe_count; ++i) probe_ready = probe_ready || fds[kFixed + i].revents;
    if (probe_ && probe_ready && probe_->step()) end_health_check(false);
  }
  auto now = Clock::now();
  if (oom_recheck_at_ && now >= *oom_recheck_at_) {
    uint64_t seen = oom_kills_seen_;
    record_new_oom_kills(Cgroup(state_.cgroup_dirs, state_.cgroup_v2).stats().oom_kills);
    oom_recheck_at_.reset();
    if (seen == oom_kills_seen_ && --oom_rechecks_left_ > 0) oom_recheck_at_ = now + milliseconds(20);
  }
  if (kill_at_ && now >= *kill_at_ && container_) {
    record("kill", {{"signal", std::to_string(SIGKILL)}});
    container_->signal(SIGKILL);
    kill_at_.reset();
  }
  if (probe_ && now >= probe_deadline_) end_health_check(true);
  if (!probe_ && container_ && config_.supervision.health.enabled() && now >= next_check_) {
    // A paused container is not checked, as Docker's health monitor does.
    if (container_cgroup_frozen(state_.cgroup_dirs))
      next_check_ = now + config_.supervision.health.interval;
    else
      start_health_check();
  }
}

void Supervisor::copy_output(UniqueFd& pipe, LogStream stream) {
  static char buffer[8192];
  ssize_t n = ::read(pipe.get(), buffer, sizeof buffer);
  if (n > 0) {
    log_.write(stream, std::string_view(buffer, static_cast<size_t>(n)));
  } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    pipe.reset();
  }
}

// Once the container is gone (and its cgroup with every process that held
// its output), what is left in the pipes ends with EOF.
void Supervisor::drain_output() {
  for (int round = 0; round < 4096 && (out_ || err_); ++round) {
    if (out_) copy_output(out_, LogStream::out);
    if (err_) copy_output(err_, LogStream::err);
  }
  out_.reset();
  err_.reset();
}

// Requests are single lines, each written whole (shorter than PIPE_BUF);
// one read may end inside a line, whose start waits for the next.
void Supervisor::handle_requests() {
  char buffer[512];
  ssize_t n;
  while ((n = ::read(control_.get(), buffer, sizeof buffer)) > 0) {
    pending_request_.append(buffer, static_cast<size_t>(n));
    size_t end;
    while ((end = pending_request_.find('\n')) != std::string::npos) {
      handle_request(pending_request_.substr(0, end));
      pending_request_.erase(0, end + 1);
    }
  }
}

void Supervisor::handle_request(std::string_view line) {
  auto words = split(line, ' ');
  int64_t value = 0;
  if (words.size() != 2 || !parse_int(words[1], 0, 1000000000, value)) return;
  if (words[0] == "stop") {
    begin_stop(static_cast<int>(value), true);
  } else if (words[0] == "kill") {
    int sig = static_cast<int>(value);
    if (sig == SIGKILL || sig == stop_signal_) {
      state_.stopped_by_user = true;
      stopping_ = true;
      save();
    }
    if (container_) {
      record("kill", {{"signal", std::to_string(sig)}});
      container_->signal(sig);
    }
    thaw_if_paused();
  } else if (words[0] == "reload") {
    reload_config();
  }
}

void Supervisor::handle_signals() {
  signalfd_siginfo info{};
  while (::read(signals_.get(), &info, sizeof info) == sizeof info) {
    begin_stop(config_.supervision.stop_timeout, false);
  }
}

// A stop by the user (stop, rm -f) keeps an unless-stopped container down at
// boot; one by a signal to the supervisor (a shutdown) does not.
void Supervisor::begin_stop(int timeout_seconds, bool by_user) {
  if (by_user && !state_.stopped_by_user) {
    state_.stopped_by_user = true;
    save();
  }
  auto kill_at = Clock::now() + std::chrono::seconds(timeout_seconds);
  if (!stopping_ && container_ && timeout_seconds > 0) {
    record("kill", {{"signal", std::to_string(stop_signal_)}});
    container_->signal(stop_signal_);
  }
  stopping_ = true;
  if (!kill_at_ || kill_at < *kill_at_) kill_at_ = kill_at;
  if (timeout_seconds == 0 && container_) {
    record("kill", {{"signal", std::to_string(SIGKILL)}});
    container_->signal(SIGKILL);
    kill_at_.reset();
  }
  thaw_if_paused();
}

// A frozen process takes its signal once thawed: a paused container that is
// stopped or killed is resumed after the signal, as Docker does.
void Supervisor::thaw_if_paused() {
  if (!container_ || !container_cgroup_frozen(state_.cgroup_dirs)) return;
  try {
    thaw_container_cgroup(state_.cgroup_dirs);
  } catch (const Error&) {
    // Gone meanwhile: its exit is what comes next.
  }
}

// What rename and update changed in config.json: the name, the limits the
// next start applies (update has written the running cgroup itself) and the
// restart policy. The rest is as the container was created.
void Supervisor::reload_config() {
  std::optional<ContainerConfig> changed;
  try {
    changed = read_container_config(dir_);
  } catch (const Error&) {
    return;
  }
  if (!changed) return;
  config_.spec.name = changed->spec.name;
  config_.spec.limits = changed->spec.limits;
  config_.supervision.restart = changed->supervision.restart;
  if (state_.name != changed->spec.name) {
    state_.name = changed->spec.name;
    save();
  }
}

void Supervisor::record(std::string action, std::map<std::string, std::string> attributes) const {
  record_container_event(store_root_, state_, std::move(action), attributes);
}

// One oom event for each kill the kernel counted since the last look, as
// Docker's daemon records one for each notification.
void Supervisor::record_new_oom_kills(uint64_t oom_kills) {
  for (; oom_kills_seen_ < oom_kills; ++oom_kills_seen_) record("oom");
}

bool Supervisor::wait_before_restart(milliseconds delay) {
  state_.status = ContainerStatus::restarting;
  save();
  auto restart_at = Clock::now() + delay;
  while (Clock::now() < restart_at && !stopping_) {
    pollfd fds[2] = {{control_.get(), POLLIN, 0}, {signals_.get(), POLLIN, 0}};
    int n = ::poll(fds, 2, next_timeout(true, restart_at));
    if (n < 0 && errno != EINTR) fail_errno("cannot wait to restart the container");
    if (n > 0 && (fds[0].revents & POLLIN)) handle_requests();
    if (n > 0 && (fds[1].revents & POLLIN)) handle_signals();
  }
  return !stopping_;
}

// ---- Health -------------------------------------------------------------------

void Supervisor::start_health_check() {
  const HealthCheck& check = config_.supervision.health;
  if (check.http_port) {
    probe_.emplace(HealthProbe::start_http(container_->pidfd(), check.http_port, check.http_path));
  } else {
    probe_.emplace(HealthProbe::start_command(store_root_, state_, check.command));
  }
  probe_deadline_ = Clock::now() + check.timeout;
  if (probe_->step()) end_health_check(false);
}

void Supervisor::end_health_check(bool timed_out) {
  const HealthCheck& check = config_.supervision.health;
  HealthResult result = probe_->finish(timed_out ? check.timeout : milliseconds(0));
  probe_.reset();
  next_check_ = Clock::now() + check.interval;
  // A check the container's pause held up says nothing of its health.
  if (container_cgroup_frozen(state_.cgroup_dirs)) return;
  bool changed = health_.record(std::move(result), since(started_at_), check);
  write_health_json(dir_, health_);
  if (changed) {
    state_.health = std::string(health_.status());
    save();
    record("health_status: " + state_.health);
    if (state_.health == "unhealthy") act_on_unhealthy();
  }
  ::malloc_trim(0);
}

void Supervisor::act_on_unhealthy() {
  HealthOnFailure action = config_.supervision.health_on_failure;
  if (action == HealthOnFailure::none || !container_ || stopping_) return;
  std::map<std::string, std::string> why = {{"healthOnFailure", std::string(health_on_failure_name(action))}};
  switch (action) {
    case HealthOnFailure::kill:
      why["signal"] = std::to_string(SIGKILL);
      record("kill", why);
      container_->signal(SIGKILL);
      break;
    case HealthOnFailure::stop:
      stopped_for_health_ = true;
      begin_stop(config_.supervision.stop_timeout, true);
      break;
    case HealthOnFailure::restart:
      // The stop signal, then SIGKILL after the stop timeout; the restart
      // event follows the new start.
      if (restart_requested_) return;
      restart_requested_ = true;
      container_->signal(stop_signal_);
      kill_at_ = Clock::now() + std::chrono::seconds(config_.supervision.stop_timeout);
      break;
    case HealthOnFailure::none:
      break;
  }
}

// ---- Creating and starting ----------------------------------------------------

// The lock on a container's directory; empty when an owner keeps it longer
// than `patience` (another gocrate's remove_stale holds it a moment, or
// cleans a dead container up for up to a second).
UniqueFd lock_directory(const std::string& dir, std::chrono::milliseconds patience) {
  UniqueFd fd = open_or_fail(dir, O_RDONLY | O_DIRECTORY);
  auto deadline = Clock::now() + patience;
  while (!try_lock_file(fd.get(), LockMode::exclusive, dir)) {
    if (Clock::now() > deadline) return {};
    ::usleep(5000);
  }
  return fd;
}

// What the supervisor reported about the first start: nothing on success.
void rethrow_start_report(int fd, const std::string& name) {
  std::string text;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  if (text == kStartedReport) return;
  if (text.empty()) fail("the supervisor of container {} ended before it started the container", name);
  size_t space = text.find(' ');
  int code = std::atoi(text.substr(0, space).c_str());
  throw Error(space == std::string::npos ? text : text.substr(space + 1), code ? code : kExitRuntimeFailure);
}

[[noreturn]] void become_supervisor(const std::string& store_root, const ContainerConfig& config,
                                    ContainerState state, UniqueFd lock, UniqueFd control, UniqueFd report,
                                    bool new_container) {
  int code = kExitRuntimeFailure;
  ContainerState initial = state;
  try {
    detach_from_command_line({lock.get(), control.get(), report.get()});
    give_back_memory();
    state.owner_pid = ::getpid();
    ContainerDirectory(store_root).save(state);
    Supervisor supervisor(store_root, config, std::move(state), std::move(lock), std::move(control));
    code = supervisor.run(report.release(), new_container);
  } catch (const std::exception& e) {
    if (report) {
      if (new_container) ContainerDirectory(store_root).remove(initial);
      std::string text = fmt::format("{} {}", kExitRuntimeFailure, e.what());
      [[maybe_unused]] ssize_t n = ::write(report.get(), text.data(), text.size());
    }
  }
  ::_exit(code);
}

// Forks the supervisor of a container whose directory `lock` holds, and
// waits until it has started the container.
void launch_supervisor(const std::string& store_root, const ContainerConfig& config, ContainerState state,
                       UniqueFd lock, bool new_container) {
  std::string dir = ContainerDirectory(store_root).dir_of(state.id);
  UniqueFd control = open_or_fail(control_fifo_path(dir), O_RDWR | O_NONBLOCK);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail_errno("cannot create a pipe to the supervisor");
  UniqueFd report_read(fds[0]), report_write(fds[1]);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) fail_errno("cannot start the container's supervisor");
  if (pid == 0) {
    report_read.reset();
    become_supervisor(store_root, config, std::move(state), std::move(lock), std::move(control),
                      std::move(report_write), new_container);
  }
  // The supervisor holds the lock now: the same open file, shared by fork.
  report_write.reset();
  lock.reset();
  control.reset();
  try {
    rethrow_start_report(report_read.get(), state.name);
  } catch (const Error&) {
    // A supervisor that died before it could clean up leaves a new
    // container's directory behind; once its lock is free, nothing owns it.
    if (new_container && wait_until_released(dir, std::chrono::seconds(5)) && path_exists(dir)) {
      ContainerDirectory(store_root).remove(state);
    }
    throw;
  }
}

void make_control_fifo(const std::string& dir) {
  std::string path = control_fifo_path(dir);
  if (::mkfifo(path.c_str(), 0600) != 0 && errno != EEXIST) fail_errno(fmt::format("cannot create {}", path));
}

// Claims the container's directory and name and writes config.json and its
// first state; returns the lock on the directory.
UniqueFd make_detached_container(const std::string& store_root, ContainerConfig& config,
                                 ContainerState& state) {
  ContainerSpec& spec = config.spec;
  if (spec.args.empty())
    fail("image {} has no entrypoint or command: give one with --entrypoint or as arguments", spec.image);
  if (spec.id.empty()) spec.id = new_container_id();
  if (spec.name.empty()) spec.name = spec.id.substr(0, 12);
  check_container_name(spec.name);
  if (spec.hostname.empty()) spec.hostname = spec.name;

  ContainerDirectory directory(store_root);
  directory.ensure_exists();
  state = state_of(spec);
  state.supervised = true;
  directory.create(state);
  std::string dir = directory.dir_of(spec.id);
  UniqueFd lock;
  try {
    lock = lock_directory(dir, std::chrono::seconds(5));
    if (!lock) fail("cannot lock {}: another gocrate holds it", dir);
    write_file_replace(container_config_path(dir), config.to_json_text(), 0600);
    make_control_fifo(dir);
    directory.save(state);
  } catch (const Error&) {
    directory.remove(state);
    throw;
  }
  record_container_event(store_root, state, "create");
  return lock;
}

}  // namespace

std::string run_detached(const std::string& store_root, ContainerConfig config) {
  ContainerState state;
  UniqueFd lock = make_detached_container(store_root, config, state);
  launch_supervisor(store_root, config, std::move(state), std::move(lock), true);
  return config.spec.id;
}

std::string create_detached(const std::string& store_root, ContainerConfig config) {
  ContainerState state;
  UniqueFd lock = make_detached_container(store_root, config, state);
  // Nothing owns it until `start`: an ended container to remove_stale.
  ContainerDirectory(store_root).mark_ended(state.id);
  return config.spec.id;
}

void start_detached(const std::string& store_root, const std::string& id) {
  ContainerDirectory directory(store_root);
  std::string dir = directory.dir_of(id);
  auto state = directory.find(id);
  if (!state) fail("no container {}: see `gocrate ps -a`", id);
  auto config = read_container_config(dir);
  if (!config) {
    fail(
        "container {} was run in the foreground and cannot be started again: run a new one (run -d makes one "
        "that can)",
        state->name);
  }
  UniqueFd lock = lock_directory(dir, std::chrono::seconds(2));
  if (!lock) fail("container {} is already running", state->name);
  // What a killed supervisor's container left: its cgroup.
  if (!state->cgroup_dirs.empty()) {
    remove_added_cgroups(state->cgroup_dirs);
    Cgroup(state->cgroup_dirs, state->cgroup_v2).remove();
  }
  ::unlink((dir + "/ended").c_str());
  state->status = ContainerStatus::created;
  state->restart_count = 0;
  state->stopped_by_user = false;
  state->error.clear();
  make_control_fifo(dir);
  directory.save(*state);
  launch_supervisor(store_root, *config, std::move(*state), std::move(lock), false);
}

}  // namespace gocrate
