#pragma once

#include <map>
#include <string>

#include "runtime/state.h"
#include "store/events.h"

namespace gocrate {

// Records `action` on the container in the store's events journal with
// Docker's attributes: its labels, name and image, then `extra` (exitCode,
// signal, ...).
void record_container_event(const std::string& store_root, const ContainerState& state, std::string action,
                            const std::map<std::string, std::string>& extra = {});

}  // namespace gocrate
