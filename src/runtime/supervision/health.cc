#include "runtime/supervision/health.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "runtime/supervision/container_log.h"
#include "util/error.h"
#include "util/strings.h"

namespace gocrate {

using nlohmann::json;
using std::chrono::milliseconds;

namespace {

bool parse_unit(std::string_view unit, double& ms_per_unit) {
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"ns", 1e-6}, {"us", 1e-3}, {"µs", 1e-3}, {"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}};
  for (auto [name, value] : kUnits) {
    if (unit == name) {
      ms_per_unit = value;
      return true;
    }
  }
  return false;
}

}  // namespace

milliseconds parse_duration(std::string_view text, std::string_view flag) {
  auto bad = [&] { fail("invalid {} \"{}\": use a duration such as 30s, 1m30s or 500ms", flag, text); };
  if (text == "0") return milliseconds(0);
  double total = 0;
  std::string_view rest = text;
  if (rest.empty()) bad();
  while (!rest.empty()) {
    size_t number_end = rest.find_first_not_of("0123456789.");
    if (number_end == 0 || number_end == std::string_view::npos) bad();
    size_t unit_end = rest.find_first_of("0123456789.", number_end);
    std::string number(rest.substr(0, number_end));
    std::string_view unit = rest.substr(number_end, unit_end - number_end);
    double per_unit = 0;
    char* end = nullptr;
    double value = std::strtod(number.c_str(), &end);
    if (*end != '\0' || !parse_unit(unit, per_unit)) bad();
    total += value * per_unit;
    rest = unit_end == std::string_view::npos ? std::string_view() : rest.substr(unit_end);
  }
  return milliseconds(static_cast<int64_t>(total));
}

std::vector<std::string> split_command_line(std::string_view text, std::string_view flag) {
  if (trim(text).starts_with('[')) {
    try {
      auto words = json::parse(text).get<std::vector<std::string>>();
      if (words.empty()) fail("invalid {} \"{}\": the command is empty", flag, text);
      return words;
    } catch (const json::exception&) {
      fail("invalid {} \"{}\": a command that starts with [ must be a JSON array of strings", flag, text);
    }
  }
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < text.size()) {
        word += text[++i];
      } else {
        word += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote) fail("invalid {} \"{}\": a quote is not closed", flag, text);
  if (in_word) words.push_back(std::move(word));
  if (words.empty()) fail("invalid {} \"{}\": the command is empty", flag, text);
  return words;
}

HealthOnFailure parse_health_on_failure(std::string_view text) {
  for (auto action :
       {HealthOnFailure::none, HealthOnFailure::kill, HealthOnFailure::restart, HealthOnFailure::stop}) {
    if (health_on_failure_name(action) == text) return action;
  }
  fail("invalid --health-on-failure \"{}\": use none, kill, restart or stop", text);
}

std::string_view health_on_failure_name(HealthOnFailure action) {
  switch (action) {
    case HealthOnFailure::none:
      return "none";
    case HealthOnFailure::kill:
      return "kill";
    case HealthOnFailure::restart:
      return "restart";
    case HealthOnFailure::stop:
      return "stop";
  }
  return "none";
}

std::vector<std::string> HealthCheck::test() const {
  if (http_port) return {"HTTP", fmt::format("{}{}", http_port, http_path)};
  std::vector<std::string> test = {"CMD"};
  test.insert(test.end(), command.begin(), command.end());
  return test;
}

namespace {

void parse_http_target(const std::string& text, HealthCheck& check) {
  size_t slash = text.find('/');
  int64_t port = 0;
  if (!parse_int(std::string_view(text).substr(0, slash), 1, 65535, port)) {
    fail("invalid --health-http \"{}\": use PORT/PATH, such as 8080/healthz", text);
  }
  check.http_port = static_cast<uint16_t>(port);
  check.http_path = slash == std::string::npos ? "/" : text.substr(slash);
  for (char c : check.http_path) {
    if (c <= ' ' || c == 0x7f)
      fail("invalid --health-http \"{}\": the path has a space or control character", text);
  }
}

}  // namespace

HealthCheck parse_health_check(const HealthFlags& flags) {
  HealthCheck check;
  if (!flags.command.empty() && !flags.http.empty()) {
    fail("--health-cmd and --health-http cannot be combined: give one check");
  }
  if (!flags.command.empty()) check.command = split_command_line(flags.command, "--health-cmd");
  if (!flags.http.empty()) parse_http_target(flags.http, check);
  auto timing = [&](const std::string& value, std::string_view flag, milliseconds& out, bool may_be_zero) {
    if (value.empty()) return;
    if (!check.enabled()) fail("{} needs a check: give --health-cmd or --health-http", flag);
    out = parse_duration(value, flag);
    if (out.count() < 0 || (!may_be_zero && out.count() < 1)) {
      fail("invalid {} \"{}\": use a duration of at least 1ms", flag, value);
    }
  };
  timing(flags.interval, "--health-interval", check.interval, false);
  timing(flags.timeout, "--health-timeout", check.timeout, false);
  timing(flags.start_period, "--health-start-period", check.start_period, true);
  if (flags.retries) {
    if (!check.enabled()) fail("--health-retries needs a check: give --health-cmd or --health-http");
    if (*flags.retries < 1 || *flags.retries > 1000000) {
      fail("invalid --health-retries {}: use a number of failures from 1 up", *flags.retries);
    }
    check.retries = static_cast<int>(*flags.retries);
  }
  return check;
}

// ---- State -----------------------------------------------------------------

void HealthState::restart() {
  status_ = "starting";
  failing_streak_ = 0;
}

bool HealthState::record(HealthResult result, milliseconds since_start, const HealthCheck& check) {
  std::string_view before = status_;
  if (result.output.size() > kOutputLimit) result.output.resize(kOutputLimit);
  if (result.exit_code == 0) {
    failing_streak_ = 0;
    status_ = "healthy";
  } else if (status_ != "starting" || since_start >= check.start_period) {
    if (++failing_streak_ >= check.retries) status_ = "unhealthy";
  }
  log_.push_back(std::move(result));
  while (log_.size() > kLogEntries) log_.pop_front();
  return status_ != before;
}

std::string HealthState::to_json_text() const {
  json log = json::array();
  for (const auto& r : log_) {
    log.push_back({{"Start", r.start}, {"End", r.end}, {"ExitCode", r.exit_code}, {"Output", r.output}});
  }
  return json{{"Status", status_}, {"FailingStreak", failing_streak_}, {"Log", log}}.dump() + "\n";
}

std::string read_health_json(const std::string& container_dir) {
  return read_file_if_exists(container_dir + "/health.json").value_or("");
}

void write_health_json(const std::string& container_dir, const HealthState& state) {
  write_file_replace(container_dir + "/health.json", state.to_json_text(), 0600);
}

std::string health_timestamp() {
  char time[40];
  return std::string(time, format_log_time(time));
}

// ---- Probes ----------------------------------------------------------------

namespace {

UniqueFd make_pipe_for_output(UniqueFd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) fail_errno("cannot create a pipe for the health check");
  write_end.reset(fds[1]);
  return UniqueFd(fds[0]);
}

// A socket in the network namespace of the process behind `pidfd`.
UniqueFd socket_in_network_of(int pidfd) {
  UniqueFd own = open_or_fail("/proc/thread-self/ns/net", O_RDONLY);
  if (::setns(pidfd, CLONE_NEWNET) != 0) fail_errno("cannot enter the container's network namespace");
  UniqueFd sock(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int err = errno;
  if (::setns(own.get(), CLONE_NEWNET) != 0) fail_errno("cannot return to the host's network namespace");
  if (!sock) fail_errno("cannot open a socket in the container", err);
  return sock;
}

}  // namespace

HealthProbe HealthProbe::start_command(const std::string& store_root, const ContainerState& container,
                                       const std::vector<std::string>& command) {
  HealthProbe probe;
  probe.start_ = health_timestamp();
  UniqueFd write_end;
  probe.output_ = make_pipe_for_output(write_end);
  ExecSpec spec{command, container.env, container.user, container.workdir};
  ExecIo io{-1, write_end.get(), write_end.get(), false, {}};
  try {
    probe.process_.emplace(ExecProcess::start(store_root, container, spec, io));
  } catch (const Error& e) {
    probe.output_text_ = e.what();
    probe.exit_code_ = -1;
    probe.done_ = true;
    probe.output_.reset();
  }
  return probe;
}

HealthProbe HealthProbe::start_http(int container_pidfd, uint16_t port, const std::string& path) {
  HealthProbe probe;
  probe.start_ = health_timestamp();
  probe.request_ = fmt::format(
      "GET {} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nUser-Agent: gocrate-health\r\nConnection: close\r\n\r\n",
      path, port);
  try {
    probe.socket_ = socket_in_network_of(container_pidfd);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(probe.socket_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 &&
        errno != EINPROGRESS) {
      fail_errno(fmt::format("cannot connect to 127.0.0.1:{} in the container", port));
    }
  } catch (const Error& e) {
    probe.output_text_ = e.what();
    probe.exit_code_ = 1;
    probe.done_ = true;
    probe.socket_.reset();
  }
  return probe;
}

size_t HealthProbe::poll_fds(int* fds, short* events) const {
  size_t n = 0;
  if (done_) return 0;
  if (socket_) {
    fds[n] = socket_.get();
    events[n++] = sent_ < request_.size() ? POLLOUT : POLLIN;
  }
  if (output_) {
    fds[n] = output_.get();
    events[n++] = POLLIN;
  }
  if (process_) {
    fds[n] = process_->pidfd();
    events[n++] = POLLIN;
  }
  return n;
}

void HealthProbe::read_output(int fd) {
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) output_.reset();
    if (n <= 0) return;
    size_t room = HealthState::kOutputLimit - std::min(output_text_.size(), HealthState::kOutputLimit);
    output_text_.append(buffer, std::min<size_t>(room, static_cast<size_t>(n)));
  }
}

void HealthProbe::advance_http() {
  int fd = socket_.get();
  if (sent_ < request_.size()) {
    int err = 0;
    socklen_t size = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &size);
    ssize_t n = err ? -1 : ::send(fd, request_.data() + sent_, request_.size() - sent_, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR) && !err) return;
    if (n < 0) {
      output_text_ = fmt::format("cannot connect: {}", errno_text(err ? err : errno));
      exit_code_ = 1;
      done_ = true;
      return;
    }
    sent_ += static_cast<size_t>(n);
    return;
  }
  char buffer[1024];
  ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n > 0) output_text_.append(buffer, static_cast<size_t>(n));
  size_t line_end = output_text_.find("\r\n");
  if (line_end == std::string::npos && n > 0 && output_text_.size() < 1024) return;
  std::string status_line = output_text_.substr(0, std::min(line_end, output_text_.size()));
  int code = 0;
  if (status_line.starts_with("HTTP/") && status_line.size() >= 12) code = std::atoi(status_line.c_str() + 9);
  output_text_ = status_line.empty() ? "the connection closed without a response" : status_line;
  exit_code_ = code >= 200 && code < 400 ? 0 : 1;
  done_ = true;
}

bool HealthProbe::step() {
  if (done_) return true;
  if (socket_) {
    advance_http();
    if (done_) socket_.reset();
    return done_;
  }
  if (output_) read_output(output_.get());
  pollfd exited{process_->pidfd(), POLLIN, 0};
  if (::poll(&exited, 1, 0) == 1) {
    if (output_) read_output(output_.get());
    exit_code_ = process_->wait();
    process_.reset();
    output_.reset();
    done_ = true;
  }
  return done_;
}

HealthResult HealthProbe::finish(milliseconds timeout) {
  if (!done_) {
    if (process_) {
      process_->signal(SIGKILL);
      process_->wait();
      process_.reset();
    }
    output_text_ = fmt::format("the health check took longer than {} ms", timeout.count());
    exit_code_ = -1;
    socket_.reset();
    output_.reset();
  }
  return {start_, health_timestamp(), exit_code_, std::move(output_text_)};
}

}  // namespace gocrate
