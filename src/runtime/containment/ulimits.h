#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gocrate {

// --ulimit NAME=SOFT[:HARD] with Docker's names (core, cpu, data, fsize,
// locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime,
// sigpending, stack); -1 is unlimited. Set in the container's processes
// (its first one and exec's) before they execute their program.
struct Ulimit {
  std::string name;
  int resource = 0;
  uint64_t soft = 0;  // RLIM_INFINITY for unlimited
  uint64_t hard = 0;

  std::string str() const;  // "nofile=1024:2048", as parse_ulimit reads it
};

Ulimit parse_ulimit(std::string_view text);
// Refuses, naming the limit and the most this host allows, a limit this
// process cannot give: above its own hard limit without CAP_SYS_RESOURCE,
// and nofile above fs.nr_open.
void check_ulimits(const std::vector<Ulimit>& limits);
// setrlimit for each (raw system calls: safe in a clone of gocrate).
void apply_ulimits(const std::vector<Ulimit>& limits);

}  // namespace gocrate
