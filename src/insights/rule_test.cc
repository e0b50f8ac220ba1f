#include "insights/rule.h"

#include <gtest/gtest.h>

#include "logs/clf.h"

namespace lambkin::insights {
namespace {

// The rule exactly as the Lambda documentation gives it.
constexpr char kLambdaRule[] =
    R"({"Schema":{"Name":"CloudWatchLogRule","Version":1},"AggregateOn":"Count","Contribution":{"Filters":[{"Match":"eventType","In":["INIT_START"]}],"Keys":["runtimeVersion","runtimeVersionArn"]},"LogFormat":"CLF","LogGroupNames":["/aws/lambda/*"],"Fields":{"1":"eventType","4":"runtimeVersion","8":"runtimeVersionArn"}})";

constexpr char kInitStart[] =
    "INIT_START Runtime Version: python:3.12.v21\tRuntime Version ARN: "
    "arn:aws:lambda:us-east-1::runtime:0a1b2c\n";

std::vector<std::string> Keys(const Rule& rule, std::string_view message) {
  Contribution c;
  if (!rule.Evaluate(message, c)) return {};
  return Rule::SplitContributor(c.contributor);
}

Rule MustParse(const std::string& definition) {
  auto r = Rule::Parse(definition);
  EXPECT_TRUE(r.ok()) << definition << ": " << r.status().message();
  return std::move(r).value();
}

std::string JsonRule(const std::string& contribution, const std::string& aggregate = "Count") {
  return R"({"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["app"],)"
         R"("LogFormat":"JSON","AggregateOn":")" +
         aggregate + R"(","Contribution":)" + contribution + "}";
}

TEST(ClfFieldsTest, SplitsOnSpaceRunsTabsAndKeepsBracketsAndQuotesWhole) {
  logs::ClfFields init(kInitStart);
  EXPECT_EQ(*init.Get(1), "INIT_START");
  EXPECT_EQ(*init.Get(4), "python:3.12.v21");
  EXPECT_EQ(*init.Get(7), "ARN:");
  EXPECT_EQ(*init.Get(8), "arn:aws:lambda:us-east-1::runtime:0a1b2c");
  EXPECT_EQ(init.Get(9), nullptr);
  logs::ClfFields apache(
      R"(127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534)");
  EXPECT_EQ(*apache.Get(4), "10/Oct/2000:13:25:15 -0700");
  EXPECT_EQ(*apache.Get(5), "GET /apache_pb.gif HTTP/1.0");
  EXPECT_EQ(*apache.Get(6), "200");
  logs::ClfFields padded("   a  \t b   ");
  EXPECT_EQ(*padded.Get(2), "b");
  EXPECT_EQ(padded.Get(3), nullptr);
  logs::ClfFields open("[unterminated field");
  EXPECT_EQ(*open.Get(1), "[unterminated");
  EXPECT_EQ(logs::ClfHead("  START RequestId: x"), "START");
  EXPECT_EQ(logs::ClfHead(""), "");
}

TEST(RuleTest, TheLambdaDocsRuleCountsInitStartByRuntimeVersion) {
  Rule rule = MustParse(kLambdaRule);
  EXPECT_EQ(rule.key_labels(), (std::vector<std::string>{"runtimeVersion", "runtimeVersionArn"}));
  EXPECT_EQ(
      Keys(rule, kInitStart),
      (std::vector<std::string>{"python:3.12.v21", "arn:aws:lambda:us-east-1::runtime:0a1b2c"}));
  EXPECT_TRUE(Keys(rule, "START RequestId: 1 Version: $LATEST").empty());
  EXPECT_TRUE(Keys(rule, "init_start Runtime Version: x\tRuntime Version ARN: y").empty());
  EXPECT_TRUE(Keys(rule, "INIT_START truncated").empty());  // a key is missing
  // Any bytes stay inside their key (found by fuzzing: a NUL once split a key in two).
  using namespace std::string_literals;
  EXPECT_EQ(Keys(rule, "INIT_START Runtime Version: a\0b\tRuntime Version ARN: \0"s),
            (std::vector<std::string>{"a\0b"s, "\0"s}));
  functions::Scope home{"123456789012", "us-east-1"};
  EXPECT_TRUE(rule.AppliesTo(home, home, "/aws/lambda/orders"));
  EXPECT_FALSE(rule.AppliesTo(home, home, "/aws/lambdas"));
  EXPECT_FALSE(rule.AppliesTo(home, {"123456789012", "eu-west-1"}, "/aws/lambda/orders"));
  auto heads = rule.head_constraint();
  ASSERT_TRUE(heads.has_value());
  EXPECT_EQ(heads->equal, std::vector<std::string>{"INIT_START"});
}

TEST(RuleTest, JsonRulesSumValueOfAndApplyAllEightOperators) {
  Rule sum = MustParse(JsonRule(
      R"({"Keys":["$.ip","$.users[1].name"],"ValueOf":"$.bytes","Filters":[{"Match":"$.method","In":["PUT","POST"]}]})",
      "Sum"));
  Contribution c;
  ASSERT_TRUE(sum.Evaluate(
      R"({"ip":"10.0.0.1","users":[{"name":"a"},{"name":"b"}],"bytes":1500,"method":"PUT"})", c));
  EXPECT_EQ(Rule::SplitContributor(c.contributor), (std::vector<std::string>{"10.0.0.1", "b"}));
  EXPECT_EQ(c.value, 1500);
  EXPECT_TRUE(
      sum.Evaluate(R"({"ip":"x","users":[{},{"name":7}],"bytes":"2.5","method":"POST"})", c));
  EXPECT_EQ(c.value, 2.5);
  EXPECT_EQ(Rule::SplitContributor(c.contributor)[1], "7");
  // Non-numeric ValueOf, missing key, filter miss, case, not JSON: not counted.
  EXPECT_FALSE(
      sum.Evaluate(R"({"ip":"x","users":[{},{"name":"b"}],"bytes":"many","method":"PUT"})", c));
  EXPECT_FALSE(sum.Evaluate(R"({"ip":"x","users":[{"name":"a"}],"bytes":1,"method":"PUT"})", c));
  EXPECT_FALSE(sum.Evaluate(R"({"ip":"x","users":[{},{"name":"b"}],"bytes":1,"method":"put"})", c));
  EXPECT_FALSE(sum.Evaluate("PUT 10.0.0.1 1500", c));

  struct Case {
    const char* filter;
    const char* event;
    bool match;
  };
  const Case cases[] = {
      {R"({"Match":"$.s","In":["a","b"]})", R"({"k":1,"s":"b"})", true},
      {R"({"Match":"$.s","In":["a","b"]})", R"({"k":1,"s":"B"})", false},
      {R"({"Match":"$.s","NotIn":["a"]})", R"({"k":1,"s":"b"})", true},
      {R"({"Match":"$.s","NotIn":["a"]})", R"({"k":1,"s":"a"})", false},
      {R"({"Match":"$.s","NotIn":["a"]})", R"({"k":1})", false},  // missing fails NotIn
      {R"({"Match":"$.s","StartsWith":["ec2","ecs"]})", R"({"k":1,"s":"ecs.amazonaws.com"})", true},
      {R"({"Match":"$.s","StartsWith":["ec2"]})", R"({"k":1,"s":"lambda"})", false},
      {R"({"Match":"$.n","GreaterThan":5})", R"({"k":1,"n":6})", true},
      {R"({"Match":"$.n","GreaterThan":5})", R"({"k":1,"n":5})", false},
      {R"({"Match":"$.n","GreaterThan":5})", R"({"k":1,"n":"7"})", true},
      {R"({"Match":"$.n","GreaterThan":5})", R"({"k":1,"n":"seven"})", false},
      {R"({"Match":"$.n","LessThan":5})", R"({"k":1,"n":-1.5})", true},
      {R"({"Match":"$.n","EqualTo":200})", R"({"k":1,"n":200})", true},
      {R"({"Match":"$.n","EqualTo":200})", R"({"k":1,"n":404})", false},
      {R"({"Match":"$.n","NotEqualTo":200})", R"({"k":1,"n":404})", true},
      {R"({"Match":"$.n","NotEqualTo":200})", R"({"k":1})", false},  // missing fails
      {R"({"Match":"$.d.c","IsPresent":true})", R"({"k":1,"d":{"c":0}})", true},
      {R"({"Match":"$.d.c","IsPresent":true})", R"({"k":1,"d":{"c":{"c1":1}}})",
       false},  // not a leaf
      {R"({"Match":"$.d.c","IsPresent":false})", R"({"k":1,"d":{}})", true},
      {R"({"Match":"$.d.c","IsPresent":false})", R"({"k":1,"d":{"c":"x"}})", false},
  };
  for (const auto& t : cases) {
    Rule rule =
        MustParse(JsonRule(std::string(R"({"Keys":["$.k"],"Filters":[)") + t.filter + "]}"));
    EXPECT_EQ(rule.Evaluate(t.event, c), t.match) << t.filter << " on " << t.event;
  }
}

TEST(RuleTest, ClfPositionsAliasesAndNumericFilters) {
  Rule rule = MustParse(
      R"({"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["access"],"LogFormat":"CLF",)"
      R"("Fields":{"1":"ip","6":"status"},"AggregateOn":"Sum","Contribution":{"Keys":["ip","5"],"ValueOf":"7",)"
      R"("Filters":[{"Match":"status","GreaterThan":399},{"Match":"status","NotEqualTo":404}]}})");
  Contribution c;
  ASSERT_TRUE(
      rule.Evaluate(R"(10.1.1.1 - - [10/Oct/2000:13:25:15 -0700] "GET /x HTTP/1.0" 500 1534)", c));
  EXPECT_EQ(Rule::SplitContributor(c.contributor),
            (std::vector<std::string>{"10.1.1.1", "GET /x HTTP/1.0"}));
  EXPECT_EQ(c.value, 1534);
  EXPECT_FALSE(rule.Evaluate(R"(10.1.1.1 - - [d] "GET /x HTTP/1.0" 404 10)", c));
  EXPECT_FALSE(rule.Evaluate(R"(10.1.1.1 - - [d] "GET /x HTTP/1.0" 200 10)", c));
  EXPECT_FALSE(rule.Evaluate(R"(10.1.1.1 - - [d] "GET /x HTTP/1.0" 503 -)", c));
  EXPECT_FALSE(rule.head_constraint().has_value());
}

TEST(RuleTest, LogGroupNamesPrefixesAndArns) {
  functions::Scope home{"123456789012", "us-east-1"};
  Rule names = MustParse(
      R"({"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["exact","pre*"],"LogFormat":"CLF","AggregateOn":"Count","Contribution":{"Keys":["1"]}})");
  EXPECT_TRUE(names.AppliesTo(home, home, "exact"));
  EXPECT_FALSE(names.AppliesTo(home, home, "exactly"));
  EXPECT_TRUE(names.AppliesTo(home, home, "prefix"));
  EXPECT_FALSE(names.AppliesTo(home, home, "Prefix"));
  Rule arns = MustParse(
      R"({"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupARNs":["arn:aws:logs:eu-west-1:210987654321:log-group:/aws/lambda/*"],"LogFormat":"CLF","AggregateOn":"Count","Contribution":{"Keys":["1"]}})");
  EXPECT_TRUE(arns.AppliesTo(home, {"210987654321", "eu-west-1"}, "/aws/lambda/f"));
  EXPECT_FALSE(arns.AppliesTo(home, home, "/aws/lambda/f"));
}

TEST(RuleTest, InvalidRulesAreRefusedWithTheReason) {
  const std::string base =
      R"({"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["g"],"LogFormat":"JSON","AggregateOn":"Count",)";
  struct Case {
    std::string definition;
    const char* reason;
  };
  const Case cases[] = {
      {"not json", "not a valid JSON object"},
      // The AWS page's example with a trailing comma is not JSON.
      {base + R"("Contribution":{"Keys":["$.ip"],"Filters":[{"Match":"$.m","In":["PUT",]}]}})",
       "not a valid JSON object"},
      {R"({"Schema":{"Name":"ServiceLogRule","Version":1},"LogGroupNames":["g"],"LogFormat":"JSON","AggregateOn":"Count","Contribution":{"Keys":["$.a"]}})",
       "Schema must be"},
      {base + R"("Contribution":{"Keys":["$.a","$.b","$.c","$.d","$.e"]}})", "1 to 4 fields"},
      {base + R"("Contribution":{"Keys":[]}})", "1 to 4 fields"},
      {base +
           R"("Contribution":{"Keys":["$.a"],"Filters":[{"Match":"$.a","IsPresent":true},{"Match":"$.a","IsPresent":true},{"Match":"$.a","IsPresent":true},{"Match":"$.a","IsPresent":true},{"Match":"$.a","IsPresent":true}]}})",
       "at most 4 filters"},
      {base + R"("Contribution":{"Keys":["$.a"],"Filters":[{"Match":"$.a","Contains":["x"]}]}})",
       "unknown operator 'Contains'"},
      {base +
           R"("Contribution":{"Keys":["$.a"],"Filters":[{"Match":"$.a","In":["1","2","3","4","5","6","7","8","9","10","11"]}]}})",
       "1 to 10 values"},
      {base +
           R"("Contribution":{"Keys":["$.a"],"Filters":[{"Match":"$.a","In":["x"],"NotIn":["y"]}]}})",
       "exactly one operator"},
      {base + R"("Contribution":{"Keys":["$.a"],"Filters":[{"Match":"$.a","EqualTo":"200"}]}})",
       "must be a number"},
      {base + R"("Contribution":{"Keys":["$.a"],"ValueOf":"$.b"}})",
       "only be used with AggregateOn Sum"},
      {base + R"("Contribution":{"Keys":["ip"]}})", "not a JSON field"},
      {base + R"("Contribution":{"Keys":["$.a[x]"]}})", "malformed array index"},
      {R"({"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["g"],"LogGroupARNs":["arn:aws:logs:us-east-1:123456789012:log-group:g"],"LogFormat":"JSON","AggregateOn":"Count","Contribution":{"Keys":["$.a"]}})",
       "either LogGroupNames or LogGroupARNs"},
      {R"({"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogFormat":"JSON","AggregateOn":"Count","Contribution":{"Keys":["$.a"]}})",
       "either LogGroupNames or LogGroupARNs"},
      {R"({"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["bad name"],"LogFormat":"JSON","AggregateOn":"Count","Contribution":{"Keys":["$.a"]}})",
       "not a log group name"},
      {R"({"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["g"],"LogFormat":"XML","AggregateOn":"Count","Contribution":{"Keys":["$.a"]}})",
       "LogFormat must be JSON or CLF"},
      {R"({"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["g"],"LogFormat":"JSON","AggregateOn":"Sum","Contribution":{"Keys":["$.a"]}})",
       "needs Contribution.ValueOf"},
      {R"({"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["g"],"LogFormat":"JSON","AggregateOn":"Average","Contribution":{"Keys":["$.a"]}})",
       "AggregateOn must be Count or Sum"},
      {R"({"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["g"],"LogFormat":"JSON","Fields":{"1":"a"},"AggregateOn":"Count","Contribution":{"Keys":["$.a"]}})",
       "only be used with LogFormat CLF"},
      {R"({"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["g"],"LogFormat":"CLF","AggregateOn":"Count","Contribution":{"Keys":["status"]}})",
       "neither an alias"},
      {R"({"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["g"],"LogFormat":"CLF","Fields":{"0":"a"},"AggregateOn":"Count","Contribution":{"Keys":["a"]}})",
       "CLF positions"},
      {base + R"("Contribution":{"Keys":["$.a"]},"Extra":1})", "unknown field 'Extra'"},
  };
  for (const auto& c : cases) {
    auto r = Rule::Parse(c.definition);
    ASSERT_FALSE(r.ok()) << c.definition;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidParameterValue);
    EXPECT_NE(r.status().message().find(c.reason), std::string::npos)
        << c.definition << " -> " << r.status().message();
  }
}

}  // namespace
}  // namespace lambkin::insights
