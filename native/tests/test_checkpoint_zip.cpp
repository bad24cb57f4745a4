// The checkpoint's zip container (asr/checkpoint_zip.h): the same records, byte for byte, as LibTorch's own
// torch::pickle_save; readable by LibTorch's reader (which checks every CRC-32) and by Python's zipfile and
// torch.load, zip64 included; files LibTorch's writer made still load; damage is E_CHECKPOINT_CORRUPT.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>

#include "asr/checkpoint.h"
#include "asr/checkpoint_zip.h"
#include "asr/errors.h"
#include "temp_dir.h"
#include "test_model_helpers.h"

namespace asr {
namespace {

using TempDir = asr_test::TempDir;

std::vector<char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void put_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Every record of an archive, name -> bytes, read (and CRC-checked) by our reader.
std::map<std::string, std::string> records(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << path;
  struct stat st {};
  ::fstat(fd, &st);
  std::map<std::string, std::string> out;
  {
    const zip::Reader reader(fd, path, static_cast<uint64_t>(st.st_size));
    for (const auto& e : reader.entries()) {
      std::string bytes(e.size, '\0');
      reader.read(e, bytes.data());
      out[e.name] = bytes;
    }
  }
  ::close(fd);
  return out;
}

CheckpointSnapshot trained_snapshot() {
  Trainer trainer(test::tiny_model(), test::tiny_train());
  trainer.train_step(test::random_batch(3, {80, 70}, 6));
  return trainer.snapshot({});
}

bool python_with_torch() { return std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") == 0; }

// The check value every CRC-32 implementation gives for "123456789", and the built-in version agreeing with the
// one the build uses (libdeflate's, where found) at every length and alignment, continued chunk by chunk too.
TEST(CheckpointZip, BothCrc32VersionsGiveTheStandardValues) {
  const std::string check = "123456789";
  EXPECT_EQ(zip::crc32(0, check.data(), check.size()), 0xCBF43926u);
  EXPECT_EQ(zip::crc32_portable(0, check.data(), check.size()), 0xCBF43926u);
  EXPECT_EQ(zip::crc32_portable(0, nullptr, 0), 0u);
  std::string bytes(4099, '\0');
  uint32_t state = 12345;
  for (char& c : bytes) c = static_cast<char>((state = state * 1103515245u + 12345u) >> 24);
  for (size_t offset : {0, 1, 3, 7}) {
    for (size_t size : {0, 1, 7, 8, 9, 63, 64, 1000, 4092}) {
      const char* p = bytes.data() + offset;
      EXPECT_EQ(zip::crc32_portable(0, p, size), zip::crc32(0, p, size)) << offset << " + " << size;
      const size_t half = size / 2;
      EXPECT_EQ(zip::crc32_portable(zip::crc32_portable(0, p, half), p + half, size - half), zip::crc32(0, p, size));
    }
  }
}

// The same records as torch::pickle_save, byte for byte, but data.pkl: ours is pickled without
// TorchScript's type tags (torch.jit._pickle.*), which torch.load(weights_only=True) refuses.
TEST(CheckpointZip, HoldsTheSameRecordsByteForByteAsLibTorchsPickleSave) {
  TempDir dir("asr-zip-test");
  const auto snapshot = trained_snapshot();
  const auto ours = dir.file("ours.pt");
  write_checkpoint(ours, snapshot);
  const auto theirs = dir.file("theirs.pt");
  put_bytes(theirs, torch::pickle_save(snapshot.dict));
  const auto a = records(ours), b = records(theirs);
  EXPECT_GT(a.size(), 10u);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, bytes] : b) {
    ASSERT_TRUE(a.count(name)) << name;
    if (name.size() >= 8 && name.compare(name.size() - 8, 8, "data.pkl") == 0) {
      const std::string& pickle = a.at(name);
      EXPECT_EQ(pickle.find("torch.jit._pickle"), std::string::npos) << name;
      EXPECT_NE(pickle.find("_rebuild_tensor_v2"), std::string::npos) << name;
      continue;
    }
    EXPECT_TRUE(a.at(name) == bytes) << name;
  }
}

TEST(CheckpointZip, LibTorchsReaderChecksEveryCrcAndReadsTheSameValues) {
  TempDir dir("asr-zip-test");
  const auto snapshot = trained_snapshot();
  for (uint64_t zip64_from : {zip::kZip64From, uint64_t{0}}) {
    const auto path = dir.file("ckpt.pt");
    write_checkpoint(path, snapshot, zip64_from);
    const auto loaded = torch::pickle_load(file_bytes(path)).toGenericDict();
    const auto model = loaded.at("model").toGenericDict();
    const auto expected = snapshot.dict.toGenericDict().at("model").toGenericDict();
    ASSERT_EQ(model.size(), expected.size()) << "zip64 from " << zip64_from;
    for (const auto& item : expected) {
      EXPECT_TRUE(torch::equal(model.at(item.key()).toTensor(), item.value().toTensor())) << item.key().toStringRef();
    }
  }
}

TEST(CheckpointZip, RecordDataStartsOn64ByteBoundaries) {
  TempDir dir("asr-zip-test");
  const auto path = dir.file("ckpt.pt");
  write_checkpoint(path, trained_snapshot());
  const auto bytes = file_bytes(path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const zip::Reader reader(fd, path, bytes.size());
  for (const auto& e : reader.entries()) {
    const auto* h = reinterpret_cast<const unsigned char*>(bytes.data() + e.header_offset);
    const uint64_t data = e.header_offset + 30 + (h[26] | h[27] << 8) + (h[28] | h[29] << 8);
    EXPECT_EQ(data % 64, 0u) << e.name;
  }
  ::close(fd);
}

TEST(CheckpointZip, AFileLibTorchsWriterMadeStillLoads) {
  // Checkpoints saved before this writer: LibTorch's zip has data descriptors and zeroed local sizes.
  TempDir dir("asr-zip-test");
  Trainer trainer(test::tiny_model(), test::tiny_train());
  trainer.train_step(test::random_batch(4, {80, 70}, 6));
  const auto path = dir.file("old.pt");
  put_bytes(path, torch::pickle_save(trainer.snapshot({}).dict));
  Trainer fresh(test::tiny_model(), test::tiny_train());
  fresh.load_checkpoint(path);
  for (const auto& item : trainer.model()->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), fresh.model()->named_parameters()[item.key()])) << item.key();
  }
}

TEST(CheckpointZip, PythonZipfileAndTorchLoadReadItWithAndWithoutZip64) {
  if (!python_with_torch())
    GTEST_SKIP() << "/usr/bin/python3 with torch is not installed (scripts/setup.sh installs it)";
  TempDir dir("asr-zip-test");
  const auto snapshot = trained_snapshot();
  const auto plain = dir.file("plain.pt"), zip64 = dir.file("zip64.pt");
  write_checkpoint(plain, snapshot);
  write_checkpoint(zip64, snapshot, 0);
  // testzip() recomputes every record's CRC-32 with zlib; torch.load reads through LibTorch's miniz.
  const std::string script =
      "import sys, zipfile, torch\n"
      "for p in sys.argv[1:]:\n"
      "    z = zipfile.ZipFile(p)\n"
      "    assert z.testzip() is None, p\n"
      "    ck = torch.load(p)\n"
      "    assert ck['format_version'] == 1 and len(ck['model']) > 10, p\n"
      "    assert len(ck['optimizer']['state']) > 0, p\n";
  const auto script_path = dir.file("check.py");
  std::ofstream(script_path) << script;
  const std::string cmd = "/usr/bin/python3 " + script_path + " " + plain + " " + zip64;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

TEST(CheckpointZip, AChangedTensorByteFailsItsCrcAsCorrupt) {
  TempDir dir("asr-zip-test");
  const auto path = dir.file("ckpt.pt");
  write_checkpoint(path, trained_snapshot());
  auto bytes = file_bytes(path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  uint64_t largest_at = 0, largest = 0;
  {
    const zip::Reader reader(fd, path, bytes.size());
    for (const auto& e : reader.entries()) {
      if (e.size > largest) largest = e.size, largest_at = e.header_offset;
    }
  }
  ::close(fd);
  // The largest record's last byte: past any header, inside tensor data.
  const auto h = reinterpret_cast<const unsigned char*>(bytes.data() + largest_at);
  bytes[largest_at + 30 + (h[26] | h[27] << 8) + (h[28] | h[29] << 8) + largest - 1] ^= 0x10;
  put_bytes(path, bytes);
  try {
    read_checkpoint(path);
    ADD_FAILURE() << "a changed byte loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), codes::kCheckpointCorrupt);
    EXPECT_NE(std::string(e.what()).find("CRC-32"), std::string::npos) << e.what();
  }
}

TEST(CheckpointZip, EveryTruncationIsCorruptNeverACrash) {
  TempDir dir("asr-zip-test");
  const auto path = dir.file("ckpt.pt");
  write_checkpoint(path, trained_snapshot());
  const auto bytes = file_bytes(path);
  const auto cut = dir.file("cut.pt");
  for (size_t keep = 0; keep < bytes.size(); keep += 1 + bytes.size() / 97) {
    put_bytes(cut, std::vector<char>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(keep)));
    try {
      read_checkpoint(cut);
      ADD_FAILURE() << "a file cut to " << keep << " of " << bytes.size() << " bytes loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), codes::kCheckpointCorrupt) << keep << ": " << e.what();
    }
  }
}

}  // namespace
}  // namespace asr
