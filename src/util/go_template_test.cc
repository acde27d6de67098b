#include "util/go_template.h"

#include <gtest/gtest.h>

#include "util/error_for_tests.h"

namespace gocrate {
namespace {

using nlohmann::json;

// A container as `inspect` shows it, trimmed to what scripts read.
const json kContainer = json::parse(R"({
  "Id": "4f2a9c0e1b7d",
  "Name": "/web",
  "Args": ["-port", "8080"],
  "State": {"Status": "running", "Running": true, "ExitCode": 0, "Pid": 4242, "Health": {"Status": "healthy"}},
  "Config": {"Image": "web:v1", "Labels": {"com.x": "1", "a": "b"}, "Env": ["PATH=/bin", "A=1"],
             "Cmd": null, "StopTimeout": 10, "Cpus": 1.5, "Big": 1000000.0},
  "Mounts": [{"Type": "bind", "Source": "/srv", "Destination": "/data", "RW": true},
             {"Type": "volume", "Source": "/var/lib/v", "Destination": "/v", "RW": false}],
  "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}},
  "Empty": [], "Zero": 0, "Text": "a b  c"
})");

std::string render(std::string_view text, const json& data = kContainer,
                   const GoTemplateOptions& options = {}) {
  return GoTemplate::parse(text).execute(data, options);
}

TEST(GoTemplate, ScriptsFormatStrings) {
  EXPECT_EQ(render("{{.State.Status}}"), "running");
  EXPECT_EQ(render("{{.State.Running}} {{.State.ExitCode}} {{.State.Pid}}"), "true 0 4242");
  EXPECT_EQ(render("{{.State.Health.Status}}"), "healthy");
  EXPECT_EQ(render("{{json .Config.Labels}}"), R"({"a":"b","com.x":"1"})");
  EXPECT_EQ(render("{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}"), "/srv:/data /var/lib/v:/v ");
  EXPECT_EQ(render(R"({{index .Config.Labels "com.x"}})"), "1");
  EXPECT_EQ(render(R"({{join .Args ","}})"), "-port,8080");
  EXPECT_EQ(render("{{.Name}}"), "/web");
  EXPECT_EQ(render(R"({{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}})"), "8080");
  EXPECT_EQ(
      render(R"({{range $p, $conf := .NetworkSettings.Ports}}{{$p}} -> {{(index $conf 0).HostPort}}{{end}})"),
      "80/tcp -> 8080");
  EXPECT_EQ(render("{{range .Config.Env}}{{println .}}{{end}}"), "PATH=/bin\nA=1\n");
  EXPECT_EQ(render("{{json .Mounts}}"),
            R"([{"Destination":"/data","RW":true,"Source":"/srv","Type":"bind"},)"
            R"({"Destination":"/v","RW":false,"Source":"/var/lib/v","Type":"volume"}])");
}

TEST(GoTemplate, ValuesPrintAsGoPrintsThem) {
  EXPECT_EQ(render("{{.Config.Labels}}"), "map[a:b com.x:1]");
  EXPECT_EQ(render("{{.Args}}"), "[-port 8080]");
  EXPECT_EQ(render("{{.Config.StopTimeout}} {{.Config.Cpus}} {{.Config.Big}}"), "10 1.5 1e+06");
  EXPECT_EQ(render("{{.Missing}}"), "<no value>");
  EXPECT_EQ(render("{{.Config.Cmd}}"), "<no value>");
  EXPECT_EQ(render("{{.Missing.Deeper}}"), "<no value>");
  EXPECT_EQ(render(R"({{index .Config.Labels "nope"}})"), "<no value>");
  EXPECT_EQ(render("{{.Empty}} {{.Zero}}"), "[] 0");
  EXPECT_EQ(render("{{.Mounts}}"),
            "[map[Destination:/data RW:true Source:/srv Type:bind] "
            "map[Destination:/v RW:false Source:/var/lib/v Type:volume]]");
  EXPECT_EQ(render("{{json .Missing}} {{json .Config.Cmd}} {{json .Config.Big}}"), "null null 1000000");
  EXPECT_EQ(render("{{.}}", json("plain")), "plain");
  EXPECT_EQ(render("{{json .}}", json("a\"<b>\n")), R"("a\"<b>\n")");
  EXPECT_EQ(go_print_value(json::parse(R"({"a":null,"b":[1,2.5]})")), "map[a:<nil> b:[1 2.5]]");
  EXPECT_EQ(go_print_value(json(0.0001)), "0.0001");
  EXPECT_EQ(go_print_value(json(0.00001)), "1e-05");
  EXPECT_EQ(go_print_value(json(123456.0)), "123456");
  EXPECT_EQ(go_print_value(json(1234567.0)), "1.234567e+06");
}

TEST(GoTemplate, Functions) {
  EXPECT_EQ(render("{{.State.Status | upper}}"), "RUNNING");
  EXPECT_EQ(render(R"({{lower "ABC"}} {{title "hello big-world"}})"), "abc Hello Big-World");
  EXPECT_EQ(render(R"({{split .Text " "}})"), "[a b  c]");
  EXPECT_EQ(render(R"({{len (split .Text " ")}} {{len .Args}} {{len .Config.Labels}} {{len "héllo"}})"),
            "4 2 2 6");
  EXPECT_EQ(render(R"({{index .Mounts 1 "Type"}})"), "volume");
  EXPECT_EQ(render(R"({{index .Args 1}})"), "8080");
  EXPECT_EQ(render(R"({{printf "%s=%d %v %q" "a" 42 .Args "x\ty"}})"), R"(a=42 [-port 8080] "x\ty")");
  EXPECT_EQ(render(R"({{printf "%5s|%-5s|%05d|%.2f|%x" "ab" "cd" 42 3.14159 255}})"),
            "   ab|cd   |00042|3.14|ff");
  EXPECT_EQ(render(R"({{printf "%d" "x"}} {{printf "%s"}} {{printf "a" 1}})"),
            "%!d(string=x) %!s(MISSING) a%!(EXTRA int=1)");
  EXPECT_EQ(render(R"({{println "a" 1}})"), "a 1\n");
  EXPECT_EQ(render(R"({{print "a" 1 2 "b"}})"), "a1 2b");
  EXPECT_EQ(render(R"({{"x" | printf "%s-%s" "y"}})"), "y-x");
  EXPECT_EQ(render(R"({{pad "a" 1 2}}|{{truncate "abcdef" 3}})"), " a  |abc");
  EXPECT_EQ(render(R"({{slice "abcdef" 1 3}} {{slice .Args 1}})"), "bc [8080]");
  EXPECT_EQ(render(R"({{html "<a&b>"}} {{urlquery "a b&c"}})"), "&lt;a&amp;b&gt; a+b%26c");
}

TEST(GoTemplate, Conditions) {
  EXPECT_EQ(render(R"({{if eq .State.Status "running"}}up{{else}}down{{end}})"), "up");
  EXPECT_EQ(render(R"({{if eq .State.Status "exited"}}a{{else if .State.Running}}b{{else}}c{{end}})"), "b");
  EXPECT_EQ(render(R"({{if .Empty}}a{{else if .Zero}}b{{else if .Missing}}c{{else}}d{{end}})"), "d");
  EXPECT_EQ(render(R"({{if and .State.Running (gt .State.Pid 0)}}yes{{end}})"), "yes");
  EXPECT_EQ(render(R"({{or .Missing .Zero "fallback"}} {{and 1 0 2}} {{not .Empty}})"), "fallback 0 true");
  EXPECT_EQ(
      render(
          R"({{eq .State.ExitCode 0}} {{ne .Name "/x"}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1.5 2}})"),
      "true true true true true false");
  EXPECT_EQ(render(R"({{eq .State.Status "exited" "running"}})"), "true");
  EXPECT_EQ(render(R"({{with .State.Health}}{{.Status}}{{else}}none{{end}})"), "healthy");
  EXPECT_EQ(render(R"({{with .Nope}}{{.Status}}{{else}}none{{end}})"), "none");
  EXPECT_EQ(render(R"({{if .Config.Labels.a}}{{.Config.Labels.a}}{{end}})"), "b");
  EXPECT_EQ(render("{{if not .State.Running}}stopped{{else}}running{{end}}"), "running");
}

TEST(GoTemplate, RangeAndVariables) {
  EXPECT_EQ(render("{{range $i, $e := .Args}}{{$i}}={{$e}};{{end}}"), "0=-port;1=8080;");
  EXPECT_EQ(render("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}},{{end}}"), "a=b,com.x=1,");
  EXPECT_EQ(render("{{range $v := .Args}}[{{$v}}]{{end}}"), "[-port][8080]");
  EXPECT_EQ(render("{{range .Empty}}x{{else}}empty{{end}}"), "empty");
  EXPECT_EQ(render("{{range .Missing}}x{{else}}none{{end}}"), "none");
  EXPECT_EQ(render("{{range .Args}}{{if eq . \"8080\"}}{{break}}{{end}}{{.}},{{end}}"), "-port,");
  EXPECT_EQ(render("{{range .Args}}{{if eq . \"-port\"}}{{continue}}{{end}}{{.}}{{end}}"), "8080");
  EXPECT_EQ(render("{{range 3}}{{.}}{{end}}"), "012");
  EXPECT_EQ(render("{{$n := .Name}}{{range .Mounts}}{{$n}}:{{.Destination}} {{end}}"), "/web:/data /web:/v ");
  EXPECT_EQ(render("{{range .Mounts}}{{$.Name}}{{end}}"), "/web/web");
  EXPECT_EQ(render("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}"), "2");
  EXPECT_EQ(render("{{with $s := .State}}{{$s.Status}}{{end}}"), "running");
  EXPECT_EQ(
      render("{{$first := true}}{{range .Args}}{{if not $first}},{{end}}{{$first = false}}{{.}}{{end}}"),
      "-port,8080");
}

TEST(GoTemplate, TextLiteralsTrimAndComments) {
  EXPECT_EQ(render("a  {{- .State.Status -}}  \n b"), "arunningb");
  EXPECT_EQ(render("a {{/* a comment */}}b"), "a b");
  EXPECT_EQ(render("a {{- /* trimmed */ -}} b"), "ab");
  EXPECT_EQ(render(R"({{"tab\there \"q\" \u00e9 \x41 \101"}})"), "tab\there \"q\" é A A");
  EXPECT_EQ(render("{{`raw\\n`}}"), "raw\\n");
  EXPECT_EQ(render("{{'a'}} {{0x1F}} {{1e3}} {{-3}} {{1_000}}"), "97 31 1000 -3 1000");
  EXPECT_EQ(render("{{\"}}\"}}"), "}}");
  EXPECT_EQ(render("no actions at all"), "no actions at all");
  EXPECT_EQ(render("{{.State.Status\n}}"), "running");
}

TEST(GoTemplate, MethodsAndStructs) {
  GoTemplateOptions options;
  options.methods["Label"] = [](const json&, const std::vector<json>& args) {
    return json(args.at(0).get<std::string>() == "a" ? "b" : "");
  };
  options.struct_type = "*formatter.ContainerContext";
  json row = {{"Names", "web"}, {"Labels", "a=b"}};
  EXPECT_EQ(render(R"({{.Names}} {{.Label "a"}}|{{.Label "z"}})", row, options), "web b|");
  EXPECT_EQ(
      error_of([&] { render("{{.Nope}}", row, options); }),
      R"(template: :1:2: executing "" at <.Nope>: can't evaluate field Nope in type *formatter.ContainerContext)");
  EXPECT_EQ(error_of([&] { render(R"({{.Names "x"}})", row, options); }),
            R"(template: :1:2: executing "" at <.Names>: Names is not a method but has arguments)");
}

TEST(GoTemplate, ParseErrorsAreOneLineLikeDockers) {
  auto parse_error = [](std::string_view text) { return error_of([&] { GoTemplate::parse(text); }); };
  EXPECT_EQ(parse_error("{{.Name}"), R"(template parsing error: template: :1: unexpected "}" in operand)");
  EXPECT_EQ(parse_error("{{.Name"), "template parsing error: template: :1: unclosed action");
  EXPECT_EQ(parse_error("{{if .X}}a"), "template parsing error: template: :1: unexpected EOF");
  EXPECT_EQ(parse_error("{{end}}"), "template parsing error: template: :1: unexpected {{end}}");
  EXPECT_EQ(parse_error("{{nosuch .X}}"),
            R"(template parsing error: template: :1: function "nosuch" not defined)");
  EXPECT_EQ(parse_error("{{$x}}"), R"(template parsing error: template: :1: undefined variable "$x")");
  EXPECT_EQ(parse_error("{{}}"), "template parsing error: template: :1: missing value for command");
  EXPECT_EQ(parse_error("{{\"abc}}"), "template parsing error: template: :1: unterminated quoted string");
  EXPECT_EQ(parse_error("a\n{{if}}{{end}}"), "template parsing error: template: :2: missing value for if");
  EXPECT_EQ(parse_error("{{break}}"), "template parsing error: template: :1: {{break}} outside {{range}}");
  EXPECT_EQ(parse_error("{{define \"x\"}}{{end}}"),
            "template parsing error: template: :1: {{define}} is not supported");
  EXPECT_EQ(parse_error("{{3 | 4}}"),
            "template parsing error: template: :1: non executable command in pipeline stage 2");
  EXPECT_EQ(parse_error("{{/* open"), "template parsing error: template: :1: unclosed comment");
  for (auto text : {"{{.Name}", "{{\"abc\ndef\"}}", "{{`x"})
    EXPECT_EQ(parse_error(text).find('\n'), std::string::npos);
}

TEST(GoTemplate, ExecutionErrorsNameThePlace) {
  EXPECT_EQ(error_of([] { render("{{.Name.Foo}}"); }),
            R"(template: :1:2: executing "" at <.Name.Foo>: can't evaluate field Foo in type string)");
  EXPECT_EQ(error_of([] { render("x\n {{upper .State.Pid}}"); }),
            R"(template: :2:3: executing "" at <upper>: wrong type for value; expected string; got int)");
  EXPECT_EQ(error_of([] { render("{{index .Args 5}}"); }),
            R"(template: :1:2: executing "" at <index>: error calling index: index out of range: 5)");
  EXPECT_EQ(error_of([] { render("{{eq .Args 1}}"); }),
            R"(template: :1:2: executing "" at <eq>: error calling eq: non-comparable type)");
  EXPECT_EQ(error_of([] { render("{{len}}"); }),
            R"(template: :1:2: executing "" at <len>: wrong number of args for len: want 1 got 0)");
  EXPECT_EQ(error_of([] { render("{{range .Name}}{{end}}"); }),
            R"(template: :1:8: executing "" at <.Name>: range can't iterate over /web)");
}

TEST(GoTemplate, HeaderModeGivesFieldNamesBack) {
  GoTemplateOptions header;
  header.header = true;
  json names = {{"ID", "CONTAINER ID"}, {"Names", "NAMES"}};
  EXPECT_EQ(render("{{.ID}}\t{{.Names | upper}}\t{{json .Names}}", names, header),
            "CONTAINER ID\tNAMES\tNAMES");
  EXPECT_EQ(render("{{.ID}}\t{{.Label \"x\"}}\t{{.Names}}", names, header), "CONTAINER ID\t");
}

TEST(GoTemplate, DockerFormatPrefixAndEscapes) {
  DockerFormat f = parse_docker_format(R"(table {{.ID}}\t{{.Names}}\n)");
  EXPECT_TRUE(f.table);
  EXPECT_EQ(f.text, "{{.ID}}\t{{.Names}}\n");
  f = parse_docker_format(R"(  {{.ID}}\t )", true);
  EXPECT_FALSE(f.table);
  EXPECT_EQ(f.text, R"({{.ID}}\t)");
  EXPECT_TRUE(parse_docker_format("table").table);
}

TEST(GoTemplate, ColumnsAlignAsDockersTabwriter) {
  EXPECT_EQ(align_docker_columns("CONTAINER ID\tNAMES\n4f2a9c0e1b7d\tweb\n"),
            "CONTAINER ID   NAMES\n4f2a9c0e1b7d   web\n");
  // Minimum width 10, padding 3; the last cell of a line is not padded.
  EXPECT_EQ(align_docker_columns("A\tB\tC\nlonger\tx\ty\n"),
            "A         B         C\nlonger    x         y\n");
  EXPECT_EQ(align_docker_columns("NAME\tSTATUS\nabcdefghijk\trunning\n"),
            "NAME          STATUS\nabcdefghijk   running\n");
  // A line with fewer cells ends the block of the columns it lacks.
  EXPECT_EQ(align_docker_columns("a\tb\nno tabs here at all\nc\td\n"),
            "a         b\nno tabs here at all\nc         d\n");
  EXPECT_EQ(align_docker_columns("é\tx\n"), "é         x\n");
}

TEST(GoTemplate, AbuseStaysBounded) {
  // Deep nesting and huge paddings are refused or bounded, never a crash.
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "{{if true}}";
  deep += "x";
  for (int i = 0; i < 200; ++i) deep += "{{end}}";
  EXPECT_EQ(render(deep), "x");
  EXPECT_NE(error_of([] { render(R"({{pad "a" 100000000 0}})"); }), "");
  std::string parens(100000, '(');
  EXPECT_NE(error_of([&] { GoTemplate::parse("{{" + parens + "1"); }).find("nested more than 1000 levels"),
            std::string::npos);
  std::string ifs;
  for (int i = 0; i < 5000; ++i) ifs += "{{if 1}}";
  EXPECT_NE(error_of([&] { GoTemplate::parse(ifs); }).find("nested more than 1000 levels"),
            std::string::npos);
  EXPECT_EQ(render(R"({{printf "%999999999999s|%.99999999d" "a" 1}})"), "%!(BADWIDTH)a|%!(BADPREC)1");
  EXPECT_EQ(render(R"({{printf "%s" "\x00"}})"), std::string(1, '\0'));
  EXPECT_EQ(go_quote("a\x01\xff"), R"("a\x01\xff")");
}

}  // namespace
}  // namespace gocrate
