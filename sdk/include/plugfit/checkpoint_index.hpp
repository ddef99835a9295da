// Checkpoint URIs and the index beside a backend's records, as plugfit writes and reads them
// (ModelCheckpoint, the checkpoint manager, `plugfit inspect`, DynamicReloadCheckpoint).
//
// URI grammar: "[SCHEME:]LOCATION[#NAME]"
//   SCHEME    a scheme a backend plugin registers ("sqlite", "hdf5") or "dir". Without one (a
//             plain path, or a ':' after the first '/') the path's name decides, as Keras's own
//             file names do: ".keras", ".h5", ".hdf5" (".weights.h5" included) mean "hdf5",
//             ".db" and ".sqlite" mean "sqlite"; a path that is a TensorFlow location already
//             (a folder with saved_model.pb or TF's `checkpoint` file, or a prefix P with
//             P.index beside it: the grammar's one look at the filesystem) means "tf";
//             anything else (a folder) "dir"
//   LOCATION  the backend's location (a folder, a file); must not be empty
//   NAME      one checkpoint: a checkpoint name, "latest" or "best"; empty means the latest
//
// The index (CheckpointBackend::read_index/write_index), format 1:
//   {"format": 1,
//    "checkpoints": [{"name": "ckpt-0003", "epoch": 3, "global_step": 96, "kind": "full",
//                     "writer": "manager", "metrics": {"loss": 0.41, ...}}, ...],   save order
//    "latest": "ckpt-0003",
//    "best": {"name": "ckpt-0002", "monitor": "val_loss", "mode": "min", "value": 0.39}}
// epoch is the epochs completed when saved (a mid-epoch save: the epoch in progress); kind is
// "full" or "weights"; writer names who saved it ("manager", "ModelCheckpoint"), so each
// prunes only its own. Other top-level fields are kept through a rewrite.
//
// The index is a cache: list() is the truth. A missing, unreadable or wrong-shaped index (null,
// an array, fields of the wrong type) reads as empty parts, never an error; entries naming
// records that are gone are ignored by resolve_checkpoint_name.
//
// Threading: plain values and free functions; they use the backend given, under its contract.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint.hpp"
#include "config.hpp"
#include "export.hpp"
#include "monitor.hpp"

namespace plugfit {

struct CheckpointUri {
  std::string scheme;    // "dir", "sqlite", ...
  std::string location;  // the part after the scheme
  std::string name;      // after '#', or empty
  // "scheme:location", without the name.
  std::string text() const { return scheme + ":" + location; }
};

// requires: uri names a location (an InputError quoting uri otherwise).
// ensures: a bare path gets its scheme from its name (see SCHEME above); the location is the path.
PLUGFIT_API CheckpointUri parse_checkpoint_uri(const std::string& uri);

struct CheckpointEntry {
  std::string name;
  int epoch = 0;
  std::int64_t global_step = 0;
  std::string kind = "full";
  std::string writer;
  Json metrics = Json::object();
};

struct BestCheckpoint {
  std::string name, monitor, mode;  // mode "min" or "max"
  double value = 0.0;
};

struct PLUGFIT_API CheckpointIndex {
  std::vector<CheckpointEntry> checkpoints;  // save order
  std::optional<std::string> latest;
  std::optional<BestCheckpoint> best;
  Json extra = Json::object();  // top-level fields this version does not know

  // Never throws: what does not fit the schema is left out (see above).
  static CheckpointIndex from_json(const Json& json);
  Json to_json() const;
  // backend.read_index() through from_json.
  static CheckpointIndex read(const CheckpointBackend& backend);
  void write(CheckpointBackend& backend) const { backend.write_index(to_json()); }

  // The entry of that name, or nullptr.
  const CheckpointEntry* find(const std::string& name) const;
  // A save: the entry replaces any of its name and goes last; latest becomes its name. With a
  // resolved monitor whose key is a number in entry.metrics, best becomes this entry when the
  // recorded best has another monitor or mode, is this name, or is beaten (monitor.better).
  void note_saved(CheckpointEntry entry, const Monitor* monitor = nullptr);
  // A removal: the entry goes; latest falls back to the last entry left; a best of that name goes.
  void note_removed(const std::string& name);
};

// The checkpoint that name stands for in backend: a held checkpoint name as is (an InputError
// when backend holds none of that name or the name is invalid); "best" the index's best (an
// InputError when it records none held); "latest" or empty the index's latest if held, else the
// last of list(); std::nullopt when backend is empty.
PLUGFIT_API std::optional<std::string> resolve_checkpoint_name(const CheckpointBackend& backend,
                                                               const std::string& name);

}  // namespace plugfit
