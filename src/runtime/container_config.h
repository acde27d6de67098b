#pragma once

#include <string>
#include <vector>

#include "runtime/container.h"
#include "runtime/supervision/container_log.h"
#include "runtime/supervision/health.h"
#include "runtime/supervision/restart_policy.h"

namespace gocrate {

// What the supervisor of a detached container does besides running it.
struct SupervisorOptions {
  RestartPolicy restart;
  HealthCheck health;
  HealthOnFailure health_on_failure = HealthOnFailure::none;
  LogOptions log;
  int stop_timeout = 10;  // seconds from the stop signal to SIGKILL (--stop-timeout)
  // -t: the container's streams are a terminal whose output the supervisor
  // logs. -i: its standard input stays open (a pipe nobody writes to, or the
  // terminal), so that a shell waits instead of ending (`run -dit`).
  bool terminal = false;
  bool open_stdin = false;
};

// How a detached container was created: <dir>/config.json, written once
// when it is created; what `start` starts again and `inspect` shows as
// Config and HostConfig.
struct ContainerConfig {
  ContainerSpec spec;
  SupervisorOptions supervision;

  std::string to_json_text() const;
  static ContainerConfig parse(const std::string& text, const std::string& what);
};

std::string container_config_path(const std::string& container_dir);
// nullopt for a container without config.json (one run in the foreground).
std::optional<ContainerConfig> read_container_config(const std::string& container_dir);

}  // namespace gocrate
