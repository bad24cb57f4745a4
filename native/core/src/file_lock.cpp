#include "asr/file_lock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "asr/errors.h"

namespace asr {
namespace {

[[noreturn]] void throw_io(const std::string& what, const std::string& path, int error) {
  throw Error(codes::kIo, what + " '" + path + "': " + std::strerror(error));
}

struct Descriptor {
  int fd;
  ~Descriptor() { close(fd); }
};

// F_OFD_SETLK on the whole file (F_WRLCK: exclusive, F_RDLCK: shared); false when another open file holds
// a conflicting lock.
bool lock_whole_file(int fd, const std::string& path, short type = F_WRLCK) {
  struct flock request {};
  request.l_type = type;
  request.l_whence = SEEK_SET;
  request.l_start = 0;
  request.l_len = 0;  // to the end, however far it grows
  request.l_pid = 0;  // required by F_OFD_*
  while (fcntl(fd, F_OFD_SETLK, &request) != 0) {
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EACCES) return false;
    throw_io("Cannot lock", path, errno);
  }
  return true;
}

bool same_file(int fd, const std::string& path) {
  struct stat held {};
  struct stat named {};
  if (fstat(fd, &held) != 0) return false;
  if (stat(path.c_str(), &named) != 0) return false;
  return held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

}  // namespace

std::optional<FileLock> FileLock::try_acquire(const std::string& path) {
  // A holder removes the file before it lets go (release in src/checkpoints/lock.ts); whoever opened the
  // old file meanwhile locks a file no path names any more, and must start over on the new one.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw_io("Cannot open the lock file", path, errno);
    FileLock lock(fd);
    if (!lock_whole_file(fd, path)) return std::nullopt;
    if (lock.still_names(path)) return lock;
  }
  throw Error(codes::kIo, "Cannot lock '" + path + "': it was removed and recreated 100 times in a row");
}

FileLock FileLock::adopt(int fd, const std::string& path) {
  if (fcntl(fd, F_GETFD) < 0) throw_io("No inherited descriptor " + std::to_string(fd) + " for", path, errno);
  if (!same_file(fd, path)) {
    throw Error(codes::kIo, "Inherited descriptor " + std::to_string(fd) + " is not the lock file '" + path + "'");
  }
  if (!lock_whole_file(fd, path)) {
    throw Error(codes::kIo, "The lock on '" + path + "' is held by another open file, not by inherited descriptor " +
                                std::to_string(fd));
  }
  // The inherited descriptor lost O_CLOEXEC on the way in; later children of this process must not keep
  // the lock alive.
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return FileLock(fd);
}

std::optional<FileLock> FileLock::create_exclusive(const std::string& path) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw_io("Cannot create", path, errno);
  FileLock lock(fd);
  // A reclaimer that opened the new file before it was locked holds it now, or has removed it already.
  if (!lock_whole_file(fd, path) || !lock.still_names(path)) return std::nullopt;
  return lock;
}

FileLock::FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

FileLock::~FileLock() { release(); }

bool FileLock::still_names(const std::string& path) const { return fd_ >= 0 && same_file(fd_, path); }

void FileLock::release() noexcept {
  if (fd_ < 0) return;
  close(fd_);
  fd_ = -1;
}

std::optional<uint64_t> remove_abandoned_file(const std::string& path) {
  // O_NONBLOCK: a FIFO under such a name must not stall the caller.
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ELOOP) return std::nullopt;
    throw_io("Cannot open", path, errno);
  }
  const Descriptor held{fd};
  // Shared: it conflicts with a live writer's exclusive lock, and not with another reclaimer's.
  if (!lock_whole_file(fd, path, F_RDLCK)) return std::nullopt;
  struct stat st {};
  if (fstat(fd, &st) != 0) throw_io("Cannot read", path, errno);
  // Renamed into place or replaced since the caller saw the name: no temp file any more.
  if (!S_ISREG(st.st_mode) || !same_file(fd, path)) return std::nullopt;
  if (unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return std::nullopt;  // another reclaimer was first
    throw_io("Cannot remove", path, errno);
  }
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace asr
