// Command-line numbers are decimal whatever CLI11 would make of them, and an
// empty --config is refused (control/cli/cli_args.h).
#include "control/cli/cli_args.h"

#include <gtest/gtest.h>

namespace anylb {
namespace {

std::string decimal(std::string text, bool fraction = false) {
  const std::string why = decimal_arg(text, fraction);
  return why.empty() ? text : "error: " + why;
}

TEST(CliArgs, LeadingZerosAreDecimalNotOctal) {
  EXPECT_EQ(decimal("050"), "50");
  EXPECT_EQ(decimal("080"), "80");
  EXPECT_EQ(decimal("0100"), "100");
  EXPECT_EQ(decimal("0"), "0");
  EXPECT_EQ(decimal("000"), "0");
  EXPECT_EQ(decimal("65535"), "65535");
}

TEST(CliArgs, AnythingButDigitsIsRefusedByName) {
  for (const char* bad : {"0x10", "-1", "+5", " 5", "5 ", "", "1e3", "1.5", "nan"}) {
    EXPECT_EQ(decimal(bad), "error: '" + std::string(bad) + "' is not a decimal number (digits only)")
        << bad;
  }
}

TEST(CliArgs, FractionsTakeOneDotAndNoHexOrNan) {
  EXPECT_EQ(decimal("0.5", true), "0.5");
  EXPECT_EQ(decimal("010", true), "010");  // strtold reads it as ten
  EXPECT_EQ(decimal("2.", true), "2.");
  for (const char* bad : {"nan", "inf", "0x1p3", "1e3", "1..2", ".", "-1", ""}) {
    EXPECT_EQ(decimal(bad, true), "error: '" + std::string(bad) + "' is not a decimal number")
        << bad;
  }
}

TEST(CliArgs, EmptyPathIsRefused) {
  std::string empty, path = "my.toml";
  EXPECT_NE(non_empty_path_arg(empty), "");
  EXPECT_EQ(non_empty_path_arg(path), "");
  EXPECT_EQ(path, "my.toml");
}

}  // namespace
}  // namespace anylb
