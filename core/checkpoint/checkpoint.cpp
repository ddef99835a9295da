// Key functions and helpers of the SDK's checkpoint interface.
#include <plugfit/checkpoint.hpp>

#include <zlib.h>

namespace plugfit {

CheckpointBackend::~CheckpointBackend() = default;
CheckpointCorrupt::CheckpointCorrupt(const std::string& message) : RuntimeFailure(message) {}
CheckpointCorrupt::~CheckpointCorrupt() = default;

const NamedTensor* CheckpointRecord::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::size_t CheckpointRecord::tensor_bytes() const {
  std::size_t bytes = 0;
  for (const auto& t : tensors) bytes += t.values.size() * sizeof(float);
  return bytes;
}

void check_checkpoint_name(const std::string& name) {
  const bool bad = name.empty() || name == "." || name == ".." || name.front() == '.' ||
                   name.find('/') != std::string::npos || name.find('\0') != std::string::npos ||
                   name.size() > 200;
  if (bad)
    throw InputError("\"" + name + "\" is not a checkpoint name: a name is one path component (no '/', no '..', " +
                     "not starting with '.'), so that it cannot write outside the checkpoint folder");
}

std::uint32_t crc32_of(const void* data, std::size_t size, std::uint32_t seed) {
  if (size == 0) return seed;  // zlib resets to its initial value for a null buffer
  return static_cast<std::uint32_t>(crc32_z(seed, static_cast<const Bytef*>(data), size));
}

}  // namespace plugfit
