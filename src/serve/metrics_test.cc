#include "serve/metrics.h"

#include <gtest/gtest.h>

#include "util/strings.h"

namespace gocrate {
namespace {

ContainerSample running_container() {
  ContainerSample c;
  c.view.owned = true;
  c.view.state.id = std::string(64, 'a');
  c.view.state.name = "web";
  c.view.state.image = "hello:latest";
  c.view.state.status = ContainerStatus::running;
  c.view.state.restart_count = 2;
  c.view.state.health = "healthy";
  c.state = "running";
  c.measured = true;
  c.cgroup.cpu_usage_ns = 1'500'000'000;
  c.cgroup.pids = 3;
  c.cgroup.oom_kills = 1;
  c.memory = {.usage = 4096, .working_set = 3072, .rss = 2048, .cache = 1024};
  c.memory_limit = 64 << 20;
  c.start_time = 1700000000;
  c.network.push_back({.name = "eth0", .receive_bytes = 10, .transmit_bytes = 20});
  return c;
}

std::vector<std::string> lines_starting(const std::string& text, std::string_view prefix) {
  std::vector<std::string> out;
  for (const auto& line : split(text, '\n')) {
    if (line.starts_with(prefix)) out.push_back(line);
  }
  return out;
}

TEST(Metrics, CadvisorNamesAndLabelsForARunningContainer) {
  std::string text = prometheus_text({running_container()}, {}, {}, 1700000100500);
  std::string labels = "id=\"/gocrate/" + std::string(64, 'a') + "\",image=\"hello:latest\",name=\"web\"";
  EXPECT_EQ(lines_starting(text, "container_cpu_usage_seconds_total{"),
            std::vector<std::string>{"container_cpu_usage_seconds_total{" + labels + ",cpu=\"total\"} 1.5"});
  EXPECT_EQ(lines_starting(text, "container_memory_working_set_bytes{"),
            std::vector<std::string>{"container_memory_working_set_bytes{" + labels + "} 3072"});
  EXPECT_EQ(lines_starting(text, "container_memory_rss{"),
            std::vector<std::string>{"container_memory_rss{" + labels + "} 2048"});
  EXPECT_EQ(lines_starting(text, "container_spec_memory_limit_bytes{"),
            std::vector<std::string>{"container_spec_memory_limit_bytes{" + labels + "} 67108864"});
  EXPECT_EQ(lines_starting(text, "container_processes{"),
            std::vector<std::string>{"container_processes{" + labels + "} 3"});
  EXPECT_EQ(lines_starting(text, "container_start_time_seconds{"),
            std::vector<std::string>{"container_start_time_seconds{" + labels + "} 1700000000"});
  EXPECT_EQ(lines_starting(text, "container_last_seen{"),
            std::vector<std::string>{"container_last_seen{" + labels + "} 1700000100.5"});
  EXPECT_EQ(lines_starting(text, "container_oom_events_total{"),
            std::vector<std::string>{"container_oom_events_total{" + labels + "} 1"});
  EXPECT_EQ(lines_starting(text, "container_network_receive_bytes_total{"),
            std::vector<std::string>{"container_network_receive_bytes_total{" + labels +
                                     ",interface=\"eth0\"} 10"});
  EXPECT_EQ(lines_starting(text, "container_network_transmit_bytes_total{"),
            std::vector<std::string>{"container_network_transmit_bytes_total{" + labels +
                                     ",interface=\"eth0\"} 20"});
  EXPECT_EQ(lines_starting(text, "gocrate_container_restarts_total{"),
            std::vector<std::string>{"gocrate_container_restarts_total{" + labels + "} 2"});
  EXPECT_EQ(lines_starting(text, "gocrate_container_health{"),
            std::vector<std::string>{"gocrate_container_health{" + labels + "} 1"});
  EXPECT_EQ(lines_starting(text, "gocrate_container_state{" + labels + ",state=\"running\"}"),
            std::vector<std::string>{"gocrate_container_state{" + labels + ",state=\"running\"} 1"});
  EXPECT_EQ(lines_starting(text, "gocrate_container_state{").size(), 6u);
  // Each family once, its HELP and TYPE before its samples.
  EXPECT_EQ(lines_starting(text, "# TYPE container_cpu_usage_seconds_total counter").size(), 1u);
  EXPECT_LT(text.find("# TYPE container_memory_rss gauge"), text.find("container_memory_rss{"));
}

TEST(Metrics, StoppedContainersHaveStateButNoCounters) {
  ContainerSample c = running_container();
  c.measured = false;
  c.state = "exited";
  c.view.state.health.clear();
  std::string text = prometheus_text({c}, {}, {}, 0);
  EXPECT_EQ(text.find("container_cpu_usage_seconds_total"), std::string::npos);
  EXPECT_EQ(text.find("container_memory"), std::string::npos);
  EXPECT_EQ(text.find("gocrate_container_health"), std::string::npos);
  EXPECT_NE(text.find(",state=\"exited\"} 1"), std::string::npos);
  EXPECT_NE(text.find(",state=\"running\"} 0"), std::string::npos);
}

TEST(Metrics, ImagesAndEventCounts) {
  ImageSample image;
  image.name = "hello:latest";
  image.digest = "sha256:" + std::string(64, 'b');
  image.size = 1234;
  image.signatures.push_back({"hello", image.digest, "simple signing"});
  EventCounts events{{{"image", "pull"}, {3, 2, 1.5}}, {{"container", "start"}, {5, 0, 0}}};
  std::string text = prometheus_text({}, {image}, events, 0);
  std::string labels = "digest=\"" + image.digest + "\",image=\"hello:latest\"";
  EXPECT_NE(text.find("gocrate_image_size_bytes{" + labels + "} 1234\n"), std::string::npos) << text;
  EXPECT_NE(text.find("gocrate_image_signatures{" + labels + "} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("gocrate_events_total{action=\"pull\",type=\"image\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("gocrate_events_total{action=\"start\",type=\"container\"} 5\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE gocrate_image_operation_duration_seconds summary\n"
                      "gocrate_image_operation_duration_seconds_sum{action=\"pull\"} 1.5\n"
                      "gocrate_image_operation_duration_seconds_count{action=\"pull\"} 2\n"),
            std::string::npos)
      << text;
  // Nothing for families without samples.
  EXPECT_EQ(text.find("container_cpu_usage_seconds_total"), std::string::npos);
}

// A command an exec ran is no label: it would leak into the metrics and make
// a series for every command. Health keeps its status in a label of its own.
TEST(Metrics, EventActionsAreCutAtTheirColon) {
  EXPECT_EQ(counted_action("exec_start: cat /run/secrets/token"), "exec_start");
  EXPECT_EQ(counted_action("health_status: healthy"), "health_status: healthy");
  EXPECT_EQ(counted_action("start"), "start");
  EventCounts events{{{"container", "exec_start: cat /run/secrets/token"}, {2, 0, 0}},
                     {{"container", "exec_start: sh -c id"}, {1, 0, 0}},
                     {{"container", "health_status: unhealthy"}, {4, 0, 0}}};
  std::string text = prometheus_text({}, {}, events, 0);
  EXPECT_EQ(text.find("secrets"), std::string::npos) << text;
  EXPECT_EQ(text.find("sh -c"), std::string::npos) << text;
  EXPECT_NE(text.find("gocrate_events_total{action=\"exec_start\",type=\"container\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("gocrate_events_total{action=\"health_status\",status=\"unhealthy\",type=\"container\"} 4\n"),
      std::string::npos)
      << text;
}

TEST(Metrics, EscapesLabelValues) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  ContainerSample c = running_container();
  c.view.state.image = "odd\"image";
  EXPECT_NE(prometheus_text({c}, {}, {}, 0).find("image=\"odd\\\"image\""), std::string::npos);
}

}  // namespace
}  // namespace gocrate
