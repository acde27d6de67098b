#include "runtime/network/port_mapping.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace gocrate {
namespace {

std::vector<PortMapping> parse(const std::string& flag) {
  return parse_port_mappings({flag});
}

std::string error_of(const std::vector<std::string>& flags) {
  try {
    parse_port_mappings(flags);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(PortMappings, ParsesDockersForms) {
  EXPECT_EQ(parse("18080:8080"), (std::vector<PortMapping>{{"", 18080, 8080, Protocol::tcp}}));
  EXPECT_EQ(parse("127.0.0.1:80:8080/tcp"),
            (std::vector<PortMapping>{{"127.0.0.1", 80, 8080, Protocol::tcp}}));
  EXPECT_EQ(parse("5353:53/udp"), (std::vector<PortMapping>{{"", 5353, 53, Protocol::udp}}));
  EXPECT_EQ(parse("[::1]:8443:443"), (std::vector<PortMapping>{{"::1", 8443, 443, Protocol::tcp}}));
  // A free host port, chosen when bound.
  EXPECT_EQ(parse("8080"), (std::vector<PortMapping>{{"", 0, 8080, Protocol::tcp}}));
  EXPECT_EQ(parse("127.0.0.1::8080"), (std::vector<PortMapping>{{"127.0.0.1", 0, 8080, Protocol::tcp}}));
}

TEST(PortMappings, ExpandsRanges) {
  auto mappings = parse("8000-8002:9000-9002/udp");
  ASSERT_EQ(mappings.size(), 3u);
  for (uint16_t i = 0; i < 3; ++i) {
    EXPECT_EQ(mappings[i], (PortMapping{"", static_cast<uint16_t>(8000 + i), static_cast<uint16_t>(9000 + i),
                                        Protocol::udp}));
  }
}

TEST(PortMappings, CombinesFlagsAndAllowsOnePortForBothProtocols) {
  auto mappings = parse_port_mappings({"53:53/udp", "53:53/tcp", "127.0.0.1:80:80", "127.0.0.2:80:80"});
  EXPECT_EQ(mappings.size(), 4u);
}

TEST(PortMappings, RefusesMalformedFlagsNamingThem) {
  const std::string syntax = "[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]";
  for (std::string bad : {"",
                          "abc",
                          "80:",
                          ":80",
                          "0:80",
                          "80:0",
                          "65536:80",
                          "80:99999",
                          "8080:80/sctp",
                          "8080:80/",
                          "1.2.3:80:80",
                          "localhost:80:80",
                          "::1:80:80",
                          "[::1]80:80",
                          "1:2:3:4",
                          "8000-8002:9000",
                          "9000-8000:9000-8000",
                          "8000-8001:80-82",
                          "80-81",
                          "-1:80",
                          "+80:80",
                          " 80:80"}) {
    std::string message = error_of({bad});
    EXPECT_NE(message.find("invalid -p \"" + bad + "\""), std::string::npos) << bad << ": " << message;
    EXPECT_NE(message.find(syntax), std::string::npos) << bad << ": " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(PortMappings, RefusesAHostPortPublishedTwice) {
  EXPECT_NE(error_of({"8080:80", "8080:81"}).find("host port 8080/tcp is already published"),
            std::string::npos);
  EXPECT_NE(error_of({"8080:80", "127.0.0.1:8080:81"}).find("already published"), std::string::npos);
  EXPECT_NE(error_of({"8000-8010:9000-9010", "8005:80"}).find("8005"), std::string::npos);
}

TEST(PortMappings, TextRoundTrips) {
  for (const auto& m :
       {PortMapping{"", 18080, 8080, Protocol::tcp}, PortMapping{"127.0.0.1", 53, 53, Protocol::udp},
        PortMapping{"::1", 8443, 443, Protocol::tcp}}) {
    EXPECT_EQ(parse_port_mapping_text(port_mapping_text(m)), m) << port_mapping_text(m);
  }
  EXPECT_EQ(port_mapping_text({"", 18080, 8080, Protocol::tcp}), "0.0.0.0:18080->8080/tcp");
  EXPECT_EQ(port_mapping_text({"::1", 8443, 443, Protocol::udp}), "[::1]:8443->443/udp");
  EXPECT_THROW(parse_port_mapping_text("8080"), Error);
}

std::string exposed_error(const std::vector<std::string>& flags) {
  try {
    parse_exposed_ports(flags);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(ExposedPorts, ParsesDockersForms) {
  EXPECT_EQ(parse_exposed_ports({"80", "53/udp", "8000-8002/tcp", "80/tcp", "9/sctp"}),
            (std::vector<std::string>{"80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp", "9/sctp"}));
  for (const char* bad : {"", "0", "65536", "80/icmp", "90-80", "x", "80-", "1:2", "80/"}) {
    EXPECT_NE(exposed_error({bad}).find("invalid --expose"), std::string::npos) << bad;
  }
}

TEST(ExposedPorts, PublishAllTakesFreePortsForThoseNotPublished) {
  std::vector<PortMapping> published = {{"", 18080, 80, Protocol::tcp}};
  EXPECT_EQ(publish_all_ports({"80/tcp", "443/tcp", "53/udp", "80/udp", "443"}, published),
            (std::vector<PortMapping>{
                {"", 0, 443, Protocol::tcp}, {"", 0, 53, Protocol::udp}, {"", 0, 80, Protocol::udp}}));
  // What an image's config says is checked as well as what flags say.
  for (const char* bad : {"9/sctp", "http", "0/tcp", "70000/tcp", "80/tcp/x"}) {
    try {
      publish_all_ports({bad}, {});
      ADD_FAILURE() << bad << " was published";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("-P cannot publish exposed port"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(publish_all_ports(parse_exposed_ports({"1000-3000"}), {}), Error);
}

}  // namespace
}  // namespace gocrate
