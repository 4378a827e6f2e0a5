#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/bounded_queue.h"

using unmark::BoundedQueue;

TEST(BoundedQueue, FifoAndCloseDrains) {
  BoundedQueue<int> q(4);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(q.push(i));
  q.close();
  EXPECT_FALSE(q.push(99));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(q.pop(), i);
  EXPECT_EQ(q.pop(), std::nullopt);
}

TEST(BoundedQueue, ProducerBlocksAtCapacity) {
  BoundedQueue<int> q(2);
  std::atomic<int> pushed{0};
  std::thread producer([&] {
    for (int i = 0; i < 10; ++i) {
      q.push(i);
      ++pushed;
    }
    q.close();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_LE(pushed.load(), 3);  // two queued, a third may be waiting
  EXPECT_LE(q.size(), 2u);
  int expected = 0;
  while (auto v = q.pop()) EXPECT_EQ(*v, expected++);
  EXPECT_EQ(expected, 10);
  producer.join();
}

TEST(BoundedQueue, AbortWakesBothSides) {
  BoundedQueue<int> full(1), empty(1);
  full.push(1);
  std::thread blocked_push([&] { EXPECT_FALSE(full.push(2)); });
  std::thread blocked_pop([&] { EXPECT_EQ(empty.pop(), std::nullopt); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  full.abort();
  empty.abort();
  blocked_push.join();
  blocked_pop.join();
  EXPECT_EQ(full.pop(), std::nullopt);  // aborted: queued items are gone
}
