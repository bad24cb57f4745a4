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

// Read and checksummed a chunk at a time, so the CRC-32 reads what pread() just wrote into the cache.
constexpr size_t kChunk = 256 << 10;
constexpr size_t kMaxComment = 0xFFFF;

// pread() until `size` bytes or the end of the file; the count read.
size_t read_at(int fd, const std::string& path, uint64_t offset, void* into, size_t size) {
  auto* p = static_cast<char*>(into);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, p + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(codes::kIo, "cannot read checkpoint '" + path + "': " + std::strerror(errno));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

std::string read_exact(int fd, const std::string& path, uint64_t offset, size_t size, const char* what) {
  std::string bytes(size, '\0');
  if (read_at(fd, path, offset, bytes.data(), size) != size)
    throw FormatError(std::string("the file ends inside ") + what);
  return bytes;
}

const unsigned char* u8(const std::string& s, size_t at = 0) {
  return reinterpret_cast<const unsigned char*>(s.data()) + at;
}

struct Directory {
  uint64_t count, size, offset;
};

// The end-of-central-directory record (and its zip64 twin when present), searched from the file's end.
Directory find_directory(int fd, const std::string& path, uint64_t file_size) {
  if (file_size < kEndSize) throw FormatError("it is too short to be a zip archive");
  const uint64_t tail_size = std::min<uint64_t>(file_size, kEndSize + kMaxComment + kZip64LocatorSize);
  const uint64_t tail_start = file_size - tail_size;
  const std::string tail = read_exact(fd, path, tail_start, tail_size, "its end records");
  size_t at = tail.size() - kEndSize + 1;
  for (;;) {
    if (at == 0) throw FormatError("no end-of-central-directory record: not a zip archive, or cut short");
    --at;
    if (get32(u8(tail, at)) == kEndSig && at + kEndSize + get16(u8(tail, at + 20)) <= tail.size()) break;
  }
  Directory d{get16(u8(tail, at + 10)), get32(u8(tail, at + 12)), get32(u8(tail, at + 16))};
  if (at >= kZip64LocatorSize && get32(u8(tail, at - kZip64LocatorSize)) == kZip64LocatorSig) {
    const uint64_t zip64_end = get64(u8(tail, at - kZip64LocatorSize + 8));
    if (file_size < kZip64EndSize || zip64_end > file_size - kZip64EndSize) {
      throw FormatError("its zip64 end record lies outside the file");
    }
    const std::string rec = read_exact(fd, path, zip64_end, kZip64EndSize, "its zip64 end record");
    if (get32(u8(rec)) != kZip64EndSig) throw FormatError("its zip64 end record is damaged");
    d = {get64(u8(rec, 32)), get64(u8(rec, 40)), get64(u8(rec, 48))};
  }
  if (d.offset > file_size || d.size > file_size - d.offset || d.count > d.size / kCentralHeaderSize) {
    throw FormatError("its central directory does not fit the file (cut short?)");
  }
  return d;
}

}  // namespace

Reader::Reader(int fd, std::string path, uint64_t file_size) : fd_(fd), path_(std::move(path)), file_size_(file_size) {
  const Directory d = find_directory(fd_, path_, file_size_);
  const std::string dir = read_exact(fd_, path_, d.offset, d.size, "its central directory");
  size_t at = 0;
  entries_.reserve(d.count);
  for (uint64_t i = 0; i < d.count; ++i) {
    if (at + kCentralHeaderSize > dir.size() || get32(u8(dir, at)) != kCentralHeaderSig) {
      throw FormatError("its central directory is damaged at entry " + std::to_string(i));
    }
    const unsigned char* h = u8(dir, at);
    const uint16_t method = get16(h + 10);
    Entry e{"", get32(h + 42), get32(h + 24), get32(h + 16)};
    uint64_t compressed = get32(h + 20);
    const size_t name_size = get16(h + 28), extra_size = get16(h + 30), comment_size = get16(h + 32);
    const size_t next = at + kCentralHeaderSize + name_size + extra_size + comment_size;
    if (next > dir.size()) throw FormatError("its central directory is damaged at entry " + std::to_string(i));
    e.name.assign(dir, at + kCentralHeaderSize, name_size);
    // zip64: the fields stored as 0xFFFFFFFF follow in this order in the 0x0001 extra field.
    const size_t extra_end = at + kCentralHeaderSize + name_size + extra_size;
    for (size_t x = at + kCentralHeaderSize + name_size; x + 4 <= extra_end;) {
      const uint16_t id = get16(u8(dir, x)), len = get16(u8(dir, x + 2));
      if (x + 4 + len > extra_end) throw FormatError("the directory entry of '" + e.name + "' is damaged");
      if (id == kZip64ExtraId) {
        size_t f = x + 4;
        auto take = [&](uint64_t& field) {
          if (field != 0xFFFFFFFFu) return;
          if (f + 8 > x + 4 + len) throw FormatError("the zip64 fields of '" + e.name + "' are damaged");
          field = get64(u8(dir, f));
          f += 8;
        };
        take(e.size);
        take(compressed);
        take(e.header_offset);
      }
      x += 4 + len;
    }
    if (method != 0 || compressed != e.size) {
      throw FormatError("record '" + e.name + "' is compressed; torch.save stores records uncompressed");
    }
    if (e.header_offset > file_size_ || e.size > file_size_ - e.header_offset) {
      throw FormatError("record '" + e.name + "' lies outside the file (cut short?)");
    }
    index_.emplace(e.name, entries_.size());
    entries_.push_back(std::move(e));
    at = next;
  }
}

const Entry* Reader::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

void Reader::read(const Entry& entry, void* into) const {
  const std::string header = read_exact(fd_, path_, entry.header_offset, kLocalHeaderSize, entry.name.c_str());
  if (get32(u8(header)) != kLocalHeaderSig) throw FormatError("the header of record '" + entry.name + "' is damaged");
  const uint64_t data = entry.header_offset + kLocalHeaderSize + get16(u8(header, 26)) + get16(u8(header, 28));
  if (data > file_size_ || entry.size > file_size_ - data) {
    throw FormatError("record '" + entry.name + "' runs past the end of the file (cut short?)");
  }
  auto* p = static_cast<char*>(into);
  uint32_t crc = 0;
  for (uint64_t done = 0; done < entry.size; done += kChunk) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, entry.size - done));
    if (read_at(fd_, path_, data + done, p + done, n) != n) {
      throw FormatError("the file ends inside record '" + entry.name + "'");
    }
    crc = crc32(crc, p + done, n);
  }
  if (crc != entry.crc) {
    throw FormatError("record '" + entry.name + "' fails its CRC-32 check (its bytes changed after saving)");
  }
}

}  // namespace asr::zip
