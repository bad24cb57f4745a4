// asr::zip::crc32 and crc32_portable (asr/checkpoint_zip.h).
#include "asr/checkpoint_zip.h"

#include <cstring>

#if defined(ASR_HAVE_LIBDEFLATE)
#include <libdeflate.h>
#endif

namespace asr::zip {
namespace {

constexpr uint32_t kReflectedPolynomial = 0xEDB88320u;

// table[0] is the classic byte-at-a-time table; table[k][b] is the CRC of byte b followed by k zero bytes,
// which lets eight bytes be folded in with eight independent lookups.
struct Tables {
  uint32_t table[8][256];
  Tables() {
    for (uint32_t byte = 0; byte < 256; ++byte) {
      uint32_t c = byte;
      for (int bit = 0; bit < 8; ++bit) c = (c & 1u) != 0 ? kReflectedPolynomial ^ (c >> 1) : c >> 1;
      table[0][byte] = c;
    }
    for (uint32_t byte = 0; byte < 256; ++byte) {
      for (int k = 1; k < 8; ++k) table[k][byte] = (table[k - 1][byte] >> 8) ^ table[0][table[k - 1][byte] & 0xFFu];
    }
  }
};

const Tables& tables() {
  static const Tables built;
  return built;
}

}  // namespace

uint32_t crc32_portable(uint32_t crc, const void* data, size_t size) {
  const auto& t = tables().table;
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  // The 8-byte steps read two little-endian words; on a big-endian machine only the byte loop is right.
  if constexpr (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) {
    for (; size >= 8; p += 8, size -= 8) {
      uint32_t low = 0;
      uint32_t high = 0;
      std::memcpy(&low, p, 4);
      std::memcpy(&high, p + 4, 4);
      low ^= crc;
      crc = t[7][low & 0xFFu] ^ t[6][(low >> 8) & 0xFFu] ^ t[5][(low >> 16) & 0xFFu] ^ t[4][low >> 24] ^
            t[3][high & 0xFFu] ^ t[2][(high >> 8) & 0xFFu] ^ t[1][(high >> 16) & 0xFFu] ^ t[0][high >> 24];
    }
  }
  for (; size > 0; ++p, --size) crc = (crc >> 8) ^ t[0][(crc ^ *p) & 0xFFu];
  return ~crc;
}

uint32_t crc32(uint32_t crc, const void* data, size_t size) {
#if defined(ASR_HAVE_LIBDEFLATE)
  return static_cast<uint32_t>(::libdeflate_crc32(crc, data, size));
#else
  return crc32_portable(crc, data, size);
#endif
}

}  // namespace asr::zip
