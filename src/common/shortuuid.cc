#include "common/shortuuid.h"

#include <random>

namespace lynx {
namespace {

constexpr char kAlphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr unsigned kBase = sizeof(kAlphabet) - 1;  // 57

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng{[] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }()};
  return rng;
}

}  // namespace

std::string NewShortUuid() {
  // 128 random bits as two 64-bit limbs; repeated division by 57 gives 22 digits.
  unsigned __int128 v = (static_cast<unsigned __int128>(Rng()()) << 64) | Rng()();
  std::string out(22, kAlphabet[0]);
  for (int i = 21; i >= 0; --i) {
    out[i] = kAlphabet[static_cast<unsigned>(v % kBase)];
    v /= kBase;
  }
  return out;
}

}  // namespace lynx
