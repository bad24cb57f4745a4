// asr::FileLock across real processes: fork() gives a second process with its own open file.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "asr/errors.h"
#include "asr/file_lock.h"

namespace {

// One folder per test process, removed when it ends (forked children leave with _exit, skipping this).
struct TempFolder {
  std::filesystem::path path;
  ~TempFolder() { std::filesystem::remove_all(path); }
};

std::string temp_lock_path(const char* name) {
  static const TempFolder folder{std::filesystem::temp_directory_path() /
                                 ("asr-file-lock-" + std::to_string(getpid()))};
  std::filesystem::create_directories(folder.path);
  const auto path = folder.path / name;
  std::filesystem::remove(path);
  return path.string();
}

// Runs `body` in a forked child and returns its exit code. Only async-signal-safe work in the child.
template <typename F>
int in_child(F body) {
  const pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Killed and not reaped yet: /proc/PID/stat's state is Z.
bool is_zombie(pid_t pid) {
  char state = 0;
  FILE* stat = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (stat == nullptr) return false;
  const int fields = std::fscanf(stat, "%*d (%*[^)]) %c", &state);
  std::fclose(stat);
  return fields == 1 && state == 'Z';
}

TEST(FileLock, SecondProcessCannotTakeItUntilReleased) {
  const std::string path = temp_lock_path("second.lock");
  auto lock = asr::FileLock::try_acquire(path);
  ASSERT_TRUE(lock.has_value());
  EXPECT_EQ(in_child([&] { return asr::FileLock::try_acquire(path).has_value() ? 1 : 0; }), 0);
  // An OFD lock belongs to the open file: a second open in the holder's own process is refused too.
  EXPECT_FALSE(asr::FileLock::try_acquire(path).has_value());
  lock->release();
  EXPECT_EQ(in_child([&] { return asr::FileLock::try_acquire(path).has_value() ? 1 : 0; }), 1);
}

TEST(FileLock, SigkilledHolderReleasesItEvenUnreaped) {
  const std::string path = temp_lock_path("killed.lock");
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t holder = fork();
  if (holder == 0) {
    auto lock = asr::FileLock::try_acquire(path);
    const char byte = lock ? 'y' : 'n';
    if (write(ready[1], &byte, 1) != 1) _exit(2);
    for (;;) pause();
  }
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  ASSERT_EQ(byte, 'y');
  EXPECT_FALSE(asr::FileLock::try_acquire(path).has_value());

  ASSERT_EQ(kill(holder, SIGKILL), 0);
  // Not reaped yet: the holder is a zombie, and kill(pid, 0) still succeeds on it.
  for (int i = 0; i < 200 && !is_zombie(holder); ++i) usleep(10'000);
  ASSERT_TRUE(is_zombie(holder));
  EXPECT_EQ(kill(holder, 0), 0);
  EXPECT_TRUE(asr::FileLock::try_acquire(path).has_value());

  waitpid(holder, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
}

// A forked child that takes the lock over with `adopt` (returning its FileLock), says so, and keeps it until
// finish() lets it exit.
class AdoptingChild {
 public:
  template <typename Adopt>
  explicit AdoptingChild(Adopt adopt) {
    if (pipe(ready_) != 0 || pipe(done_) != 0) std::abort();
    pid_ = fork();
    if (pid_ == 0) {
      try {
        auto adopted = adopt();
        char byte = 'y';
        if (write(ready_[1], &byte, 1) != 1) _exit(2);
        if (read(done_[0], &byte, 1) != 1) _exit(3);
        _exit(0);
      } catch (const asr::Error&) {
        _exit(4);
      }
    }
    // Only the child writes `ready` and reads `done`: a child that fails ends the parent's read.
    close(ready_[1]);
    close(done_[0]);
  }
  ~AdoptingChild() {
    close(ready_[0]);
    close(done_[1]);
  }
  AdoptingChild(const AdoptingChild&) = delete;
  AdoptingChild& operator=(const AdoptingChild&) = delete;

  bool adopted() {
    char byte = 0;
    return read(ready_[0], &byte, 1) == 1;
  }
  // The child's exit code once it has let go (0 when all went as planned).
  int finish() {
    const char byte = 'x';
    if (write(done_[1], &byte, 1) != 1) return -1;
    int status = 0;
    waitpid(pid_, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int ready_[2] = {-1, -1};
  int done_[2] = {-1, -1};
};

TEST(FileLock, ChildAdoptsAnInheritedDescriptor) {
  const std::string path = temp_lock_path("inherited.lock");
  auto lock = asr::FileLock::try_acquire(path);
  ASSERT_TRUE(lock.has_value());
  const int fd = lock->fd();
  // The child holds the same open file: adopting succeeds, and its copy keeps the lock after the
  // parent lets go of its own.
  AdoptingChild child([&] { return asr::FileLock::adopt(fd, path); });
  ASSERT_TRUE(child.adopted());
  lock->release();
  EXPECT_FALSE(asr::FileLock::try_acquire(path).has_value());
  EXPECT_EQ(child.finish(), 0);
  EXPECT_TRUE(asr::FileLock::try_acquire(path).has_value());
}

// The server's pre-started trainer was forked before the lock existed: the lock reaches it over the
// channel, and the trainer's copy keeps it after the sender lets go, as an inherited one does.
TEST(FileLock, RunningProcessAdoptsADescriptorSentOverTheChannel) {
  const std::string path = temp_lock_path("sent.lock");
  const auto [keep, give] = asr::descriptor_channel();
  // Forked first, like the pre-started trainer: it has no copy of the lock's descriptor.
  AdoptingChild child([&] { return asr::FileLock::adopt(asr::receive_descriptor(give, 10'000), path); });
  auto lock = asr::FileLock::try_acquire(path);
  ASSERT_TRUE(lock.has_value());
  asr::send_descriptor(keep, lock->fd());
  ASSERT_TRUE(child.adopted());
  lock->release();
  EXPECT_FALSE(asr::FileLock::try_acquire(path).has_value());
  EXPECT_EQ(child.finish(), 0);
  EXPECT_TRUE(asr::FileLock::try_acquire(path).has_value());
  close(keep);
  close(give);
}

TEST(FileLock, ReceivingFailsWhenNothingIsSentOrTheSenderIsGone) {
  const auto [keep, give] = asr::descriptor_channel();
  EXPECT_THROW(asr::receive_descriptor(give, 50), asr::Error);
  close(keep);
  EXPECT_THROW(asr::receive_descriptor(give, 1'000), asr::Error);
  close(give);
}

TEST(FileLock, AdoptRefusesAnotherFile) {
  const std::string path = temp_lock_path("adopt.lock");
  auto lock = asr::FileLock::try_acquire(path);
  ASSERT_TRUE(lock.has_value());
  auto other = asr::FileLock::try_acquire(temp_lock_path("other.lock"));
  ASSERT_TRUE(other.has_value());
  EXPECT_THROW(asr::FileLock::adopt(other->fd(), path), asr::Error);
}

TEST(FileLock, RetakesTheFileThePathNamesAfterARemoval) {
  const std::string path = temp_lock_path("removed.lock");
  auto first = asr::FileLock::try_acquire(path);
  ASSERT_TRUE(first.has_value());
  std::filesystem::remove(path);
  EXPECT_FALSE(first->still_names(path));
  auto second = asr::FileLock::try_acquire(path);
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(second->still_names(path));
}

// Temp files: a writer holds its temp file locked (create_exclusive) until it renames it, so a reclaim
// keeps a live writer's and removes a killed one's, zombie or not.

TEST(TempFile, AKilledWritersFileIsRemovedEvenUnreapedALiveOnesIsKept) {
  const std::string path = temp_lock_path("x.pt.tmp-1-2");
  constexpr size_t kBytes = 1 << 20;
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t writer = fork();
  if (writer == 0) {
    auto temp = asr::FileLock::create_exclusive(path);
    static char block[kBytes];
    const bool written = temp && write(temp->fd(), block, kBytes) == static_cast<ssize_t>(kBytes);
    const char byte = written ? 'y' : 'n';
    if (write(ready[1], &byte, 1) != 1) _exit(2);
    for (;;) pause();
  }
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  ASSERT_EQ(byte, 'y');
  EXPECT_FALSE(asr::remove_abandoned_file(path).has_value());
  EXPECT_TRUE(std::filesystem::exists(path));

  ASSERT_EQ(kill(writer, SIGKILL), 0);
  for (int i = 0; i < 200 && !is_zombie(writer); ++i) usleep(10'000);
  ASSERT_TRUE(is_zombie(writer));
  // Its pid still "exists" (kill(pid, 0) succeeds on a zombie); its lock does not.
  EXPECT_EQ(kill(writer, 0), 0);
  EXPECT_EQ(asr::remove_abandoned_file(path), std::optional<uint64_t>(kBytes));
  EXPECT_FALSE(std::filesystem::exists(path));

  waitpid(writer, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
}

TEST(TempFile, ThisProcesssOwnWriterIsLiveToo) {
  // OFD locks belong to the open file: the reclaim's own open conflicts with a writer of its own process.
  const std::string path = temp_lock_path("own.pt.tmp-1-2");
  auto temp = asr::FileLock::create_exclusive(path);
  ASSERT_TRUE(temp.has_value());
  EXPECT_FALSE(asr::remove_abandoned_file(path).has_value());
  temp->release();
  EXPECT_EQ(asr::remove_abandoned_file(path), std::optional<uint64_t>(0));
}

TEST(TempFile, CreateRefusesAnExistingNameAndTheReclaimLeavesSymlinksAndMissingNames) {
  const std::string path = temp_lock_path("taken.pt.tmp-1-2");
  { std::ofstream(path) << "committed elsewhere"; }
  EXPECT_THROW(asr::FileLock::create_exclusive(path), asr::Error);

  const std::string link = temp_lock_path("link.pt.tmp-1-2");
  std::filesystem::create_symlink(path, link);
  EXPECT_FALSE(asr::remove_abandoned_file(link).has_value());
  EXPECT_TRUE(std::filesystem::is_symlink(link));
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_FALSE(asr::remove_abandoned_file(temp_lock_path("missing.pt.tmp-1-2")).has_value());
}

}  // namespace
