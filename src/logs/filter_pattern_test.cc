#include "logs/filter_pattern.h"

#include <gtest/gtest.h>

namespace lambkin::logs {
namespace {

struct Case {
  const char* pattern;
  const char* message;
  bool match;
};

void Expect(std::initializer_list<Case> cases) {
  for (const Case& c : cases) {
    auto p = FilterPattern::Parse(c.pattern);
    ASSERT_TRUE(p.ok()) << c.pattern << ": " << p.status().message();
    EXPECT_EQ(p->Matches(c.message), c.match) << c.pattern << " / " << c.message;
  }
}

TEST(FilterPatternTest, TermsQuotesOptionalAndExcluded) {
  Expect({
      {"", "anything", true},
      {"   ", "anything", true},
      {"ERROR", "an ERROR here", true},
      {"ERROR", "Exiting with ERRORCODE: -1", true},  // substrings, as AWS's example
      {"ERROR", "an error here", false},              // case-sensitive
      {"ERROR timeout", "ERROR: timeout", true},
      {"ERROR timeout", "ERROR only", false},
      {"\"Task timed out\"", "x Task timed out after 1.00 seconds", true},
      {"\"Task timed out\"", "Task out timed", false},
      {"?WARN ?ERROR", "a WARN", true},
      {"?WARN ?ERROR", "INFO", false},
      {"INIT -REPORT", "INIT_START", true},
      {"INIT -REPORT", "INIT_REPORT", false},
      // "If you combine ? with other filter patterns, all question mark terms are ignored."
      {"?ERROR ?ARGUMENTS REQUEST", "[INFO] REQUEST FAILED", true},
      {"%AUTHORIZED%", "[ERROR 401] UNAUTHORIZED REQUEST", true},
      {"%^\\[SUCCESS\\s\\d+\\]%", "[SUCCESS 200] AUTHORIZED REQUEST", true},
      {"%^\\[SUCCESS\\s\\d+\\]%", "[ERROR 401] UNAUTHORIZED REQUEST", false},
  });
}

TEST(FilterPatternTest, JsonConditionsAsAwsDocumentsThem) {
  // The example event of AWS's "Using filter patterns to match terms in JSON log events".
  const char* event =
      R"({"user":{"id":1,"email":"John.Stiles@example.com"},"users":[{"id":2,"email":"John.Doe@example.com"},{"id":3,"email":"Jane.Doe@example.com"}],"actions":["GET","PUT","DELETE"],"coordinates":[[0,1,2],[4,5,6],[7,8,9]]})";
  Expect({
      {R"({ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") })", event, true},
      {R"({ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch" && $.actions[2] = "nonmatch" })",
       event, true},
      {R"({ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch") && $.actions[2] = "nonmatch" })",
       event, false},
      {R"({ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" })", event,
       false},
      {"{ $.users = 1 }", event, false},  // an array matches neither = nor !=
      {"{ $.users != 1 }", event, false},
      {"{ $.actions[*] = PUT }", event, true},
      {"{ $.users[*].id = 3 }", event, true},
      {"{ $.user.* = *Stiles* }", event, true},
      {"{ $.coordinates[1][2] >= 6 }", event, true},
      {"{ $.coordinates[1][2] < 6 }", event, false},
  });
}

TEST(FilterPatternTest, JsonValuesWildcardsNumbersAndKeywords) {
  const char* event =
      R"({"eventType":"UpdateTrail","someInt":123,"someFloat":12.34,"code":"200","flag":true,"nothing":null,"dotted.key":"x","detail-type":"D","level":"ERROR"})";
  Expect({
      {"{$.eventType = \"UpdateTrail\"}", event, true},
      {"{ $.eventType = UpdateTrail }", event, true},
      {"{ $.eventType = Update* }", event, true},
      {"{ $.eventType = *Trail }", event, true},
      {"{ $.eventType = Upd*ail }", event, false},  // a middle * is itself
      {"{ $.eventType = %Trail% }", event, true},
      {"{ $.eventType = \"%Trail%\" }", event, false},  // quoted: not a regex
      {"{ $.eventType != \"CreateTrail\" }", event, true},
      {"{ $.missing != \"x\" }", event, false},
      {"{ $.someInt = 123.0 }", event, true},
      {"{ $.someInt = \"123\" }", event, true},
      {"{ $.someInt = 1* }", event, true},
      {"{ $.someInt > 100 && $.someFloat <= 12.34 }", event, true},
      {"{ $.eventType >= 123 }", event, false},
      {"{ $.code = 200 }", event, true},
      {"{ $.someInt = * }", event, true},
      {"{ $.missing = * }", event, false},
      {"{ $.flag IS TRUE }", event, true},
      {"{ $.flag IS FALSE }", event, false},
      {"{ $.nothing IS NULL }", event, true},
      {"{ $.missing NOT EXISTS }", event, true},
      {"{ $.nothing NOT EXISTS }", event, false},
      {"{ $.['dotted.key'] = x }", event, true},
      {"{ $.detail-type = D }", event, true},
      {"{$.level=\"ERROR\"&&$.someInt>1}", event, true},
      {"{ $.level = \"ERROR\" }", "not JSON at all", false},
      {"  { $.level = ERROR }\n", event, true},  // blanks around a pattern are not part of it
      {"{ $.level = \"ERROR\" }", "[ERROR] plain text\n", false},
  });
}

TEST(FilterPatternTest, SpaceDelimitedFields) {
  const char* event =
      "127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] \"GET /index.html HTTP/1.0\" 404 1534";
  Expect({
      {"[ip, user, username, timestamp, request, status_code, bytes]", event, true},
      {"[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]", event, true},
      {"[ip, user, username, timestamp, request, status_code = 2*, bytes]", event, false},
      {"[..., status_code = 404 || status_code = 410, bytes > 1000]", event, true},
      {"[..., status_code != 404 && status_code != 410, bytes]", event, false},
      {"[ip = %127\\.0\\.0\\.[1-9]%, ...]", event, true},
      {"[ip, user = Prod, ...]", event, true},
      {"[ip, user = Dev, ...]", event, false},
      // The last field takes the rest of the line.
      {"[w1=ERROR, w2]", "ERROR 09/25/2014 12:00:02 Failed to process request", true},
      {"[w1=ERROR, w2]", "INFO 09/25/2014 12:00:02 done", false},
      {"[a, b, c, d]", "too short", false},
  });
}

TEST(FilterPatternTest, RegexesRunInLinearTimeOnTheLargestEvents) {
  // A 256 KB event (the largest a function writes): std::regex overflowed its stack here.
  std::string event(size_t{256} * 1024, 'a');
  for (const char* pattern :
       {"%a.*b%", "{ $.a = %a.*b% }", "[x = %(?:a+)+b%, ...]", "%a*a*a*a*a*b%"}) {
    auto p = FilterPattern::Parse(pattern);
    if (!p.ok()) continue;  // groups are refused, as AWS refuses them
    EXPECT_FALSE(p->Matches(event)) << pattern;
  }
  auto p = FilterPattern::Parse("%a.*b%");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->Matches(event + "b"));
}

TEST(FilterPatternTest, MalformedPatternsAreAwsErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {"{ $.a = 1", "If a filter pattern starts with '{' it must end with '}'"},
      {"[a, b", "If a filter pattern starts with '[' it must end with ']'"},
      {"\"\"", "Invalid filter pattern: Invalid character(s) in term '\"\"'"},
      {"email@domain.com",
       "Invalid filter pattern: Invalid character(s) in term 'email@domain.com'"},
      {"\"unterminated", "Invalid filter pattern"},
      {"{ $.message = \"x\", $.path = \"/y\" }",
       "Invalid filter pattern: Invalid character(s) in term ','"},
      {"{ $.\"sc-status\" = 5* }", "Invalid filter pattern: Invalid character(s) in term '$.\"'"},
      {"{ $.someInt >= \"someString\" }",
       "Invalid filter pattern: Invalid character(s) in term '\"someString\"'"},
      {"{ $.a IS NOT NULL }", "Invalid filter pattern: Invalid character(s) in term 'NOT'"},
      {"{ $.a.*.b[*] = 1 }",
       "Invalid filter pattern: Only one wildcard is allowed per property selector"},
      {"[a, ..., b, ...]", "Invalid filter pattern: Duplicate field '...'"},
      {"%a(b)%", "Invalid filter pattern: Invalid character(s) in term '%a(b)%'"},
      {"%something!%", "Invalid filter pattern: Invalid character(s) in term '%something!%'"},
      {"{ $.a = %x% || $.b = %y% || $.c = %z% }",
       "Invalid filter pattern: A filter pattern may hold at most two regular expressions"},
      {"%[a-z]{400}[a-z]{400}Z%",
       "Invalid filter pattern: The regular expression %[a-z]{400}[a-z]{400}Z% is too complex"},
  };
  std::string deep = "{ " + std::string(65, '(') + "$.a = 1" + std::string(65, ')') + " }";
  EXPECT_EQ(FilterPattern::Parse(deep).status().message(),
            "Invalid filter pattern: Parentheses are nested too deeply");
  auto nested =
      FilterPattern::Parse("{ " + std::string(64, '(') + "$.a = 1" + std::string(64, ')') + " }");
  ASSERT_TRUE(nested.ok()) << nested.status().message();
  EXPECT_TRUE(nested->Matches(R"({"a":1})"));
  for (const auto& [pattern, message] : cases) {
    auto p = FilterPattern::Parse(pattern);
    ASSERT_FALSE(p.ok()) << pattern;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidParameterValue) << pattern;
    EXPECT_EQ(p.status().message(), message) << pattern;
  }
}

}  // namespace
}  // namespace lambkin::logs
