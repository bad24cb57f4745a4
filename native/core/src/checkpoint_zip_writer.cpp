#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "asr/checkpoint_zip.h"
#include "asr/errors.h"
#include "checkpoint_zip_format.h"

namespace asr::zip {

namespace {

using namespace format;

// A chunk is checksummed and then handed to write() while it is still in the core's L2 cache.
constexpr size_t kChunk = 256 << 10;
// Headers and records up to a chunk collect here, so a model's hundreds of small tensors cost a few writes.
constexpr size_t kFlushAt = 1 << 20;
// Every this many bytes written, the kernel is asked to start writing them to disk. Without it the page cache
// holds the whole file until the closing fsync, which then waits for all of it after the CPU work is done
// (measured on a 100 MB checkpoint: ~80 ms of checksums and copies, then ~75 ms of fsync, one after the other).
constexpr uint64_t kWritebackEvery = 8 << 20;

uint32_t crc_of(const char* data, size_t size, uint32_t crc = 0) { return crc32(crc, data, size); }

}  // namespace

Writer::Writer(int fd, std::string path, uint64_t zip64_from)
    : fd_(fd), path_(std::move(path)), zip64_from_(zip64_from) {
  out_.reserve(kFlushAt + kChunk);
}

void Writer::write_all(const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd_, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      throw Error(codes::kIo, "cannot write checkpoint '" + path_ + "': " + std::strerror(err));
    }
    data += n;
    size -= static_cast<size_t>(n);
    written_ += static_cast<uint64_t>(n);
  }
  if (written_ - writeback_from_ >= kWritebackEvery) start_writeback();
}

void Writer::start_writeback() {
  // Only a head start: the closing fsync is what makes the file durable, so a failure here (a file system or
  // descriptor that does not support it) changes nothing but the timing.
  (void)::sync_file_range(fd_, static_cast<off_t>(writeback_from_), static_cast<off_t>(written_ - writeback_from_),
                          SYNC_FILE_RANGE_WRITE);
  writeback_from_ = written_;
}

void Writer::flush() {
  write_all(out_.data(), out_.size());
  out_.clear();
}

void Writer::emit(const void* data, size_t size) {
  out_.append(static_cast<const char*>(data), size);
  offset_ += size;
  if (out_.size() >= kFlushAt) flush();
}

void Writer::patch_crc(uint64_t header_offset, uint32_t crc) {
  std::string bytes;
  put32(bytes, crc);
  const auto at = static_cast<off_t>(header_offset + kCrcOffsetInLocalHeader);
  for (;;) {
    const ssize_t n = ::pwrite(fd_, bytes.data(), bytes.size(), at);
    if (n == static_cast<ssize_t>(bytes.size())) return;
    if (n < 0 && errno == EINTR) continue;
    const int err = n < 0 ? errno : EIO;
    throw Error(codes::kIo, "cannot write checkpoint '" + path_ + "': " + std::strerror(err));
  }
}

void Writer::add(const std::string& name, const void* data, size_t size) {
  const char* bytes = static_cast<const char*>(data);
  const uint64_t header_offset = offset_;
  const bool zip64 = size >= zip64_from_;
  const bool small = size <= kChunk;
  // A small record's CRC goes into its header now; a large one's is patched in once its data is written.
  const uint32_t crc = small ? crc_of(bytes, size) : 0;

  const size_t zip64_extra = zip64 ? 4 + 16 : 0;
  const uint64_t unpadded = header_offset + kLocalHeaderSize + name.size() + zip64_extra + 4;
  const auto padding = static_cast<uint16_t>((kDataAlignment - unpadded % kDataAlignment) % kDataAlignment);
  std::string header;
  put32(header, kLocalHeaderSig);
  put16(header, zip64 ? kVersionNeededZip64 : kVersionNeeded);
  put16(header, 0);  // flags
  put16(header, 0);  // stored
  put16(header, kDosTime);
  put16(header, kDosDate);
  put32(header, crc);
  put32(header, zip64 ? 0xFFFFFFFFu : static_cast<uint32_t>(size));  // compressed size
  put32(header, zip64 ? 0xFFFFFFFFu : static_cast<uint32_t>(size));  // size
  put16(header, static_cast<uint16_t>(name.size()));
  put16(header, static_cast<uint16_t>(zip64_extra + 4 + padding));
  header += name;
  if (zip64) {
    put16(header, kZip64ExtraId);
    put16(header, 16);
    put64(header, size);
    put64(header, size);
  }
  header += "FB";
  put16(header, padding);
  header.append(padding, 'Z');
  emit(header.data(), header.size());

  if (small) {
    emit(bytes, size);
    records_.push_back({name, header_offset, size, crc});
    return;
  }
  flush();
  uint32_t running = 0;
  for (size_t done = 0; done < size; done += kChunk) {
    const size_t n = std::min(kChunk, size - done);
    running = crc_of(bytes + done, n, running);
    write_all(bytes + done, n);
  }
  offset_ += size;
  patch_crc(header_offset, running);
  records_.push_back({name, header_offset, size, running});
}

void Writer::finish() {
  const uint64_t directory_offset = offset_;
  for (const auto& r : records_) {
    const bool big_size = r.size >= zip64_from_;
    const bool big_offset = r.header_offset >= zip64_from_;
    std::string extra;
    if (big_size || big_offset) {
      put16(extra, kZip64ExtraId);
      put16(extra, static_cast<uint16_t>((big_size ? 16 : 0) + (big_offset ? 8 : 0)));
      if (big_size) put64(extra, r.size), put64(extra, r.size);
      if (big_offset) put64(extra, r.header_offset);
    }
    const uint16_t needed = extra.empty() ? kVersionNeeded : kVersionNeededZip64;
    std::string h;
    put32(h, kCentralHeaderSig);
    put16(h, needed);  // made by
    put16(h, needed);
    put16(h, 0);  // flags
    put16(h, 0);  // stored
    put16(h, kDosTime);
    put16(h, kDosDate);
    put32(h, r.crc);
    put32(h, big_size ? 0xFFFFFFFFu : static_cast<uint32_t>(r.size));
    put32(h, big_size ? 0xFFFFFFFFu : static_cast<uint32_t>(r.size));
    put16(h, static_cast<uint16_t>(r.name.size()));
    put16(h, static_cast<uint16_t>(extra.size()));
    put16(h, 0);  // comment
    put16(h, 0);  // disk
    put16(h, 0);  // internal attributes
    put32(h, 0);  // external attributes
    put32(h, big_offset ? 0xFFFFFFFFu : static_cast<uint32_t>(r.header_offset));
    h += r.name;
    h += extra;
    emit(h.data(), h.size());
  }
  const uint64_t directory_size = offset_ - directory_offset;
  const uint64_t count = records_.size();
  std::string end;
  if (count >= 0xFFFF || directory_offset >= zip64_from_ || directory_size >= zip64_from_) {
    const uint64_t zip64_end_offset = offset_;
    put32(end, kZip64EndSig);
    put64(end, kZip64EndSize - 12);
    put16(end, kVersionNeededZip64);
    put16(end, kVersionNeededZip64);
    put32(end, 0);
    put32(end, 0);
    put64(end, count);
    put64(end, count);
    put64(end, directory_size);
    put64(end, directory_offset);
    put32(end, kZip64LocatorSig);
    put32(end, 0);
    put64(end, zip64_end_offset);
    put32(end, 1);
  }
  put32(end, kEndSig);
  put16(end, 0);
  put16(end, 0);
  put16(end, static_cast<uint16_t>(std::min<uint64_t>(count, 0xFFFF)));
  put16(end, static_cast<uint16_t>(std::min<uint64_t>(count, 0xFFFF)));
  put32(end, directory_size >= zip64_from_ ? 0xFFFFFFFFu : static_cast<uint32_t>(directory_size));
  put32(end, directory_offset >= zip64_from_ ? 0xFFFFFFFFu : static_cast<uint32_t>(directory_offset));
  put16(end, 0);  // comment
  emit(end.data(), end.size());
  flush();
}

}  // namespace asr::zip
