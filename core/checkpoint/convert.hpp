// Copying checkpoints between backends (plugfit convert), verified bit for bit, with the index.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <plugfit/checkpoint.hpp>

namespace plugfit {

// Copies the checkpoints of from (all, or the one `only` names: "latest", "best" or a name) into
// to, loading each copy back and comparing it with the original before reporting it through
// copied; then, when it copied all, writes to's index, limited to what was copied (latest and
// best keep their meaning). One checkpoint (`only`) exported into an empty location gets no index,
// so that `convert run.h5 model.keras --only best` leaves exactly one Keras file.
// requires: from and to are different locations.
// Throws InputError when from holds nothing to copy, RuntimeFailure when a copy does not match.
// Returns the names copied, in from's order.
std::vector<std::string> convert_checkpoints(const CheckpointBackend& from, CheckpointBackend& to,
                                             const std::optional<std::string>& only,
                                             const std::function<void(const std::string&, const CheckpointRecord&)>& copied);

// True when the two tensors are equal bit for bit (name, shape and bytes: NaNs and -0 included).
bool same_bits(const NamedTensor& a, const NamedTensor& b);
// True when the two records are equal bit for bit (info, and every tensor by same_bits).
bool same_record(const CheckpointRecord& a, const CheckpointRecord& b);

}  // namespace plugfit
