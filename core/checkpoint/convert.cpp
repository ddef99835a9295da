#include "convert.hpp"

#include <algorithm>
#include <cstring>

#include <plugfit/checkpoint_index.hpp>

namespace plugfit {

bool same_bits(const NamedTensor& a, const NamedTensor& b) {
  return a.name == b.name && a.shape == b.shape && a.values.size() == b.values.size() &&
         (a.values.empty() || std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(float)) == 0);
}

bool same_record(const CheckpointRecord& a, const CheckpointRecord& b) {
  if (a.info != b.info || a.tensors.size() != b.tensors.size()) return false;
  for (std::size_t i = 0; i < a.tensors.size(); ++i)
    if (!same_bits(a.tensors[i], b.tensors[i])) return false;
  return true;
}

std::vector<std::string> convert_checkpoints(const CheckpointBackend& from, CheckpointBackend& to,
                                             const std::optional<std::string>& only,
                                             const std::function<void(const std::string&, const CheckpointRecord&)>& copied) {
  if (to.uri() == from.uri()) throw InputError("convert needs two different locations, got " + from.uri() + " twice");
  std::vector<std::string> names = from.list();
  if (only) {
    const auto name = resolve_checkpoint_name(from, *only);
    if (!name) throw InputError(from.uri() + " holds no checkpoints");
    names = {*name};
  }
  if (names.empty()) throw InputError(from.uri() + " holds no checkpoints to convert");
  const bool destination_was_empty = to.list().empty();
  for (const auto& name : names) {
    const CheckpointRecord record = from.load(name);
    to.save(name, record);
    // Verify before reporting success: the copy must load back bit for bit.
    if (!same_record(to.load(name), record))
      throw RuntimeFailure("the copy of " + name + " in " + to.uri() + " does not match the original");
    copied(name, record);
  }
  // One checkpoint exported (--only) into an empty location needs no index (list() names it),
  // so a Keras file destination is left exactly as Keras would leave it.
  if (only && destination_was_empty) return names;
  Json index = CheckpointIndex::read(from).to_json();  // a wrong-shaped index reads as empty
  auto was_copied = [&](const Json& v) {
    return v.is_string() && std::find(names.begin(), names.end(), v.get<std::string>()) != names.end();
  };
  Json kept = Json::array();
  for (const auto& entry : index.value("checkpoints", Json::array()))
    if (was_copied(entry.value("name", Json()))) kept.push_back(entry);
  index["checkpoints"] = kept;
  if (!was_copied(index.value("latest", Json()))) index["latest"] = names.back();
  if (index.contains("best") && (!index["best"].is_object() || !was_copied(index["best"].value("name", Json()))))
    index.erase("best");
  to.write_index(index);
  return names;
}

}  // namespace plugfit
