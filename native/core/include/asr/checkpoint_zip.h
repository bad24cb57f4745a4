#pragma once
// The zip container of a checkpoint, in the layout torch.save writes and torch.load reads: stored (not
// compressed) records, each record's data starting on a 64-byte boundary (a "FB" padding field in the local
// header, as LibTorch's writer pads), zip64 fields once a size or offset passes 4 GiB.
//
// Why not LibTorch's PyTorchStreamWriter/Reader: the writer checksums a whole tensor and then writes it
// (every byte read from memory twice) with a table-driven CRC-32; the reader's in-memory path copies the
// file once more. Here the CRC-32 (libdeflate's, carry-less multiply: 10 GB/s against zlib's 4 on the
// AMD VM) runs over each 256 KiB chunk just before write() copies it, or just after pread() filled it,
// while the chunk is in cache, and records are read straight into the memory that holds the tensors.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace asr::zip {

// The archive does not parse (truncated, foreign, damaged); read_checkpoint reports it as E_CHECKPOINT_CORRUPT.
struct FormatError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The records' CRC-32 (the IEEE polynomial, as zlib and zip tools compute it). `crc` is the value so far (0
// to start) and the result continues it, so a record is checked chunk by chunk. libdeflate's where the build
// found it (src/crc32.cpp), crc32_portable otherwise (a build without it, e.g. on the GPU machine's pip
// LibTorch: same bytes, slower saves and loads).
uint32_t crc32(uint32_t crc, const void* data, size_t size);
// Slicing-by-8 over tables built at first use: no dependency.
uint32_t crc32_portable(uint32_t crc, const void* data, size_t size);

// Sizes and offsets at or above this get zip64 fields (the zip format's own limit; tests lower it).
inline constexpr uint64_t kZip64From = 0xFFFFFFFFu;

// Appends records to a new file through `fd` (positioned at 0) and writes the central directory at
// finish(). A failed write throws asr::Error(E_IO) naming `path`.
class Writer {
 public:
  Writer(int fd, std::string path, uint64_t zip64_from = kZip64From);
  void add(const std::string& name, const void* data, size_t size);
  void finish();

 private:
  struct Record {
    std::string name;
    uint64_t header_offset, size;
    uint32_t crc;
  };
  void emit(const void* data, size_t size);
  void flush();
  void write_all(const char* data, size_t size);
  void patch_crc(uint64_t header_offset, uint32_t crc);
  void start_writeback();

  int fd_;
  std::string path_;
  uint64_t zip64_from_;
  uint64_t offset_ = 0;          // bytes emitted so far (written or buffered)
  uint64_t written_ = 0;         // bytes handed to write(), from the start of the file
  uint64_t writeback_from_ = 0;  // first byte the kernel has not yet been asked to write back
  std::string out_;              // headers and small records, written in one go
  std::vector<Record> records_;
};

struct Entry {
  std::string name;
  uint64_t header_offset, size;
  uint32_t crc;
};

// The central directory of an archive `fd` of `file_size` bytes; FormatError when it does not parse.
class Reader {
 public:
  Reader(int fd, std::string path, uint64_t file_size);
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(const std::string& name) const;
  // Reads the record into `into` (entry.size bytes) and checks its CRC-32: FormatError when it ends early
  // or the bytes differ from what was written, asr::Error(E_IO) when the read itself fails.
  void read(const Entry& entry, void* into) const;

 private:
  int fd_;
  std::string path_;
  uint64_t file_size_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;  // name -> entries_ position
};

}  // namespace asr::zip
