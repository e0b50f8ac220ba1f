// Fuzzes the Contributor Insights rule parser and evaluator: the input's first line is a rule
// definition, the rest log messages to evaluate it on (CLF and JSON alike).
#include <cstddef>
#include <cstdint>
#include <string>

#include "insights/rule.h"
#include "logs/clf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  size_t split = input.find('\n');
  std::string definition = input.substr(0, split);
  std::string rest = split == std::string::npos ? "" : input.substr(split + 1);
  (void)lambkin::logs::ClfHead(rest);
  auto rule = lambkin::insights::Rule::Parse(definition);
  if (!rule.ok()) {
    if (rule.status().message().empty()) __builtin_trap();
    return 0;
  }
  if (rule->key_labels().empty() || rule->key_labels().size() > 4) __builtin_trap();
  lambkin::insights::Contribution c;
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = rest.find('\n', start);
    if (end == std::string::npos) end = rest.size();
    if (rule->Evaluate(std::string_view(rest).substr(start, end - start), c)) {
      if (lambkin::insights::Rule::SplitContributor(c.contributor).size() !=
          rule->key_labels().size()) {
        __builtin_trap();
      }
    }
    start = end + 1;
  }
  return 0;
}
