// search.h5: rows, attributes, truncation on restart, and a live SWMR reader in a second process.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include "alphax/search_log.hpp"
#include "test_files.hpp"

namespace alphax::app {
namespace {

EvaluationRecord record(std::int64_t id) {
  EvaluationRecord r;
  r.id = id;
  r.canonical_hash = 1000 + static_cast<std::uint64_t>(id);
  r.arch = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|";
  r.strategy = "mcts";
  r.group = static_cast<std::int32_t>(id % 3);
  r.dispatch_time = 0.5 * static_cast<double>(id);
  r.finish_time = r.dispatch_time + 1.0;
  r.virtual_finish = 10.0 * static_cast<double>(id);
  r.predicted = 70.0;
  r.objective = 80.0 + static_cast<double>(id);
  r.report = 79.0;
  r.params = 12345;
  r.flops = 6.5e6;
  r.train_seconds = 1.0;
  r.status = id == 2 ? search::EvalStatus::failed : search::EvalStatus::ok;
  return r;
}

// Runs /usr/bin/python3 (the interpreter with h5py) and returns its stdout.
std::string run_python(const std::string& script) {
  const std::string command = "/usr/bin/python3 -c '" + script + "' 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) return "popen failed";
  std::string out;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe.get())) out += buffer;
  return out;
}

TEST(SearchLog, RowsAndAttributesRoundTrip) {
  const auto dir = testing::fresh_directory("log");
  {
    auto log = SearchLog::create(dir / "search.h5", {"run: {seed: 1}\n", 5, 2});
    for (int i = 0; i < 4; ++i) log.append(record(i));
    EXPECT_EQ(log.rows(), 4u);
  }
  const auto rows = SearchLog::read_all(dir / "search.h5");
  ASSERT_EQ(rows.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(rows[static_cast<std::size_t>(i)].same_except_times(record(i))) << i;
    EXPECT_EQ(rows[static_cast<std::size_t>(i)].dispatch_time, record(i).dispatch_time);
  }
  EXPECT_EQ(rows[2].status, search::EvalStatus::failed);
}

TEST(SearchLog, ReopenKeepsOnlyTheCheckpointedRows) {
  const auto dir = testing::fresh_directory("log");
  {
    auto log = SearchLog::create(dir / "search.h5", {"x: 1\n", 3, 1});
    for (int i = 0; i < 5; ++i) log.append(record(i));
  }
  {
    auto log = SearchLog::reopen(dir / "search.h5", {"x: 2\n", 3, 1}, 3);
    EXPECT_EQ(log.rows(), 3u);
    log.append(record(7));
  }
  const auto rows = SearchLog::read_all(dir / "search.h5");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[2].id, 2);
  EXPECT_EQ(rows[3].id, 7);
  EXPECT_THROW(SearchLog::reopen(dir / "search.h5", {"x: 3\n", 3, 1}, 9), std::runtime_error);
}

TEST(SearchLog, OverlongArchitectureStringIsAnErrorNotATruncation) {
  const auto dir = testing::fresh_directory("log");
  auto log = SearchLog::create(dir / "search.h5", {"x: 1\n", 1, 1});
  auto r = record(0);
  r.arch = std::string(kArchChars + 5, 'a');
  EXPECT_THROW(log.append(r), std::runtime_error);
  EXPECT_EQ(log.rows(), 0u);
}

TEST(SearchLog, SecondProcessReadsRowsWhileTheWriterIsOpen) {
  const auto dir = testing::fresh_directory("log");
  const auto path = (dir / "search.h5").string();
  auto log = SearchLog::create(path, {"run: {name: swmr}\n", 3, 1});
  const std::string script = "import h5py; f = h5py.File(\"" + path +
                             "\", \"r\", libver=\"latest\", swmr=True); d = f[\"evaluations\"]; "
                             "print(d.shape[0], float(d[-1][\"objective\"]) if d.shape[0] else -1, f.attrs[\"group_size\"])";
  for (int i = 0; i < 3; ++i) log.append(record(i));
  EXPECT_EQ(run_python(script), "3 82.0 1\n");
  for (int i = 3; i < 5; ++i) log.append(record(i));
  EXPECT_EQ(run_python(script), "5 84.0 1\n");
}

}  // namespace
}  // namespace alphax::app
