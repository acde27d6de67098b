#include "runtime/container_events.h"

namespace gocrate {

void record_container_event(const std::string& store_root, const ContainerState& state, std::string action,
                            const std::map<std::string, std::string>& extra) {
  Event event;
  event.type = EventType::container;
  event.action = std::move(action);
  event.id = state.id;
  event.attributes = state.labels;
  event.attributes["name"] = state.name;
  event.attributes["image"] = state.image;
  for (const auto& [key, value] : extra) event.attributes[key] = value;
  record_event(store_root, std::move(event));
}

}  // namespace gocrate
