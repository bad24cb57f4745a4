// The process's compute thread (compute_thread.h): every caller's work runs on one thread, one at a time,
// errors come back to the caller, and work that calls in again from that thread does not deadlock.
#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

#include "asr/compute_thread.h"
#include "asr/errors.h"

namespace asr {
namespace {

TEST(ComputeThread, WorkFromManyThreadsRunsOnOneOtherThreadOneAtATime) {
  std::mutex ids_mutex;
  std::set<std::thread::id> ran_on;
  int unguarded_counter = 0;  // a data race unless the calls are serialised
  int inside = 0, most_inside = 0;
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        run_on_compute_thread([&] {
          most_inside = std::max(most_inside, ++inside);
          ++unguarded_counter;
          EXPECT_TRUE(on_compute_thread());
          std::lock_guard<std::mutex> lock(ids_mutex);
          ran_on.insert(std::this_thread::get_id());
          --inside;
        });
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(unguarded_counter, 800);
  EXPECT_EQ(most_inside, 1);
  ASSERT_EQ(ran_on.size(), 1u);
  EXPECT_NE(*ran_on.begin(), std::this_thread::get_id());
  EXPECT_FALSE(on_compute_thread());
}

TEST(ComputeThread, AnErrorReachesTheCallerWithItsCode) {
  try {
    run_on_compute_thread([] { throw Error(codes::kInvalidArgument, "bad input from the work"); });
    FAIL() << "expected asr::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), codes::kInvalidArgument);
    EXPECT_STREQ(e.what(), "bad input from the work");
  }
  int after = 0;
  run_on_compute_thread([&] { after = 1; });  // the thread survived the exception
  EXPECT_EQ(after, 1);
}

TEST(ComputeThread, ACallFromTheComputeThreadRunsInline) {
  int depth = 0;
  run_on_compute_thread([&] {
    depth = 1;
    run_on_compute_thread([&] { depth = 2; });
  });
  EXPECT_EQ(depth, 2);
}

}  // namespace
}  // namespace asr
