// libFuzzer target: any bytes as a config file, through parse_config() and,
// when that accepts them, build_state_from_config() twice (fresh, then over
// itself, as a reload does). Built with ASan and UBSan over the config,
// table and core sources.
//
// Invariants: no crash or sanitizer report; an error always has a message;
// a config parse_config() accepts builds (validation is the only gate an
// operator's reload passes, so a config it lets through must not fail later
// when the tables are built), fresh or over itself. Configs whose
// Maglev tables add up to more than kMaxSlots are parsed but not built: that
// is memory and time, not a bug to find.
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "control/config/config.h"
#include "control/tables/state_spec.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

constexpr uint64_t kMaxSlots = 1u << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace anylb;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = parse_config(text, "fuzz.toml");
  if (!config) {
    FUZZ_CHECK(!config.error().message.empty());
    return 0;
  }
  uint64_t slots = 0;
  for (const VipConfig& v : config->vips) slots += v.table_size;
  if (slots > kMaxSlots) return 0;

  auto first = build_state_from_config(*config, nullptr);
  if (!first) std::fprintf(stderr, "fuzz_config: build: %s\n", first.error().message.c_str());
  FUZZ_CHECK(static_cast<bool>(first));
  auto again = build_state_from_config(*config, &*first);
  if (!again) std::fprintf(stderr, "fuzz_config: rebuild: %s\n", again.error().message.c_str());
  FUZZ_CHECK(static_cast<bool>(again));
  return 0;
}
