#pragma once
// An exclusive kernel lock on an open file, for the checkpoint folder's one-writer lock, and for the temp
// files its writers fill before renaming them into place (a killed writer's temp file is told by its lock).
//
// Linux open-file-description locks (fcntl F_OFD_SETLK): the kernel drops the lock when the last
// descriptor of the open file closes, which includes the death of every process holding one, zombie or
// not. A pid check cannot do that: kill(pid, 0) succeeds on a zombie that PID 1 has not reaped yet.
// Unlike classic POSIX record locks, an OFD lock belongs to the open file, not to the process, so a
// forked child that inherits the descriptor holds the same lock, and closing an unrelated descriptor of
// the same file in the same process does not drop it.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace asr {

class FileLock {
 public:
  // Opens (creating, mode 0644) `path` and takes the lock without waiting. nullopt when another open
  // file holds it; asr::Error (E_IO) when the file cannot be opened or locked for any other reason.
  // When another process removed the file between open and lock, retries on the new file, so the
  // holder always locks the file the path names.
  static std::optional<FileLock> try_acquire(const std::string& path);

  // Takes over a descriptor inherited from the process that locked `path` (same open file, so the
  // lock is already ours). E_IO when `fd` is not that file or its lock is held elsewhere.
  static FileLock adopt(int fd, const std::string& path);

  // Creates `path` (O_EXCL, mode 0644, open for reading and writing) and locks it: a temp file its writer
  // holds locked until it has renamed it into place, so remove_abandoned_file() never takes it for a dead
  // writer's. nullopt when such a reclaimer caught the new file before the lock was taken (it removes the
  // file): try another name. E_IO for any other failure, an existing `path` included.
  static std::optional<FileLock> create_exclusive(const std::string& path);

  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();  // releases

  // The descriptor, to hand to a child process (it keeps the lock while any copy stays open).
  int fd() const noexcept { return fd_; }
  // True while `path` still names the locked file (not removed or replaced by someone else).
  bool still_names(const std::string& path) const;
  // Closes this descriptor; the lock ends when no other process holds a copy. Safe to call twice.
  void release() noexcept;

 private:
  explicit FileLock(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
};

// Removes the regular file `path` when no open file holds a lock on it: a temp file whose writer
// (create_exclusive) is gone, however it died; the kernel drops the lock with the last descriptor, so a
// killed writer that is still a zombie (PID 1 reaps late here) holds nothing, and a pid that exists proves
// nothing. Returns the bytes it held; nullopt when a live writer holds it, when it is gone already, or when
// it is no regular file (a symlink is left alone). E_IO when it cannot be opened or removed.
std::optional<uint64_t> remove_abandoned_file(const std::string& path);

// Handing the lock to a process that is already running (the server's pre-started trainer), which
// cannot inherit it at fork: a copy of the descriptor crosses a Unix socket (SCM_RIGHTS), so both
// processes hold the same open file and therefore the same lock, as an inherited descriptor would.

// A connected pair of Unix stream sockets, both close-on-exec: the first stays with the caller, the
// second is given to the child as one of its descriptors at spawn (which clears close-on-exec there).
std::pair<int, int> descriptor_channel();

// Sends a copy of `fd` over `socket`. E_IO when the socket is closed or the send fails.
void send_descriptor(int socket, int fd);

// The next descriptor sent over `socket`, close-on-exec, waiting at most `timeout_ms`. E_IO when none
// arrives in time, when the other end closed, or when the message carries no descriptor.
int receive_descriptor(int socket, int timeout_ms);

}  // namespace asr
