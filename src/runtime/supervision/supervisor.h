#pragma once

#include <string>

#include "runtime/container_config.h"

namespace gocrate {

// Detached containers (`run -d`), each owned by a small supervisor of its
// own, as conmon owns a podman container. The supervisor is a fork of the
// gocrate that created it, detached (a new session, standard streams on
// /dev/null, every other descriptor closed) and made lean (the stack and
// heap pages the command line used are given back): one thread, one poll
// loop over pidfds, pipes, a FIFO and a signalfd, no timers but the poll
// timeout. It holds the lock on the container's directory for its whole life
// and
//   - starts the container, restarting it by its --restart policy with
//     Docker's backoff (100 ms doubling, reset after 10 s of running);
//   - writes its stdout and stderr to a size-capped, rotated log
//     (runtime/supervision/container_log.h);
//   - runs its health check (runtime/supervision/health.h);
//   - records every change in state.json (and health.json);
//   - takes requests from `stop` and `kill` through <dir>/control
//     (runtime/supervision/container_control.h), and stops the container on SIGTERM,
//     SIGINT or SIGHUP;
//   - once the container has ended for good: marks it ended (or removes it,
//     --rm) and exits.
// The container dies with its supervisor (the parent-death signal), so it is
// never left running unsupervised; ps then reports it dead ("supervisor
// gone"), Container::remove_stale or `rm` clean up, `start` brings it back.

// Creates a detached container: claims its directory and name, writes
// config.json and its first state, forks its supervisor, and returns its id
// once the container's program was executed, or throws the failure with the
// exit code `run` gives, having removed everything.
std::string run_detached(const std::string& store_root, ContainerConfig config);

// Creates a detached container without starting it (gocrate create): as
// run_detached, but its state stays "created" with no supervisor until
// start_detached starts it.
std::string create_detached(const std::string& store_root, ContainerConfig config);

// Starts a detached container that is not running again (gocrate start):
// same id, name and upper layer, a new supervisor; the restart count starts
// over. Throws when it runs, or when it was never detached.
void start_detached(const std::string& store_root, const std::string& id);

}  // namespace gocrate
