#include "model_checkpoint.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>

#include "../checkpoint/store.hpp"
#include "../util/format_template.hpp"

namespace plugfit {

ModelCheckpoint::ModelCheckpoint(Config& config)
    : filepath_(config.require<std::string>("filepath")),
      monitor_("ModelCheckpoint", config.get<std::string>("monitor", "val_loss"), config.get<std::string>("mode", "auto"),
               0.0,
               config.has("initial_value_threshold")
                   ? std::optional<double>(config.get<double>("initial_value_threshold", 0.0))
                   : std::nullopt),
      verbose_(config.get<int>("verbose", 0)),
      save_best_only_(config.get<bool>("save_best_only", false)),
      save_weights_only_(config.get<bool>("save_weights_only", false)),
      save_last_(config.get<bool>("save_last", false)),
      async_(config.get<bool>("async", false)) {
  // Every component is checked, the first one after a scheme too ("dir:../x/best").
  const std::size_t colon = filepath_.find(':');
  const std::size_t path_start = colon != std::string::npos && colon < filepath_.find('/') ? colon + 1 : 0;
  for (std::size_t start = path_start; start <= filepath_.size();) {
    const std::size_t end = std::min(filepath_.find('/', start), filepath_.size());
    if (filepath_.compare(start, end - start, "..") == 0 && end - start == 2)
      throw InputError("ModelCheckpoint: the filepath \"" + filepath_ + "\" would write outside the checkpoint folder "
                       "('..' is refused)");
    start = end + 1;
  }
  const auto slash = filepath_.rfind('/');
  if (slash == std::string::npos) {
    folder_ = ".";
    name_template_ = filepath_;
  } else {
    folder_ = filepath_.substr(0, slash);
    name_template_ = filepath_.substr(slash + 1);
    if (folder_.empty() || folder_.back() == ':') folder_ += "/";
  }
  if (name_template_.empty())
    throw InputError("ModelCheckpoint: \"filepath\" must end in a checkpoint name, got \"" + filepath_ + "\"");
  // As in Keras, a file name picks the format: ".h5" an HDF5 file, ".db" an SQLite one (unless
  // the folder names a backend itself).
  const bool folder_has_scheme = folder_.find(':') != std::string::npos && folder_.find(':') < folder_.find('/');
  auto ends_with = [&](const std::string& suffix) {
    return name_template_.size() > suffix.size() &&
           name_template_.compare(name_template_.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (!folder_has_scheme) {
    for (const auto& [suffix, scheme] :
         {std::pair<const char*, const char*>{".weights.h5", "hdf5"}, {".keras", "hdf5"}, {".h5", "hdf5"},
          {".hdf5", "hdf5"}, {".db", "sqlite"}}) {
      if (ends_with(suffix)) {
        extension_ = suffix;
        file_scheme_ = scheme;
        break;
      }
    }
    // Keras 3's rule: a .keras file is a whole model, a .weights.h5 file weights only.
    if (extension_ == ".keras" && save_weights_only_)
      throw InputError("ModelCheckpoint: with \"save_weights_only\": true the filepath must end in .weights.h5 (a "
                       ".keras file holds the whole model), got \"" + filepath_ + "\"");
    if (extension_ == ".weights.h5" && !save_weights_only_)
      throw InputError("ModelCheckpoint: a filepath ending in .weights.h5 holds weights only; set "
                       "\"save_weights_only\": true or end it in .keras or .h5, got \"" + filepath_ + "\"");
  }
  if (name_template_ == ".." || name_template_ == ".")
    throw InputError("ModelCheckpoint: the filepath \"" + filepath_ + "\" would write outside the checkpoint folder");
  const Json freq = config.raw("save_freq");
  if (freq.is_number_integer() && freq.get<long long>() > 0) save_freq_batches_ = freq.get<std::int64_t>();
  else if (!freq.is_null() && freq != "epoch")
    throw InputError("ModelCheckpoint: \"save_freq\" must be \"epoch\" or a positive number of batches, got " + json_excerpt(freq));
  best_ = monitor_.baseline();  // Keras: initial_value_threshold is the best before any save
  if (config.has("save_top_k")) {
    save_top_k_ = config.get<int>("save_top_k", -1);
    if (*save_top_k_ < 0) save_top_k_.reset();  // -1: keep all, as in Lightning
  }
  if (verbose_ < 0 || verbose_ > 1) throw InputError("ModelCheckpoint: verbose must be 0 or 1");
}

void ModelCheckpoint::on_train_begin(Logs&) {
  monitor_.resolve(session());
  if (file_scheme_.empty() && session().rank() == 0) backend_ = session().open_backend(folder_);
}

void ModelCheckpoint::on_epoch_end(int epoch, Logs& logs) {
  if (!save_freq_batches_) save(epoch, std::nullopt, logs);
}

void ModelCheckpoint::on_train_batch_end(std::int64_t batch, Logs& logs) {
  if (!save_freq_batches_) return;
  if (++batches_since_save_ < *save_freq_batches_) return;
  batches_since_save_ = 0;
  save(session().epoch(), batch, logs);
}

void ModelCheckpoint::save(int epoch, std::optional<std::int64_t> batch, const Logs& logs) {
  std::map<std::string, double> values(logs.begin(), logs.end());
  values["epoch"] = epoch + 1;
  if (batch) values["batch"] = static_cast<double>(*batch + 1);
  const std::string name = format_template(name_template_, values);
  check_checkpoint_name(name);
  const std::string where =
      file_scheme_.empty() ? (backend_ ? backend_->uri() : folder_) + "/" + name  // no backend: not rank 0
                           : file_scheme_ + ":" + folder_ + "/" + name;
  const double* current = logs.find(monitor_.key());
  const char* key = monitor_.key().c_str();
  auto fmt = [this](std::optional<double> v) {
    if (!v) return std::string(monitor_.higher_is_better() ? "-inf" : "inf");
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.5f", *v);
    return std::string(buf);
  };
  if (save_best_only_) {
    if (current == nullptr) {
      std::fprintf(stderr, "plugfit: warning: Can save best model only with %s available.\n", key);
    } else if (monitor_.improves(*current, best_)) {
      if (verbose_ > 0)
        std::printf("\nEpoch %d: %s improved from %s to %.5f, saving model to %s\n", epoch + 1, key,
                    fmt(best_).c_str(), *current, where.c_str());
      best_ = *current;
    } else {
      if (verbose_ > 0) std::printf("\nEpoch %d: %s did not improve from %s\n", epoch + 1, key, fmt(best_).c_str());
      return;
    }
  } else {
    if (verbose_ > 0) std::printf("\nEpoch %d: saving model to %s\n", epoch + 1, where.c_str());
    if (current != nullptr && monitor_.improves(*current, best_)) best_ = *current;
  }
  std::fflush(stdout);
  if (session().rank() != 0) return;  // data-parallel: every rank decides as rank 0, which alone saves

  // Everything that touches the session or opens a backend happens here, on the training
  // thread; the job (maybe on the writer's thread) only writes, indexes and deletes.
  WriteJob job;
  job.kind = save_weights_only_ ? "weights" : "full";
  job.epoch = epoch + (batch ? 0 : 1);
  job.global_step = session().global_step();
  job.metrics = logs.to_json();
  job.record = std::make_shared<const CheckpointRecord>(session().capture(save_weights_only_));
  job.target = target(name);
  if (save_last_ && name != "last") job.last = target(file_scheme_.empty() ? "last" : "last" + extension_);
  std::erase_if(written_, [&](const auto& w) { return w.first == name; });
  written_.emplace_back(name, current != nullptr ? *current : std::numeric_limits<double>::quiet_NaN());
  job.victims = top_k_victims();
  if (!async_) {
    write(job);
    return;
  }
  // The capture above is the stall; the write goes on in the background.
  writer_.submit([this, job = std::move(job)] { write(job); });
}

void ModelCheckpoint::write(const WriteJob& job) const {
  // A file target holds one checkpoint and is left exactly as Keras leaves the file: no index
  // beside it (list() names its one checkpoint).
  const bool indexed = file_scheme_.empty();
  job.target.backend->save(job.target.checkpoint, *job.record);
  if (indexed)
    note_saved(*job.target.backend,
               {job.target.checkpoint, job.epoch, job.global_step, job.kind, "ModelCheckpoint", job.metrics},
               &monitor_);
  if (job.last) {
    job.last->backend->save(job.last->checkpoint, *job.record);
    if (indexed)
      note_saved(*job.last->backend,
                 {job.last->checkpoint, job.epoch, job.global_step, job.kind, "ModelCheckpoint", job.metrics});
  }
  // Only after the new checkpoint is safe do the ones it pushed out of the top k go.
  for (const auto& victim : job.victims) {
    victim.backend->remove(victim.checkpoint);
    if (indexed) note_removed(*victim.backend, victim.checkpoint);
  }
}

void ModelCheckpoint::on_train_end(Logs&) { writer_.wait(); }

ModelCheckpoint::Target ModelCheckpoint::target(const std::string& name) {
  if (file_scheme_.empty()) return {backend_.get(), name};
  // "best.03.h5": the file folder/best.03.h5 of the hdf5 backend, holding checkpoint "best.03".
  const std::string location = folder_ + "/" + name;
  auto& backend = file_backends_[location];
  if (!backend) backend = session().open_backend(file_scheme_ + ":" + location);
  return {backend.get(), name.substr(0, name.size() - extension_.size())};
}

std::vector<ModelCheckpoint::Target> ModelCheckpoint::top_k_victims() {
  std::vector<Target> victims;
  if (!save_top_k_) return victims;
  // Keep the k best by the monitored value (NaN, for a missing monitor, ranks worst; of equals
  // the first saved goes).
  while (written_.size() > static_cast<std::size_t>(*save_top_k_)) {
    const auto victim = std::max_element(written_.begin(), written_.end(), [&](const auto& a, const auto& b) {
      return monitor_.better(a.second, b.second);
    });
    victims.push_back(target(victim->first));
    written_.erase(victim);
  }
  return victims;
}

Json ModelCheckpoint::state() const {
  Json written = Json::array();
  for (const auto& [name, value] : written_) written.push_back({name, std::isnan(value) ? Json() : Json(value)});
  return {{"best", best_ ? Json(*best_) : Json()}, {"written", written}, {"batches_since_save", batches_since_save_}};
}

void ModelCheckpoint::load_state(const Json& state) {
  if (state.contains("best") && state["best"].is_number()) best_ = state["best"].get<double>();
  written_.clear();
  for (const auto& w : state.value("written", Json::array()))
    written_.emplace_back(w[0].get<std::string>(), w[1].is_number() ? w[1].get<double>() : std::nan(""));
  batches_since_save_ = state.value("batches_since_save", std::int64_t{0});
}

std::string ModelCheckpoint::state_key() const {
  return "ModelCheckpoint{filepath=" + filepath_ + ",monitor=" + monitor_.key() + "}";
}

}  // namespace plugfit
